"""gankit sweep as a user runs it: what a table cell covers, configs fixed at submission, a
worker dying, SIGINT, failed variants in the table, and checks made before any training."""
import argparse
import json
from pathlib import Path

import pytest

from gankit import sweep as S
from gankit.config import ConfigError
from gankit.sweep import markdown_table, summarise

TINY = ["train.steps=5", "train.batch_size=16", "generator.hidden=[8, 8]",
        "discriminator.hidden=[8, 8]", "eval.n_samples=100"]


def _cli(argv):
    parser = argparse.ArgumentParser(prog="gankit")
    S.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sweep", *argv])
    return args.fn(args)


def test_a_cell_says_how_many_runs_it_covers_and_a_nan_is_a_result():
    """flaky 1.0, NaN (null), 4.0 read "2.50 ± 1.50" under runs 3; a metric one run of three
    measured read as a bare mean."""
    rows = summarise([{"label": "a", "flaky": 1.0, "x": 1.0}, {"label": "a", "flaky": None},
                      {"label": "a", "flaky": 4.0}])
    line = markdown_table(rows).splitlines()[2]
    assert line == "| a | 3 | nan | 1.00 (1/3) |"


def test_a_reused_record_keeps_only_the_metrics_asked_now():
    r = {"label": "a", "seed": 0, "modes_covered": 8, "jsd": 0.5, "cpu_s": 1.0,
         "g_alone": {"modes_covered": 7, "jsd": 0.6}}
    kept = S.only_asked(r, ["modes"])
    assert "jsd" not in kept and kept["modes_covered"] == 8 and kept["cpu_s"] == 1.0
    assert kept["g_alone"] == {"modes_covered": 7}
    assert S.only_asked(r, None) == r


@pytest.mark.parametrize("asked", [["prdc"], ["prdc_points"]])
def test_numbers_two_metrics_declare_are_kept_when_either_is_asked(asked):
    """prdc (features) and prdc_points (points) both declare precision..coverage: asking for
    prdc kept none of them (only the first declarer was looked at)."""
    r = {"label": "a", "seed": 0, "precision": 0.9, "recall": 0.8, "density": 1.0, "coverage": 0.7,
         "fcd": 3.0}
    kept = S.only_asked(r, asked)
    assert {k: kept.get(k) for k in ("precision", "recall", "density", "coverage")} == \
        {"precision": 0.9, "recall": 0.8, "density": 1.0, "coverage": 0.7}
    assert "fcd" not in kept


def test_a_toml_edited_while_the_sweep_runs_does_not_change_its_jobs(tmp_path):
    from gankit.config import load
    from gankit.config.files import dumps_toml
    toml = tmp_path / "exp.toml"
    text = dumps_toml(load("ring-vanilla", ["optim_d.lr=0.001"]))
    assert "lr = 0.001\n" in text
    toml.write_text(text)
    job = S.Job("exp", str(toml), TINY, 1)
    results = tmp_path / "r.jsonl"
    results.write_text(json.dumps({"label": "exp", "seed": 1, "config_hash": job.identity}) + "\n")
    S.run_sweep([job], results, workers=1, resume=True, log=lambda m: None)   # resolves, runs nothing
    before = job.identity
    toml.write_text(text.replace("lr = 0.001\n", "lr = 0.05\n"))   # the user edits it meanwhile
    assert job.config().optim_d.lr == 0.001
    assert S.run_job(job, ["modes"])["config_hash"] == before     # what a worker trains and records
    assert S.Job("exp", str(toml), TINY, 1).identity != before


def test_a_worker_that_dies_fails_only_its_run_and_errors_travel_as_text(tmp_path):
    """A SIGKILLed worker (the OOM killer) failed every run with BrokenProcessPool, and an
    exception that cannot be unpickled broke the pool the same way."""
    (tmp_path / "die.py").write_text("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    (tmp_path / "fit.py").write_text("class FitError(Exception):\n    def __init__(self, a, b):\n"
                                     "        super().__init__(f'{a} {b}')\nraise FitError('loss', 'did not fit')\n")
    jobs = [S.Job("die", "ring-vanilla", TINY, 0, imports=[str(tmp_path / "die.py")]),
            S.Job("fit", "ring-vanilla", TINY, 0, imports=[str(tmp_path / "fit.py")]),
            S.Job("ok", "ring-vanilla", TINY, 0)]
    logs, failed = [], []
    results = S.run_sweep(jobs, tmp_path / "r.jsonl", workers=2, metrics=["modes"], log=logs.append,
                          failed=failed)
    assert [r["label"] for r in results] == ["ok"], logs
    # import_modules reports the user's FitError as a ConfigError with its message
    assert sorted(failed) == ["die seed 0: WorkerDied", "fit seed 0: ConfigError"], logs
    assert any("SIGKILL" in m and "out of memory" in m for m in logs), logs
    assert any("loss did not fit" in m for m in logs), logs


def test_sigint_stops_the_sweep_at_once_and_says_what_is_kept(tmp_path, monkeypatch, capsys):
    def interrupted(futs):
        raise KeyboardInterrupt
        yield
    monkeypatch.setattr(S, "as_completed", interrupted)
    made = []
    real = S.tempfile.mkdtemp
    monkeypatch.setattr(S.tempfile, "mkdtemp", lambda **k: made.append(real(**k)) or made[-1])
    try:
        rc = _cli(["a=ring-vanilla", "--seeds", "2", "--workers", "1", "--results", str(tmp_path / "r.jsonl"),
                   *sum((["--set", s] for s in TINY), [])])
    except KeyboardInterrupt:
        pytest.fail("the sweep let KeyboardInterrupt through (cli.py then says a checkpoint is kept)")
    assert rc == 130
    err = capsys.readouterr().err
    assert "sweep interrupted: 0 runs recorded in" in err
    assert "--resume to run the other 2 (interrupted runs start over)" in err
    assert made and not any(Path(p).exists() for p in made)   # the run folders' root is removed


def test_every_variant_has_a_row_and_failed_runs_are_marked(tmp_path, monkeypatch, capsys):
    def fake(jobs, *a, failed=None, failures=None, **k):
        failures = {} if failures is None else failures
        failures.update({("nan", 0): "NonFiniteLoss", ("nan", 1): "NonFiniteLoss", ("b", 1): "X"})
        failed.extend(["nan seed 0: NonFiniteLoss", "nan seed 1: NonFiniteLoss", "b seed 1: X"])
        return [{"label": j.label, "seed": j.seed, "m": 1.0 + j.seed} for j in jobs
                if (j.label, j.seed) not in failures]
    monkeypatch.setattr(S, "run_sweep", fake)
    out = tmp_path / "t.md"
    rc = _cli(["b=ring-vanilla", "nan=ring-vanilla", "--seeds", "2", "--results", str(tmp_path / "r.jsonl"),
               "--out", str(out)])
    table = out.read_text()
    assert rc == 1 and table + "\n" == capsys.readouterr().out
    assert "| b | 1/2 | 1.00 |" in table and "| nan | 0/2 | – |" in table
    assert "- nan: 0/2 runs, 2 failed (NonFiniteLoss)" in table and "- b: 1/2 runs, 1 failed (X)" in table


def test_table_only_marks_missing_runs(tmp_path, capsys):
    path = tmp_path / "r.jsonl"
    job = S.Job("a", "ring-vanilla", [], 0)
    path.write_text(json.dumps({"label": "a", "seed": 0, "config_hash": job.identity, "m": 2.0}) + "\n")
    assert _cli(["a=ring-vanilla", "--seeds", "2", "--table-only", "--results", str(path)]) is None
    out = capsys.readouterr().out
    assert "| a | 1/2 | 2.00 |" in out and f"- a: 1/2 runs, 1 not in {path}" in out


def test_out_naming_the_results_file_is_refused(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text("{}\n")
    with pytest.raises(ConfigError, match="--out and --results name the same file"):
        _cli(["ring-vanilla", "--table-only", "--results", str(path), "--out", str(tmp_path / "." / "r.jsonl")])
    assert path.read_text() == "{}\n"


def test_a_metric_that_does_not_apply_to_a_variant_is_refused_before_training(tmp_path, monkeypatch):
    monkeypatch.setattr(S, "run_sweep", lambda *a, **k: pytest.fail("trained"))
    with pytest.raises(ConfigError, match=r"variant s: metric 'modes' does not apply"):
        _cli(["r=ring-vanilla", "s=seed-linear", "--metrics", "modes", "--results", str(tmp_path / "r.jsonl")])


def test_a_bad_override_names_its_variant(tmp_path):
    with pytest.raises(ConfigError, match=r"variant b: .*optim_d.lr"):
        _cli(["a=ring-vanilla", "b=ring-vanilla@optim_d.lr=-1", "--results", str(tmp_path / "r.jsonl")])


def test_tiny_values_and_awkward_labels_read_right():
    rows = summarise([{"label": "x\\|y\nz", "p": 1e-64}, {"label": "x\\|y\nz", "p": 3e-64}])
    table = markdown_table(rows).splitlines()
    assert table[2] == "| x\\\\\\|y z | 2 | 2.00e-64 ± 1.0e-64 |"


@pytest.mark.parametrize("variant, message", [
    ("lr=1e-4=ring-vanilla", "a label cannot contain '='"),
    ("e=ring-vanilla@data.path=/data/run@2/x.npy", r"variant e: override '2/x.npy'.*no escape"),
    ("a\nb=ring-vanilla", "line break"),
])
def test_variant_parse_errors_name_the_variant_and_say_what_cannot_be_written(variant, message):
    with pytest.raises(ConfigError, match=message):
        S.parse_variant(variant)


def test_a_second_sweep_on_the_same_results_file_is_refused(tmp_path):
    import fcntl
    import os
    path = tmp_path / "r.jsonl"
    with open(tmp_path / "r.jsonl.lock", "w") as fh:    # another sweep holds it
        fh.write("4242\n")
        fh.flush()
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(ConfigError, match=r"in use by another sweep \(PID 4242\)"):
            S.run_sweep([S.Job("a", "ring-vanilla", TINY, 0)], path, workers=1, log=lambda m: None)
    assert not path.exists() and os.path.exists(tmp_path / "r.jsonl.lock")


def test_a_runs_line_shows_an_infinite_result_as_the_table_does():
    """The line dropped reverse_kl "inf" (a seed that covered no mode) while the table printed inf."""
    job = S.Job(label="r1", source="ring", seed=0)
    line = S._describe(job, {"modes_covered": 0, "reverse_kl": "inf", "cpu_s": 1.5, "seed": 0,
                             "class_counts": [3, 4], "settings": {"n_samples": 5}, "metrics": "all"})
    assert line == "r1 seed 0: modes_covered 0, reverse_kl inf, cpu_s 1.5"
