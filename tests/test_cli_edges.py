"""Command-line edges: empty path arguments, abbreviated options, a thread count past any
machine, and the advice for a folder of the user's own files."""
import os
import subprocess
import sys

import pytest

from gankit.cli import main

# what the cases below would train had they been taken (they were, before): a tiny run
QUICK = ["--set", "train.steps=1", "--set", "train.progress=false", "--set", 'eval.metrics=["modes"]']


def _error(capsys) -> str:
    return capsys.readouterr().err


@pytest.mark.parametrize("argv, named", [
    (["train", "", "--out", "OUT", *QUICK], "PRESET is an empty string"),   # gankit train "$CFG": not ring
    (["train", "ring", "--out", "", *QUICK], "--out is an empty string"),    # not a timestamped folder
    (["eval", ""], "RUN_DIR is an empty string"),                      # not the current folder
    (["compare", "OUT", ""], "RUN is an empty string"),
])
def test_an_empty_path_argument_is_refused_before_any_work(tmp_path, monkeypatch, capsys, argv, named):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = _error(capsys)
    assert named in err and len(err.strip().splitlines()) == 1
    assert os.listdir(tmp_path) == []          # no run folder, trained or timestamped


@pytest.mark.parametrize("argv, hint", [
    (["sweep", "ring", "--seed", "2", "--workers", "1", "--metrics", "modes", *QUICK],
     "--first-seed N --seeds 1"),                                       # was read as --seeds 2
    (["train", "ring", "--steps", "100"], "--set train.steps=100"),
    (["train", "ring", "--batch-size=8"], "--set train.batch_size=8"),
    (["train", "ring", "--ou", "x", *QUICK], "did you mean --out?"),   # was read as --out x
    (["eval", "x", "--no-rec"], "did you mean --no-record?"),
])
def test_options_are_never_abbreviated_and_a_near_miss_gets_a_hint(tmp_path, monkeypatch, capsys, argv, hint):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = _error(capsys)
    assert "unrecognized arguments" in err and hint in err
    assert os.listdir(tmp_path) == []


def test_every_option_in_the_docs_is_one_a_command_takes():
    """With abbreviations off, an abbreviated option in the docs would stop working: each long
    option written after `gankit COMMAND` in README.md and docs/ is one of that command's."""
    import glob
    import re

    from gankit.cli import build_parser
    p = build_parser()
    known = {name: set(sub._option_string_actions) | set(p._option_string_actions)
             for name, sub in p.commands.choices.items()}
    root = os.path.dirname(os.path.dirname(__file__))
    bad = []
    for path in [os.path.join(root, "README.md"), *glob.glob(os.path.join(root, "docs", "**", "*.md"), recursive=True)]:
        with open(path, encoding="utf-8") as f:
            for line in f:
                # one command's words: up to the next command of a chain (&&, |, ;) or a code span's end
                for m in re.finditer(r"gankit (\w+)((?:(?!&&|\||;|`|gankit ).)*)", line):
                    for option in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", m.group(2)):
                        if m.group(1) in known and option not in known[m.group(1)]:
                            bad.append((os.path.relpath(path, root), m.group(1), option))
    # the docs' table row that names `gankit train --resume` beside `gankit eval`
    assert [b for b in bad if b != ("docs/reliability.md", "eval", "--resume")] == []


def test_a_thread_count_past_any_machine_is_refused_before_a_folder_is_written(tmp_path):
    # 100,000 crashed in the OpenMP runtime (rc 139), leaving a folder holding config.toml only:
    # a process of its own, as a crash would take the test's with it
    out = tmp_path / "r"
    p = subprocess.run([sys.executable, "-m", "gankit", "train", "ring-vanilla", "--out", str(out),
                        "--set", "train.threads=100000", *QUICK], capture_output=True, text=True,
                       env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert p.returncode == 2 and "train.threads: must be <= 1024, got 100000" in p.stderr
    assert not out.exists()


def test_a_folder_of_the_users_files_is_not_advised_as_a_place_to_train(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("x")
    assert main(["eval", str(mine)]) == 1
    err = _error(capsys)
    assert "holds other files" in err and "--out NEW" in err and f"--out {mine}" not in err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["eval", str(empty)]) == 1
    assert f"gankit train PRESET --out {empty}" in _error(capsys)    # an empty folder can become one


def test_eval_metrics_are_read_with_spaces_after_commas_and_a_trailing_comma(tiny_run_dir, capsys):
    """--metrics "modes, jsd" was "unknown metric ' jsd' (did you mean 'jsd'?)" (audit a159)."""
    import json
    assert main(["eval", str(tiny_run_dir), "--metrics", "modes, jsd,", "--metrics", " mmd ", "--json",
                 "--no-record"]) == 0, _error(capsys)      # --no-record: the shared run stays as it is
    out = json.loads(capsys.readouterr().out)
    assert {"modes_covered", "jsd", "mmd2"} <= set(out) and "swd" not in out, out     # those named only
