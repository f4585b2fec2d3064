"""Watching runs (audit a145): `gankit eval` of a TensorBoard run where the package is missing
warns and records once; the stopped badge names the folder to resume; a config refused at
training's start leaves no run folder behind; the terminal lines naming a run folder escape its
control characters."""
import json
import shutil
import sys

import pytest

from gankit import config as C
from gankit.cli import main

TB_MODULES = ("tensorboard", "torch.utils.tensorboard", "tensorboardX")


@pytest.fixture
def no_tensorboard(monkeypatch):
    """The tensorboard package cannot be imported (a None entry makes its import fail)."""
    for m in TB_MODULES:
        monkeypatch.setitem(sys.modules, m, None)


def _kinds(run_dir):
    return [json.loads(line)["kind"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture
def tb_run(tmp_path, tiny_cli):
    """A 12-step run trained with train.tensorboard = true (the package present then)."""
    pytest.importorskip("torch.utils.tensorboard")
    run_dir = tmp_path / "tb"
    assert main(["train", "ring", "--out", str(run_dir), *tiny_cli, "--set", "train.tensorboard=true"]) == 0
    return run_dir


def test_eval_of_a_tensorboard_run_without_the_package_warns_and_records_once(tb_run, no_tensorboard, capsys):
    before = _kinds(tb_run)
    capsys.readouterr()
    assert main(["eval", str(tb_run), "--metrics", "modes", "--set", "eval.n_samples=300"]) == 0
    err = capsys.readouterr().err
    assert "gankit: error" not in err
    assert "TensorBoard curves not written" in err and "pip install 'gankit[tensorboard]'" in err
    assert f"gankit train --resume --out {tb_run} --set train.tensorboard=false" in err
    added = _kinds(tb_run)[len(before):]
    assert added.count("eval") == 1 and added.count("reference") == 1, added


def test_api_evaluate_of_a_tensorboard_run_without_the_package_warns(tb_run, no_tensorboard):
    from gankit import api
    before = _kinds(tb_run)
    with pytest.warns(UserWarning, match="TensorBoard curves not written"):
        result = api.evaluate(tb_run, ["modes"], overrides=["eval.n_samples=300"], log=None)
    assert result.get("modes_covered") is not None, result
    assert _kinds(tb_run)[len(before):].count("eval") == 1


def test_the_stopped_note_gives_the_whole_resume_command(tiny_run_dir, tmp_path):
    from gankit.report.progress import run_progress, stopped_note
    from gankit.runfolder import RunFolder
    run_dir = tmp_path / "my run"
    shutil.copytree(tiny_run_dir, run_dir)
    folder = RunFolder(run_dir)
    note = stopped_note(run_progress(folder, folder.records()), 100, 10)
    assert note == f"stopped at step 30 of 100: continue with gankit train --resume --out '{run_dir}'"
    diverged = stopped_note(run_progress(folder, folder.records()), 100, 10, "loss_d is nan")
    assert f"gankit train --resume --out '{run_dir}' and the fix" in diverged


@pytest.mark.parametrize("sets, said", [
    (["train.lr_schedule=linear", "train.lr_warmup=1.0"], "both set"),
    (["train.tensorboard=true"], "needs the tensorboard package"),
])
def test_a_config_refused_at_training_start_writes_no_run_folder(tmp_path, tiny, no_tensorboard, sets, said):
    from gankit import api
    out = tmp_path / "x"
    with pytest.raises(C.ConfigError, match=said):
        api.train("ring-vanilla", out=out, overrides=tiny + sets, evaluate=False)
    assert not out.exists()
    mine = tmp_path / "mine"      # a user's empty folder is left as it was
    mine.mkdir()
    with pytest.raises(C.ConfigError, match=said):
        api.train("ring-vanilla", out=mine, overrides=tiny + sets, evaluate=False)
    assert mine.is_dir() and not any(mine.iterdir())


ESC = "esc\x1b[31mRED\x1b]0;title\x07"


def test_train_and_report_lines_escape_a_folder_names_control_characters(tmp_path, tiny_cli, capsys):
    run_dir = tmp_path / ESC
    assert main(["train", "ring", "--out", str(run_dir), *tiny_cli]) == 0
    out = capsys.readouterr().out
    assert main(["report", str(run_dir)]) == 0
    out += capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith(("run folder:", "report:"))]
    assert len(lines) == 3, out
    for line in lines:
        assert "\x1b" not in line and "\x07" not in line
        assert "esc\\x1b[31mRED\\x1b]0;title\\x07" in line
    assert main(["sample", str(run_dir), "-n", "3", "--out", str(tmp_path / f"{ESC}.npy")]) == 0
    wrote = capsys.readouterr().out
    assert "wrote 3 samples to " in wrote and "\x1b" not in wrote and "\x07" not in wrote
