"""gankit compare's names and table: a sweep's repeated folder names told apart by the shortest
path ends (audit a135 F4: full absolute paths), runs apart only in where their points lie ranked
(a134 item 2), and a --text column as wide as its widest cell (a135 F2)."""
import shutil

import numpy as np

from gankit.cli import main
from gankit.report import compare as CMP
from gankit.report.compare_text import to_text
from gankit.runfolder import RunFolder


def test_repeated_folder_names_are_told_apart_by_their_last_parts(tmp_path):
    sweep = tmp_path / "sweep_long_directory_name_for_experiments"
    folders = [RunFolder(sweep / lr / seed) for lr in ("lr_0.001", "lr_0.01") for seed in ("seed_1", "seed_2")]
    assert CMP._names(folders) == ["lr_0.001/seed_1", "lr_0.001/seed_2", "lr_0.01/seed_1", "lr_0.01/seed_2"]
    assert CMP._names([RunFolder(tmp_path / "a"), RunFolder(tmp_path / "b")]) == ["a", "b"]
    # as many parts for every run, though one path's end already tells it apart
    deep = [RunFolder(tmp_path / "x" / "run"), RunFolder(tmp_path / "y" / "x" / "run")]
    assert CMP._names(deep) == [f"{tmp_path.name}/x/run", "y/x/run"]


def test_runs_apart_only_in_where_their_points_lie_are_ranked(tmp_path, tiny):
    """One run and its copy, the points file moved and recorded with --resume --set data.path=NEW:
    compare said "the runs differ in data.path, so their numbers measure different things" (the
    same points and nets: their values tie, so the note is what tells the ranking from a refusal)."""
    data = tmp_path / "data"
    data.mkdir()
    np.save(data / "p.npy", np.random.default_rng(0).normal(size=(300, 2)).astype(np.float32))
    sets = [a for kv in tiny + ["data.name='points'", f"data.path='{data / 'p.npy'}'", "train.steps=10",
                                "eval.metrics=['mmd']", "eval.n_samples=100"] for a in ("--set", kv)]
    assert main(["train", "ring-vanilla", "--out", str(tmp_path / "a"), *sets]) == 0
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    (data).rename(tmp_path / "moved")
    assert main(["train", "--resume", "--out", str(tmp_path / "b"), "--set",
                 f"data.path='{tmp_path / 'moved' / 'p.npy'}'"]) == 0
    out = CMP.compare_data([tmp_path / "a", tmp_path / "b"])
    assert [d["key"] for d in out["config_diff"]] == ["data.path"]       # still listed
    assert "data.path" not in out["note"] and not out["note"].startswith("no value is marked better")


def _data(cells: list[str]) -> dict:
    runs = [{"name": n, "step": 100, "total_steps": 100, "state": "finished", "eval_step": 100}
            for n in ("a", "b")]
    return {"runs": runs, "note": "", "metrics": [{"key": "kl", "better": "lower", "shown": cells, "best": [1]}],
            "config_diff": [{"key": "loss.name", "values": ["a_very_long_loss_name_indeed", "hinge"]}]}


def test_text_columns_are_as_wide_as_their_widest_cell():
    lines = to_text(_data(["1.000e+400", "123456789012.5"])).splitlines()
    table = [ln for ln in lines if ln.split() and ln.split()[0] in ("run", "step", "kl", "loss.name")]
    ends = {len(ln.split("  (")[0].rstrip()) for ln in table}
    assert len(ends) == 1, "\n".join(table)          # every row's last column ends at one place
    run_row = table[0]
    assert [run_row.index(n) + len(n) for n in ("a", "b")] == [
        table[-1].index(c) + len(c) for c in ('"a_very_long_loss_name_indeed"', '"hinge"')]
