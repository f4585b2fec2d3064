"""train.precision = bf16: autocast forward passes, float32 weights, losses and outputs."""
import pytest
import torch

from gankit import config as C
from gankit.config import ConfigError
from gankit.report import read_metrics
from gankit.train.run import Run



def _conv_dtypes(run):
    """Records the output dtype of every convolution of G and D while the run trains
    (inside the training step; snapshots and evaluation run in float32)."""
    seen = []
    for net in (run.G, run.D):
        for m in net.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                m.register_forward_hook(lambda mod, args, out: seen.append(out.dtype)
                                        if torch.is_autocast_enabled("cpu") else None)
    return seen


def test_bf16_runs_convolutions_in_bf16_and_keeps_float32_state(tmp_path, digits):
    run = Run.create(C.load("mnist-dcgan", digits + ["train.precision=bf16"]), tmp_path / "b")
    seen = _conv_dtypes(run)
    run.train()
    assert seen and set(seen) == {torch.bfloat16}
    params = list(run.G.parameters()) + list(run.D.parameters())
    assert all(p.dtype == torch.float32 for p in params)
    assert all(v.dtype == torch.float32 for s in run.optimizers["d"].state.values() for v in s.values()
               if torch.is_tensor(v) and v.is_floating_point())
    bn = [m for m in run.G.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert bn and bn[0].running_mean.dtype == torch.float32
    # outputs of the hooked nets come back as float32 under autocast; sampling is float32
    with run.autocast():
        assert run.G(run.sample_z(4)).dtype == torch.float32
        assert run.D(run.sample_batch(4).x).dtype == torch.float32
    assert run.generate(8, seed=0).dtype == torch.float32
    rows = [r for r in read_metrics(run.dir) if r.get("kind") == "train"]
    assert rows and all(torch.isfinite(torch.tensor(r["loss_d"])) for r in rows)


def test_fp32_is_untouched_and_bf16_is_close_but_not_equal(tmp_path, digits):
    runs = {}
    for p in ("fp32", "bf16"):
        run = Run.create(C.load("mnist-dcgan", digits + ["train.steps=2", "train.log_every=1",
                                                         f"train.precision={p}"]), tmp_path / p)
        seen = _conv_dtypes(run)
        run.train()
        runs[p] = ([r for r in read_metrics(run.dir) if r.get("kind") == "train"], set(seen))
    assert runs["fp32"][1] == set() and runs["bf16"][1] == {torch.bfloat16}
    a, b = runs["fp32"][0][0], runs["bf16"][0][0]     # the first step: same weights and batch
    for k in ("loss_d", "loss_g", "d_real", "d_fake"):
        assert b[k] == pytest.approx(a[k], rel=0.05), k
    assert any(a[k] != b[k] for k in ("loss_d", "loss_g"))


def test_bf16_with_r1_ema_and_pack(tmp_path, digits):
    """Penalties differentiate D's gradient (double backward) through the bf16 forward."""
    cfg = C.load("mnist-dcgan", digits + ["train.precision=bf16", "objective.name=gan",
                                          "objective.r1=1.0", "objective.ema=0.9",
                                          "objective.pack=2", "objective.feature_matching=0.1"])
    run = Run.create(cfg, tmp_path / "r").train()
    rows = [r for r in read_metrics(run.dir) if r.get("kind") == "train"]
    assert all(r["r1"] > 0 and r["feature_matching"] >= 0 for r in rows)
    assert torch.isfinite(run.generate(8, seed=0)).all()


def test_a_checkpoint_resumes_in_the_other_precision(tmp_path, digits):
    run = Run.create(C.load("mnist-dcgan", digits + ["train.steps=2"]), tmp_path / "c").train()
    again = Run.open(tmp_path / "c", ["train.steps=4", "train.precision=bf16"])
    assert again.step == 2
    again.train()
    assert again.step == 4 and torch.isfinite(again.generate(4, seed=0)).all()


def test_bad_precision_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="precision"):
        C.load("ring", ["train.precision=fp16"])
    with pytest.raises(ConfigError, match="precision=fp32"):
        Run.create(C.load("seqgan-oracle", ["train.precision=bf16", "data.vocab=50", "data.n_train=200",
                                            "data.n_test=50", "generator.hidden=16", "generator.embed_dim=16"]),
                   tmp_path / "s")


def test_bf16_with_a_packed_d_returns_float32(tmp_path, digits):
    """The packed D is declared before the Run hooks the modules: its outputs are float32 too."""
    run = Run.create(C.load("mnist-dcgan", digits + ["train.precision=bf16", "objective.pack=2"]),
                     tmp_path / "p")
    seen = []
    for net in (run.G, run.D):
        net.register_forward_hook(lambda mod, args, out: seen.append(out.dtype))
    run.train()
    assert seen and set(seen) == {torch.float32}
    with run.autocast():
        packed = run.sample_batch(4).x.reshape(2, 2, 8, 8)     # two samples side by side
        assert run.D(packed).dtype == torch.float32


def test_bf16_on_points_it_merges_warns_and_on_pixels_it_does_not(tmp_path):
    """Three modes of std 0.05 near (100, 100): bf16's step there is 0.5, and D saw 512 real points
    as 3 inputs, silently."""
    import numpy as np

    from gankit.train.precision import bf16_merge_note
    rng = np.random.default_rng(0)
    pts = np.concatenate([rng.normal(c, 0.05, size=(300, 2)) for c in (100.0, 103.0, 97.0)])
    note = bf16_merge_note(torch.as_tensor(pts, dtype=torch.float32))
    assert note and "become 3 " in note and "its step is 0.5" in note and "train.precision=fp32" in note
    pixels = (torch.arange(256.0) / 127.5 - 1).reshape(256, 1)    # 8-bit values in [-1, 1]: bf16 keeps each
    assert bf16_merge_note(pixels) is None
    np.save(tmp_path / "p.npy", pts)
    run = Run.create(C.load("ring-vanilla", ["data.name=points", f"data.path='{tmp_path / 'p.npy'}'",
                                             "data.standardize='none'", "train.precision=bf16",
                                             "train.steps=1", "train.progress=false"]),
                     tmp_path / "r")
    with pytest.warns(UserWarning, match="points drawn from the data become 3 "):
        run.train()
    run.close()


def test_the_bf16_refusal_names_the_objectives_that_declare_it():
    """It said bf16 was for "gan" alone, for nets that "run plain forward passes", to a VAE whose
    nets do; InfoGAN and BiGAN train in bf16."""
    from gankit.train.bigan import BiGANObjective
    from gankit.train.ebm import EnergyObjective
    from gankit.train.gan import GANObjective
    from gankit.train.infogan import InfoGANObjective
    from gankit.train.precision import BF16_OBJECTIVES, autocast_for
    from gankit.train.seqgan import SeqGANObjective
    from gankit.train.ssgan import SemiSupervisedGAN
    from gankit.train.vae import AutoEncoderObjective
    declared = {"gan": GANObjective, "infogan": InfoGANObjective, "bigan": BiGANObjective,
                "vae": AutoEncoderObjective, "ebm": EnergyObjective, "ssgan": SemiSupervisedGAN,
                "seqgan": SeqGANObjective}
    assert set(BF16_OBJECTIVES) == {k for k, cls in declared.items() if cls.supports_bf16}
    with pytest.raises(C.ConfigError, match="objective 'vae' trains in float32 only .*gan, infogan, bigan do"):
        autocast_for("bf16", torch.device("cpu"), [], supported=False, objective="vae")
