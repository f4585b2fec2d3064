"""A checkpoint with valid CRCs but parts gankit never writes is refused in one line, not a
traceback deep in a load or mid-training (gankit/runfolder/checkpoint_check.py)."""
import shutil

import pytest
import torch

from gankit.runfolder.checkpoint_check import checkpoint_fault
from gankit.train.run import Run
from gankit.train.run_state import RunError


def _damage(state, how):
    if how == "G a list":
        state["models"]["G"] = [1, 2]
    elif how == "step a string":
        state["step"] = "30"
    elif how == "config a string":
        state["config"] = "x"
    elif how == "rng missing":
        del state["rng"]
    elif how == "rng 3 bytes":
        state["rng"]["torch"] = torch.zeros(3, dtype=torch.uint8)
    elif how == "span a string":
        state["schedule_span"] = "x"
    elif how == "time a string":
        state["train_time"] = "x"
    elif how == "losses a string":
        state["rng"]["losses"] = "x"
    elif how == "moment of another shape":
        state["optimizers"]["g"]["state"][0]["exp_avg"] = torch.zeros(7)
    elif how == "G NaN":       # finite-looking file, NaN weights: sample and eval drew NaN, a resume diverged at once
        next(v for v in state["models"]["G"].values() if v.is_floating_point())[0] = float("nan")
    elif how == "moment inf":
        state["optimizers"]["d"]["state"][0]["exp_avg_sq"][0] = float("inf")
    return state


CASES = ["G a list", "step a string", "config a string", "rng missing", "rng 3 bytes", "span a string",
         "time a string", "losses a string", "moment of another shape", "G NaN", "moment inf"]


@pytest.mark.parametrize("how", CASES)
def test_a_checkpoint_of_odd_parts_is_skipped_or_refused_in_one_line(tmp_path, tiny_run_dir, how):
    """Parts no gankit checkpoint holds: skipped as unreadable, the one before taken; moments of
    another shape (seen only against the optimizer): refused in one line."""
    run_dir = tmp_path / "r"
    shutil.copytree(tiny_run_dir, run_dir)
    older, newest = sorted((run_dir / "checkpoints").glob("step_*.pt"))[-2:]
    state = torch.load(newest, weights_only=True)
    assert checkpoint_fault(state) is None
    torch.save(_damage(state, how), newest)
    if how == "moment of another shape":
        with pytest.raises(RunError) as e:
            Run.open(run_dir).close()
        assert "\n" not in str(e.value) and "damaged" in str(e.value), str(e.value)
        return
    assert checkpoint_fault(state)
    with pytest.warns(UserWarning, match=f"skipped unreadable {newest.name}"):
        run = Run.open(run_dir)
    assert run.step == int(older.stem.split("_")[1])
    run.close()


def test_a_short_missing_key_message_keeps_its_key_name(tmp_path, tiny_run_dir):
    run_dir = tmp_path / "r"
    shutil.copytree(tiny_run_dir, run_dir)
    newest = sorted((run_dir / "checkpoints").glob("step_*.pt"))[-1]
    state = torch.load(newest, weights_only=True)
    key = sorted(state["models"]["G"])[-1]
    del state["models"]["G"][key]
    torch.save(state, newest)
    with pytest.raises(RunError, match=f'Missing key\\(s\\) in state_dict: "{key}"'):
        Run.open(run_dir).close()


def test_an_older_good_checkpoint_is_taken_and_resume_sets_the_odd_one_aside(tmp_path, tiny_run_dir):
    run_dir = tmp_path / "r"
    shutil.copytree(tiny_run_dir, run_dir)
    older, newest = sorted((run_dir / "checkpoints").glob("step_*.pt"))[-2:]
    state = torch.load(newest, weights_only=True)
    torch.save(_damage(state, "step a string"), newest)
    with pytest.warns(UserWarning, match=f"skipped unreadable {newest.name} .*its step is '30'"):
        run = Run.open(run_dir)
    assert run.step == int(older.stem.split("_")[1])
    run.close()
