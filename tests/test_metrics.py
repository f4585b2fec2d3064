import math
import re

import numpy as np
import pytest
import torch

from gankit.registry import DATASETS
from gankit.metrics.divergence import jsd_discrete, jsd_on_grid
from gankit.metrics.modes import mode_metrics


def sample(name, n, seed=0, **kw):
    ds = DATASETS.build(name, kw)
    return ds, ds.sample(n, torch.Generator().manual_seed(seed))


def test_the_true_mixture_covers_every_mode():
    for name in ("ring", "grid"):
        ds, x = sample(name, 2500)
        m = mode_metrics(x, ds.modes, ds.mode_std)
        assert m["modes_covered"] == m["modes_total"] == len(ds.modes)
        assert m["hq_fraction"] > 0.97       # 3 std in 2-D holds 98.9% of the mass
        assert m["reverse_kl"] < 0.03


def test_collapse_to_one_mode():
    ds = DATASETS.build("ring", {})
    x = ds.modes[3].repeat(100, 1)
    m = mode_metrics(x, ds.modes, ds.mode_std)
    assert m["modes_covered"] == 1 and m["hq_fraction"] == 1.0
    assert abs(m["reverse_kl"] - math.log(8)) < 1e-9


def test_dropping_half_the_modes():
    ds = DATASETS.build("ring", {})
    x = ds.modes[:4].repeat(25, 1)
    m = mode_metrics(x, ds.modes, ds.mode_std)
    assert m["modes_covered"] == 4 and abs(m["reverse_kl"] - math.log(2)) < 1e-9


def test_far_samples_are_low_quality():
    ds = DATASETS.build("ring", {})
    m = mode_metrics(torch.zeros(50, 2), ds.modes, ds.mode_std)
    assert m["hq_fraction"] == 0 and m["modes_covered"] == 0


def test_mode_metrics_do_not_depend_on_sample_order_or_duplication():
    ds, x = sample("grid", 1000)
    a = mode_metrics(x, ds.modes, ds.mode_std)
    b = mode_metrics(torch.cat([x, x])[torch.randperm(2000)], ds.modes, ds.mode_std)
    assert a["modes_covered"] == b["modes_covered"]
    assert abs(a["hq_fraction"] - b["hq_fraction"]) < 1e-12
    assert abs(a["reverse_kl"] - b["reverse_kl"]) < 1e-12


def test_jsd_discrete_known_values():
    assert jsd_discrete([1, 0], [0, 1]) == math.log(2)
    assert jsd_discrete([0.2, 0.8], [0.2, 0.8]) == 0.0
    p, q = np.array([0.5, 0.5]), np.array([0.9, 0.1])
    m = (p + q) / 2
    expected = 0.5 * np.sum(p * np.log(p / m)) + 0.5 * np.sum(q * np.log(q / m))
    assert abs(jsd_discrete(p, q) - expected) < 1e-12


def test_grid_jsd_near_zero_for_the_data_and_log2_for_a_far_set():
    for name in ("ring", "grid"):
        ds, x = sample(name, 50000)
        lo, hi = ds.bounds()
        assert jsd_on_grid(ds.log_prob, x.numpy(), lo, hi, 200) < 0.01
        far = np.full((1000, 2), 100.0)
        assert abs(jsd_on_grid(ds.log_prob, far, lo, hi, 200) - math.log(2)) < 1e-9
    ds, x = sample("mixture1d", 50000)
    lo, hi = ds.bounds()
    assert jsd_on_grid(ds.log_prob, x.numpy(), lo, hi, 400) < 0.01


def test_a_named_metric_that_does_not_apply_says_what_it_needs():
    from types import SimpleNamespace

    from gankit.builtins import load_builtins
    from gankit.config import ConfigError
    from gankit.metrics import evaluate
    load_builtins()
    unlabelled = SimpleNamespace(kind="image", heldout=None, heldout_labels=None, modes=None)
    with pytest.raises(ConfigError, match="classify.*needs labelled images with a held-out split"):
        evaluate(SimpleNamespace(dataset=unlabelled, step=0), ["classify"])


def test_each_mode_is_judged_by_its_own_std():
    """A narrow mode (std 0.1) beside a wide one (std 1): a sample 10 narrow stds out is not of
    high quality for the narrow mode; 2 wide stds out, it is for the wide one."""
    ds = DATASETS.build("mixture1d", {"means": [0.0, 3.0], "stds": [0.1, 1.0]})
    m = mode_metrics(torch.full((100, 1), 1.0), ds.modes, ds.mode_std)
    assert m["mode_counts"] == [0, 100] and m["hq_fraction"] == 1.0
    m = mode_metrics(torch.full((100, 1), -1.0), ds.modes, ds.mode_std)   # 10 and 4 stds out
    assert m["hq_fraction"] == 0 and m["modes_covered"] == 0
    m = mode_metrics(torch.full((100, 1), 0.25), ds.modes, ds.mode_std)   # 2.5 narrow stds
    assert m["mode_counts"] == [100, 0]
    x = ds.sample(20000, torch.Generator().manual_seed(0))
    assert mode_metrics(x, ds.modes, ds.mode_std)["hq_fraction"] > 0.99


def test_reverse_kl_is_measured_against_the_datas_weights():
    ds = DATASETS.build("mixture1d", {"weights": [0.9, 0.1]})
    x = ds.sample(20000, torch.Generator().manual_seed(0))
    assert mode_metrics(x, ds.modes, ds.mode_std, weights=ds.mode_weights)["reverse_kl"] < 0.005
    half = torch.cat([ds.modes[0].repeat(50, 1), ds.modes[1].repeat(50, 1)])
    want = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)
    assert mode_metrics(half, ds.modes, ds.mode_std, weights=ds.mode_weights)["reverse_kl"] == pytest.approx(want)
    # equal weights: KL to uniform, the numbers of the ring and grid exactly as before
    ring, x = sample("ring", 1000)
    assert ring.mode_weights is None
    assert (mode_metrics(x, ring.modes, ring.mode_std, weights=[0.3] * 8)
            == mode_metrics(x, ring.modes, ring.mode_std))


@pytest.mark.parametrize("n_modes", [1, 8])
def test_no_high_quality_sample_is_the_worst_reverse_kl(n_modes):
    """With nothing covered reverse KL is inf, never 0 (the optimum) on one-mode data."""
    ds = DATASETS.build("ring", {"n_modes": n_modes})
    m = mode_metrics(torch.full((50, 2), 5.0), ds.modes, ds.mode_std)
    assert m["modes_covered"] == 0 and m["reverse_kl"] == math.inf
    one = mode_metrics(ds.modes[:1].repeat(50, 1), ds.modes, ds.mode_std)
    assert one["reverse_kl"] < m["reverse_kl"]


def test_a_metrics_array_values_are_stored_as_lists_json_can_hold():
    import json
    import types

    import numpy as np
    from gankit.metrics import _checked
    m = types.SimpleNamespace(name="mine", fn=None)
    out = _checked(m, {"a": torch.tensor([1.0, 2.0]), "b": np.arange(3), "c": torch.tensor(0.5)})
    assert out == {"a": [1.0, 2.0], "b": [0, 1, 2], "c": 0.5} and json.dumps(out)


def test_the_too_few_samples_hint_of_within_class_names_a_value_that_works(tmp_path, tiny):
    """The hint always said max(500, 2 n): 500 samples over 200 classes is 2 a class, short of
    the 3 within_class needs, and following the hint skipped the metric again."""
    import dataclasses
    import warnings

    from gankit import config as C
    from gankit.metrics import evaluate
    from gankit.train.run import Run
    run = Run.create(C.load("ring-cgan", tiny + ["data.n_modes=200", "train.steps=2"]), tmp_path / "r").train()
    ctx = run.eval_context()
    ctx.settings = dataclasses.replace(ctx.settings, n_samples=100)
    with pytest.warns(UserWarning, match=r"within_class.*100 samples over 200 classes") as rec:
        assert evaluate(ctx, ["within_class"]) == {}
    need = int(re.findall(r"eval\.n_samples=(\d+)", str(rec[-1].message))[-1])
    assert need == 2400     # 12 real samples expected in each class, as the warning on the real side asks
    ctx.settings = dataclasses.replace(ctx.settings, n_samples=need)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # a few classes may draw too few real samples
        assert "fd_within_class" in evaluate(ctx, ["within_class"])


def test_the_too_few_samples_hint_of_prdc_names_a_value_that_works_or_none(tmp_path, tiny):
    """With eval.pr_k = 600 the hint said eval.n_samples=500 (max(500, 2 n) at n = 200), which
    prdc skipped again; where the data themselves hold too few distinct points no number helps."""
    import dataclasses
    import warnings

    import numpy as np
    from gankit import config as C
    from gankit.metrics import evaluate
    from gankit.train.run import Run
    run = Run.create(C.load("ring", tiny + ["train.steps=2"]), tmp_path / "r").train()
    ctx = run.eval_context()
    ctx.settings = dataclasses.replace(ctx.settings, n_samples=200, pr_k=600)
    with pytest.warns(UserWarning, match=r"'prdc_points' skipped") as rec:
        assert evaluate(ctx, ["prdc_points"]) == {}
    need = int(re.findall(r"eval\.n_samples=(\d+)", str(rec[-1].message))[-1])
    ctx.settings = dataclasses.replace(ctx.settings, n_samples=need)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "precision" in evaluate(ctx, ["prdc_points"])
    # 8 distinct points repeated: more samples cannot make more of them
    np.save(tmp_path / "few.npy", np.repeat(np.random.default_rng(0).normal(size=(8, 2)), 50, 0).astype(np.float32))
    run2 = Run.create(C.load("ring", tiny + ["train.steps=2", "data.name=points", f"data.path={tmp_path / 'few.npy'}"]),
                      tmp_path / "p").train()
    ctx = run2.eval_context()
    ctx.settings = dataclasses.replace(ctx.settings, n_samples=200, pr_k=10)
    with pytest.warns(UserWarning, match=r"'prdc_points' skipped.*8 distinct points.*more samples do not help"):
        evaluate(ctx, ["prdc_points"])


def test_a_mode_of_weight_zero_is_not_a_mode_to_cover():
    """A mixture with weights [1, 0, 1] read "modes covered 2/3" for a perfect G, and a G on the
    empty mode counted it as covered."""
    modes = torch.tensor([[-2.0], [0.0], [2.0]])
    perfect = torch.cat([modes[0].repeat(50, 1), modes[2].repeat(50, 1)])
    m = mode_metrics(perfect, modes, 0.2, weights=[1.0, 0.0, 1.0])
    assert (m["modes_covered"], m["modes_total"]) == (2, 2) and m["reverse_kl"] == pytest.approx(0.0)
    wrong = torch.cat([modes[0].repeat(50, 1), modes[1].repeat(50, 1)])
    m = mode_metrics(wrong, modes, 0.2, weights=[1.0, 0.0, 1.0])
    assert (m["modes_covered"], m["modes_total"]) == (1, 2) and m["hq_fraction"] == 0.5
    assert m["reverse_kl"] == pytest.approx(math.log(2))      # all HQ mass on one of two modes
    m = mode_metrics(modes[1].repeat(100, 1), modes, 0.2, weights=[1.0, 0.0, 1.0])
    assert m["hq_fraction"] == 0.0 and m["reverse_kl"] == math.inf and m["modes_covered"] == 0
