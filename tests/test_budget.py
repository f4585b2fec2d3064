"""The memory check (gankit/train/budget.py): estimates against formulas or tiny measured cases."""
import math
import tracemalloc
import warnings

import numpy as np
import pytest
import torch

from gankit import config as C
from gankit.config import ConfigError
from gankit.data import build_dataset
from gankit.train import budget


def _small_machine(monkeypatch, gb):
    monkeypatch.setattr(budget, "machine_memory", lambda device: int(gb * budget.GB))


def test_generation_counts_more_than_the_largest_layer_for_conv_nets():
    # measured on the CPU (peak RSS, 1000 samples): a 64x64 DCGAN G of width 16 holds 4.3 x its
    # largest layer's output per sample while generating, width 32 and 64 3.8 x (oneDNN's
    # copies of a conv layer's input and output)
    cfg = C.load("mnist-dcgan", ["data.name=digits8x8", "data.resolution=64", "generator.width=16",
                                 "discriminator.width=16"])
    ds = build_dataset(cfg)
    outs = []
    with torch.device("meta"):
        from gankit.train.build import build_nets
        G, _ = build_nets(cfg, ds)
    hooks = [m.register_forward_hook(lambda m, i, o: outs.append(o[0].numel()))
             for m in G.modules() if not list(m.children())]
    G(torch.empty(2, cfg.noise.dim, device="meta"))
    for h in hooks:
        h.remove()
    parts = budget.estimate(cfg, ds)
    gen = next(v for k, v in parts.items() if k.startswith("generating samples"))
    assert gen >= 3.5 * 4 * max(outs) * min(cfg.eval.parzen_centres, budget.GENERATE_CHUNK)


def test_the_check_counts_phases_that_are_alive_at_once():
    parts = {"data batches": 1, "G and D weights with gradients and Adam state": 10,
             "one training step's activations": 100, "generating samples (chunks of 10,000)": 70,
             "evaluation samples": 40, "JSD grid (200^2 cells)": 50}
    assert budget.peak(parts) == 11 + 110


def _jsd_measured_bytes(cfg, ds):
    from gankit.metrics.divergence import jsd_on_grid
    x = ds.sample(500, torch.Generator().manual_seed(0)).numpy()
    lo, hi = ds.bounds()
    exact = cfg.eval.jsd_cells == "exact"
    tracemalloc.start()   # numpy reports its buffers to tracemalloc
    try:
        jsd_on_grid(ds.log_prob, x, lo.numpy(), hi.numpy(), cfg.eval.jsd_bins, ds.cell_probs if exact else None)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("preset", ["ring", "grid"])
def test_the_exact_jsd_grid_estimate_matches_a_measured_small_grid(preset):
    cfg = C.load(preset, ["eval.jsd_bins=300"])
    ds = build_dataset(cfg)
    parts = budget.estimate(cfg, ds)
    grid = next(v for k, v in parts.items() if k.startswith("JSD grid"))
    assert 0.7 <= grid / _jsd_measured_bytes(cfg, ds) <= 1.5


def test_the_jsd_grid_is_left_out_when_jsd_is_not_asked(monkeypatch):
    _small_machine(monkeypatch, 4)
    cfg = C.load("ring", ["eval.jsd_bins=20000", 'eval.metrics=["modes"]'])
    ds = build_dataset(cfg)
    assert not any(k.startswith("JSD grid") for k in budget.estimate(cfg, ds))
    budget.check_memory(cfg, ds, torch.device("cpu"))
    with pytest.raises(ConfigError, match="JSD grid"):
        budget.check_memory(C.load("ring", ["eval.jsd_bins=20000"]), ds, torch.device("cpu"))


def test_the_refusal_names_the_setting_that_drives_each_part(monkeypatch):
    _small_machine(monkeypatch, 0.01)
    cfg = C.load("mnist-dcgan", ["data.name=digits8x8", "eval.parzen_centres=10000", "eval.n_samples=100"])
    with pytest.raises(ConfigError) as e:
        budget.check_memory(cfg, build_dataset(cfg), torch.device("cpu"))
    msg = str(e.value)
    assert "generating samples (chunks of 10,000)" in msg and "eval.parzen_centres" in msg
    assert "eval.jsd_bins" not in msg    # no JSD grid on images: advice that cannot help is left out


def test_evaluate_overrides_are_checked_before_allocating(monkeypatch, tmp_path):
    from gankit import api
    from gankit.train.run import Run
    run = Run.create(C.load("ring", ["train.steps=1", "train.progress=false", "eval.jsd_bins=20"]), tmp_path / "r")
    _small_machine(monkeypatch, 0.05)

    def reached(*a, **k):
        raise AssertionError("the JSD grid was allocated: the check did not run")
    monkeypatch.setattr("gankit.metrics.points.jsd_on_grid", reached)
    with pytest.raises(ConfigError, match="JSD grid"):
        api.evaluate(run, ["jsd"], overrides=["eval.jsd_bins=5000"], record=False, reference=False)
    assert run.cfg.eval.jsd_bins == 20    # the run's config is back


def test_the_check_warns_when_it_leaves_out_conditional_nets_and_memory_is_short(monkeypatch):
    """Conditional nets are not driven: their activations and generation are not counted.  Where
    what is counted already takes a large share of the machine, the check says what it left out;
    on a machine with room (every preset here) it stays quiet."""
    cfg = C.load("ring-cgan", [])
    ds = build_dataset(cfg)
    need = budget.peak(budget.estimate(cfg, ds))
    for machine_gb, warned in ((2 * need / budget.GB, True), (1000, False)):
        _small_machine(monkeypatch, machine_gb)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            budget.check_memory(cfg, ds, torch.device("cpu"))
        assert any("without these nets' activations and generation" in str(m.message) for m in w) == warned


def test_oom_advice_in_a_metric_names_the_settings_that_size_metrics():
    from gankit.cli import _oom_advice
    code = compile("raise MemoryError()", "/x/gankit/metrics/images.py", "exec")
    try:
        exec(code, {})
    except MemoryError as e:
        advice = _oom_advice(e)
    for setting in ("eval.n_samples", "eval.parzen_centres", "eval.jsd_bins"):
        assert setting in advice


def test_the_memory_a_cpu_run_may_use_is_the_containers_limit_where_lower(tmp_path, monkeypatch):
    """Physical RAM alone: a run in a container limited to 16 GB on a 23 GB machine was let through
    and killed for memory at its first snapshot."""
    (tmp_path / "v2").write_text("17179869184\n")
    (tmp_path / "none").write_text("max\n")
    (tmp_path / "v1").write_text("9223372036854771712\n")            # cgroup v1's "no limit"
    assert budget.container_limit([str(tmp_path / "v2")]) == 16 * budget.GB
    assert budget.container_limit([str(tmp_path / "none")]) is None
    assert budget.container_limit([str(tmp_path / "v1")]) is None
    assert budget.container_limit([str(tmp_path / "missing"), str(tmp_path / "v2")]) == 16 * budget.GB
    monkeypatch.setattr(budget, "container_limit", lambda: budget.GB)
    assert budget.machine_memory(torch.device("cpu")) == budget.GB
