"""Each model family through the real command line (train, eval, sample, report), inversion and
completion, resume of a three-module objective, and the families' configuration errors."""
import json
import warnings

import numpy as np
import pytest
import torch

from gankit import config as C
from gankit.cli import main
from gankit.config import ConfigError
from gankit.train.run import Run

IMG = ["train.steps=4", "train.batch_size=16", "train.log_every=2", "train.sample_every=2",
       "train.checkpoint_every=2", "train.n_fixed=16", "train.progress=false", "eval.n_samples=200",
       "data.name=digits8x8"]
FAMILIES = {
    "mnist-vae": ["generator.width=8", "discriminator.width=8", "noise.dim=4"],
    "mnist-ae": ["generator.width=8", "discriminator.width=8", "noise.dim=4"],
    "mnist-bigan": ["generator.width=8", "discriminator.width=8", "noise.dim=4", "objective.z_hidden=[8]"],
    "mnist-infogan": ["generator.width=8", "discriminator.width=8", "noise.dim=16", "generator.fc=16",
                      "discriminator.fc=16"],
    "mnist-ssgan": ["generator.hidden=[16]", "discriminator.hidden=[16]", "objective.labels_per_class=3"],
    "mnist-ebm": ["discriminator.width=8", "noise.dim=64", "objective.sample_steps=3",
                  "objective.langevin_steps=2", "objective.buffer_size=64"],
}


def _sets(items):
    return [a for kv in items for a in ("--set", kv)]


@pytest.mark.parametrize("preset", sorted(FAMILIES))
def test_each_family_trains_evaluates_samples_and_reports(tmp_path, capsys, preset):
    run = tmp_path / "run"
    assert main(["train", preset, "--out", str(run), *_sets(IMG + FAMILIES[preset])]) == 0
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r.get("kind") == "train"]
    assert train and all(np.isfinite(v) for v in train[-1].values() if isinstance(v, float))
    if preset == "mnist-vae":
        assert {"elbo", "kl", "recon_ll"} <= set(train[-1])
        assert train[-1]["elbo"] == pytest.approx(train[-1]["recon_ll"] - train[-1]["kl"], rel=1e-4)
    if preset == "mnist-ssgan":   # the parts of D's loss at the log step, not divided by log_every
        last = train[-1]
        assert 0.7 < (last["sup"] + last["unsup"]) / last["loss_d"] < 1.4, last
    capsys.readouterr()
    assert main(["eval", str(run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert "fcd" not in result or np.isfinite(result["fcd"])
    if preset == "mnist-ssgan":
        assert 0.0 <= result["test_accuracy"] <= 1.0 and "cluster_accuracy" not in result   # classes named
    elif preset == "mnist-infogan":     # the code's index is no class: only the best matching counts
        assert 0.0 <= result["cluster_accuracy"] <= 1.0 and "test_accuracy" not in result
    else:
        assert "test_accuracy" not in result      # no classifier, no accuracy
    assert main(["sample", str(run), "-n", "5", "--out", str(tmp_path / "x.npy")]) == 0
    x = np.load(tmp_path / "x.npy")
    assert x.shape == (5, 1, 8, 8) and np.isfinite(x).all() and np.abs(x).max() <= 1.0 + 1e-6
    assert main(["report", str(run)]) == 0
    assert "Training curves" in (run / "report.html").read_text()


def _bigan(steps):
    return C.load("mnist-bigan", IMG + FAMILIES["mnist-bigan"] + [f"train.steps={steps}"])


def test_bigan_resumes_bit_identically(tmp_path, assert_same_state):
    straight = Run.create(_bigan(6), tmp_path / "a").train()
    Run.create(_bigan(4), tmp_path / "b").train()
    resumed = Run.open(tmp_path / "b", ["train.steps=6"]).train()
    a, b = straight.state_dict(), resumed.state_dict()
    assert set(a["models"]) == {"G", "E", "D"}
    assert_same_state(a, b)


def test_energy_model_resumes_with_its_replay_buffer_and_samples_deterministically(tmp_path):
    cfg = lambda s: C.load("mnist-ebm", IMG + FAMILIES["mnist-ebm"] + [f"train.steps={s}"])  # noqa: E731
    straight = Run.create(cfg(4), tmp_path / "a").train()
    Run.create(cfg(2), tmp_path / "b").train()
    resumed = Run.open(tmp_path / "b", ["train.steps=4"]).train()
    assert torch.equal(straight.objective.buffer.x, resumed.objective.buffer.x)
    for k, v in straight.state_dict()["models"]["D"].items():
        assert torch.equal(v, resumed.state_dict()["models"]["D"][k]), k
    assert torch.equal(straight.generate(6, seed=3), straight.generate(6, seed=3))
    assert not torch.equal(straight.generate(6, seed=3), straight.generate(6, seed=4))


def test_invert_and_complete_from_the_command_line(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "mnist-vae", "--out", str(run), *_sets(IMG + FAMILIES["mnist-vae"])]) == 0
    imgs = Run.open(run).dataset.split("heldout", 6)
    np.save(tmp_path / "imgs.npy", ((imgs.numpy() + 1) * 127.5).round().astype(np.uint8))
    capsys.readouterr()
    assert main(["invert", str(run), "--images", str(tmp_path / "imgs.npy"), "--steps", "5",
                 "--out", str(tmp_path / "inv")]) == 0
    assert "inverted 6 images" in capsys.readouterr().out
    rec = np.load(tmp_path / "inv" / "reconstructions.npy")
    assert rec.shape == (6, 1, 8, 8) and (tmp_path / "inv" / "errors.csv").read_text().count("\n") == 7
    assert main(["complete", str(run), "--images", "heldout:4", "--mask", "bottom", "--steps", "5",
                 "--out", str(tmp_path / "cmp")]) == 0
    filled = np.load(tmp_path / "cmp" / "completions.npy")
    known = Run.open(run).dataset.split("heldout", 4).numpy()
    assert np.allclose(filled[..., :4, :], known[..., :4, :])          # the given half is kept
    assert not np.allclose(filled[..., 4:, :], known[..., 4:, :])      # the hidden half is G's
    assert main(["eval", str(run), "--metrics", "recon_error"]) == 0
    assert "recon_mse" in capsys.readouterr().out
    assert main(["complete", str(run), "--images", "heldout", "--mask", "middle"]) == 2


def test_the_energy_model_cannot_be_inverted(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "mnist-ebm", "--out", str(run), *_sets(IMG + FAMILIES["mnist-ebm"])]) == 0
    capsys.readouterr()
    assert main(["invert", str(run), "--images", "heldout:2"]) == 2
    assert "no latent code" in capsys.readouterr().err


def test_invert_and_complete_refuse_data_that_are_not_images(tmp_path, capsys):
    run = tmp_path / "run"
    tiny = [k for k in IMG if not k.startswith("data.")]
    assert main(["train", "ring-vae", "--out", str(run), *_sets(tiny)]) == 0
    capsys.readouterr()
    for cmd in (["invert"], ["complete", "--mask", "left"]):
        assert main([cmd[0], str(run), "--images", "heldout:2", *cmd[1:]]) == 2
        err = capsys.readouterr().err
        assert "fit G to images" in err and "points" in err and "Traceback" not in err


def test_ssgan_warns_when_every_image_keeps_its_label(tmp_path):
    base = IMG + FAMILIES["mnist-ssgan"]
    few = ["train.steps=1", "train.live_report=false", "eval.metrics=[]"]
    with pytest.warns(UserWarning, match="every training image is labelled"):   # when training starts
        Run.create(C.load("mnist-ssgan", base + few + ["objective.labels_per_class=100000"]),
                   tmp_path / "a").train(final_report=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Run(C.load("mnist-ssgan", base), tmp_path / "b")


@pytest.mark.parametrize("preset, sets, message", [
    ("mnist-ebm", ["noise.dim=10"], "noise.dim=64"),
    ("mnist-vae", ["generator.output=tanh"], "generator.output=none"),
    ("mnist-infogan", ["noise.dim=12"], "must exceed"),
    ("ring-vae", ["objective.decoder=bernoulli"], "use gaussian"),
])
def test_family_configuration_errors_say_what_to_change(tmp_path, preset, sets, message):
    extra = [] if preset == "ring-vae" else IMG
    with pytest.raises(ConfigError, match=message):
        Run(C.load(preset, extra + sets), tmp_path / "r")


def test_toy_vae_trains_on_points(tmp_path, tiny):
    run = Run.create(C.load("ring-vae", tiny + ["train.steps=20"]), tmp_path / "r").train()
    x = run.generate(100)
    assert x.shape == (100, 2) and torch.isfinite(x).all()
    assert run.d_prob(torch.zeros(3, 2)) is None          # no D: the report draws no heat map


def test_infogan_generator_sees_a_one_hot_categorical_code_and_the_raw_free_noise(tmp_path):
    run = Run(C.load("mnist-infogan", IMG + FAMILIES["mnist-infogan"]), tmp_path / "r")
    obj, k = run.objective, run.objective.p.categories
    z = torch.randn(4000, run.cfg.noise.dim, generator=torch.Generator().manual_seed(0))
    lat = obj.latent(z)
    n = obj.n_free
    cat = lat[:, n:n + k]
    assert torch.equal(cat.sum(1), torch.ones(len(z))) and set(cat.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(cat.argmax(1), obj.codes(z)[0])
    assert torch.equal(lat[:, :n], z[:, :n]) and torch.equal(lat[:, n + k:], z[:, n + k:])
    counts = torch.bincount(obj.codes(z)[0], minlength=k).float()
    assert (counts / len(z) - 1 / k).abs().max() < 0.03     # c_cat is uniform over the K values
    # G's input layer is as wide as the latent, so G reads the one-hot (not the raw noise)
    assert obj.G(lat[:8]).shape[0] == 8
    assert torch.equal(run.objective.generate(z[:8]), obj.G(lat[:8]))


def test_infogan_q_batchnorm_trains_and_classifies_in_eval_mode(tmp_path):
    over = IMG + FAMILIES["mnist-infogan"] + ["objective.q_batchnorm=true"]
    run = Run.create(C.load("mnist-infogan", over), tmp_path / "r").train()
    bn = [m for m in run.objective.Q if isinstance(m, torch.nn.BatchNorm1d)]
    assert len(bn) == 1 and int(bn[0].num_batches_tracked) > 0      # trained with batch statistics
    x = run.dataset.split("heldout")[:5]
    classify = run.classifier()                                    # eval mode: running statistics
    one = torch.cat([classify(x[i:i + 1]) for i in range(5)])
    torch.testing.assert_close(one, classify(x))                   # so each image alone gets its logits
    assert run.objective.Q.training                                # and training mode comes back
    plain = Run(C.load("mnist-infogan", IMG + FAMILIES["mnist-infogan"]), tmp_path / "p")
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in plain.objective.Q)


@pytest.mark.parametrize("preset", ["mnist-bigan", "mnist-infogan", "mnist-ssgan"])
def test_k_d_steps_per_g_step_in_every_family_with_a_g_step(tmp_path, preset):
    run = Run.create(C.load(preset, IMG + FAMILIES[preset] + ["train.d_steps=3", "train.steps=4"]), tmp_path / "r")
    calls = {ph.name: 0 for ph in run.objective.phases}
    for ph in run.objective.phases:
        def counted(ctx, f=ph.loss, name=ph.name):
            calls[name] += 1
            return f(ctx)
        ph.loss = counted
    run.train()
    assert calls == {"d": 12, "g": 4}


@pytest.mark.parametrize("preset,sets", [("mnist-vae", []), ("mnist-ae", []), ("mnist-ebm", []),
                                         ("mnist-ssgan", ["objective.adversarial=false"])])
def test_d_steps_is_refused_where_there_is_no_g_step_to_take_them_before(tmp_path, preset, sets):
    with pytest.raises(ConfigError, match=r"train.d_steps=2 has no meaning.*train.steps"):
        Run.create(C.load(preset, IMG + FAMILIES[preset] + sets + ["train.d_steps=2"]), tmp_path / "r")
