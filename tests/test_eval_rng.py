"""Evaluating never draws from the caller's torch RNG stream: during training that stream is
the run's own, so a periodic evaluation that drew from it changed the training after it (and a
resume from a checkpoint written before it trained on another stream)."""
import torch

from gankit import config as C
from gankit.metrics import feature_nets, features
from gankit.train.run import Run


def test_building_the_feature_nets_leaves_the_callers_stream(monkeypatch):
    monkeypatch.setattr(features, "_CACHE", {})
    monkeypatch.setattr(feature_nets, "_NETS", {})
    torch.manual_seed(5)
    before = torch.get_rng_state()
    features.load_classifier("digits8x8")
    feature_nets.random_features_net(3)
    assert torch.equal(torch.get_rng_state(), before)


def test_a_periodic_evaluation_leaves_the_training_unchanged(tmp_path, digits, assert_same_state, monkeypatch):
    # the VAE's reparameterisation noise comes from the run's stream; the feature nets are built
    # afresh in this process (cached ones would hide a draw)
    monkeypatch.setattr(features, "_CACHE", {})
    monkeypatch.setattr(feature_nets, "_NETS", {})
    states = []
    for every in (2, 0):
        cfg = C.load("mnist-vae", digits + [f"train.eval_every={every}", 'eval.metrics=["fid", "kid"]'])
        run = Run.create(cfg, tmp_path / f"e{every}").train()
        if every:
            assert run.folder.records("eval"), "the periodic evaluation did not run"
        states.append(run.state_dict())
        run.close()
    assert_same_state(*states)
