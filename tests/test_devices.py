"""Device handling of a run: train.device values, and a GPU-trained run opened on a CPU machine.

The CUDA side itself is checked on a GPU by benchmarks/cuda_check.py (CI has no GPU); here
CUDA's absence is simulated, so these tests behave the same on every machine.
"""
import warnings

import pytest
import torch

from gankit import config as C
from gankit.report import read_metrics
from gankit.train.run import Run, resolve_device



@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_device_names(no_cuda):
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(C.ConfigError, match="CUDA is not available.*train.device=cpu"):
        resolve_device("cuda")
    with pytest.raises(C.ConfigError, match="not a torch device"):
        resolve_device("gpu0")


def test_torch_devices_gankit_cannot_train_on_here_are_named(monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(C.ConfigError, match="mps is not available on this machine.*train.device=cpu"):
        resolve_device("mps")
    with pytest.raises(C.ConfigError, match="trains on cpu, cuda.*not 'meta'"):
        resolve_device("meta")


def test_auto_device_trains(no_cuda, tmp_path, tiny):
    run = Run.create(C.load("ring", tiny + ["train.device=auto"]), tmp_path / "r").train()
    assert run.device.type == "cpu" and run.step == 30


def test_a_gpu_run_opens_on_a_cpu_machine(no_cuda, tmp_path, tiny):
    """config.toml says cuda, the checkpoint holds a GPU noise state: evaluation still works on the CPU."""
    run = Run.create(C.load("ring", tiny), tmp_path / "r").train()
    ref = run.generate(100, seed=4)
    cfg_path = tmp_path / "r" / "config.toml"
    cfg_path.write_text(cfg_path.read_text().replace('device = "cpu"', 'device = "cuda"'))
    state_path = sorted((tmp_path / "r" / "checkpoints").glob("*.pt"))[-1]
    state = torch.load(state_path, weights_only=True)
    state["rng"]["noise"] = torch.zeros(16, dtype=torch.uint8)   # a CUDA Philox state: not a CPU one
    state["rng"]["noise_device"] = "cuda"
    torch.save(state, state_path)
    with pytest.warns(UserWarning, match="trained on cuda.*opened on the CPU"):
        back = Run.open(tmp_path / "r")
    assert back.device.type == "cpu" and back.step == 30
    assert torch.equal(back.generate(100, seed=4), ref)
    assert 'device = "cuda"' in cfg_path.read_text()     # the folder still says where it was trained
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        more = Run.open(tmp_path / "r", ["train.steps=40"]).train()   # and it can go on training here
    assert more.step == 40 and more.device.type == "cpu"


def test_asking_for_cuda_when_resuming_a_cpu_run_is_refused_as_a_new_run_is(no_cuda, tmp_path, tiny):
    """It warned that the run "was trained on cuda", trained on the CPU and wrote cuda into
    config.toml, so every later open repeated the false warning."""
    Run.create(C.load("ring", tiny), tmp_path / "r").train().close()
    before = (tmp_path / "r" / "config.toml").read_text()
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # and no "was trained on" warning on the way
        with pytest.raises(C.ConfigError, match="CUDA is not available.*train.device=cpu"):
            Run.open(tmp_path / "r", ["train.steps=40", "train.device='cuda'"], write=True)
    assert (tmp_path / "r" / "config.toml").read_text() == before
    # asked for explicitly, cuda is refused even where config.toml already says it (a GPU run
    # opened on the CPU falls back only when nobody asked)
    cfg_path = tmp_path / "r" / "config.toml"
    cfg_path.write_text(before.replace('device = "cpu"', 'device = "cuda"'))
    for asked in ("train.device='cuda'", "train={device='cuda'}"):
        with pytest.raises(C.ConfigError, match="CUDA is not available"):
            Run.open(tmp_path / "r", ["train.steps=40", asked], write=True)


def test_periodic_eval_computes_the_listed_metrics(tmp_path, tiny):
    run = Run.create(C.load("ring", tiny + ["train.eval_every=10", 'eval.metrics=["modes"]']),
                     tmp_path / "r").train()
    evals = [r for r in read_metrics(run.dir) if r["kind"] == "eval"]
    assert [r["step"] for r in evals] == [10, 20, 30]
    assert all("modes_covered" in r and "jsd" not in r for r in evals)


def test_an_unknown_metric_name_is_a_config_error():
    with pytest.raises(C.ConfigError, match=r"eval.metrics: unknown metric 'mode' \(did you mean 'modes'\?\).*modes"):
        C.load("ring", ['eval.metrics=["mode"]'])
