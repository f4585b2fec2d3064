"""A run owns its device's global random generator as it owns the CPU's (gankit/train/rng_state.py):
seeded from the run's seed (each rank its own), put back for the caller, saved in checkpoints and
restored on resume.  No GPU here: the run's device generator is simulated by a stand-in of
torch.cuda's get_rng_state/set_rng_state for the run's (CPU) device, and torch.cuda's seeding
functions are watched."""
import dataclasses
import warnings

import pytest
import torch

from gankit import config as C
from gankit import seeds
from gankit.train import distributed
from gankit.train.run import Run


class FakeDeviceGenerator:
    """The run's device's global generator: its state, and every state set on it."""

    def __init__(self):
        self.state = torch.Generator().manual_seed(999).get_state()    # the caller's
        self.sets = []

    def get_rng_state(self, device):
        return self.state.clone()

    def set_rng_state(self, state, device):
        self.sets.append(state.clone())
        self.state = state.clone()


@pytest.fixture
def gpu(monkeypatch):
    from gankit import seeds
    fake = FakeDeviceGenerator()
    monkeypatch.setattr(seeds, "_module", lambda device: fake)
    return fake


def seeded(seed: int) -> torch.Tensor:
    return torch.Generator().manual_seed(seed).get_state()


def last_checkpoint(run_dir):
    path = sorted((run_dir / "checkpoints").glob("*.pt"))[-1]
    return path, torch.load(path, weights_only=True)


def test_a_run_seeds_no_gpu_generator(monkeypatch, tmp_path, tiny):
    """torch.manual_seed seeds every CUDA device (lazily, where CUDA is not started yet): Run(),
    Run.open and a resume overwrote the caller's CUDA streams, and each rank's were the same."""
    calls = []
    for name in ("manual_seed_all", "manual_seed"):
        real = getattr(torch.cuda, name)
        monkeypatch.setattr(torch.cuda, name, lambda s, real=real, name=name: (calls.append(name), real(s))[1])
    Run.create(C.load("ring", tiny), tmp_path / "r").train().close()       # DRS's fit included
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Run.open(tmp_path / "r", ["train.steps=40"], write=True).train().close()
    assert calls == []


def test_the_run_seeds_its_device_generator_and_gives_the_callers_back(gpu, tmp_path, tiny):
    caller = gpu.state.clone()
    cfg = C.load("ring", tiny)
    run = Run.create(cfg, tmp_path / "r")
    assert torch.equal(gpu.sets[0], seeded(cfg.seed))       # built from the run's seed
    assert torch.equal(gpu.state, caller)                    # and the caller's put back
    assert torch.equal(run.device_rng, seeded(cfg.seed))
    gpu.sets.clear()
    run.train()
    assert torch.equal(gpu.sets[0], seeded(cfg.seed))       # trains on the run's stream
    assert torch.equal(gpu.state, caller)
    _, state = last_checkpoint(tmp_path / "r")
    assert state["rng"]["torch_device_type"] == "cpu" and torch.equal(state["rng"]["torch_device"], run.device_rng)


def test_a_resume_continues_the_saved_device_stream(gpu, tmp_path, tiny):
    Run.create(C.load("ring", tiny), tmp_path / "r").train().close()
    path, state = last_checkpoint(tmp_path / "r")
    state["rng"]["torch_device"] = seeded(77)       # where the first session's stream had got to
    torch.save(state, path)
    run = Run.open(tmp_path / "r", ["train.steps=40"], write=True)
    assert torch.equal(run.device_rng, seeded(77))
    gpu.sets.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # the schedule's note
        run.train().close()
    assert torch.equal(gpu.sets[0], seeded(77))     # the second session goes on from there


def test_a_device_stream_saved_on_another_kind_of_device_starts_afresh(gpu, tmp_path, tiny):
    """(a CUDA generator's state means nothing to mps); fresh, and not the first session's."""
    cfg = C.load("ring", tiny)
    Run.create(cfg, tmp_path / "r").train().close()
    path, state = last_checkpoint(tmp_path / "r")
    state["rng"]["torch_device"], state["rng"]["torch_device_type"] = seeded(77), "mps"
    torch.save(state, path)
    run = Run.open(tmp_path / "r")
    assert torch.equal(run.device_rng, seeded(seeds.rank_seed(cfg.seed, 0, 30)))
    assert not torch.equal(run.device_rng, seeded(cfg.seed))


def test_a_rank_draws_from_a_device_stream_of_its_own(gpu, monkeypatch, tmp_path, tiny):
    cfg = C.load("ring", tiny)
    rank0 = Run(cfg, tmp_path / "a")
    monkeypatch.setattr(seeds, "rank_seed", lambda seed, rank, step=0: seed + 1)    # as a rank > 0's
    other = Run(cfg, tmp_path / "b")
    assert torch.equal(rank0.device_rng, seeded(cfg.seed))
    assert torch.equal(other.device_rng, seeded(cfg.seed + 1))


def test_a_cpu_run_saves_no_device_stream(tmp_path, tiny):
    run = Run.create(C.load("ring", tiny), tmp_path / "r").train()
    assert run.device_rng is None
    assert "torch_device" not in last_checkpoint(tmp_path / "r")[1]["rng"]


def test_each_ranks_objective_state_goes_to_the_cpu_before_the_gather(monkeypatch, tmp_path, tiny):
    """A pickled CUDA tensor is rebuilt on its own device index on rank 0."""
    run = Run.create(C.load("ring", tiny), tmp_path / "r").train()
    held = torch.ones(3)
    monkeypatch.setattr(run.objective, "state_dict", lambda: {"ema": {"w": held}})
    moved, real_cpu = set(), torch.Tensor.cpu
    monkeypatch.setattr(torch.Tensor, "cpu", lambda t, *a, **k: (moved.add(id(t)), real_cpu(t, *a, **k))[1])
    gathered = []
    monkeypatch.setattr(distributed, "gather", lambda world, obj: (gathered.append(obj), [obj, obj])[1])
    run.world = dataclasses.replace(run.world, size=2, rank=1)     # a rank > 0 of two
    assert run.save_checkpoint() is None
    sent = gathered[0][1]["ema"]["w"]
    assert id(held) in moved and torch.equal(sent, held)


def test_metrics_that_seed_their_own_nets_leave_every_gpu_generator_alone(monkeypatch):
    """c2st and the dataset's own classifier seeded their CPU nets with torch.manual_seed, which
    also seeds every GPU's generator: on a GPU, the run's training stream, changed by a periodic
    evaluation (a resume from before it then differed)."""
    from gankit.metrics.distances import c2st
    from gankit.metrics.own_classifier import train_classifier
    calls = []
    for name in ("manual_seed_all", "manual_seed"):
        monkeypatch.setattr(torch.cuda, name, lambda s, name=name: calls.append(name))
    g = torch.Generator().manual_seed(0)
    c2st(torch.randn(64, 2, generator=g), torch.randn(64, 2, generator=g) + 1, steps=3)
    train_classifier(torch.rand(32, 1, 8, 8, generator=g), torch.arange(32) % 2, 2, steps=2)
    assert calls == []
