"""The benchmark scripts' own logic (benchmarks/*.py), where a check is fast: their tables,
their refusals, their command lines.  The benchmarks themselves are not run here."""
import argparse
import contextlib
import importlib.util
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"


def _script(name: str):
    if str(BENCH) not in sys.path:     # as when run: the scripts import benchmarks/_cli.py
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(name: str, *args, cwd: Path) -> subprocess.CompletedProcess:
    # the suite's caches (conftest's _cache_dir), not ~/.cache or ~/.config of whoever runs it
    env = {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin",
           "GANKIT_CACHE": os.environ["GANKIT_CACHE"], "GANKIT_CONFIG_DIR": os.environ["GANKIT_CONFIG_DIR"]}
    return subprocess.run([sys.executable, str(BENCH / f"{name}.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_pacgan_table_shows_an_infinite_reverse_kl():
    # a run that covers no mode: its records hold the reverse KL as "inf"
    pt = _script("pacgan_table")
    rec = {"label": "v", "dataset": "ring", "modes": 0, "hq": 0.0, "reverse_kl": "inf", "cpu_s": 1.0}
    good = {**rec, "modes": 8, "hq": 99.0, "reverse_kl": 0.01}
    md = pt.table([rec, good, {**rec, "label": "w"}], ["v", "w"], ["ring"])
    v, w = [line for line in md.splitlines() if line.startswith(("| v |", "| w |"))]
    assert v.split(" | ")[4] == "inf" and v.endswith(" 1/2 |")     # the finite run meets the goal
    assert w.split(" | ")[4] == "inf" and w.endswith(" 0/1 |")


def test_images_parzen_refuses_a_folder_it_did_not_make(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("x")
    p = _run("images_parzen", "--steps", "1", "--samples", "10", "--out", str(mine), cwd=tmp_path)
    assert p.returncode != 0 and "--reuse" in p.stderr and "another --out" in p.stderr
    assert (mine / "notes.txt").read_text() == "x"


def test_seqgan_oracle_pretraining_cpu_unknown_without_its_file(tmp_path, capsys):
    so = _script("seqgan_oracle")
    assert so.pretrain_cpu(tmp_path) is None
    assert "leaves the pretraining out" in capsys.readouterr().err
    (tmp_path / "cpu_s.txt").write_text("12.5")
    assert so.pretrain_cpu(tmp_path) == 12.5


def test_same_numbers_help_trains_nothing(tmp_path):
    p = _run("same_numbers", "--help", cwd=tmp_path)
    assert p.returncode == 0 and p.stdout.startswith("usage:") and "ring-vanilla" in p.stdout
    p = _run("same_numbers", "new", "no-such-case", cwd=tmp_path)
    assert p.returncode == 2 and "no-such-case" in p.stderr


FAM_TINY = ["data.name=mnist5k", "train.batch_size=16", "generator.width=8", "discriminator.width=8",
            "noise.dim=8", "train.n_fixed=16"]


def test_families_continues_a_run_to_more_steps_and_refuses_other_settings(tmp_path):
    fam = _script("families")
    out = tmp_path / "gan"

    def sets(steps, *extra):
        return [*FAM_TINY, *fam._common(out, steps, 50, 0), *extra]
    run, _ = fam.train("mnist-dcgan", sets(2), out)
    run.close()
    run, cpu = fam.train("mnist-dcgan", sets(4), out)     # only the steps grew: trained on
    assert (run.step, run.cfg.train.steps) == (4, 4) and math.isfinite(cpu)
    run.close()
    with pytest.raises(SystemExit, match="other settings.*optim_g.lr"):
        fam.train("mnist-dcgan", sets(6, "optim_g.lr=0.001"), out)
    with pytest.raises(SystemExit, match="trained to step 4"):
        fam.train("mnist-dcgan", sets(2), out)


def _refused(p: subprocess.CompletedProcess, *words: str):
    """A user's mistake: a one-line error naming it, exit status 2, no traceback."""
    assert p.returncode == 2, (p.returncode, p.stderr[-2000:])
    assert "Traceback" not in p.stderr and "error:" in p.stderr.strip().splitlines()[-1], p.stderr[-2000:]
    for w in words:
        assert w in p.stderr, (w, p.stderr[-2000:])


# benchmarks/sweep.py

def _sweep(tmp_path, lines: str, *args):
    jobs = tmp_path / "jobs.txt"
    jobs.write_text(lines)
    return _script("sweep").main([str(jobs), "--logs", str(tmp_path / "logs"), *args])


def test_sweep_refuses_an_unset_variable_before_starting_any_job(tmp_path, monkeypatch):
    monkeypatch.delenv("GANKIT_TEST_UNSET", raising=False)
    monkeypatch.setenv("GANKIT_TEST_SET", "x")
    done = tmp_path / "done"
    py = sys.executable
    with pytest.raises(SystemExit, match=r"\$GANKIT_TEST_UNSET is not set, used on line\(s\) 3 \(b\)"):
        _sweep(tmp_path, f"# a comment\na: {py} -c 'open(\"{done}\", \"w\")' $GANKIT_TEST_SET\n"
                         f"b: {py} -c pass --results $GANKIT_TEST_UNSET\n")
    assert not done.exists() and not (tmp_path / "logs").exists()


def test_sweep_exits_non_zero_when_a_job_fails(tmp_path, capsys):
    assert _sweep(tmp_path, f"ok: {sys.executable} -c pass\nf: {sys.executable} -c 'import sys; sys.exit(3)'\n") == 1
    out = capsys.readouterr().out
    assert "f: exit 3" in out and "failed: f (exit 3)" in out


def test_sweep_records_a_missing_program_as_failed_and_watches_the_others(tmp_path, capsys):
    done = tmp_path / "done"
    code = f"import time; time.sleep(1.5); open('{done}', 'w')"
    assert _sweep(tmp_path, f'slow: {sys.executable} -c "{code}"\nb: no-such-program-for-gankit\n') == 1
    assert done.exists()             # the sweep waited for the running job
    out = capsys.readouterr().out
    assert "b: could not start" in out and "failed: b (could not start)" in out
    assert "could not start" in (tmp_path / "logs" / "b.log").read_text()


def test_sweep_names_failed_jobs_when_the_deadline_stops_it(tmp_path, capsys):
    lines = f"f: {sys.executable} -c 'import sys; sys.exit(3)'\nslow: {sys.executable} -c 'import time; time.sleep(60)'\n"
    assert _sweep(tmp_path, lines, "--deadline", "2.5") == 1
    out = capsys.readouterr().out
    assert "deadline: stopping slow" in out and "failed: f (exit 3)" in out


def test_sweep_names_a_missing_jobs_file(tmp_path):
    with pytest.raises(SystemExit, match="cannot read the jobs file .*nope.txt"):
        _script("sweep").main([str(tmp_path / "nope.txt"), "--logs", str(tmp_path / "logs")])


# bad input: one line, no traceback, nothing trained

def test_images_fashion_rounds_only_the_numbers():
    r = _script("images_fashion").rounded({"fcd": 95.612345, "features": "classifier", "n": 3})
    assert r == {"fcd": 95.6123, "features": "classifier", "n": 3}


def test_seqgan_oracle_refuses_an_unknown_row_before_training(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        _script("seqgan_oracle").main(["--only", "SeqGAN rollout", "--out", str(tmp_path / "o"),
                                       "--mle-steps", "2", "--eval-samples", "20"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "unknown row (--only) 'SeqGAN rollout'" in err and "'SeqGAN rollouts'" in err
    assert not (tmp_path / "o").exists()


def test_families_infogan_and_bigan_refuse_other_data(tmp_path, capsys):
    fam = _script("families")
    for group in ("infogan", "bigan"):
        with pytest.raises(SystemExit) as e:
            fam.main([group, "fashion-mnist", "--steps", "1", "--n", "20", "--out", str(tmp_path / "o"),
                      "--results", str(tmp_path / "r.jsonl"), *[x for s in FAM_TINY for x in ("--set", s)]])
        assert e.value.code == 2 and f"{group} trains on mnist5k only" in capsys.readouterr().err
    assert not (tmp_path / "o").exists() and not (tmp_path / "r.jsonl").exists()


def test_families_unknown_family_and_figure_without_runs(tmp_path, capsys):
    fam = _script("families")
    with pytest.raises(SystemExit) as e:
        fam.main(["generate", "--families", "gan,nosuch", "--out", str(tmp_path / "o")])
    assert e.value.code == 2 and "unknown family (--families) 'nosuch'; choose from 'gan'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        fam.main(["figure", "mnist5k", "--out", str(tmp_path / "o"), "--img", str(tmp_path / "img")])
    assert e.value.code == 2 and "no runs of `generate mnist5k`" in capsys.readouterr().err


def test_seqgan_curve_table_and_sweep_name_what_is_missing(tmp_path, capsys):
    sc = _script("seqgan_curve")
    with pytest.raises(SystemExit) as e:
        sc.main(["table", str(tmp_path)])
    assert e.value.code == 2 and "no curve.json in" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        sc.main(["sweep", str(tmp_path / "nope")])
    assert e.value.code == 2 and "no checkpoints to sweep" in capsys.readouterr().err


def _curve(folder, points):
    folder.mkdir(parents=True)
    (folder / "curve.json").write_text(json.dumps(
        {f"{t:g}": {"nll_oracle": q, "nll_test": x, "step": 1} for t, q, x in points}))


def test_seqgan_curve_table_calls_points_colder_than_mle_outside_its_range(tmp_path, capsys):
    """The bound was the largest NLL_test at any temperature: with a hot point past the cold
    end's NLL_test, MLE's own G sampled colder read "beyond MLE's curve" by up to 1 nat."""
    sc = _script("seqgan_curve")
    _curve(tmp_path / "mle", [(0.8, 3.406, 2.956), (1, 3.903, 2.891), (4, 5.888, 3.441), (8, 6.142, 3.660)])
    _curve(tmp_path / "s0" / "gan", [(0.5, 2.372, 3.510), (1, 3.80, 2.90)])
    _curve(tmp_path / "s1" / "gan", [(1, 3.70, 2.90)])
    sc.main(["table", str(tmp_path / "mle"), str(tmp_path / "s0" / "gan"), str(tmp_path / "s1" / "gan")])
    rows = [r for r in capsys.readouterr().out.splitlines() if "gan |" in r]
    assert len(rows) == 3                                  # both seeds' rows, not the last folder's alone
    assert rows[0].endswith("outside MLE's measured range |") and "| 0.5 |" in rows[0]
    assert "yes, by" in rows[1] and "yes, by" in rows[2]
    with pytest.raises(SystemExit) as e:
        sc.main(["table", str(tmp_path / "mle"), str(tmp_path / "s0" / "gan"), str(tmp_path / "s0" / "gan/")])
    assert e.value.code == 2 and "named twice" in capsys.readouterr().err


def test_preset_times_refuses_an_unknown_preset_and_writes_to_out(tmp_path, capsys):
    pt = _script("preset_times")
    shipped = pt.OUT.read_bytes()
    with pytest.raises(SystemExit) as e:
        pt.main(["--only", "nosuch", "--out", str(tmp_path / "t.json")])
    assert e.value.code == 2 and "unknown preset 'nosuch'" in capsys.readouterr().err
    assert pt.main(["--only", "ring-vanilla", "--steps", "2", "--warmup", "1", "--out", str(tmp_path / "t.json")]) == 0
    assert "ring-vanilla" in json.loads((tmp_path / "t.json").read_text())
    assert pt.OUT.read_bytes() == shipped


def test_compile_speed_documents_and_checks_preset_steps(tmp_path):
    cs = _script("compile_speed")
    assert cs.preset_steps("ring-vanilla:1500") == ("ring-vanilla", 1500)
    with pytest.raises(argparse.ArgumentTypeError, match="not PRESET:STEPS"):
        cs.preset_steps("ring-vanilla")
    with pytest.raises(SystemExit), contextlib.redirect_stdout(io.StringIO()) as out:
        cs.main(["--help"])
    assert "PRESET:STEPS" in out.getvalue()


@pytest.mark.parametrize("args, words", [
    (["cuda_check", "--device", "cpu", "--cases", "ring,nosuch"], ["unknown case 'nosuch'; choose from 'ring'"]),
    (["images_stacked", "--steps", "1", "--variants", "nosuch"], ["unknown variant 'nosuch'; choose from"]),
    (["conditional_table", "--steps", "1", "--variants", "nosuch"], ["unknown variant 'nosuch'; choose from"]),
    (["step_speed", "--preset", "nosuch", "--steps", "5"], ["no preset or file named 'nosuch'"]),
    (["step_speed", "--steps", "5", "--repeats", "1"], ["--steps 5 logs one step only"]),
    (["compile_speed", "--presets", "ring-vanilla", "--repeats", "1"], ["PRESET:STEPS"]),
    (["eval_speed", "drs", "--n", "10"], ["drs needs --run"]),
    (["drs_variants", "/nonexistent/run"], ["is not a run folder"]),
])
def test_bad_input_is_one_line_without_a_traceback(tmp_path, args, words):
    _refused(_run(*args, cwd=tmp_path), *words)


def test_packed_jsd_refuses_a_pack_of_zero(tmp_path):
    _refused(_run("packed_jsd", "--out", str(tmp_path / "pk"), "--packs", "0", cwd=tmp_path), "--packs")
    assert not (tmp_path / "pk").exists()
