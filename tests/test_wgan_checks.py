"""The WGAN critic on other settings (audit a63): the matching-aware term under a Wasserstein
critic, the gradient penalty on a batch-norm D, the critic's estimate with packing and with
standardised data, and sequence data given to the gan objective."""
import warnings

import numpy as np
import pytest
import torch

from gankit import config as C
from gankit.runfolder import RunFolder
from gankit.train.run import Run

SMALL = ["train.steps=2", "train.log_every=1", "train.sample_every=100", "train.checkpoint_every=100",
         "train.n_fixed=8", "train.progress=false", "train.live_report=false", "generator.hidden=[8]",
         "discriminator.hidden=[8]", "eval.n_samples=50", 'eval.metrics=["energy"]', "train.batch_size=16"]
COND = ['condition.kind="label"', 'condition.d_mode="projection"']


def _train(tmp_path, preset, over, name="r"):
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        Run.create(C.load(preset, SMALL + over), tmp_path / name).train().close()
    return [str(w.message) for w in said]


def test_a_wasserstein_critic_with_the_matching_aware_term_is_refused_at_training(tmp_path):
    """E f(x, wrong c) has no lower bound: the critic fell to -2,650 in 1,500 steps, silently."""
    cfg = C.load("wgan-gp", SMALL + COND)
    with pytest.raises(C.ConfigError) as e:
        Run.create(cfg, tmp_path / "r")         # a new run: before its folder is written
    assert not (tmp_path / "r").exists()
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("condition.mismatch_weight=1 with loss.name=wgan")
    assert "condition.mismatch_weight=0" in msg and "loss.name=hinge" in msg
    (tmp_path / "old").mkdir()               # a run trained before the check: opens to evaluate
    (tmp_path / "old" / "config.toml").write_text(C.dumps_toml(cfg))
    run = Run.open(tmp_path / "old", load=False)
    with pytest.raises(C.ConfigError, match="condition.mismatch_weight=1 with loss.name=wgan"):
        run.train()
    run.close()


@pytest.mark.parametrize("fix", [["condition.mismatch_weight=0"], ['loss.name="hinge"'],
                                 ["objective.gp=0", "objective.clip=0.01"], ['condition.d_mode="acgan"']])
def test_the_matching_aware_term_trains_with_a_bounded_critic_or_none(tmp_path, fix):
    _train(tmp_path, "wgan-gp", COND + fix)


@pytest.mark.parametrize("gp,norm,warned", [(10, "batch", True), (10, "none", False), (0, "batch", False)])
def test_the_gradient_penalty_on_a_batch_norm_d_is_warned_about(tmp_path, gp, norm, warned):
    said = _train(tmp_path, "wgan-gp", [f"objective.gp={gp}", f'discriminator.norm="{norm}"']
                  + (["objective.clip=0.01"] if gp == 0 else []))
    hits = [m for m in said if "objective.gp on a D with batch norm" in m]
    assert len(hits) == int(warned)
    if warned:
        assert "discriminator.norm=none" in hits[0]


@pytest.mark.parametrize("pack,key,other", [(1, "wasserstein_estimate", "wasserstein_packed_estimate"),
                                            (2, "wasserstein_packed_estimate", "wasserstein_estimate")])
def test_a_packed_critic_logs_its_estimate_under_a_key_of_its_own(tmp_path, pack, key, other):
    """A critic of m-tuples estimates W1 between them (sqrt(m) times a shift), not W1(p, q)."""
    from gankit.report.plots import curve_groups
    _train(tmp_path, "wgan-gp", [f"objective.pack={pack}"])
    rows = RunFolder(tmp_path / "r").records("train")
    assert all(key in r and other not in r for r in rows)
    assert any(key in keys for _, keys in curve_groups(rows))


def test_the_critic_estimate_is_in_the_data_units_under_global_standardisation(tmp_path):
    """W1 scales with one overall scale: the same nets and draws on data 1,000 times larger,
    standardised globally, log 1,000 times the critic's number."""
    over = ["data.radius=1000", "data.std=10", 'data.standardize="global"']
    base = ["train.steps=3", "seed=3"]
    _train(tmp_path, "wgan-gp", base + over, "big")
    _train(tmp_path, "wgan-gp", base + ['data.standardize="global"'], "unit")
    big = [r["wasserstein_estimate"] for r in RunFolder(tmp_path / "big").records("train")]
    unit = [r["wasserstein_estimate"] for r in RunFolder(tmp_path / "unit").records("train")]
    np.testing.assert_allclose(big, np.array(unit) * 1000, rtol=1e-4)


@pytest.mark.parametrize("over", [[], ['generator.name="seq"', 'discriminator.name="cnn"', "noise.dim=20"]])
def test_text_data_for_the_gan_objective_is_refused_in_one_line(tmp_path, over):
    """It failed deep in the nets with a shape error."""
    with pytest.raises(C.ConfigError) as e:
        Run.create(C.load("ring-vanilla", [o for o in SMALL if over == [] or "hidden" not in o]
                          + ['data.name="oracle"', "data.n_train=64", "data.n_test=16"] + over), tmp_path / "r")
    assert "objective gan models images or points, not text" in str(e.value)
    assert "objective.name=seqgan" in str(e.value)


def test_divergence_advice_names_the_runs_own_penalty_and_its_weight():
    """A gradient-penalty weight of 1e30 diverged at step 1 and the advice was "try ... a gradient
    penalty": the run had one, and its weight was the cause."""
    from types import SimpleNamespace

    from gankit.train.gan import gan_nan_hint
    assert "objective.gp=..., now 1e+30" in gan_nan_hint(SimpleNamespace(gp=1e30, r1=0.0))
    assert "a gradient penalty" not in gan_nan_hint(SimpleNamespace(gp=10.0, r1=0.0))
    both = gan_nan_hint(SimpleNamespace(gp=0.0, r1=0.0))
    assert "a gradient penalty" in both and "objective.gp" not in both and "optim_d.lr" in both
    assert "objective.r1=..., now 5" in gan_nan_hint(SimpleNamespace(gp=0.0, r1=5.0))
