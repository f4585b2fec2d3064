"""Remedies of the gan objective in combination (audit a55): packing with batch norm or with
batch-level features down to one sample per D batch, the JSD diagnostic of a packed D, and
the conditional mismatch term's logged value.  Refusals are one line naming the key and a fix."""
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from gankit import config as C
from gankit.cli import main
from gankit.losses.adversarial import LossPair
from gankit.registry import LOSSES
from gankit.train.run import Run

SMALL = ["train.steps=2", "train.log_every=1", "train.sample_every=100", "train.checkpoint_every=100",
         "train.n_fixed=8", "train.progress=false", "train.live_report=false", "generator.hidden=[8]",
         "discriminator.hidden=[8]", "eval.n_samples=50", 'eval.metrics=["energy"]']


def _refusal(tmp_path, over) -> str:
    with pytest.raises(C.ConfigError) as e:
        Run.create(C.load("ring-vanilla", SMALL + over), tmp_path / "r")
    msg = str(e.value)
    assert "\n" not in msg
    return msg


# ---------------------------------------------------------------- batch norm and packing

@pytest.mark.parametrize("over,batch,pack", [
    (["train.batch_size=2", "objective.pack=2"], 2, 2),
    (["train.batch_size=8", "objective.pack=8", "objective.r1=1"], 8, 8),
    (["train.batch_size=4", "objective.pack=4", "objective.drs=true", "objective.drs_steps=2"], 4, 4),
], ids=["pack2", "pack8-r1", "pack4-drs"])
def test_batch_norm_in_a_packed_mlp_d_with_one_row_is_refused_in_ds_terms(tmp_path, over, batch, pack):
    """It was a torch traceback at the first D step ("Expected more than 1 value per channel");
    DRS's fine-tuning packs the same batch the same way."""
    msg = _refusal(tmp_path, ["discriminator.norm=batch"] + over)
    assert f"D's batch of 1 (train.batch_size {batch} / objective.pack {pack})" in msg
    assert f"train.batch_size={2 * pack}" in msg and "discriminator.norm=none" in msg


def test_the_packed_batch_norm_refusal_is_one_cli_line(tmp_path, capsys):
    sets = [a for kv in SMALL + ["discriminator.norm=batch", "train.batch_size=2", "objective.pack=2"]
            for a in ("--set", kv)]
    assert main(["train", "ring-vanilla", "--out", str(tmp_path / "r"), *sets]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "D's batch of 1" in err


def test_a_packed_batch_norm_d_with_two_rows_trains(tmp_path):
    over = SMALL + ["discriminator.norm=batch", "train.batch_size=4", "objective.pack=2"]
    run = Run.create(C.load("ring-vanilla", over), tmp_path / "r").train()
    assert torch.isfinite(run.generate(4)).all()
    run.close()


def test_a_conv_batch_norm_d_packed_to_one_image_still_trains(tmp_path):
    """BatchNorm2d takes its statistics over the spatial positions too: one packed image is fine."""
    over = ["train.steps=2", "train.batch_size=2", "objective.pack=2", "train.log_every=1",
            "train.sample_every=100", "train.checkpoint_every=100", "train.n_fixed=4", "train.progress=false",
            "train.live_report=false", "eval.n_samples=16", 'eval.metrics=["image_stats"]', "noise.dim=4",
            "generator.width=4", "discriminator.width=4", "data.name=digits8x8", "data.resolution=16",
            "discriminator.norm=batch", 'objective.name="gan"']
    run = Run.create(C.load("mnist-dcgan", over), tmp_path / "r").train()
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in run.D.modules())
    run.close()


# ---------------------------------------------------------------- minibatch features on one sample

def _training_refusal(tmp_path, over) -> str:
    """A new run is refused before its folder is written; a folder with these settings (a run
    trained before the check existed) still opens to sample and evaluate, and refuses training."""
    cfg = C.load("ring-vanilla", SMALL + over)
    with pytest.raises(C.ConfigError) as made:
        Run.create(cfg, tmp_path / "r")
    assert not (tmp_path / "r").exists()
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "config.toml").write_text(C.dumps_toml(cfg))
    run = Run.open(tmp_path / "old", load=False)
    with pytest.raises(C.ConfigError) as e:
        run.train()
    run.close()
    msg = str(e.value)
    assert "\n" not in msg and str(made.value) == msg
    return msg


def test_a_minibatch_std_group_of_one_is_refused(tmp_path):
    """Each group held one sample: the statistic was sqrt(1e-8) for every input, silently."""
    msg = _training_refusal(tmp_path, ["train.batch_size=16", 'objective.minibatch="std"',
                                       "objective.minibatch_group=1"])
    assert msg.startswith("objective.minibatch_group=1: a group of one sample has no spread")
    assert "objective.minibatch_group to 2 or more" in msg


@pytest.mark.parametrize("minibatch,over,seen,fix", [
    ("std", ["train.batch_size=4", "objective.pack=4"], "D's batch of 1 (train.batch_size 4 / objective.pack 4)",
     "train.batch_size to 8 or more (a multiple of 4)"),
    ("std", ["train.batch_size=1"], "train.batch_size 1", "train.batch_size to 2 or more,"),
    ("discrimination", ["train.batch_size=1"], "train.batch_size 1", "train.batch_size to 2 or more,"),
    ("discrimination", ["train.batch_size=2", "objective.pack=2"], "D's batch of 1 (train.batch_size 2 / objective.pack 2)",
     "train.batch_size to 4 or more (a multiple of 2)"),
], ids=["std-pack", "std-batch1", "mbd-batch1", "mbd-pack"])
def test_minibatch_features_on_a_d_batch_of_one_are_refused(tmp_path, minibatch, over, seen, fix):
    """D's batch held one row: std read a constant, discrimination the constant 0."""
    group = ["objective.minibatch_group=0"] if minibatch == "std" else []
    msg = _training_refusal(tmp_path, [f'objective.minibatch="{minibatch}"', *group] + over)
    assert msg.startswith(f"objective.minibatch={minibatch} with {seen}: batch statistics need 2 or more")
    assert fix in msg and "objective.minibatch=none" in msg


# ---------------------------------------------------------------- the JSD diagnostic of a packed D

@pytest.mark.parametrize("pack,key,other", [(1, "jsd_estimate", "jsd_packed_estimate"),
                                            (2, "jsd_packed_estimate", "jsd_estimate")])
def test_a_packed_d_logs_its_jsd_bound_under_a_key_of_its_own(tmp_path, pack, key, other):
    """(log 4 - BCE)/2 of a D that judges m samples bounds JSD(p^m, q^m), not the JSD."""
    from gankit.report.plots import curve_groups
    from gankit.runfolder import RunFolder
    over = SMALL + ["train.batch_size=8", f"objective.pack={pack}"]
    Run.create(C.load("ring-vanilla", over), tmp_path / "r").train().close()
    train = RunFolder(tmp_path / "r").records("train")
    assert train and all(key in r and other not in r for r in train)
    titles = {k: t for t, ks in curve_groups(train) for k in ks}
    assert titles[key] == ("JSD estimate (D's bound)" if pack == 1
                           else "JSD(p^m, q^m) of m-packed samples (D's bound)")


# ---------------------------------------------------------------- the fake half of each loss

FAKE_HALF = {
    "minimax": lambda f: F.softplus(f).mean(),
    "nonsaturating": lambda f: F.softplus(f).mean(),
    "wgan": lambda f: f.mean(),
    "hinge": lambda f: F.relu(1 + f).mean(),
    "lsgan": lambda f: 0.5 * (f ** 2).mean(),
    "rsgan": lambda f: F.softplus(f - 0).mean(),    # a lone fake output against a real one of 0
}


def test_every_registered_loss_has_its_fake_half_by_its_formula():
    from gankit.registry import is_gankit
    names = [e.name for e in LOSSES.entries() if is_gankit(e.module)]
    assert set(names) == set(FAKE_HALF)
    g = torch.Generator().manual_seed(0)
    fake, real = torch.randn(7, generator=g) * 3, torch.randn(7, generator=g)
    for name in names:
        for params in ({}, {"label_smoothing": 0.2}) if name in ("minimax", "nonsaturating") else ({},):
            loss = LOSSES.build(name, params)
            assert loss.fake_half is not None, name
            assert torch.allclose(loss.d_loss_fake(fake), FAKE_HALF[name](fake)), name
            if not loss.relativistic:   # d_loss is the real half plus exactly this
                rest = [loss.d_loss(real, f) - loss.d_loss_fake(f) for f in (fake, -2 * fake)]
                assert torch.allclose(rest[0], rest[1], atol=1e-6), name


def test_a_loss_without_a_fake_half_falls_back_to_its_d_loss():
    loss = LossPair("mine", lambda r, f: (r - 1).abs().mean() + f.abs().mean(), lambda f: -f.mean())
    assert loss.d_loss_fake(torch.tensor([2.0, -2.0])).item() == pytest.approx(3.0)


# ---------------------------------------------------------------- the conditional mismatch term

def _mismatch_term(loss_name: str):
    from gankit.train.conditional import conditional_terms
    c = SimpleNamespace(kind="label", mismatch_weight=1.0, d_mode="projection", attribute_mismatch=False)
    data = SimpleNamespace(mismatched=lambda y, gen, cond, attr: cond)
    d_terms, _ = conditional_terms(c, data, LOSSES.build(loss_name, {}), torch.Generator())
    (term,) = [t for t in d_terms if t.log_as == "mismatch"]
    return term


@pytest.mark.parametrize("loss_name,rejecting", [("nonsaturating", -40.0), ("minimax", -40.0),
                                                 ("hinge", -1.0), ("lsgan", 0.0)])
def test_the_mismatch_term_is_zero_for_a_d_that_rejects_every_mismatched_pair(loss_name, rejecting):
    """It carried the real half at logit 0: log 2 for BCE, 1 for hinge, 1/2 for LSGAN."""
    term = _mismatch_term(loss_name)
    ctx = SimpleNamespace(scratch={"batch": SimpleNamespace(y=None, c=torch.zeros(4))})

    def value(logits):
        return term(SimpleNamespace(net=lambda x, cond: logits), torch.zeros(4, 2), None, ctx)
    assert value(torch.full((4,), rejecting)).item() == pytest.approx(0.0, abs=1e-12)
    # where the offset was: the loss's own d_loss with a real half at logit 0
    assert LOSSES.build(loss_name, {}).d_loss(torch.zeros(4), torch.full((4,), rejecting)).item() > 0.4
    # the gradient is unchanged: the one d_loss gives the fake half
    logits = torch.randn(4, generator=torch.Generator().manual_seed(1), requires_grad=True)
    ref = LOSSES.build(loss_name, {}).d_loss(torch.zeros(4), logits)
    (g,), (g_ref,) = torch.autograd.grad(value(logits), [logits]), torch.autograd.grad(ref, [logits])
    assert torch.allclose(g, g_ref)
