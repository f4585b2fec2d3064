"""A user's metrics (--import, a script's api.register_metric): keys that would overwrite other
numbers are refused, a metric that fails while training is left out with a warning, values the
report cannot read are warned about (audit a42: H1, M1, M2, M8, L1)."""
import json
import sys
import types
import warnings

import pytest

from gankit.config import ConfigError
from gankit.metrics import evaluate
from gankit.metrics.base import Output, register_metric
from gankit.registry import METRICS


def user_metric(name, fn, outputs=None, applies=lambda ds: True, module="my_metrics"):
    """Registers ``fn`` as if a user's module ``module`` defined it."""
    fn.__module__ = module
    register_metric(name, applies, "a test metric", outputs)(fn)


def ctx():
    """An evaluation context that metrics ignoring their ctx can run on."""
    return types.SimpleNamespace(dataset=types.SimpleNamespace(), step=0, settings=types.SimpleNamespace(n_samples=10))


def caught(f):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        out = f()
    return out, [str(w.message) for w in record]


# ---------------------------------------------------------------- H1: keys
def test_a_key_the_metric_does_not_declare_is_refused_naming_metric_module_and_key():
    user_metric("zz_gap", lambda c: {"gap2": 0.1, "jsd": 42.0}, {"gap2": Output("gap 2", "lower")})
    with pytest.raises(ConfigError, match=r"metric 'zz_gap' \(my_metrics\) returned key 'jsd', which its outputs do not declare"):
        evaluate(ctx(), ["zz_gap"])


def test_an_undeclared_key_that_another_metric_declares_or_a_records_own_key_is_refused():
    user_metric("zz_free", lambda c: {"jsd": 42.0})         # no outputs declared: any key of its own
    user_metric("zz_step", lambda c: {"step": 3})
    user_metric("zz_own", lambda c: {"zz_own_key": 1.0})
    with pytest.raises(ConfigError, match=r"'zz_free' \(my_metrics\) returned key 'jsd', which metric 'jsd' "
                                          r"\(gankit.metrics.points\) declares"):
        evaluate(ctx(), ["zz_free"])
    with pytest.raises(ConfigError, match=r"'zz_step' \(my_metrics\) returned key 'step', which every record uses"):
        evaluate(ctx(), ["zz_step"])
    assert evaluate(ctx(), ["zz_own"]) == {"zz_own_key": 1.0}


def test_two_metrics_writing_one_key_in_one_evaluation_are_refused_naming_both():
    user_metric("zz_a", lambda c: {"shared": 0.1}, module="mod_a")
    user_metric("zz_b", lambda c: {"shared": 0.9}, module="mod_b")
    with pytest.raises(ConfigError, match=r"metrics 'zz_a' \(mod_a\) and 'zz_b' \(mod_b\) both return key 'shared'"):
        evaluate(ctx(), ["zz_a", "zz_b"])
    # not named (training): the second is left out with that line, the first number stays
    out, said = caught(lambda: evaluate(ctx(), ["zz_a", "zz_b"], named=False))
    assert out == {"shared": 0.1} and any("both return key 'shared'" in s and "left out" in s for s in said)


def test_two_metrics_of_one_module_declaring_one_key_are_refused_at_registration():
    user_metric("score_a", lambda c: {"score": 0.1}, {"score": Output("a", "higher")}, module="same_mod")
    with pytest.raises(ConfigError, match=r"'score_b' \(same_mod\) declares output\(s\) \['score'\] that metric "
                                          r"'score_a' \(same_mod\) declares"):
        user_metric("score_b", lambda c: {"score": 0.9}, {"score": Output("b", "lower")}, module="same_mod")


def test_a_built_in_key_is_refused_even_when_the_user_registers_before_the_built_ins_load(monkeypatch):
    """A script's @api.register_metric runs before gankit loads its own metrics: the check saw no
    built-in and 'precision' was recorded over (or under) the k-NN precision."""
    import gankit.builtins as B
    for name, entry in list(METRICS._entries.items()):     # as in a fresh interpreter: not loaded yet
        if entry.module in ("gankit.metrics.samples", "gankit.metrics.images"):
            monkeypatch.delitem(METRICS._entries, name)
    monkeypatch.delitem(sys.modules, "gankit.metrics.samples")
    monkeypatch.setitem(B._state, "loaded", False)
    with pytest.raises(ConfigError, match=r"'zz_precision' \(__main__\) declares output\(s\) \['precision'\] "
                                          r"that metric 'prdc_points' \(gankit.metrics.samples\) declares; "
                                          r"give the one\(s\) in __main__ other names"):
        user_metric("zz_precision", lambda c: {"precision": 0.999}, {"precision": Output("mine", "higher")},
                    module="__main__")


# ---------------------------------------------------------------- M8: which one to rename
def test_registered_twice_names_the_users_module_whichever_came_first():
    from gankit.registry import Registry
    reg = Registry("generator")

    def mine():
        pass

    def gankits():
        pass
    mine.__module__, gankits.__module__ = "__main__", "gankit.nets.mlp"
    reg.register("mlp")(mine)
    with pytest.raises(ConfigError, match=r"registered twice \(__main__ and gankit.nets.mlp\); give the one in "
                                          r"__main__ another name"):
        reg.register("mlp")(gankits)


# ---------------------------------------------------------------- M1/M2: failures
def boom(c):
    raise ZeroDivisionError("boom in metric")


def bad_applies(ds):
    return ds.n_classes > 1


def test_a_failing_user_metric_not_named_is_left_out_with_one_line_and_the_rest_kept():
    user_metric("zz_ok", lambda c: {"zz_ok": 1.0})
    user_metric("zz_boom", boom)
    user_metric("zz_applies", lambda c: {"zz_applies": 2.0}, applies=bad_applies)
    out, said = caught(lambda: evaluate(ctx(), ["zz_applies", "zz_boom", "zz_ok"], named=False))
    assert out == {"zz_ok": 1.0}
    assert any("metric 'zz_boom' (my_metrics) failed: ZeroDivisionError: boom in metric; left out" in s for s in said)
    assert any("metric 'zz_applies' (my_metrics): its applies(dataset) failed on SimpleNamespace: AttributeError"
               in s for s in said)


def test_a_failing_user_metric_that_was_named_is_still_an_error_in_fn_and_in_applies():
    user_metric("zz_boom", boom)
    user_metric("zz_applies", lambda c: {"zz_applies": 2.0}, applies=bad_applies)
    with pytest.raises(ConfigError, match=r"metric 'zz_boom' \(my_metrics\) failed: ZeroDivisionError"):
        evaluate(ctx(), ["zz_boom"])
    with pytest.raises(ConfigError, match=r"metric 'zz_applies' \(my_metrics\): its applies\(dataset\) failed"):
        evaluate(ctx(), ["zz_applies"])


def test_a_user_metric_failing_in_training_leaves_training_and_the_other_numbers_whole(tmp_path, tiny):
    """A periodic evaluation stopped training (steps since the last checkpoint lost); the final one
    threw away every number measured; an applies that raised ended in a traceback."""
    from gankit import api
    user_metric("zz_ok", lambda c: {"zz_ok": 1.0})
    user_metric("zz_boom", boom)
    user_metric("zz_applies", lambda c: {"zz_applies": 2.0}, applies=bad_applies)
    sets = [s for s in tiny if not s.startswith(("train.steps", "train.checkpoint_every"))] + [
        "train.steps=20", "train.eval_every=15", "train.checkpoint_every=10", 'eval.metrics=["zz_ok", "zz_boom"]']
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        run = api.train("ring", out=tmp_path / "r", overrides=sets, report=False, log=None)
    evals = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()
             if '"kind": "eval"' in line]
    # the periodic evaluation at step 15 and the final one at 20, each with the metric that works
    assert [r["step"] for r in evals] == [15, 20] and all(r["zz_ok"] == 1.0 and "zz_boom" not in r for r in evals)
    assert (tmp_path / "r" / "checkpoints" / "step_00000020.pt").is_file()
    assert sum("'zz_boom' (my_metrics) failed: ZeroDivisionError" in str(w.message) for w in record) == 2
    # names other than eval.metrics: someone asked for them, an error as before
    with pytest.raises(ConfigError, match="'zz_boom' \\(my_metrics\\) failed"):
        run.evaluate(["zz_boom"])
    out, _ = caught(lambda: run.evaluate(["zz_ok", "zz_boom"]))      # eval.metrics itself: left out
    assert out == {"zz_ok": 1.0}


# ---------------------------------------------------------------- L1: values
def test_a_string_or_a_vector_for_a_numeric_output_is_warned_about_nan_and_missing_are_not():
    import torch
    outs = {"v": Output("v", "lower")}
    user_metric("zz_str", lambda c: {"v": "0.5"}, outs, module="m_str")
    user_metric("zz_vec", lambda c: {"w": torch.tensor([0.1, 0.2])}, {"w": Output("w", "lower")}, module="m_vec")
    user_metric("zz_nan", lambda c: {"x": float("nan")}, {"x": Output("x"), "y": Output("y")}, module="m_nan")
    user_metric("zz_text", lambda c: {"t": "inception"}, {"t": Output("features", None, "s")}, module="m_text")
    _, said = caught(lambda: evaluate(ctx(), ["zz_str"]))
    assert any("metric 'zz_str' (m_str): output 'v' is the string '0.5', not a number" in s for s in said)
    out, said = caught(lambda: evaluate(ctx(), ["zz_vec"]))
    assert out == {"w": pytest.approx([0.1, 0.2])}
    assert any("metric 'zz_vec' (m_vec): output 'w' is a list of 2 values, not one number" in s for s in said)
    for quiet in ("zz_nan", "zz_text"):
        _, said = caught(lambda: evaluate(ctx(), [quiet]))
        assert not said, said
