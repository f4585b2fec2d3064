"""gankit inside other programs: two computations in two threads, a caller's default dtype,
grad mode and signal handlers (gankit/process_state.py, gankit/train/signals.py)."""
from __future__ import annotations

import signal
import threading

import pytest
import torch

from gankit import api
from gankit.train.signals import StopOnSignal

from conftest import weights_digest
from tests.conftest import child_env

# paper-mlp: D has dropout, so training draws from torch's global generator at every step
SHORT = ["train.steps=40", "train.batch_size=32", "discriminator.hidden=[16,16]", "generator.hidden=[16,16]",
         "train.checkpoint_every=40", "train.sample_every=1000"]


def _train(out, extra=()):
    return api.train("paper-mlp", out=out, overrides=SHORT + list(extra), evaluate=False, report=False,
                     progress=False, log=None)


def test_two_trainings_in_two_threads_give_each_its_own_run(tmp_path, capsys):
    alone = weights_digest(_train(tmp_path / "alone"))
    done, barrier = {}, threading.Barrier(2)

    def worker(i):
        barrier.wait()
        done[i] = weights_digest(_train(tmp_path / f"t{i}"))

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
        assert weights_digest(run) == weights_digest(ref)
        x = api.sample(ref, 16, seed=1)
        assert x.dtype == torch.float32 and torch.equal(x, ref_samples)
        assert torch.get_default_dtype() is torch.float64
    finally:
        torch.set_default_dtype(before)


@pytest.mark.parametrize("mode", ["no_grad", "inference_mode"])
def test_training_under_a_callers_grad_mode(tmp_path, mode):
    ref = weights_digest(_train(tmp_path / "ref"))
    with getattr(torch, mode)():
        run = _train(tmp_path / mode)
        assert not torch.is_grad_enabled()                 # the caller's mode, put back
    assert weights_digest(run) == ref
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


def test_a_metric_may_sample_from_its_own_threads(tmp_path):
    """A user's metric that draws its samples in worker threads during an evaluation: the
    evaluation holds the process's gankit lock, and sampling does not wait for it (it hung:
    run in a process of its own, so a hang fails this test and no other)."""
    import subprocess
    import sys
    (tmp_path / "parts.py").write_text(
        "from concurrent.futures import ThreadPoolExecutor\n"
        "from gankit.metrics.base import Output, register_metric\n"
        "@register_metric('par_mean', applies=lambda ds: ds.kind == 'points', help='drawn in threads',\n"
        "                 outputs={'par_mean': Output('mean', 'lower')}, default=False, reads=('n_samples',))\n"
        "def par_mean(ctx):\n"
        "    with ThreadPoolExecutor(2) as ex:\n"
        "        a, b = ex.map(lambda s: ctx.generate(50, s), ['samples', 'jsd'])\n"
        "    return {'par_mean': float(a.mean() + b.mean())}\n")
    _train(tmp_path / "r")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import parts; from gankit import api; "
            "print(api.evaluate(sys.argv[2], ['par_mean'], record=False)['par_mean'])")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path), str(tmp_path / "r")], capture_output=True,
                         text=True, timeout=120, env=child_env())
    assert out.returncode == 0, out.stderr[-2000:]
    assert float(out.stdout.split()[-1]) == float(out.stdout.split()[-1])     # a number, not NaN


def test_a_child_forked_while_gankit_works_in_a_thread_has_its_own_lock(tmp_path):
    import multiprocessing as mp
    ref = _train(tmp_path / "r")
    want = api.sample(ref, 5, seed=3)
    started, release = threading.Event(), threading.Event()

    def holder():
        from gankit.process_state import held
        with held():
            started.set()
            release.wait(60)
    t = threading.Thread(target=holder)
    t.start()
    started.wait(60)
    try:
        with mp.get_context("fork").Pool(1) as pool:
            got = pool.apply_async(api.sample, (str(tmp_path / "r"), 5, 3)).get(timeout=60)
    finally:
        release.set()
        t.join()
    assert torch.equal(got, want)


def test_resume_and_evaluation_under_a_callers_grad_mode(tmp_path):
    _train(tmp_path / "r")
    with torch.inference_mode():
        run = api.train(out=tmp_path / "r", resume=True, overrides=["train.steps=60"], evaluate=False,
                        report=False, progress=False, log=None)
    assert run.step == 60
    with torch.no_grad():
        out = api.evaluate(run, ["c2st", "modes"], record=False)
    assert 0.0 <= out["c2st_acc"] <= 1.0
