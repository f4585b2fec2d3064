"""sweep.run_job lets go of each job's Run: its lock's file descriptor at once, its nets and data
without waiting for Python's cyclic GC (a worker kept a dozen finished Runs and their locks on
deleted folders)."""
import gc
import os
import weakref

import pytest

from gankit import sweep as S
from gankit.train.run import Run

TINY = ["train.steps=10", "train.batch_size=16", "generator.hidden=[8]", "discriminator.hidden=[8]",
        "eval.n_samples=100"]


@pytest.fixture
def runs_made(monkeypatch):
    made = []
    real = Run.create.__func__

    def create(cls, *a, **k):
        run = real(cls, *a, **k)
        made.append(weakref.ref(run))
        return run
    monkeypatch.setattr(Run, "create", classmethod(create))
    # a collection between jobs would hide a Run left in a reference cycle
    was = gc.isenabled()
    gc.disable()
    yield made
    if was:
        gc.enable()


def _open_under(folder) -> list[str]:
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(folder)):
            out.append(target)
    return out


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_finished_jobs_leave_no_run_and_no_lock_open(tmp_path, runs_made):
    for seed in range(3):
        S.run_job(S.Job("v", "ring-vanilla", TINY, seed), ["modes"], tmp_root=str(tmp_path))
    assert len(runs_made) == 3
    assert [w() for w in runs_made] == [None, None, None]
    assert _open_under(tmp_path) == []


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_a_diverged_job_closes_its_lock(tmp_path, runs_made):
    from gankit.train.loop import NonFiniteLoss
    job = S.Job("nan", "ring-vanilla", TINY + ["optim_d.lr=1e30", "optim_g.lr=1e30"], 0)
    with pytest.raises(NonFiniteLoss):
        S.run_job(job, ["modes"], tmp_root=str(tmp_path))
    assert len(runs_made) == 1
    assert _open_under(tmp_path) == []
