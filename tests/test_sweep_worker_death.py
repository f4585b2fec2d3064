"""A sweep worker that dies before it starts a run: a worker
killed at start-up (the out-of-memory killer during its imports) fails one run, named by its
signal, and the other runs go on; only workers that all die at start-up without a signal (a
script without its main guard) fail every run."""
import os
import signal
from types import SimpleNamespace

import pytest

from gankit import sweep as S
from gankit.sweep_orphans import worker_start

TINY = ["train.steps=5", "train.batch_size=16", "generator.hidden=[8, 8]",
        "discriminator.hidden=[8, 8]", "eval.n_samples=100"]
KILLED = "WorkerDied: worker process died before this run began (SIGKILL: killed, likely out of memory: try fewer " \
         "--workers)"


def blamed(tmp_path, exitcodes: dict, held: dict | None = None, ended=()):
    """_blame after a broken pool: workers (pid: exit code), ``held``: run -> the pid that wrote
    its start marker, ``ended``: runs whose end marker is there too.  (what failed, what is left)."""
    procs = {pid: SimpleNamespace(pid=pid, exitcode=code) for pid, code in exitcodes.items()}
    for i, pid in (held or {}).items():
        (tmp_path / f"started-{i}").write_text(str(pid))
    for i in ended:
        (tmp_path / f"ended-{i}").touch()
    pending = {i: f"run {i}" for i in range(3)}
    said = []
    S._blame(pending, procs, str(tmp_path), lambda job, kind, msg: said.append(f"{job}: {kind}: {msg}"))
    return said, sorted(pending)


def test_a_worker_killed_before_any_run_fails_one_run_and_names_the_signal(tmp_path):
    """Every pending run failed with "worker process died before starting any run", the
    healthy worker's among them, and the SIGKILL went unsaid."""
    said, left = blamed(tmp_path, {11: -signal.SIGKILL, 12: -signal.SIGTERM})    # 12: the pool stopped it
    assert said == [f"run 0: {KILLED}"]
    assert left == [1, 2]


def test_the_run_a_healthy_worker_held_when_the_pool_stopped_it_goes_on(tmp_path):
    """The other worker's run (stopped by the pool's SIGTERM, no end marker) was failed as if
    its worker had died."""
    said, left = blamed(tmp_path, {11: -signal.SIGKILL, 12: -signal.SIGTERM}, held={1: 12})
    assert said == [f"run 0: {KILLED}"]
    assert left == [1, 2]


def test_a_run_whose_own_worker_was_killed_still_fails_alone(tmp_path):
    said, left = blamed(tmp_path, {11: -signal.SIGKILL, 12: -signal.SIGTERM}, held={0: 12, 2: 11})
    assert said == ["run 2: WorkerDied: worker process died (SIGKILL: killed, likely out of memory: try fewer "
                    "--workers)"]
    assert left == [0, 1]


def test_workers_that_all_die_at_start_up_without_a_signal_fail_every_run(tmp_path):
    """A script without its main guard: each worker dies importing it, and would again."""
    said, left = blamed(tmp_path, {11: 1, 12: -signal.SIGTERM})
    assert [m.split(";")[0] for m in said] == [f"run {i}: WorkerDied: worker process died before starting any run"
                                              for i in range(3)]
    assert left == []


def killed_once(parent: int):
    """The pool's initializer in the test sweep: the first worker to start is SIGKILLed there
    (before any run), as the out-of-memory killer would; the others start as usual."""
    try:
        os.close(os.open(os.environ["GANKIT_TEST_KILL_ONCE"], os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return worker_start(parent)
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_sweep_whose_worker_is_killed_at_start_up_fails_one_run_and_finishes_the_others(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_TEST_KILL_ONCE", str(tmp_path / "killed"))
    monkeypatch.setattr(S, "worker_start", killed_once)
    jobs = [S.Job("ok", "ring-vanilla", TINY, seed) for seed in range(2)]
    logs, failed = [], []
    # one worker a pool: the killed one held no run, and the next pool's runs the other
    results = S.run_sweep(jobs, tmp_path / "r.jsonl", workers=1, metrics=["modes"], log=logs.append,
                          failed=failed)
    assert failed == ["ok seed 0: WorkerDied"] and [r["seed"] for r in results] == [1], logs
    assert any(KILLED in m for m in logs), logs
    assert not any("before starting any run" in m for m in logs), logs
