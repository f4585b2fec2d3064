"""A user's own metrics (audit a170): one checkpoint reads one number though the metric draws
from torch's global stream, a value JSON cannot write is refused (a Decimal recorded as a float),
malformed outputs= refused at registration, a huge integer does not end the sweep table."""
import json
import types
import warnings
from decimal import Decimal
from fractions import Fraction

import pytest
import torch

from gankit.config import ConfigError
from gankit.metrics import evaluate
from gankit.metrics.base import Output, register_metric


def user_metric(name, fn, outputs=None, module="my_metrics"):
    fn.__module__ = module
    register_metric(name, lambda ds: True, "a test metric", outputs)(fn)


def ctx(seed=0):
    return types.SimpleNamespace(dataset=types.SimpleNamespace(), step=0, seed=seed,
                                 settings=types.SimpleNamespace(n_samples=10))


def global_draw(c):
    """Default init and torch.rand: both draw from torch's global CPU generator."""
    lin = torch.nn.Linear(3, 1)
    return {"zz_g": float(lin.weight.detach().sum() + torch.rand(()))}


# ---------------------------------------------------------------- 1: torch's global stream
def test_a_metric_on_the_global_stream_reads_one_number_per_seed_and_leaves_the_callers_stream():
    user_metric("zz_global", global_draw)
    torch.manual_seed(1)
    a = evaluate(ctx(), ["zz_global"])["zz_g"]
    torch.manual_seed(2)
    torch.rand(5)
    b = evaluate(ctx(), ["zz_global"])["zz_g"]
    assert a == b                                  # was a different number each evaluation
    assert evaluate(ctx(seed=7), ["zz_global"])["zz_g"] != a    # from the evaluation's seed
    # the caller's stream is where it was (as before)
    torch.manual_seed(3)
    evaluate(ctx(), ["zz_global"])
    after = torch.rand(3)
    torch.manual_seed(3)
    assert torch.equal(after, torch.rand(3))


def test_the_reference_row_seeds_each_metric_and_puts_the_callers_stream_back():
    from gankit import config as C
    from gankit.data import build_dataset
    from gankit.metrics.reference import evaluate_reference
    user_metric("zz_global", global_draw)
    cfg = C.load("ring", ["eval.n_samples=50"])
    ds = build_dataset(cfg)
    torch.manual_seed(5)
    row = evaluate_reference(ds, cfg.eval, 0, ["zz_global"])
    after = torch.rand(3)
    torch.manual_seed(5)
    assert torch.equal(after, torch.rand(3))       # the reference row moved the caller's stream
    torch.manual_seed(6)
    assert evaluate_reference(ds, cfg.eval, 0, ["zz_global"])["zz_g"] == row["zz_g"]


# ---------------------------------------------------------------- 2: values JSON cannot write
def test_a_decimal_or_fraction_is_recorded_as_a_float_and_a_complex_is_refused_naming_metric_and_key(tmp_path):
    from gankit.io import append_jsonl
    user_metric("zz_dec", lambda c: {"d": Decimal("0.25"), "f": Fraction(1, 4), "l": [Decimal("1.5")]},
                {"d": Output("d", "lower"), "f": Output("f", "lower"), "l": Output("l")})
    user_metric("zz_cx", lambda c: {"c": 1 + 2j}, {"c": Output("c", "lower")}, module="m_cx")
    user_metric("zz_ok", lambda c: {"zz_ok": 1.0})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # the list output's "not one number" warning
        out = evaluate(ctx(), ["zz_dec"])
    assert out == {"d": 0.25, "f": 0.25, "l": [1.5]} and type(out["d"]) is float and type(out["f"]) is float
    append_jsonl(tmp_path / "m.jsonl", {"step": 0, **out})       # the record is written
    assert json.loads((tmp_path / "m.jsonl").read_text())["d"] == 0.25
    with pytest.raises(ConfigError, match=r"metric 'zz_cx' \(m_cx\) returned key 'c' as a complex, which the "
                                          r"record cannot store; return a float"):
        evaluate(ctx(), ["zz_cx"])
    # not named (training's evaluation): left out with that line, the other numbers kept and written
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        out = evaluate(ctx(), ["zz_cx", "zz_ok"], named=False)
    assert out == {"zz_ok": 1.0}
    assert any("'zz_cx' (m_cx) returned key 'c' as a complex" in str(w.message) and "left out" in str(w.message)
               for w in record)
    with pytest.raises(ConfigError, match=r"returned key 's' as a set"):
        user_metric("zz_set", lambda c: {"s": {1, 2}})
        evaluate(ctx(), ["zz_set"])


# ---------------------------------------------------------------- 3: outputs= checked
def test_malformed_outputs_are_refused_at_registration_naming_metric_and_key():
    with pytest.raises(ConfigError, match=r"metric 'zz_tup' \(my_metrics\): outputs\['bo2'\] is a tuple .*not an "
                                          r"Output; write Output\(label, better, fmt\)"):
        user_metric("zz_tup", lambda c: {}, {"bo2": ("bo2", "lower")})
    with pytest.raises(ConfigError, match=r"metric 'zz_fmt' \(my_metrics\): outputs\['bo2'\] has fmt='zz', "
                                          r"which formats no number"):
        user_metric("zz_fmt", lambda c: {}, {"bo2": Output("bo2", "lower", fmt="zz")})
    with pytest.raises(ConfigError, match=r"metric 'zz_key' \(my_metrics\): outputs= key 3 is a int"):
        user_metric("zz_key", lambda c: {}, {3: Output("three")})
    # the formats gankit's own metrics use, an int's and a text's, pass
    user_metric("zz_good", lambda c: {}, {"a1": Output("a", "lower", ".3f"), "a2": Output("b", "higher", "d"),
                                          "a3": Output("c", None, "s"), "a4": Output("d", None, ".1%")})
    from gankit.report.metricinfo import key_infos
    assert key_infos()["a2"].fmt == "d"


# ---------------------------------------------------------------- 4: the sweep table
def test_a_huge_integer_in_a_sweeps_results_does_not_end_the_table():
    from gankit.sweep_table import markdown_table, summarise
    results = [{"label": "a", "zz_big": 10 ** 400, "jsd": 0.5}, {"label": "a", "zz_big": 10 ** 400, "jsd": 0.7}]
    rows = summarise(results)            # was OverflowError in _is_num's math.isfinite
    assert rows[0]["jsd"][0] == pytest.approx(0.6)
    assert "0.6" in markdown_table(rows)
