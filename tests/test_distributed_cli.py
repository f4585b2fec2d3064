"""The command line on several processes (torchrun, gloo on the CPU): one voice for the run,
and no rank leaving while rank 0 still writes the run's files."""
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np

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
                        "--set", "optim_d.lr=1e8", "--set", "optim_g.lr=1e8"],
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
    cmd = shlex.join([sys.executable, "-m", "gankit", "train", "ring-vanilla", "--nproc", "2", "--out", str(out),
                    *tiny_cli])
    p = subprocess.run(["bash", "-c", cmd + " 2>&-"], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stdout[-2000:]
    assert len(RunFolder(out).records("eval")) == 1 and "run folder:" in p.stdout
