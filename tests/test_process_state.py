"""gankit inside other programs: two computations in two threads, a caller's default dtype,
grad mode and signal handlers (gankit/process_state.py, gankit/train/signals.py)."""
from __future__ import annotations

import hashlib
import signal
import threading

import pytest
import torch

from gankit import api
from gankit.train.signals import StopOnSignal

# paper-mlp: D has dropout, so training draws from torch's global generator at every step
SHORT = ["train.steps=40", "train.batch_size=32", "discriminator.hidden=[16,16]", "generator.hidden=[16,16]",
         "train.checkpoint_every=40", "train.sample_every=1000"]


def _digest(run) -> str:
    h = hashlib.sha256()
    for name, m in sorted(run.modules.items()):
        for k, v in sorted(m.state_dict().items()):
            h.update(f"{name}.{k}".encode())
            h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def _train(out, extra=()):
    return api.train("paper-mlp", out=out, overrides=SHORT + list(extra), evaluate=False, report=False,
                     progress=False, log=None)


def test_two_trainings_in_two_threads_give_each_its_own_run(tmp_path, capsys):
    alone = _digest(_train(tmp_path / "alone"))
    done, barrier = {}, threading.Barrier(2)

    def worker(i):
        barrier.wait()
        done[i] = _digest(_train(tmp_path / f"t{i}"))

    torch.manual_seed(7)
    caller = torch.get_rng_state().clone()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert done == {0: alone, 1: alone}
    assert torch.equal(torch.get_rng_state(), caller)      # the caller's stream untouched
    assert "waiting for the gankit computation in another thread" in capsys.readouterr().err


def test_a_callers_float64_default_changes_nothing(tmp_path):
    ref = _train(tmp_path / "f32")
    ref_samples = api.sample(ref, 16, seed=1)
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        run = _train(tmp_path / "f64")
        assert torch.get_default_dtype() is torch.float64      # the caller's, put back
        assert all(p.dtype == torch.float32 for m in run.modules.values() for p in m.parameters())
        assert _digest(run) == _digest(ref)
        x = api.sample(ref, 16, seed=1)
        assert x.dtype == torch.float32 and torch.equal(x, ref_samples)
        assert torch.get_default_dtype() is torch.float64
    finally:
        torch.set_default_dtype(before)


@pytest.mark.parametrize("mode", ["no_grad", "inference_mode"])
def test_training_under_a_callers_grad_mode(tmp_path, mode):
    ref = _digest(_train(tmp_path / "ref"))
    with getattr(torch, mode)():
        run = _train(tmp_path / mode)
        assert not torch.is_grad_enabled()                 # the caller's mode, put back
    assert _digest(run) == ref
    resumed = api.train(out=tmp_path / mode, resume=True, overrides=["train.steps=60"], evaluate=False,
                        report=False, progress=False, log=None)
    assert resumed.step == 60


def test_a_handler_set_outside_python_is_left_in_place(monkeypatch):
    """signal.getsignal gives None for a handler a host program set in C: it could not be put
    back, so training leaves it alone (it raised TypeError after training, and left ours)."""
    real = signal.getsignal
    monkeypatch.setattr(signal, "getsignal", lambda s: None if s == signal.SIGTERM else real(s))
    installed = []
    real_signal = signal.signal
    monkeypatch.setattr(signal, "signal", lambda s, h: installed.append(s) or real_signal(s, h))
    before = real(signal.SIGINT)
    with StopOnSignal(trainer=None) as stop:
        assert signal.SIGTERM not in stop.saved and signal.SIGINT in stop.saved
    assert signal.SIGTERM not in installed
    assert real(signal.SIGINT) is before
