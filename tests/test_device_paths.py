"""GPU and mps code paths checked without either: a run folder naming a device this machine lacks,
GPU indices beyond the machine's, bf16 on a GPU without bfloat16 units, float64 kept off mps, and
the host syncs kept out of a training step.  Devices are simulated by monkeypatching torch."""
import warnings
from types import SimpleNamespace

import pytest
import torch

from gankit import config as C
from gankit.train.run import Run, resolve_device


@pytest.fixture
def one_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)


def test_a_gpu_index_the_machine_lacks_is_refused_in_one_line(one_gpu):
    with pytest.raises(C.ConfigError, match=r"train.device: this machine has 1 CUDA device \(cuda:0\), not "
                                            r"cuda:3; use --set train.device=cpu"):
        resolve_device("cuda:3")
    assert resolve_device("cuda:0") == torch.device("cuda:0")


def trained_on(device: str, tmp_path, tiny):
    Run.create(C.load("ring", tiny + ["objective.drs=false"]), tmp_path / "r").train().close()
    cfg_path = tmp_path / "r" / "config.toml"
    cfg_path.write_text(cfg_path.read_text().replace('device = "cpu"', f'device = "{device}"'))
    return tmp_path / "r"


@pytest.mark.parametrize("device, why", [("mps", "mps is not available on this machine"),
                                         ("cuda:1", r"this machine has 1 CUDA device \(cuda:0\), not cuda:1")])
def test_a_run_trained_on_a_device_this_machine_lacks_opens_on_the_cpu(one_gpu, monkeypatch, tmp_path, tiny,
                                                                       device, why):
    """Only "cuda with no CUDA at all" fell back: a Mac's run, or one trained on cuda:1, could be
    neither evaluated nor sampled (--set train.device=cpu is refused by eval and sample)."""
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    folder = trained_on(device, tmp_path, tiny)
    with pytest.warns(UserWarning, match=f"trained on {device}; {why}, so it is opened on the CPU$"):
        run = Run.open(folder)
    assert run.device == torch.device("cpu") and run.step == 30
    run.close()


def test_a_resume_on_the_cpu_says_training_continues_there(monkeypatch, tmp_path, tiny):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    folder = trained_on("cuda", tmp_path, tiny)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        Run.open(folder, ["train.steps=40"], write=True).close()
    text = " ".join(str(w.message) for w in said)
    assert "training continues on the CPU" in text and "Ctrl-C" in text


@pytest.mark.parametrize("major, refused", [(7, True), (8, False)])
def test_bf16_on_a_gpu_asks_the_runs_own_gpu_for_bfloat16_units(monkeypatch, major, refused):
    """is_bf16_supported() says yes on pre-Ampere GPUs (emulated: slower than float32), and asks
    of the current device, not the run's."""
    from gankit.train.precision import autocast_for
    asked = []
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(torch.cuda, "get_device_properties",
                        lambda d: (asked.append(torch.device(d)), SimpleNamespace(major=major))[1])
    device = torch.device("cuda:1")
    if refused:
        with pytest.raises(C.ConfigError, match="cuda:1 has no bfloat16 units.*train.precision=fp32"):
            autocast_for("bf16", device, [])
    else:
        assert autocast_for("bf16", device, []) is not None
    assert asked == [device]


class _OnMps:
    """A stand-in for a tensor on mps, which has no float64: which cast was asked for."""
    device = torch.device("mps")

    def __init__(self, t):
        self.t, self.casts = t, []

    def double(self):
        raise TypeError("Cannot convert a MPS Tensor to float64 dtype")

    def float(self):
        self.casts.append("float")
        return self.t.float()


def test_maligans_weights_are_float32_on_mps_and_float64_elsewhere():
    from gankit.train.policy_gradient import _wide
    x = _OnMps(torch.tensor([0.5, -1.0]))
    assert _wide(x).dtype == torch.float32 and x.casts == ["float"]
    assert _wide(torch.tensor([0.5])).dtype == torch.float64


def test_inception_features_go_to_the_cpu_before_float64(monkeypatch):
    from gankit.metrics.features import InceptionFeatures
    order, real_cpu, real_double = [], torch.Tensor.cpu, torch.Tensor.double
    monkeypatch.setattr(torch.Tensor, "cpu", lambda t, *a, **k: (order.append("cpu"), real_cpu(t, *a, **k))[1])
    monkeypatch.setattr(torch.Tensor, "double",
                        lambda t, *a, **k: (order.append("double"), real_double(t, *a, **k))[1])
    feats = InceptionFeatures.__new__(InceptionFeatures)
    feats.device = torch.device("cpu")
    feats.net = lambda u8, **k: torch.zeros(len(u8), 4)
    f, p = feats(torch.zeros(2, 3, 4, 4))
    assert f.dtype == p.dtype == torch.float64
    assert order == ["cpu", "double", "cpu", "double"]


def test_gaussian_codes_read_their_count_once_not_every_step(monkeypatch):
    """int(count) of a GPU buffer waits for the GPU at every step; the statistics stay the same."""
    from gankit.train.parts import GaussianCodes
    g = torch.Generator().manual_seed(0)
    batches = [torch.randn(8, 3, generator=g) for _ in range(3)]
    ref = GaussianCodes(3)
    for b in batches:
        ref.update(b)
    gc = GaussianCodes(3)
    gc.update(batches[0])
    monkeypatch.setattr(torch.Tensor, "__int__", lambda t: pytest.fail("a host sync on count"))
    for b in batches[1:]:
        gc.update(b)
    monkeypatch.undo()
    assert torch.equal(gc.mean, ref.mean) and torch.equal(gc.second, ref.second) and int(gc.count) == 3
    # a loaded count decides again: a fresh state's first batch sets the statistics
    gc.load_state_dict(GaussianCodes(3).state_dict())
    gc.update(batches[0])
    fresh = GaussianCodes(3)
    fresh.update(batches[0])
    assert torch.equal(gc.mean, fresh.mean) and torch.equal(gc.second, fresh.second)
