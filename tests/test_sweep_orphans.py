"""A sweep killed outright (SIGKILL) left its worker running, re-parented to PID 1: it trained
every queued run for no one, then blocked forever on a pipe read (~390 MB), and the sweep's
folder under TMPDIR stayed."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from gankit import sweep_orphans as O

ROOT = Path(__file__).resolve().parents[1]
NETS = ["generator.hidden=[8]", "discriminator.hidden=[8]", "train.batch_size=16", "eval.n_samples=200"]


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return O._zombie(pid)      # ended; its new parent has not reaped it yet


def _wait(cond, timeout: float, proc=None) -> bool:
    t0 = time.monotonic()
    while not cond():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the sweep ended early (exit {proc.returncode})")
        if time.monotonic() - t0 > timeout:
            return False
        time.sleep(0.1)
    return True


def test_a_killed_sweeps_worker_ends_with_it_and_its_folder_goes_at_the_next_sweep(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "TMPDIR": str(tmp_path)}
    argv = [sys.executable, "-m", "gankit", "sweep", "ring-vanilla", "--seeds", "2", "--workers", "1",
            "--metrics", "modes", "--results", str(tmp_path / "r.jsonl"), "--set", "train.steps=10000000",
            *[a for kv in NETS for a in ("--set", kv)]]
    with open(tmp_path / "sweep.err", "w") as err:
        p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err)
    worker = None
    try:
        started = lambda: [s for s in tmp_path.glob("gankit-sweep-*/started-0") if s.read_text()]   # noqa: E731
        assert _wait(started, 180, p), "the worker never started its run"
        worker = int(started()[0].read_text())
        p.send_signal(signal.SIGKILL)
        p.wait(30)
        assert _wait(lambda: _gone(worker), 10), f"worker {worker} still runs after its sweep was killed"
    finally:
        if p.poll() is None:
            p.kill()
        if worker is not None and not _gone(worker):
            os.kill(worker, signal.SIGKILL)
    [folder] = tmp_path.glob("gankit-sweep-*")
    O.remove_stale(str(tmp_path))           # as the next sweep does before making its own
    assert not folder.exists()


def test_only_folders_of_sweeps_proven_gone_are_removed(tmp_path):
    def folder(name, owner=None):
        d = tmp_path / f"{O.PREFIX}{name}"
        d.mkdir()
        (d / "started-0").write_text("1")
        if owner is not None:
            (d / O.OWNER).write_text(owner)
        return d
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    here = f"{os.getpid()} {O._started(os.getpid()) or '-'}"
    live, unknown, odd = folder("live", here), folder("old"), folder("odd", "not a pid")
    dead = folder("dead", f"{int(ended.stdout)} 12345")
    (tmp_path / f"{O.PREFIX}file").write_text("")
    kept = [live, unknown, odd, tmp_path / f"{O.PREFIX}file"]
    if O._started(os.getpid()) is not None:      # a PID another process holds now (Linux: its start time differs)
        reused = folder("reused", f"{os.getpid()} 1")
    O.remove_stale(str(tmp_path))
    assert all(p.exists() for p in kept) and not dead.exists()
    if O._started(os.getpid()) is not None:
        assert not reused.exists()
