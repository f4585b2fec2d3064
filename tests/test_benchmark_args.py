"""The benchmark scripts' command lines: a count below its least value, an option the chosen mode
does not read, or a user's data/run-folder mistake ends the script with an `error:` line and exit
status 2 before any work (no traceback); families.py's rows go outside the repository by default.
Each script's work is replaced by a function that fails the test if it is reached."""
import subprocess
from pathlib import Path

import pytest

from test_benchmark_scripts import ROOT, _run, _script


def _refused(main, argv, capsys, *words):
    """``main(argv)`` as the script's __main__ runs it, ending with exit 2 and ``words`` on stderr."""
    cli = _script("_cli")
    with pytest.raises(SystemExit) as e:
        cli.run_main(main, argv)
    err = capsys.readouterr().err
    assert e.value.code == 2, err
    assert "Traceback" not in err and all(w in err for w in words), err
    return err


class _Work:
    """Stands for a module, class or function the script works with: any use fails the test."""
    def __getattr__(self, name):
        raise AssertionError("the script started its work")

    def __call__(self, *args, **kw):
        raise AssertionError("the script started its work")


def _no_work(mod, monkeypatch, *names):
    for name in names:
        monkeypatch.setattr(mod, name, _Work())


@pytest.mark.parametrize("argv, words", [
    (["--samples", "0"], ["--samples must be at least 1, got 0"]),
    (["--logit-samples", "0"], ["--logit-samples must be at least 1"]),
    (["--refit", "-1"], ["--refit must be at least 0, got -1"]),
])
def test_ring_misses_counts(argv, words, tmp_path, capsys, monkeypatch):
    rm = _script("ring_misses")
    _no_work(rm, monkeypatch, "Run")
    _refused(rm.main, [str(tmp_path / "none"), *argv], capsys, *words)


def test_ring_misses_and_train_eval_classifier_say_a_wrong_path_in_one_line(tmp_path):
    p = _run("ring_misses", str(tmp_path / "none"), cwd=tmp_path)
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    assert p.stderr.startswith("error: ") and "is not a run folder" in p.stderr
    p = _run("train_eval_classifier", "--data", "mnist", "--root", str(tmp_path / "none"),
             "--out", str(tmp_path / "c.safetensors"), cwd=tmp_path)
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    assert p.stderr.startswith("error: ") and "does not exist" in p.stderr


@pytest.mark.parametrize("argv, words", [
    (["--epochs", "0"], ["--epochs must be at least 1, got 0"]),
    (["--batch", "0"], ["--batch must be at least 1"]),
    (["--width", "0"], ["--width must be at least 1"]),
    (["--threads", "0"], ["--threads must be at least 1"]),
    (["--max-shift", "-1"], ["--max-shift must be at least 0"]),
    (["--smoothing", "1.5"], ["--smoothing must be between 0 and 1"]),
    (["--out", "/nonexistent/c.safetensors"], ["--out /nonexistent/c.safetensors: its folder does not exist"]),
])
def test_train_eval_classifier_refuses_before_training(argv, words, tmp_path, capsys, monkeypatch):
    tc = _script("train_eval_classifier")
    _no_work(tc, monkeypatch, "DATASETS")
    argv = ["--data", "digits8x8", "--epochs", "1", "--out", str(tmp_path / "c.safetensors"), *argv]
    _refused(tc.main, argv, capsys, *words)


@pytest.mark.parametrize("name, work, argv, words", [
    ("theory_check", ["DATASETS"], ["--steps", "0"], ["--steps must be at least 1, got 0"]),
    ("theory_check", ["DATASETS"], ["--seeds", "0"], ["--seeds must be at least 1"]),
    ("stacked_cpu_step", ["C", "Run"], ["--steps", "0"], ["--steps must be at least 1"]),
    ("stacked_cpu_step", ["C", "Run"], ["--widths", "8", "0"], ["--widths must be at least 1, got 0"]),
    ("stacked_cpu_step", ["C", "Run"], ["--threads", "0"], ["--threads must be at least 1"]),
    ("rollout_speed", ["SeqGenerator"], ["--rollouts", "0"], ["--rollouts must be at least 1"]),
    ("rollout_speed", ["SeqGenerator"], ["--batch", "0"], ["--batch must be at least 1"]),
    ("rollout_speed", ["SeqGenerator"], ["--repeats", "0"], ["--repeats must be at least 1"]),
    ("classifier_threads", ["OC"], ["--n", "0"], ["--n must be at least 1"]),
    ("classifier_threads", ["OC"], ["--rounds", "0"], ["--rounds must be at least 1"]),
])
def test_counts_have_a_least_value(name, work, argv, words, capsys, monkeypatch):
    mod = _script(name)
    _no_work(mod, monkeypatch, *work)
    _refused(mod.main, argv, capsys, *words)


@pytest.mark.parametrize("argv, words", [
    (["fcd", "--run", "/nonexistent"], ["fcd does not use --run; leave it out"]),
    (["final", "--n", "50", "--repeats", "2"], ["final does not use --n, --repeats; leave them out"]),
    (["drs", "--run", "r", "--steps", "5"], ["drs does not use --steps"]),
    (["fcd", "--trained", "r", "--only", "ring-vanilla"], ["fcd does not use --only, --trained"]),
    (["final", "--parts", "kid"], ["final does not use --parts"]),
    (["final", "--steps", "0"], ["--steps must be at least 1, got 0"]),
    (["fcd", "--n", "0"], ["--n must be at least 1"]),
    (["drs", "--run", "r", "--repeats", "0"], ["--repeats must be at least 1"]),
    (["parts", "--parts", "kid", "nosuch"], ["unknown part (--parts) 'nosuch'", "'nn_query'"]),
    (["final", "--only", "nosuch"], ["unknown preset (--only) 'nosuch'", "'ring-vanilla'"]),
])
def test_eval_speed_refuses_what_its_mode_does_not_read(argv, words, capsys, monkeypatch):
    es = _script("eval_speed")
    _no_work(es, monkeypatch, "final", "fcd", "parts", "drs")
    _refused(es.main, argv, capsys, *words)


def test_eval_speed_defaults_reach_the_mode(monkeypatch):
    es = _script("eval_speed")
    seen = {}
    for mode in ("final", "fcd"):
        monkeypatch.setattr(es, mode, lambda a, mode=mode: seen.update({mode: a}))
    es.main(["fcd", "--n", "50"])
    es.main(["final", "--only", "ring-vanilla"])
    assert (seen["fcd"].n, seen["fcd"].repeats) == (50, 3) and seen["final"].steps == 20


@pytest.mark.parametrize("argv, words", [
    (["generate", "--steps", "0"], ["--steps must be at least 1, got 0"]),
    (["generate", "--n", "0"], ["--n must be at least 1"]),
    (["generate", "--threads", "0"], ["--threads must be at least 1"]),
    (["ssl", "--labels", "10,x"], ["--labels 10,x: give labels per class as whole numbers"]),
    (["ssl", "--labels", "0"], ["--labels 0: give labels per class"]),
    (["ssl", "--models", "ssgan,nosuch"], ["unknown model (--models) 'nosuch'; choose from 'ssgan', 'labels'"]),
])
def test_families_counts_labels_and_models(argv, words, tmp_path, capsys, monkeypatch):
    fam = _script("families")
    _no_work(fam, monkeypatch, "generate", "ssl", "train")
    _refused(fam.main, [*argv, "--out", str(tmp_path / "o")], capsys, *words)


def test_families_results_go_beside_the_runs_not_into_the_repository(tmp_path, monkeypatch):
    # docs/families.md's commands give --out and no --results: from the repository's root they
    # appended to the tracked benchmarks/results/families.jsonl
    fam = _script("families")
    seen = []
    for group in ("generate", "ssl", "bigan"):
        monkeypatch.setattr(fam, group, seen.append)
    monkeypatch.chdir(ROOT)
    fam.main(["generate", "mnist5k", "--out", str(tmp_path / "bench18")])
    fam.main(["bigan", "--out", str(tmp_path / "bench18"), "--img", str(tmp_path / "img")])
    fam.main(["ssl", "mnist5k", "--labels", "10,100"])
    fam.main(["ssl", "mnist5k", "--results", str(tmp_path / "mine.jsonl")])
    assert [a.results for a in seen[:2]] == [str(tmp_path / "bench18" / "families.jsonl")] * 2
    assert Path(seen[2].results) == Path("runs/bench-families/families.jsonl")     # runs/ is ignored by git
    assert seen[2].labels == [10, 100] and seen[2].models == ["ssgan", "labels"]
    assert seen[3].results == str(tmp_path / "mine.jsonl")
    ignored = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", seen[2].results])
    assert ignored.returncode == 0
