"""Standardised point data: statistics, inversion at sampling, checkpoints, scale invariance."""
import math

import torch

from gankit import config as C
from gankit.data import build_dataset
from gankit.data.scaling import point_scaler
from gankit.train.run import Run


def test_scaler_statistics_are_exact_for_mixtures():
    ds = build_dataset(C.load("ring", ["data.radius=3", "data.std=0.03"]))
    s = point_scaler(ds, "global")
    # each coordinate: variance radius^2 / 2 + std^2 (the mean of cos^2 over 8 equal angles is 1/2)
    assert torch.allclose(s.scale, torch.full((2,), math.sqrt(4.5 + 0.03 ** 2)))
    assert s.shift.abs().max() < 1e-6
    x = ds.sample(1000, torch.Generator().manual_seed(0))
    assert torch.allclose(s.to_data(s.to_model(x)), x, atol=1e-5)
    per = point_scaler(build_dataset(C.load("grid", ["data.spacing=1"])), "per_dim")
    assert torch.allclose(per.scale, torch.full((2,), math.sqrt(2 + 0.05 ** 2)))
    assert point_scaler(ds, "none") is None


def test_a_users_per_coordinate_means_and_per_row_weights_are_not_taken_for_a_mixture():
    """A user's dataset naming its own statistics means/stds (one per coordinate) and its per-row
    sampling weights: standardising it raised a size mismatch (audit F121)."""
    from types import SimpleNamespace
    x = 3 + 2 * torch.randn(50, 3, generator=torch.Generator().manual_seed(0))
    ds = SimpleNamespace(kind="points", x=x, means=x.mean(0), stds=x.std(0), weights=torch.ones(50) / 50)
    s = point_scaler(ds, "per_dim")
    assert torch.allclose(s.shift, x.mean(0).float(), atol=1e-5)
    assert torch.allclose(s.scale, x.double().var(0, unbiased=False).sqrt().float(), atol=1e-5)


def test_run_trains_standardised_and_hands_out_data_space(tmp_path, tiny):
    cfg = C.load("ring-vanilla", tiny + ["data.radius=3", "data.std=0.03", "data.standardize=global"])
    run = Run.create(cfg, tmp_path / "r")
    b = run.sample_batch(4000).x
    assert b.mean(0).abs().max() < 0.1 and abs(float(b.std()) - 1) < 0.05
    run.train(progress=False)
    x = run.generate(500)
    again = Run.open(tmp_path / "r")
    assert torch.equal(again.generate(500), x)              # the checkpoint carries the statistics
    state, _ = again.folder.load_checkpoint()
    assert torch.allclose(state["data_scale"]["scale"], run.scaler.scale)


def test_standardised_training_is_scale_free(tmp_path, tiny):
    # radius 1 / std 0.01 and radius 3 / std 0.03 are the same data once standardised: G's samples
    # are the same up to the factor 3 (float rounding of the data aside)
    out = {}
    for r in (1, 3):
        cfg = C.load("ring-vanilla", tiny + [f"data.radius={r}", f"data.std={0.01 * r}", "data.standardize=global"])
        run = Run.create(cfg, tmp_path / f"r{r}")
        run.train(progress=False)
        out[r] = run.generate(300)
    assert torch.allclose(out[3], 3 * out[1], atol=1e-3 * float(out[3].abs().max()))
