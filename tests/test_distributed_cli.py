"""The command line on several processes (torchrun, gloo on the CPU): one voice for the run,
and no rank leaving while rank 0 still writes the run's files."""
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from gankit.runfolder import RunFolder


def test_a_diverging_two_rank_run_writes_its_report_and_says_each_thing_once(tmp_path, tiny_cli):
    """Rank 1 left at once on the divergence error and torchrun stopped rank 0 while it wrote the
    report (no report.html, a misleading SIGTERM line); the data's warnings were printed once
    per process."""
    big = tmp_path / "big.npy"
    np.save(big, (np.random.default_rng(0).normal(size=(400, 2)) * 1e20).astype(np.float32))
    out = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).parents[1]))
    p = subprocess.run([sys.executable, "-m", "gankit", "train", "ring-vanilla", "--nproc", "2", "--out", str(out),
                        *tiny_cli, "--set", "data.name=points", "--set", f"data.path={big}",
                        "--set", "data.standardize=none", "--set", "optim_d.lr=1e8", "--set", "optim_g.lr=1e8"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode != 0
    assert p.stderr.count("gankit: error: non-finite values") == 1, p.stderr[-3000:]
    assert p.stderr.count("holds values up to") == 1, p.stderr[-3000:]
    assert "SIGTERM received" not in p.stderr, p.stderr[-3000:]     # no rank was stopped by a signal
    assert RunFolder(out).report_path.is_file()


def test_a_closed_stderr_on_two_ranks_completes_the_run(tmp_path, tiny_cli):
    """__main__ flushed a closed stderr (None) on every torchrun process: rank 1 exited 1 and
    torchrun stopped rank 0 in its final evaluation."""
    out = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).parents[1]))
    # one metric: the final evaluation still runs (and writes its lines to the closed stderr)
    cmd = shlex.join([sys.executable, "-m", "gankit", "train", "ring-vanilla", "--nproc", "2", "--out", str(out),
                    *tiny_cli, "--set", 'eval.metrics=["modes"]'])
    p = subprocess.run(["bash", "-c", cmd + " 2>&-"], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stdout[-2000:]
    assert len(RunFolder(out).records("eval")) == 1 and "run folder:" in p.stdout


def _children(pid: int) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if int((p / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(p.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def _rank_pids(launcher: int) -> dict[int, int]:
    """{rank: pid} of the processes torchrun started under ``launcher`` (their environment says)."""
    found, todo = {}, [launcher]
    while todo:
        for c in _children(todo.pop()):
            todo.append(c)
            try:
                env = dict(kv.split("=", 1) for kv in (Path("/proc") / str(c) / "environ").read_text().split("\0") if "=" in kv)
            except OSError:
                continue
            if "RANK" in env and "TORCHELASTIC_RUN_ID" in env:
                found[int(env["RANK"])] = c
    return found


def _signal_rank_1(out: Path, sets: list[str], ready, timeout: float = 60) -> tuple[subprocess.Popen, str]:
    """Trains ring-vanilla with ``sets`` on two processes until ``ready()``, sends SIGTERM to rank 1
    only, and waits for both ranks to end on their own (within ``timeout`` s): (launcher, stderr).
    Nothing is left running when it fails."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).parents[1]))
    p = subprocess.Popen([sys.executable, "-m", "gankit", "train", "ring-vanilla", "--nproc", "2", "--out", str(out),
                          *[a for kv in sets for a in ("--set", kv)]],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not ready():
            assert p.poll() is None, p.communicate()[1][-2000:]
            time.sleep(0.5)
        ranks = _rank_pids(p.pid)
        assert set(ranks) == {0, 1}, ranks
        os.kill(ranks[1], signal.SIGTERM)
        for pid in ranks.values():          # both ranks end on their own
            t0 = time.time()
            while Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]:
                assert time.time() - t0 < timeout, "a rank is still running a minute after the signal"
                time.sleep(0.2)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:       # nothing left running when it fails
            for pid in [*_rank_pids(p.pid).values(), p.pid]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            p.wait()
    return p, err


def _trained_to(out: Path, step: int):
    return lambda: (out / "metrics.jsonl").exists() and any(
        r.get("step", 0) >= step for r in RunFolder(out).records("train"))


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the ranks through /proc (Linux)")
def test_a_signal_to_one_rank_stops_both_at_one_step_then_the_launcher_too(tmp_path, tiny_cli):
    """SIGTERM reaching one rank only (or the ranks at different steps): that rank stopped alone and
    waited in the checkpoint's collective while the other waited in the gradients': a hang."""
    out = tmp_path / "run"
    sets = [kv for kv in tiny_cli[1::2] if not kv.startswith("train.steps")]
    p, err = _signal_rank_1(out, sets + ["train.steps=1000000", "train.checkpoint_every=1000000"],
                            _trained_to(out, 20))
    assert p.returncode == 128 + signal.SIGTERM
    steps = [s for s, _ in RunFolder(out).checkpoints()]
    assert len(steps) == 1 and steps[0] % 10 == 0, steps          # stopped together at an agreed step
    assert "rank 1 stopped after step" in err and f"stopped after step {steps[0]}" in err
    assert "checkpoint None" not in err
    # rank 1 waits for rank 0's checkpoint and report: leaving at once, it had torchrun SIGTERM rank 0
    # while it wrote them (a large checkpoint was lost, as to "a second SIGTERM")
    assert f"continue with gankit train --resume --out {out}" in err and "second SIGTERM" not in err, err[-2000:]
    assert (out / "report.html").is_file()


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the ranks through /proc (Linux)")
def test_a_signal_to_one_rank_during_the_rejection_fit_stops_both(tmp_path, tiny_cli):
    """SIGTERM to rank 1 while the ranks fitted DRS at the last step: rank 1 stopped its fit alone,
    rank 0 fitted on (and, with batch norm in D, waited forever in its synced statistics); the
    command then exited 3, saying a rank failed."""
    out = tmp_path / "run"
    sets = [kv for kv in tiny_cli[1::2] if not kv.startswith(("train.steps", "objective.drs"))]
    sets += ["train.steps=20", "objective.drs=true", "objective.drs_steps=1000000", "discriminator.norm=batch"]
    p, err = _signal_rank_1(out, sets, _trained_to(out, 20))
    assert p.returncode == 128 + signal.SIGTERM, err[-3000:]
    assert "rejection sampling not fitted" in err and "processes failed" not in err, err[-3000:]
    assert "gankit: the 2 processes stopped on SIGTERM" in err, err[-3000:]
    assert f"continue with gankit train --resume --out {out} --nproc 2" in err, err[-2000:]
    assert [s for s, _ in RunFolder(out).checkpoints()] == [20]
