"""Config files from hostile or damaged run folders (audit F135): TOML nested too deeply for
tomllib (a RecursionError traceback from every command), a reviewed config.toml.recovered written
over without a word, and eval, sample and --resume saying a wrong value in config.toml without
naming the file."""
from __future__ import annotations

import re
import shutil
import tomllib

import pytest
import torch

from gankit import config as C
from gankit.cli import main
from gankit.config import ConfigError
from gankit.runfolder import RECOVERED_CONFIG, RunFolder, RunFolderError
from gankit.runfolder.lock import LOCK_NAME
from gankit.train.run import Run

DEEP = {"list": "[" * 2000 + "]" * 2000, "table": "{a = " * 3000 + "1" + "}" * 3000}


def _copy(tiny_run_dir, tmp_path, name="run"):
    run = tmp_path / name
    shutil.copytree(tiny_run_dir, run)
    return run


def _edit(run, pattern, repl):
    text = (run / "config.toml").read_text()
    edited = re.sub(pattern, repl, text, count=1, flags=re.M)
    assert edited != text, pattern                # the edit took: no test of an untouched file
    (run / "config.toml").write_text(edited)


def _checkpoint_config(run) -> dict:
    newest = sorted((run / "checkpoints").glob("step_*.pt"))[-1]
    return torch.load(newest, weights_only=True)["config"]


# ---------------------------------------------------------------- 1. nested too deeply
@pytest.mark.parametrize("kind", sorted(DEEP))
def test_a_run_config_nested_too_deeply_is_damaged_not_a_traceback(tiny_run_dir, tmp_path, kind, capsys):
    run = _copy(tiny_run_dir, tmp_path)
    _edit(run, r"^\[data\]$", f"[data]\nx = {DEEP[kind]}")
    with pytest.raises(RunFolderError, match=r"config\.toml is damaged \(nested too deeply\); each checkpoint"):
        RunFolder(run).read_config()
    held = (run / LOCK_NAME).read_bytes()
    (run / LOCK_NAME).unlink()       # a run from before the lock file: ownership reads config.toml too
    assert not RunFolder(run).is_gankit_run()          # unreadable, so no run (was: RecursionError)
    (run / LOCK_NAME).write_bytes(held)
    assert main(["eval", str(run), "--no-record"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and "Traceback" not in err and "RecursionError" not in err, err
    assert f"{run / 'config.toml'} is damaged (nested too deeply)" in err and f"mv {run / RECOVERED_CONFIG}" in err, err
    assert tomllib.loads((run / RECOVERED_CONFIG).read_text())["data"] == _checkpoint_config(run)["data"]


@pytest.mark.parametrize("kind", sorted(DEEP))
def test_a_config_or_set_value_nested_too_deeply_is_a_config_error(tmp_path, kind, capsys):
    path = tmp_path / "deep.toml"
    path.write_text(f"seed = 1\nx = {DEEP[kind]}\n")
    with pytest.raises(ConfigError, match=r"deep\.toml: not valid TOML: nested too deeply"):
        C.load(str(path))
    with pytest.raises(ConfigError, match=r"^--set 'x=.{30,}\.\.\. \(\d+ characters\): the value of x is nested too"):
        C.load("ring", [f"x={DEEP[kind]}"])
    for argv in (["train", str(path), "--out", str(tmp_path / "a")],
                 ["train", "ring", "--set", f"x={DEEP[kind]}", "--out", str(tmp_path / "b")]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.splitlines() == [err] and "nested too deeply" in err and len(err) < 400, err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


# ---------------------------------------------------------------- 2. config.toml.recovered kept
def test_a_reviewed_recovered_config_is_never_written_over(tiny_run_dir, tmp_path):
    from gankit.report import report_context
    run = _copy(tiny_run_dir, tmp_path)
    _edit(run, r"^seed = \d+$", "seed = -5")
    with pytest.raises(ConfigError, match=f"is now in {re.escape(str(run / RECOVERED_CONFIG))};"):
        report_context(run)
    (run / RECOVERED_CONFIG).write_text("# my review edits\n")          # the review the message asked for
    with pytest.raises(ConfigError) as e:
        report_context(run)
    numbered = run / f"{RECOVERED_CONFIG}.1"
    assert f"is now in {numbered} ({RECOVERED_CONFIG}, which differs, is kept)" in str(e.value), e.value
    assert f"mv {numbered} {run / 'config.toml'}" in str(e.value)
    assert (run / RECOVERED_CONFIG).read_text() == "# my review edits\n"
    assert tomllib.loads(numbered.read_text()) == tomllib.loads(C.dumps_toml(C.load(_checkpoint_config(run))))
    with pytest.raises(ConfigError, match=f"is now in {re.escape(str(numbered))} "):
        report_context(run)                              # the same offer again: no .2
    assert not (run / f"{RECOVERED_CONFIG}.2").exists()
    (run / LOCK_NAME).unlink(missing_ok=True)       # a run from before the lock file
    assert RunFolder(run).is_gankit_run()                # the numbered offer is a run's file too


def test_an_edited_run_config_offer_keeps_the_users_recovered_file(tiny_run_dir, tmp_path):
    run = _copy(tiny_run_dir, tmp_path)
    _edit(run, r"^radius = .*$", "radius = 3.0")         # what defines the run: eval refuses it
    (run / RECOVERED_CONFIG).write_text("# mine\n")
    with pytest.raises(RunFolderError) as e:
        Run.open(run)
    numbered = run / f"{RECOVERED_CONFIG}.1"
    assert f"config is now in {numbered}: put it back (mv {numbered} " in str(e.value), e.value
    assert (run / RECOVERED_CONFIG).read_text() == "# mine\n" and numbered.is_file()


# ---------------------------------------------------------------- 3. the file named by every command
@pytest.mark.parametrize("write", [False, True], ids=["eval-sample", "resume"])
def test_opening_a_run_names_its_config_file_with_a_wrong_value(tiny_run_dir, tmp_path, write):
    run = _copy(tiny_run_dir, tmp_path)
    _edit(run, r"^n_modes = 8$", 'n_modes = "8"')
    with pytest.raises(ConfigError) as e:
        Run.open(run, write=write)
    said = str(e.value)
    assert said.startswith(f"{run / 'config.toml'}: data.n_modes: expected an integer, got '8'; correct it there"), said
    assert f"mv {run / RECOVERED_CONFIG} {run / 'config.toml'}" in said and (run / RECOVERED_CONFIG).is_file()


def test_each_command_says_it_as_the_report_does(tiny_run_dir, tmp_path, capsys):
    run = _copy(tiny_run_dir, tmp_path)
    _edit(run, r"^n_modes = 8$", 'n_modes = "8"')
    said = []
    for argv in (["report", str(run)], ["eval", str(run), "--no-record"],
                 ["sample", str(run), "-n", "3", "--out", str(tmp_path / "s.npy")],
                 ["train", "--resume", "--out", str(run)], ["drs", str(run)]):
        assert main(argv) == 2, argv
        said.append(capsys.readouterr().err.strip())
    assert said[0].startswith(f"gankit: error: {run / 'config.toml'}: data.n_modes") and said == [said[0]] * 5, said


def test_a_wrong_set_is_still_the_sets_not_the_files(tiny_run_dir, tmp_path):
    run = _copy(tiny_run_dir, tmp_path)
    for write, item in ((False, "eval.n_samples=abc"), (True, "train.steps=abc")):
        with pytest.raises(ConfigError) as e:
            Run.open(run, [item], write=write)
        assert str(e.value).startswith(f"{item.split('=')[0]}: expected an integer, got 'abc'"), e.value
        assert "config.toml" not in str(e.value)
    assert not (run / RECOVERED_CONFIG).exists()
