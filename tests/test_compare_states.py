"""gankit compare says what each run is (training, stopped, diverged, trained without its final
evaluation, finished) and how far it got of how many steps, as the report's badge does, and
marks no value of an unfinished run against a finished run's; a config.toml edited into an
invalid value is named, not taken for a difference; names with bidirectional controls are
written out; a text run's data are lines; long panel titles wrap."""
import subprocess
import sys

import pytest
import torch

from gankit import config as C
from gankit.config import ConfigError
from gankit.report import compare as CMP
from gankit.runfolder import RunFolder

FULL = C.dumps_toml(C.load("ring-vanilla", ["train.steps=100"]))


def _run(path, step: int, evals=(), stop: str | None = None, config: str = FULL):
    """A run folder with hand-written records: trained to ``step`` of 100, ``evals`` = [(step,
    numbers)] (at step 100: the final evaluation), a divergence message ``stop``."""
    f = RunFolder(path)
    f.path.mkdir(parents=True)
    f.write_config(config)
    f.append({"step": step, "kind": "train", "loss_d": 1.3, "loss_g": 0.7, "time": 10.0})
    for s, numbers in evals:
        f.append({"step": s, "kind": "eval", **({"source": "final"} if s == 100 else {}), **numbers})
    if stop:
        f.append({"step": step, "kind": "stop", "reason": "diverged", "message": stop})
    return f.path


def _best(data, key="mmd2"):
    return next(m["best"] for m in data["metrics"] if m["key"] == key)


def test_each_run_says_its_state_and_its_step_of_how_many(tmp_path):
    runs = [_run(tmp_path / "done", 100, [(100, {"mmd2": 0.05})]),
            _run(tmp_path / "cut", 40, [(40, {"mmd2": 0.01})]),
            _run(tmp_path / "div", 3, stop="non-finite values at step 3 in loss_d"),
            _run(tmp_path / "noeval", 100, [(80, {"mmd2": 0.02})])]
    data = CMP.compare_data(runs)
    assert [(r["state"], r["step"], r["total_steps"]) for r in data["runs"]] == [
        ("finished", 100, 100), ("stopped", 40, 100), ("diverged", 3, 100), ("unevaluated", 100, 100)]
    assert data["runs"][2]["state_note"].startswith("diverged: non-finite values at step 3 in loss_d (stopped "
                                                    "at step 3 of 100")
    assert '"state": "stopped"' in CMP.to_json(data) and '"total_steps": 100' in CMP.to_json(data)
    text = CMP.to_text(data)
    assert "100 of 100" in text and "40 of 100" in text and "3 of 100" in text
    assert [line.split()[1:] for line in text.splitlines() if line.startswith("state ")] == [
        ["finished", "stopped", "diverged", "no", "final", "eval"]]
    page = CMP.write_compare(runs, tmp_path / "c.html").read_text()
    assert "40 of 100, stopped" in page and "3 of 100, diverged" in page


def test_values_of_unfinished_runs_are_not_marked_against_finished_ones(tmp_path):
    """A run stopped at step 40 with the lowest mmd2 took the star from two finished runs."""
    runs = [_run(tmp_path / "a", 100, [(100, {"mmd2": 0.05})]),
            _run(tmp_path / "b", 100, [(100, {"mmd2": 0.03})]),
            _run(tmp_path / "cut", 40, [(40, {"mmd2": 0.01})])]
    data = CMP.compare_data(runs)
    assert _best(data) == [1]
    assert data["note"] == ("not final: cut stopped (step 40 of 100, evaluated at step 40); their values are not "
                            "marked against those of finished runs")
    assert "0.0100 *" not in CMP.to_text(data)


def test_runs_none_of_which_finished_are_marked_only_at_one_eval_step(tmp_path):
    apart = [_run(tmp_path / "a", 40, [(40, {"mmd2": 0.05})]), _run(tmp_path / "b", 60, [(60, {"mmd2": 0.03})])]
    data = CMP.compare_data(apart)
    assert _best(data) == [] and "values are marked only where every run was evaluated at the same step" in data["note"]
    same = [_run(tmp_path / "c", 40, [(40, {"mmd2": 0.05})]), _run(tmp_path / "d", 40, [(40, {"mmd2": 0.03})])]
    assert _best(CMP.compare_data(same)) == [1]


def test_a_run_being_trained_says_training(tmp_path):
    """A run another process holds (trains) at step 30 of 100 sat beside finished runs as a result."""
    live = _run(tmp_path / "live", 30, [(30, {"mmd2": 0.01})])
    done = _run(tmp_path / "done", 100, [(100, {"mmd2": 0.05})])
    lock = RunFolder(live).lock_path
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, str(os.getpid()).encode())\n"
        "print('held', flush=True); time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        data = CMP.compare_data([live, done])
    finally:
        holder.kill()
        holder.wait()
    assert [r["state"] for r in data["runs"]] == ["training", "finished"]
    assert _best(data) == [] and "live still training (step 30 of 100, evaluated at step 30)" in data["note"]


def test_a_wrong_type_in_config_toml_is_named_with_its_file_not_taken_for_a_difference(tmp_path):
    good = _run(tmp_path / "a", 100, [(100, {"mmd2": 0.05})])
    bad = _run(tmp_path / "b", 100, [(100, {"mmd2": 0.03})], config=FULL.replace("std = 0.01", 'std = "0.01"'))
    with pytest.raises(ConfigError) as e:
        CMP.compare_data([good, bad])
    said = str(e.value)
    assert said.startswith(f"{bad / 'config.toml'} holds an invalid value: data.std: expected a number")
    assert "--set" not in said


def test_bidirectional_controls_in_run_and_class_names_are_written_out(tmp_path):
    """A folder "z<U+202E>evil" showed the rest of compare's sentence reversed."""
    runs = []
    for name, classes in (("run\u202eabc", ["a", "z\u202eevil"]), ("plain", ["a", "b"])):
        path = _run(tmp_path / name, 100, [(100, {"mmd2": 0.05})])
        (path / "checkpoints").mkdir()
        torch.save({"step": 100, "class_names": classes}, path / "checkpoints" / "step_00000100.pt")
        runs.append(path)
    data = CMP.compare_data(runs)
    assert data["runs"][0]["name"] == "run\\u202eabc"
    assert "z\\u202eevil" in data["note"] and "\u202e" not in data["note"]
    page = CMP.write_compare(runs, tmp_path / "c.html").read_text()
    assert "\u202e" not in page


def test_a_text_runs_data_are_distinct_lines_not_images(tmp_path):
    runs = []
    for name, cut in (("txt", [345, 34]), ("txt2", [340, 34])):
        path = _run(tmp_path / name, 100, [(100, {"mmd2": 0.05})])
        (path / "checkpoints").mkdir()
        torch.save({"step": 100, "data_cut": cut, "data_split": name}, path / "checkpoints" / "step_00000100.pt")
        runs.append(path)
    note = CMP.compare_data(runs)["note"]
    assert "the data's distinct lines (txt: 345 distinct lines (34 held out); txt2: 340 distinct lines" in note
    assert "images" not in note


def test_long_panel_titles_wrap_within_their_panel():
    long = {"key": "c2st_acc", "label": "C2ST accuracy (0.5 = indistinguishable; below 0.5: G repeats data "
            "points, not a better G)", "better": None}
    (title, _, _), = CMP._panels([[]], [long])
    assert len(title.splitlines()) == 2 and max(map(len, title.splitlines())) <= 48


def test_a_run_whose_own_components_are_unknown_here_is_compared_as_written(tmp_path):
    """Its config cannot be checked without its code (a script's own metric): compared from its
    records as before, its state read from config.toml's [train]."""
    mine = FULL.replace("metrics = []", 'metrics = ["mine"]')
    own = _run(tmp_path / "own", 40, [(40, {"mmd2": 0.01})], config=mine)
    done = _run(tmp_path / "done", 100, [(100, {"mmd2": 0.05})])
    data = CMP.compare_data([own, done])
    assert [(r["state"], r["total_steps"]) for r in data["runs"]] == [("stopped", 100), ("finished", 100)]
