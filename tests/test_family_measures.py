"""The model families on a user's own data (audit a142): the DCGAN size refusal's mlp hint fits
the objective it refuses for; an energy model's checkpoint holds only the chains training wrote;
the held-out ELBO (``elbo``) and the 1-NN accuracy of the encoder's codes (``code_nn``)."""
import math
import re
import warnings
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from gankit import config as C
from gankit.config import ConfigError
from gankit.metrics import evaluate
from gankit.metrics.context import EvalContext
from gankit.train.run import Run

from conftest import class_folders

FAST = ["train.steps=2", "train.batch_size=4", "train.log_every=1", "train.sample_every=2",
        "train.checkpoint_every=2", "train.n_fixed=4", "train.progress=false", "train.live_report=false",
        "eval.n_samples=16", "eval.metrics=[\"image_stats\"]", "data.holdout=0"]


# ---------------------------------------------------------------- the DCGAN size refusal's hint

def _hint(msg: str) -> list[str]:
    """The --set settings of the refusal's mlp alternative (after its last "or use")."""
    return re.findall(r"--set (\S+)", msg.split(" or use ")[-1])


@pytest.mark.parametrize("preset", ["mnist-dcgan", "mnist-vae", "mnist-ae", "mnist-bigan", "mnist-ebm",
                                    "mnist-infogan"])
def test_the_dcgan_size_refusal_names_mlp_settings_that_train_the_family(tmp_path, preset):
    """It said generator.output=tanh to every family: the Bernoulli VAE then refused it (G's
    output must be logits) and the energy model, which has no G, warned the G settings unread."""
    folder = class_folders(tmp_path / "imgs", ["a", "b"], per_class=6, side=9)     # 9: not b * 2^L
    sets = FAST + ["data.name=image-folder", f'data.path="{folder}"', "data.channels=1",
                   "noise.dim=81" if preset == "mnist-ebm" else "noise.dim=16"]
    with pytest.raises(ConfigError, match="resolution 9") as e:
        Run(C.load(preset, sets), tmp_path / "refused")
    hint = _hint(str(e.value))
    if preset == "mnist-ebm":
        assert hint == ["discriminator.name=mlp"], str(e.value)
    else:
        assert {"generator.name=mlp", "discriminator.name=mlp"} <= set(hint), str(e.value)
        assert ("generator.output=tanh" in hint) == (preset != "mnist-vae"), str(e.value)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        Run.create(C.load(preset, sets + hint), tmp_path / "r").train().close()
    unread = [str(w.message) for w in seen if "does not read" in str(w.message)]
    assert not unread, unread


def test_a_bernoulli_vae_on_points_names_every_fix_in_one_message(tmp_path):
    """It said "use the mlp nets", and only at the next try "decoder=bernoulli models pixels"."""
    import numpy as np

    from gankit.train.vae import refuse_decoder_data, vae_objective
    np.save(tmp_path / "p.npy", np.random.default_rng(0).normal(size=(64, 5)).astype(np.float32))
    sets = FAST[:-2] + ['eval.metrics=["mmd"]', "data.name=points", f'data.path="{tmp_path / "p.npy"}"']
    cfg = C.load("mnist-vae", sets)
    with pytest.raises(ConfigError) as e:
        refuse_decoder_data(cfg, SimpleNamespace(kind="points"))
    msg = str(e.value)
    assert _hint(msg) == ["objective.decoder=gaussian", "generator.name=mlp", "discriminator.name=mlp"], msg
    assert vae_objective.refuse_data is refuse_decoder_data     # for a check before any net is built
    Run.create(C.load("mnist-vae", sets + _hint(msg)), tmp_path / "r").train().close()
    # the mlp nets already: the decoder alone
    cfg = C.load("mnist-vae", sets + ["generator.name=mlp", "discriminator.name=mlp"])
    with pytest.raises(ConfigError, match=r"pixels; use gaussian for points data: --set objective.decoder=gaussian$"):
        refuse_decoder_data(cfg, SimpleNamespace(kind="points"))


# ---------------------------------------------------------------- the energy model's replay buffer

EBM = ["train.batch_size=8", "train.progress=false", "train.live_report=false", "train.checkpoint_every=3",
       "train.log_every=1", "discriminator.name=mlp", "discriminator.hidden=[8]", "objective.langevin_steps=2",
       "objective.sample_steps=2", "objective.buffer_size=4000", "data.name=ring", "noise.dim=2",
       'eval.metrics=["mmd"]', "eval.n_samples=100"]


def _checkpoint(path, step):
    return torch.load(path / "checkpoints" / f"step_{step:08d}.pt", weights_only=True)


def _same_run(a: Run, b: Run, assert_same_state):
    assert torch.equal(a.objective.buffer.x, b.objective.buffer.x)
    assert_same_state(a.state_dict(), b.state_dict())


def test_an_energy_checkpoint_holds_only_the_chains_training_wrote(tmp_path, assert_same_state):
    """Every checkpoint held the whole buffer (objective.buffer_size chains): 125 MB for 32x32
    RGB after 20 steps, most of it the uniform noise the chains started as."""
    whole = Run.create(C.load("mnist-ebm", EBM + ["train.steps=6"]), tmp_path / "whole")
    whole.train()
    part = Run.create(C.load("mnist-ebm", EBM + ["train.steps=3"]), tmp_path / "part")
    part.train().close()
    replay = _checkpoint(tmp_path / "part", 3)["objective"]["replay"]
    written = int(replay["written"].sum())
    assert 0 < written <= 3 * 8 and tuple(replay["x"].shape) == (written, 2), replay["x"].shape
    resumed = Run.open(tmp_path / "part", ["train.steps=6"], write=True)
    resumed.train()
    _same_run(whole, resumed, assert_same_state)
    whole.close(), resumed.close()


def test_an_energy_checkpoint_that_holds_every_chain_still_resumes_bit_identically(
        tmp_path, monkeypatch, assert_same_state):
    """Checkpoints written before the chains' start was kept hold {"x": every chain}."""
    from gankit.train.ebm import ReplayBuffer
    whole = Run.create(C.load("mnist-ebm", EBM + ["train.steps=6"]), tmp_path / "whole")
    whole.train()
    with monkeypatch.context() as m:
        m.setattr(ReplayBuffer, "state_dict", lambda self: {"x": self.x.cpu()})
        Run.create(C.load("mnist-ebm", EBM + ["train.steps=3"]), tmp_path / "old").train().close()
    assert set(_checkpoint(tmp_path / "old", 3)["objective"]["replay"]) == {"x"}
    resumed = Run.open(tmp_path / "old", ["train.steps=6"], write=True)
    resumed.train()
    _same_run(whole, resumed, assert_same_state)
    whole.close(), resumed.close()


def test_a_resized_buffer_keeps_its_chains_through_a_checkpoint(tmp_path):
    """objective.buffer_size changed on --resume: the chains kept and added survive a second
    checkpoint (grown ones cannot be rebuilt from the start's generator: they count as written)."""
    Run.create(C.load("mnist-ebm", EBM + ["train.steps=3", "objective.buffer_size=40"]), tmp_path / "r").train().close()
    for size, steps in ((16, 6), (60, 9)):
        with pytest.warns(UserWarning, match=f"buffer_size is {size}"):
            run = Run.open(tmp_path / "r", [f"objective.buffer_size={size}", f"train.steps={steps}"], write=True)
        run.train()
        x = run.objective.buffer.x.clone()
        run.close()
        again = Run.open(tmp_path / "r", [f"objective.buffer_size={size}"])
        assert torch.equal(again.objective.buffer.x, x)
        again.close()


def test_a_buffer_saved_on_another_kind_of_device_rebuilds_its_untouched_chains_as_noise_in_the_box():
    """A CUDA generator's state cannot be replayed on the CPU: the written chains come back, the
    rest are uniform noise in the data's box again, the same on every load."""
    from gankit.train.ebm import ReplayBuffer
    torch.manual_seed(0)
    lo, hi = torch.full((3,), -1.0), torch.full((3,), 2.0)
    saved = ReplayBuffer(50, lo, hi, 0.0)
    saved.draw(5)
    saved.put_back(torch.zeros(5, 3))
    state = {**saved.state_dict(), "start_device": "cuda", "start": torch.arange(16, dtype=torch.uint8)}
    loaded = []
    for _ in range(2):
        buf = ReplayBuffer(50, lo, hi, 0.0)
        buf.load_state_dict(state)
        loaded.append(buf.x)
    assert torch.equal(*loaded) and torch.equal(buf.written, saved.written)
    assert (buf.x[saved.written] == 0).all()
    rest = buf.x[~saved.written]
    assert ((rest >= lo) & (rest <= hi)).all() and not torch.equal(rest, saved.x[~saved.written])
    again = ReplayBuffer(50, lo, hi, 0.0)          # its next checkpoint keeps those chains, compactly
    again.load_state_dict(buf.state_dict())
    assert torch.equal(again.x, buf.x) and len(buf.state_dict()["x"]) == 5


def test_a_large_replay_buffer_is_said_at_training_start(tmp_path, monkeypatch):
    from gankit.train import ebm
    monkeypatch.setattr(ebm, "BUFFER_NOTE_BYTES", 30_000)          # 4000 chains of 2 floats: 32 kB
    with pytest.warns(UserWarning, match=r"4,000 chains of 2 \(objective.buffer_size\) take 0 MB") as seen:
        Run.create(C.load("mnist-ebm", EBM + ["train.steps=1"]), tmp_path / "r").train().close()
    assert "a smaller objective.buffer_size shrinks both" in str(seen[0].message)
    monkeypatch.setattr(ebm, "BUFFER_NOTE_BYTES", 40_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.filterwarnings("ignore", message="(?!objective ebm: the replay buffer)")
        Run.create(C.load("mnist-ebm", EBM + ["train.steps=1"]), tmp_path / "r2").train().close()


# ---------------------------------------------------------------- code_nn and elbo

def test_one_nn_accuracy_by_hand():
    from gankit.metrics.inference import one_nn_accuracy
    train, ytr = torch.tensor([[0.0], [10.0]]), torch.tensor([0, 1])
    test, yte = torch.tensor([[1.0], [9.0], [6.0]]), torch.tensor([0, 1, 0])
    assert one_nn_accuracy(train, ytr, test, yte) == pytest.approx(2 / 3)      # 6 is nearer 10


def _labelled_images(n_train=60, n_held=20, classes=3, seed=0):
    """Images whose first pixel is the label and the rest noise 10 times larger."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n_train + n_held,), generator=g)
    x = torch.randn(n_train + n_held, 1, 3, 3, generator=g) * 10
    x[:, 0, 0, 0] = y.float()
    splits = {"train": (x[:n_train], y[:n_train]), "heldout": (x[n_train:], y[n_train:])}
    return SimpleNamespace(kind="image", labels=y[:n_train], heldout=x[n_train:], heldout_labels=y[n_train:],
                           split=lambda w: splits[w][0], split_labels=lambda w: splits[w][1])


def _context(ds, seed=0, **parts):
    """An EvalContext with the run's ``parts`` (codes, elbo) as the Run hands them."""
    ctx = EvalContext(dataset=ds, settings=None, seed=seed, device=torch.device("cpu"), step=0,
                      sample=lambda *a, **k: None)
    for k, v in parts.items():
        setattr(ctx, k, v)
    return ctx


def test_code_nn_of_codes_that_are_the_labels_is_one_and_pixels_are_read_beside_them():
    from gankit.metrics.inference import one_nn_accuracy
    ds = _labelled_images()
    res = evaluate(_context(ds, codes=lambda x: x[:, :, 0, 0]), ["code_nn"])
    assert res["code_nn_accuracy"] == 1.0
    pixels = one_nn_accuracy(ds.split("train"), ds.labels, ds.heldout, ds.heldout_labels)
    assert res["pixel_nn_accuracy"] == pixels and pixels < 0.8, pixels


def test_code_nn_and_elbo_are_refused_with_a_reason_where_they_cannot_measure():
    ds = _labelled_images()
    with pytest.raises(ConfigError, match="metric 'code_nn': this run's objective has no encoder"):
        evaluate(_context(ds), ["code_nn"])
    with pytest.raises(ConfigError, match="metric 'elbo': this run's objective has no ELBO"):
        evaluate(_context(ds), ["elbo"])
    points = SimpleNamespace(kind="points", heldout=None, heldout_labels=None, labels=None)
    with pytest.raises(ConfigError, match=r"metric 'elbo' does not apply .*it needs held-out images, and point "
                                          r"data \(a file or a mixture\) have no held-out split"):
        evaluate(_context(points, elbo=lambda *a: None), ["elbo"])
    unlabelled = SimpleNamespace(**{**vars(ds), "heldout_labels": None})
    with pytest.raises(ConfigError, match="metric 'code_nn' does not apply .*labelled images"):
        evaluate(_context(unlabelled, codes=lambda x: x), ["code_nn"])


@pytest.mark.parametrize("preset, objective", [("mnist-bigan", "bigan"), ("mnist-ae", "ae"), ("mnist-vae", "vae")])
def test_code_nn_reads_the_families_encoders(tmp_path, preset, objective):
    from gankit.metrics.inference import one_nn_accuracy
    sets = ["data.name=digits8x8", "generator.width=4", "discriminator.width=4", "noise.dim=4"]
    run = Run.create(C.load(preset, sets + (["objective.z_hidden=[4]"] if objective == "bigan" else [])),
                     tmp_path / "r")
    ds = run.dataset
    res = evaluate(_context(ds, codes=run.objective.measured_codes), ["code_nn"])
    with torch.no_grad():
        run.objective.modules["E"].eval()
        code = run.objective.E if objective != "vae" else (lambda x: run.objective.posterior(x)[0])
        expect = one_nn_accuracy(code(ds.split("train")), ds.split_labels("train"), code(ds.split("heldout")),
                                 ds.split_labels("heldout"))
    assert res["code_nn_accuracy"] == pytest.approx(expect) and 0 <= expect <= 1
    run.close()


def _linear_vae(tmp_path, k=2, s=0.8):
    """A VAE run on 8x8 digits whose decoder is x = W z + b and whose encoder gives mu = A x + c
    and a fixed log variance: its expected ELBO has a closed form."""
    run = Run.create(C.load("ring-vae", ["data.name=digits8x8", f"noise.dim={k}", f"objective.sigma={s}",
                                         "train.progress=false", "train.live_report=false"]), tmp_path / "r")
    g = torch.Generator().manual_seed(0)
    W, b = torch.randn(64, k, generator=g) * 0.15, torch.randn(64, generator=g) * 0.1
    A, c = torch.randn(k, 64, generator=g) * 0.1, torch.randn(k, generator=g) * 0.1
    logvar = torch.tensor([-1.0, -2.5])[:k]
    dec, enc = nn.Linear(k, 64), nn.Linear(64, 2 * k)
    with torch.no_grad():
        dec.weight.copy_(W), dec.bias.copy_(b)
        enc.weight.zero_(), enc.weight[:k].copy_(A), enc.bias[:k].copy_(c), enc.bias[k:].copy_(logvar)
    run.objective.G = nn.Sequential(dec, nn.Unflatten(1, (1, 8, 8)))
    run.objective.E = nn.Sequential(nn.Flatten(), enc)
    x = run.dataset.split("heldout").flatten(1).double()
    W, b, A, c, logvar = (t.double() for t in (W, b, A, c, logvar))
    mu, var = x @ A.T + c, logvar.exp()
    d = 64
    rec = (-0.5 / s ** 2 * (((x - mu @ W.T - b) ** 2).sum(1) + (var * (W ** 2).sum(0)).sum())
           - d * math.log(s) - 0.5 * d * math.log(2 * math.pi))
    kl = 0.5 * (mu ** 2 + var - 1 - logvar).sum(1)
    return run, rec.mean().item(), kl.mean().item()


def test_the_heldout_elbo_of_a_linear_gaussian_vae_is_its_closed_form(tmp_path, monkeypatch):
    from gankit.metrics import inference
    run, rec, kl = _linear_vae(tmp_path)
    monkeypatch.setattr(inference, "ELBO_DRAWS", 400)
    res = evaluate(_context(run.dataset, elbo=run.objective.heldout_elbo, seed=run.cfg.seed), ["elbo"])
    assert res["heldout_kl"] == pytest.approx(kl, rel=1e-5)
    # E_q's draws: a standard error of ~0.004 nats here; q's variance term alone is 0.48
    assert res["heldout_recon_ll"] == pytest.approx(rec, abs=0.02), (res, rec)
    assert res["heldout_elbo"] == pytest.approx(res["heldout_recon_ll"] - res["heldout_kl"], rel=1e-9)
    # the same numbers again: the draws of q have their own seed
    again = evaluate(_context(run.dataset, elbo=run.objective.heldout_elbo, seed=run.cfg.seed), ["elbo"])
    assert again == res
    run.close()


def test_the_auto_encoder_offers_no_elbo(tmp_path):
    run = Run.create(C.load("mnist-ae", ["data.name=digits8x8", "generator.width=4", "discriminator.width=4",
                                         "noise.dim=4"]), tmp_path / "r")
    assert run.objective.heldout_elbo is None and callable(run.objective.measured_codes)
    run.close()


def test_gankit_eval_measures_the_heldout_elbo_and_code_nn_of_a_vae(tmp_path):
    run = Run.create(C.load("mnist-vae", ["data.name=digits8x8", "generator.width=4", "discriminator.width=4",
                                          "noise.dim=4", *FAST[:1], "train.batch_size=16", "train.progress=false",
                                          "train.live_report=false"]), tmp_path / "r")
    run.train()
    res = run.evaluate(["elbo", "code_nn"])
    assert res["heldout_elbo"] < 0 and res["heldout_kl"] >= 0 and 0 <= res["code_nn_accuracy"] <= 1, res
    run.close()


def test_a_bernoulli_vae_on_points_is_refused_in_one_message_before_any_net_is_built(tmp_path):
    import numpy as np
    np.save(tmp_path / "p.npy", np.random.default_rng(0).normal(size=(64, 5)).astype(np.float32))
    sets = FAST[:-2] + ['eval.metrics=["mmd"]', "data.name=points", f'data.path="{tmp_path / "p.npy"}"']
    with pytest.raises(ConfigError) as e:
        Run(C.load("mnist-vae", sets), tmp_path / "r")
    assert _hint(str(e.value)) == ["objective.decoder=gaussian", "generator.name=mlp", "discriminator.name=mlp"]
