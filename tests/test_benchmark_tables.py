"""benchmarks/pacgan_table.py and benchmarks/conditional_table.py on tiny runs: where their runs
are recorded, a table of recorded runs only, what each run measures and times, and their exit
status when runs are missing or failed."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_benchmark_scripts import _script

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
# tens of steps on 8-unit nets, 200 samples evaluated (tests/test_sweep.py's tiny sweep)
PACGAN_TINY = ["train.steps=20", "train.batch_size=32", "generator.hidden=[8, 8]",
               "discriminator.hidden=[8, 8]", "eval.n_samples=200", "train.progress=false"]
COND_TINY = ["train.batch_size=16", "generator.width=8", "discriminator.width=8", "noise.dim=8",
             "train.n_fixed=16"]


def _run(name: str, *args, cwd: Path) -> subprocess.CompletedProcess:
    # the suite's caches (conftest's _cache_dir), not ~/.cache or ~/.config of whoever runs it
    env = {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin",
           "HOME": os.environ.get("HOME", str(cwd)),
           "GANKIT_CACHE": os.environ["GANKIT_CACHE"], "GANKIT_CONFIG_DIR": os.environ["GANKIT_CONFIG_DIR"]}
    return subprocess.run([sys.executable, str(BENCH / f"{name}.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


# benchmarks/pacgan_table.py

@pytest.fixture(scope="module")
def trial(tmp_path_factory):
    """One tiny run of recipe v on the ring, from a folder standing for the repository root,
    without --results: (that folder, the results file it wrote)."""
    cwd = tmp_path_factory.mktemp("repo")
    p = _run("pacgan_table", "v=vanilla", "--datasets", "ring", "--seeds", "1", "--workers", "1",
             *[x for s in PACGAN_TINY for x in ("--set", s)], cwd=cwd)
    assert p.returncode == 0, p.stderr[-2000:]
    written = list(cwd.rglob("*.jsonl"))
    assert len(written) == 1, written
    return cwd, written[0]


def test_pacgan_table_trial_run_records_outside_the_tracked_results(trial):
    cwd, written = trial
    # benchmarks/results/ holds the published tables' runs: a trial from the root must not add to them
    assert written == cwd / "runs" / "pacgan_runs.jsonl"
    assert not (cwd / "benchmarks").exists()


def test_pacgan_table_only_tabulates_the_results_without_resume(trial):
    cwd, results = trial
    out = cwd / "table.md"
    p = _run("pacgan_table", "v=vanilla", "--datasets", "ring", "--seeds", "1", "--table-only",
             "--results", str(results), "--out", str(out), *[x for s in PACGAN_TINY for x in ("--set", s)],
             cwd=cwd)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "| v | 1 |" in p.stdout and "| v | 1 |" in out.read_text()
    assert len(results.read_text().splitlines()) == 1        # nothing trained


def test_pacgan_table_only_names_recipes_without_runs_and_keeps_out(trial):
    cwd, results = trial
    out = cwd / "kept.md"
    out.write_text("the published table\n")
    p = _run("pacgan_table", "v=vanilla", "w=vanilla@train.steps=21", "--datasets", "ring", "--seeds", "2",
             "--table-only", "--results", str(results), "--out", str(out),
             *[x for s in PACGAN_TINY for x in ("--set", s)], cwd=cwd)
    assert p.returncode == 1, p.stderr[-2000:]
    assert "| v | 1 |" in p.stdout     # what is recorded is still shown
    assert f"- v (ring): 1/2 runs, 1 not in {results}" in p.stdout
    assert f"- w (ring): 0/2 runs, 2 not in {results}" in p.stdout
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith("error: no runs of w in") and f"{out} not written" in last, p.stderr
    assert out.read_text() == "the published table\n"


def test_pacgan_table_only_refuses_a_missing_results_file(tmp_path):
    out = tmp_path / "table.md"
    p = _run("pacgan_table", "best=ring", "--table-only", "--resume", "--results", str(tmp_path / "none.jsonl"),
             "--out", str(out), cwd=tmp_path)
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr[-2000:]
    assert p.stderr.strip().splitlines()[-1].startswith(f"error: --table-only: no results file {tmp_path}")
    assert not out.exists() and "###" not in p.stdout


# benchmarks/conditional_table.py

def test_conditional_table_measures_only_its_metrics_and_times_training(tmp_path):
    ct = _script("conditional_table")
    name = "concat D + mismatched pairs"
    row = ct.run_one("mnist5k", name, ct.VARIANTS[name] + COND_TINY, 2, 0, str(tmp_path))
    assert "error" not in row, row
    run, = tmp_path.iterdir()
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if r["kind"] == "eval"]
    # one evaluation, of the table's metrics: not every metric at the end of training and the table's after it
    assert [(r["source"], r["settings"]["metrics"]) for r in evals] == [("final", ["cond_accuracy", "within_class"])]
    assert "parzen_ll" not in evals[0]
    assert {k: row[k] for k in ("cond_accuracy", "fd_within_class", "diversity_ratio")} == \
        {k: evals[0][k] for k in ("cond_accuracy", "fd_within_class", "diversity_ratio")}
    # the column is training time as the run records it, without the evaluation
    assert row["seconds"] == [r for r in records if r["kind"] == "train"][-1]["time"]


@pytest.mark.parametrize("option,value", [("--steps", "0"), ("--workers", "0"), ("--seed", "-1"), ("--steps", "x")])
def test_conditional_table_refuses_a_bad_count_before_any_work(tmp_path, option, value):
    p = _run("conditional_table", "--data", "mnist5k", "--variants", "AC-GAN", option, value,
             "--keep", str(tmp_path / "runs"), cwd=tmp_path)
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr[-2000:]
    assert option in p.stderr.strip().splitlines()[-1]
    assert p.stdout == "" and not (tmp_path / "runs").exists()


def test_conditional_table_exits_1_when_a_run_fails(tmp_path):
    blocked = tmp_path / "keep"
    blocked.write_text("a file where the run folders would go")    # every run fails to make its folder
    out = tmp_path / "table.md"
    p = _run("conditional_table", "--data", "mnist5k", "--variants", "AC-GAN", "--steps", "1",
             "--keep", str(blocked), "--out", str(out), cwd=tmp_path)
    assert p.returncode == 1, (p.returncode, p.stderr[-2000:])
    assert "| mnist5k | AC-GAN | error: " in p.stdout
    assert "1 of 1 runs failed (mnist5k AC-GAN)" in p.stderr and f"{out} not written" in p.stderr
    assert not out.exists()
