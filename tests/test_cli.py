"""The real command line, end to end, on a tiny config."""
import errno
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gankit import config as C


def gankit(*args, check=True):
    p = subprocess.run([sys.executable, "-m", "gankit", *args], capture_output=True, text=True,
                       env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    if check and p.returncode != 0:
        raise AssertionError(f"gankit {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def sets(items):
    return [x for item in items for x in ("--set", item)]


def test_train_eval_sample_report_resume(tmp_path, tiny, capsys):
    from gankit.cli import main      # each command once as its own process, the repeats in this one
    run = tmp_path / "run"
    # the ring preset samples through DRS: a short fine-tuning keeps that path in the test
    # modes and jsd: the metrics whose numbers are checked below (every other metric is measured elsewhere)
    p = gankit("train", "ring", "--out", str(run), *sets(tiny + ["train.steps=20", "objective.drs_steps=20",
                                                                 'eval.metrics=["modes", "jsd"]']))
    assert "run folder:" in p.stdout and "modes covered" in p.stdout
    for f in ("config.toml", "metrics.jsonl", "report.html"):
        assert (run / f).is_file()

    out = json.loads(gankit("eval", str(run), "--json").stdout)
    assert {"modes_covered", "modes_total", "hq_fraction", "reverse_kl", "jsd"} <= set(out)
    assert out["modes_total"] == 8 and 0 <= out["hq_fraction"] <= 1 and out["step"] == 20

    gankit("sample", str(run), "-n", "50", "--out", str(tmp_path / "s.npy"))
    for ext in ("csv", "png"):
        assert main(["sample", str(run), "-n", "50", "--out", str(tmp_path / f"s.{ext}")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (50, 2)
    assert np.loadtxt(tmp_path / "s.csv", delimiter=",").shape == (50, 2)
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"

    capsys.readouterr()
    assert main(["train", "grid", "--out", str(run), "--resume"]) != 0      # a preset it would ignore
    err = capsys.readouterr().err
    assert "'grid' would be ignored" in err and "Traceback" not in err
    assert main(["train", "--out", str(run), "--resume", "--set", "train.steps=30"]) == 0
    capsys.readouterr()
    assert main(["eval", str(run), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["step"] == 30

    (run / "report.html").unlink()
    gankit("report", str(run))
    html = (run / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 2
    assert "src=\"http" not in html                          # self-contained
    assert "Modes" in html and "Training curves" in html


def test_one_d_and_other_presets_run(tmp_path, tiny, capsys):
    from gankit.cli import main      # in this process: the command line itself is tested above
    for preset in ("figure1-1d", "seed-linear", "paper-mlp", "grid"):
        extra = tiny if preset != "seed-linear" else [t for t in tiny if "hidden" not in t
                                                       and "batch" not in t]
        drs = ["objective.drs_steps=20"] if preset == "grid" else []
        assert main(["train", preset, "--out", str(tmp_path / preset), *sets(extra + ["train.steps=20"] + drs)]) == 0
        assert "run folder:" in capsys.readouterr().out
        assert (tmp_path / preset / "report.html").is_file()
    assert "Figure 1" in (tmp_path / "figure1-1d" / "report.html").read_text()


def test_list_names_every_kind(capsys):
    from gankit.cli import main      # in this process: `python -m gankit` is run above
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for word in ("ring", "seed-linear", "gmm", "swissroll", "mlp", "minimax", "nonsaturating", "modes", "jsd"):
        assert word in out
    # each preset's time is its own train.steps x the measured s/step, whatever steps were measured
    times = json.loads((C.PRESET_DIR / "times.json").read_text())
    for name, t in times.items():
        steps = C.load(name).train.steps
        est = round((t.get("setup_s", 0.0) + steps * t["s_per_step"]) / 60, 1)
        assert f"~{est:g} min ({steps} steps" in out, name


def test_bad_input_gives_a_clear_error_and_exit_code(tmp_path, capsys):
    from gankit.cli import main      # in this process: main's return is `python -m gankit`'s exit code
    assert main(["train", "ring", "--out", str(tmp_path / "x"), "--set", "train.d_steps=0"]) == 2
    err = capsys.readouterr().err
    assert "train.d_steps: must be >= 1" in err and "Traceback" not in err
    assert main(["eval", str(tmp_path / "nothing")]) != 0
    assert "not a run folder" in capsys.readouterr().err
    assert main(["train", "ring", "--set", "data.name=points", "--set", "data.path=missing.npy",
                 "--out", str(tmp_path / "y")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_image_samples_as_csv_are_one_image_a_row(tmp_path, digits):
    from gankit.cli import main
    from gankit.train.run import Run
    out = tmp_path / "run"
    Run.create(C.load("mnist-dcgan", digits), out).train().close()
    assert main(["sample", str(out), "-n", "5", "--out", str(tmp_path / "s.csv")]) == 0
    x = np.loadtxt(tmp_path / "s.csv", delimiter=",")
    assert x.shape == (5, 64) and np.abs(x).max() <= 1
    assert "1 x 8 x 8" in (tmp_path / "s.csv").read_text().splitlines()[0]


def test_sampled_points_as_csv_keep_float32_precision(tmp_path, tiny):
    """Rows were written with 6 significant digits: a longitude of -122.4194 came back as
    -122.419, coarser than the samples' own spread."""
    from gankit.cli import main
    from gankit.train.run import Run
    out = tmp_path / "run"
    Run.create(C.load("ring", tiny + ["data.radius=100", "data.std=0.001"]), out).train().close()
    assert main(["sample", str(out), "-n", "50", "--out", str(tmp_path / "s.npy"), "--seed", "3"]) == 0
    assert main(["sample", str(out), "-n", "50", "--out", str(tmp_path / "s.csv"), "--seed", "3"]) == 0
    assert np.array_equal(np.loadtxt(tmp_path / "s.csv", delimiter=",").astype(np.float32),
                          np.load(tmp_path / "s.npy"))


def test_out_of_memory_in_a_metric_names_it_and_the_settings_that_help(tmp_path, tiny, monkeypatch, capsys):
    from gankit.cli import main
    from gankit.metrics import points as modes_module
    from gankit.train.run import Run
    out = tmp_path / "run"
    Run.create(C.load("ring", tiny), out).train().close()
    monkeypatch.setattr(modes_module, "mode_metrics", lambda *a, **k: (_ for _ in ()).throw(MemoryError()))
    assert main(["eval", str(out), "--metrics", "modes"]) == 1
    err = capsys.readouterr().err
    assert "out of memory in metrics/points.py:modes, while measuring a metric" in err
    assert "eval.metrics" in err and "train.batch_size" not in err


def test_eval_of_named_metrics_that_measure_nothing_is_an_error_not_an_empty_record(tmp_path, digits, capsys,
                                                                                   monkeypatch):
    """`eval --metrics is` on images no classifier knows exited 0 with an empty record, which then
    blanked the run's metrics in report and compare."""
    from gankit.cli import main
    from gankit.metrics import features
    from gankit.train.run import Run
    shipped = features.weights_path         # the digits without their shipped classifier: images no classifier knows
    monkeypatch.setattr(features, "weights_path", lambda key: tmp_path / "none" if key == "digits8x8" else shipped(key))
    out = tmp_path / "run"
    Run.create(C.load("mnist-dcgan", digits), out).train().close()
    assert main(["eval", str(out), "--metrics", "is"]) == 2
    assert "metric 'is': the features of this data are the random conv net's" in capsys.readouterr().err
    assert '"kind": "eval"' not in (out / "metrics.jsonl").read_text()


def test_a_sigterm_under_torchrun_points_at_the_other_processes(monkeypatch):
    """torchrun SIGTERMs every rank when one fails: the stopped rank said only that its last
    checkpoint was kept, though the run may have none and the cause is another rank's error."""
    import signal
    from gankit.cli import _terminated
    from gankit.train.signals import TrainingInterrupted
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    with pytest.raises(TrainingInterrupted, match=r"checkpoints already written are kept\)$"):
        _terminated(signal.SIGTERM, None)
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(TrainingInterrupted, match="another process's error may say why") as e:
        _terminated(signal.SIGTERM, None)
    assert e.value.exit_code == 143


def test_sample_seed_out_of_range_and_an_unknown_eval_metric_are_one_line_each(tmp_path, tiny, capsys):
    """sample --seed -1 (or past 64 bits) was a traceback; eval --metrics nope named a key
    eval.metrics.name that does not exist."""
    from gankit.cli import main
    from gankit.train.run import Run
    out = tmp_path / "run"
    Run.create(C.load("ring", tiny), out).train().close()
    for seed in ("-1", "18446744073709551615", "99999999999999999999999"):
        assert main(["sample", str(out), "-n", "5", "--seed", seed, "--out", str(tmp_path / "s.npy")]) == 2
        assert "give an integer in [0, 2^63 - 2]" in capsys.readouterr().err
    assert main(["eval", str(out), "--metrics", "mode"]) == 2
    err = capsys.readouterr().err
    assert "--metrics: unknown metric 'mode' (did you mean 'modes'?)" in err and "eval.metrics.name" not in err


def _under_file_size_limit(limit: int, *args) -> subprocess.CompletedProcess:
    """gankit in a subprocess under ``ulimit -f`` (bytes): writes past it fail with EFBIG, as
    they do at a FAT32 drive's 4 GB."""
    import os
    import resource
    hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
    return subprocess.run([sys.executable, "-m", "gankit", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"},
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard)))


def test_sample_past_a_file_size_limit_keeps_the_old_file_and_names_it(tiny_run_dir, tmp_path):
    """np.save wrote over --out in place: the limit left a truncated file where a good one was,
    and the error said only '200000 requested and 25568 written'."""
    from gankit.cli import main
    keep = tmp_path / "keep.npy"
    assert main(["sample", str(tiny_run_dir), "-n", "100", "--out", str(keep)]) == 0
    before = keep.read_bytes()
    p = _under_file_size_limit(20_000, "sample", tiny_run_dir, "-n", "100000", "--out", keep)
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
    assert f"cannot write {keep}: the file would exceed the file-size limit (ulimit -f)" in p.stderr
    assert keep.read_bytes() == before and np.load(keep).shape == (100, 2)
    assert sorted(q.name for q in tmp_path.iterdir()) == ["keep.npy"]      # no temp file left


@pytest.mark.parametrize("suffix,writer", [(".npy", "numpy.lib.format.write_array_header_1_0"),
                                           (".csv", "numpy.savetxt"),
                                           (".pdf", "gankit.report.plots.plot_samples_file")])
def test_a_failed_sample_write_keeps_the_old_file_whole(tiny_run_dir, tmp_path, monkeypatch, capsys,
                                                        suffix, writer):
    import errno
    from gankit.cli import main
    out = tmp_path / f"s{suffix}"
    assert main(["sample", str(tiny_run_dir), "-n", "20", "--out", str(out)]) == 0
    before = out.read_bytes()
    if suffix == ".pdf":       # written by name: the temp file keeps the suffix that sets the format
        assert before[:4] == b"%PDF"

    def half_then_full(*args, **kw):
        f = next(a for a in args if hasattr(a, "write") or isinstance(a, (str, os.PathLike)))
        if hasattr(f, "write"):
            f.write(b"half")
        else:
            Path(f).write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(writer, half_then_full)
    assert main(["sample", str(tiny_run_dir), "-n", "20", "--out", str(out)]) == 1
    assert f"cannot write {out}: the disk is full (No space left on device)" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert [q.name for q in tmp_path.iterdir()] == [out.name]


def test_a_write_error_inside_torch_is_one_line(monkeypatch, capsys):
    """torch's zip writer turns a failed write into a RuntimeError; the OSError behind it is
    the report, not a traceback."""
    import errno
    from gankit import cli

    def report(a):
        try:
            raise OSError(errno.EFBIG, "File too large")
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 897408 vs 897296")
    monkeypatch.setattr(cli, "_cmd_report", report)
    assert cli.main(["report", "somewhere"]) == 1
    err = capsys.readouterr().err

    def bug(a):     # a missing file handled, then a bug: its traceback stays the report
        try:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", "cache.npz")
        except OSError:
            raise RuntimeError("a bug")
    monkeypatch.setattr(cli, "_cmd_report", bug)
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main(["report", "somewhere"])
    assert err.strip() == ("gankit: error: a write failed: the file would exceed the file-size limit "
                           "(ulimit -f) or the largest file this drive takes (4 GB on FAT32) (File too large)")


def test_printed_text_samples_escape_control_characters_and_a_txt_file_keeps_them(tmp_path, capsys):
    import re
    import warnings

    from gankit.cli import main
    from gankit.train.run import Run
    data = tmp_path / "hostile.txt"      # a vocabulary of little but escape sequences and bidi overrides
    data.write_text("".join(f"{s}\n" for s in ["\x1b[31m\x07", "\u202e\x1b\x01", "\x9b\x1b\x07",
                                              "\u2066\x1b[0m", "a\x1b"] * 4))
    with pytest.warns(UserWarning, match=r"20 line\(s\) hold control characters, e.g. '\\x1b\[31m\\x07'"):
        cfg = C.load("words", ["data.name=textfile", f"data.path={data}", "data.max_len=6", "noise.dim=8",
                               "objective.pretrain_steps=2", "objective.d_pretrain_steps=1", "train.steps=2",
                               "train.batch_size=8", "train.n_fixed=8", "train.progress=false",
                               "eval.n_samples=20"])
        Run.create(cfg, tmp_path / "run").train().close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["sample", str(tmp_path / "run"), "-n", "30"]) == 0
        printed = capsys.readouterr().out
        assert main(["sample", str(tmp_path / "run"), "-n", "30", "--out", str(tmp_path / "s.txt")]) == 0
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", printed)
    assert re.search(r"\\x1b|\\x07|\\x01|\\x9b|\\u202e|\\u2066", printed)
    kept = (tmp_path / "s.txt").read_text()
    assert len(kept.split("\n")) == 31 and re.search("[\x1b\x07\x01\x9b\u202e\u2066]", kept)
    from gankit.data.text import printable
    assert printed == "".join(printable(line) + "\n" for line in kept.split("\n")[:-1])


def test_report_of_a_folder_named_with_undecodable_bytes_prints_on_a_strict_terminal(tiny_run_dir, tmp_path):
    """The page was written, then printing its path crashed where stdout's encoding refuses
    the name's undecodable bytes (a strict UTF-8 terminal)."""
    import shutil
    bad = Path(os.fsdecode(os.fsencode(str(tmp_path)) + b"/r\xe9s"))
    shutil.copytree(tiny_run_dir, bad)
    p = subprocess.run([sys.executable, "-m", "gankit", "report", str(bad)], capture_output=True, text=True,
                       env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONIOENCODING": "utf-8:strict"})
    assert p.returncode == 0, p.stderr
    assert "report: " in p.stdout and "r\ufffds" in p.stdout and "report.html" in p.stdout


class _Unwritable(io.StringIO):
    """A stream whose writes fail with ``err`` (an errno) once ``room`` characters are in it."""

    def __init__(self, err: int, room: int = 0):
        super().__init__()
        self.err, self.room = err, room

    def write(self, s):
        if self.tell() + len(s) > self.room:
            raise OSError(self.err, os.strerror(self.err))
        return super().write(s)


def test_a_closed_stderr_never_stops_training(tmp_path, tiny_cli):
    """Closed (2>&-): Python's sys.stderr is None, and the progress bar's first write stopped the
    run before its first checkpoint, silently."""
    p = subprocess.run([sys.executable, "-m", "gankit", "train", "ring", "--out", str(tmp_path / "r"), *tiny_cli,
                        "--set", "train.progress=true", "--set", 'eval.metrics=["energy"]'],
                       stdout=subprocess.PIPE, text=True,
                       preexec_fn=lambda: os.close(2), env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert p.returncode == 0
    assert "run folder:" in p.stdout and "evaluating" not in p.stdout     # diagnostics not sent to stdout
    from gankit.runfolder import RunFolder
    assert RunFolder(tmp_path / "r").checkpoints()[-1][0] == 12


@pytest.mark.parametrize("room", [0, 45], ids=["full", "fills-after-the-first-line"])
def test_a_stderr_on_a_full_disk_never_stops_training(tmp_path, tiny_cli, monkeypatch, capsys, room):
    from gankit.cli import main
    from gankit.runfolder import RunFolder
    monkeypatch.setattr(sys, "stderr", _Unwritable(errno.ENOSPC, room))
    assert main(["train", "ring", "--out", str(tmp_path / "r"), *tiny_cli, "--set", "train.progress=true",
                 "--set", "train.log_every=1"]) == 0
    assert RunFolder(tmp_path / "r").checkpoints()[-1][0] == 12
    assert "run folder:" in capsys.readouterr().out


def test_an_unwritable_stdout_says_so_and_a_closed_pipe_is_silent(tmp_path, tiny_cli, monkeypatch, capsys):
    from gankit.cli import main
    monkeypatch.setattr(sys, "stdout", _Unwritable(errno.ENOSPC))          # > /dev/full
    assert main(["train", "ring", "--out", str(tmp_path / "r"), *tiny_cli, "--set", 'eval.metrics=["energy"]']) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == ("gankit: error: could not write to standard output: No space left on device; "
                   "the run folder is complete")
    assert (tmp_path / "r" / "report.html").is_file()
    assert main(["list"]) == 1 and "could not write to standard output" in capsys.readouterr().err

    read, write = os.pipe()      # gankit list -v | head -1: the reader has gone
    os.close(read)
    p = subprocess.run([sys.executable, "-m", "gankit", "list", "-v"], stdout=write, stderr=subprocess.PIPE,
                       text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    os.close(write)
    assert (p.returncode, p.stderr) == (0, "")


def test_paths_print_under_an_ascii_locale(tmp_path, tiny_cli):
    """LC_ALL=C without UTF-8 mode: the run was written, then printing its folder's name failed."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    env.pop("PYTHONIOENCODING", None)
    out = tmp_path / "r\u00fcn"
    quick = ["--set", 'eval.metrics=["energy"]']      # the printed paths are checked, not the metrics
    for args in (["train", "ring", "--out", str(out), *tiny_cli, *quick], ["report", str(out)]):
        p = subprocess.run([sys.executable, "-m", "gankit", *args], capture_output=True, text=True,
                           encoding="utf-8", errors="surrogateescape", env=env)
        assert p.returncode == 0, p.stderr[-500:]
        assert "r\\xfcn" in p.stdout and "Traceback" not in p.stderr


def test_every_out_and_run_folder_expands_home(tmp_path, tiny_cli, monkeypatch, capsys):
    """bash leaves ~ as it is after = or in quotes: a folder named ~ was made in the current one."""
    from gankit.cli import _expand_home, build_parser, main
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert main(["train", "ring", "--out", "~/r", *tiny_cli, "--set", 'eval.metrics=["energy"]']) == 0
    assert (tmp_path / "home" / "r" / "checkpoints").is_dir() and not (tmp_path / "~").exists()
    home = str(tmp_path / "home")
    for argv in (["sample", "~/r", "--out", "~/s.npy"], ["invert", "~/r", "--images", "x.npy", "--out", "~/i"],
                 ["complete", "~/r", "--images", "x.npy", "--mask", "top", "--out", "~/c"],
                 ["compare", "~/r", "~/q", "--out", "~/c.html"], ["train", "--resume", "--out", "~/r"]):
        a = build_parser().parse_args(argv)
        _expand_home(a)
        paths = [a.out] + ([a.run_dir] if hasattr(a, "run_dir") else []) + getattr(a, "run_dirs", [])
        assert all(p.startswith(home + os.sep) for p in paths), (argv, paths)


def test_commands_other_than_train_refuse_many_torchrun_processes(tmp_path, monkeypatch, capsys):
    """`torchrun -m gankit eval` evaluated (and printed) once per process; only train trains on many."""
    from gankit.cli import main
    for k, v in (("RANK", "0"), ("LOCAL_RANK", "0"), ("WORLD_SIZE", "2")):
        monkeypatch.setenv(k, v)
    for argv in (["eval", str(tmp_path / "r")], ["sample", str(tmp_path / "r"), "-n", "2"], ["list"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"gankit {argv[0]} runs in one process, but torchrun started 2" in err and "Traceback" not in err
    monkeypatch.setenv("WORLD_SIZE", "1")       # one process under torchrun: as without it
    assert main(["list"]) == 0
