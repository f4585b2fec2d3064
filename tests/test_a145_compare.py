"""Audit a145, watching and comparing runs: a config.toml edited after training (data.radius,
seed) was used silently by report (a page stating seed 5, real points on a ring of radius 2 under
G's samples of a radius-1 run) and by compare (the reverse edit ranked runs on different data),
where eval refuses it; compare's note named a setting "eval.sampler" that does not exist; control
characters in run, class and metric names reached figures (a matplotlib warning per glyph),
the page's title and the metric table raw, and the provenance row's command, pasted, named
another folder; past 32 runs compare's styles repeated without a word."""
from __future__ import annotations

import shutil
import subprocess
import tomllib
import warnings

import numpy as np

from gankit import config as C
from gankit.cli import main
from gankit.report import compare as CMP
from gankit.report import write_report
from gankit.report.provenance import sessions
from gankit.runfolder import RECOVERED_CONFIG, RunFolder
from gankit.train.run import Run

SETTINGS = {"n_samples": 500, "metrics": ["jsd", "modes"], "jsd_bins": 200, "jsd_samples": 2000, "threads": 0}


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def _edit(run, **changes):
    """config.toml with ``changes`` ({"data.radius": 2.0}) written by hand."""
    raw = tomllib.loads((run / "config.toml").read_text())
    overrides = [f"{k}={v!r}" for k, v in changes.items()]
    (run / "config.toml").write_text("# edited\n" + C.dumps_toml(C.load(raw, overrides)))


def _evaluated(run, **numbers):
    RunFolder(run).append({"step": 30, "kind": "eval", "source": "final", "settings": SETTINGS, **numbers})
    return run


def test_report_refuses_a_config_edited_after_training_in_evals_words(tiny_run_dir, tmp_path, capsys):
    run = _copy(tiny_run_dir, tmp_path / "run")
    _edit(run, **{"data.radius": 2.0, "seed": 5})
    before = (run / "report.html").read_bytes() if (run / "report.html").exists() else None
    assert main(["report", str(run)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert f"{run / 'config.toml'} differs from the run's checkpoints in data.radius, seed (edited by hand?)" in err
    assert f"config is now in {run / RECOVERED_CONFIG}" in err, err
    now = (run / "report.html").read_bytes() if (run / "report.html").exists() else None
    assert now == before                                              # no page of the edited config
    (run / RECOVERED_CONFIG).replace(run / "config.toml")             # what the message says to do
    assert main(["report", str(run)]) == 0
    assert "seed <b>0</b>" in (run / "report.html").read_text()


def test_report_takes_an_edit_that_does_not_define_the_run(tiny_run_dir, tmp_path):
    """train.* (a later --resume --set train.steps=N), eval.* and the data's place may change."""
    run = _copy(tiny_run_dir, tmp_path / "run")
    _edit(run, **{"train.steps": 60, "eval.n_samples": 300})
    assert write_report(run).is_file() and not (run / RECOVERED_CONFIG).exists()


def test_report_takes_the_datas_new_place_written_into_config_toml(tmp_path, tiny):
    np.save(tmp_path / "p.npy", np.random.default_rng(0).normal(size=(300, 2)).astype(np.float32))
    Run.create(C.load("ring", tiny + ["data.name='points'", f"data.path='{tmp_path / 'p.npy'}'"]),
               tmp_path / "run").train().close()
    (tmp_path / "p.npy").rename(tmp_path / "moved.npy")
    _edit(tmp_path / "run", **{"data.path": str(tmp_path / "moved.npy")})
    assert main(["report", str(tmp_path / "run")]) == 0


def test_compare_marks_nothing_of_an_edited_run_and_names_it(tiny_run_dir, tmp_path, tiny):
    """Trained at radius 2, config.toml edited to radius 1: its numbers were ranked against a
    radius-1 run's (and the forward edit said the runs differ in data.radius)."""
    a = _evaluated(_copy(tiny_run_dir, tmp_path / "a"), jsd=0.30, modes_covered=6)
    b = tmp_path / "b"
    Run.create(C.load("ring", tiny + ["data.radius=2.0"]), b).train().close()
    _evaluated(b, jsd=0.10, modes_covered=8)
    _edit(b, **{"data.radius": 1.0})
    data = CMP.compare_data([a, b], curves=False)
    assert all(1 not in m["best"] for m in data["metrics"]), data["metrics"]
    assert "b: its config.toml differs from its checkpoints in data.radius (edited by hand?" in data["note"]
    assert "b: its config.toml differs" in CMP.to_text(data)
    assert not (b / RECOVERED_CONFIG).exists()                        # compare only reads the runs
    c = _evaluated(_copy(tiny_run_dir, tmp_path / "c"), jsd=0.20, modes_covered=7)
    _edit(c, **{"data.radius": 2.0, "seed": 5})                       # the forward edit, beside a and b
    d = _evaluated(_copy(tiny_run_dir, tmp_path / "d"), jsd=0.25, modes_covered=6)
    data = CMP.compare_data([a, b, c, d], curves=False)
    assert "differ in data.radius" not in data["note"] and "c: its config.toml differs from its checkpoints in " \
        "data.radius, seed" in data["note"], data["note"]
    assert {m["key"]: m["best"] for m in data["metrics"]}["jsd"] == [3]      # a and d are still ranked


def _hand_run(path, settings: dict, numbers: dict, steps: int = 100):
    f = RunFolder(path)
    f.path.mkdir(parents=True)
    f.write_config(f"seed = 0\n[train]\nsteps = {steps}\n")
    f.append({"step": steps, "kind": "train", "loss_d": 1.3, "loss_g": 0.7, "time": 1.0})
    f.append({"step": steps, "kind": "eval", "settings": {**SETTINGS, **settings}, **numbers})
    return f.path


def test_compares_sampler_note_names_what_drew_the_samples(tmp_path):
    a = _hand_run(tmp_path / "drs", {"sampler": "drs"}, {"jsd": 0.2})
    b = _hand_run(tmp_path / "g", {}, {"jsd": 0.3})
    data = CMP.compare_data([a, b], curves=False)
    jsd = {m["key"]: m for m in data["metrics"]}["jsd"]
    assert jsd["best"] == [] and jsd["settings_differ"] == ["sampler"]
    assert "measured with different eval settings (sampler: DRS (objective.drs) / G alone)" in data["note"]
    assert "eval.sampler" not in data["note"]
    c = _hand_run(tmp_path / "n", {"jsd_samples": 500}, {"jsd": 0.3})
    assert "(eval.jsd_samples 2000 / 500)" in CMP.compare_data([b, c], curves=False)["note"]


ESC = "esc\x1b[31mRED\x1b]0;title\x07"


def test_control_characters_reach_no_figure_nor_page_raw(tiny_run_dir, tmp_path):
    a = _copy(tiny_run_dir, tmp_path / "a")
    e = _copy(tiny_run_dir, tmp_path / ESC)
    RunFolder(e).append({"step": 30, "kind": "eval", "settings": SETTINGS, "jsd": 0.2,
                         "k\x1b[2J": 0.5, "rl\u202eo": 0.25})
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        CMP.write_compare([a, e], tmp_path / "cmp.html")
        page = write_report(e).read_text()
    assert not [str(w.message) for w in seen if "Glyph" in str(w.message)]
    cmp = (tmp_path / "cmp.html").read_text()
    for text in (page, cmp):
        assert "\x1b" not in text and "\x07" not in text
    assert "<title>gankit run: esc\\x1b[31mRED\\x1b]0;title\\x07</title>" in page
    assert "<code>k\\x1b[2J</code>" in page and "<code>rl\\u202eo</code>" in page and "\u202e" not in page


def test_the_provenance_command_pastes_back_the_same_folder():
    folder = "runs/q'\u202erlo"
    rows = sessions([{"step": 0, "kind": "session", "command": f"gankit train ring --out 'runs/q'\"'\"'\u202erlo'"}])
    command = rows[0]["command"]
    assert command == "gankit train ring --out $'runs/q\\'\\xe2\\x80\\xaerlo'"
    word = command.split(" --out ")[1]
    shell = subprocess.run(["bash", "-c", f"printf %s {word}"], capture_output=True, check=True).stdout
    assert shell.decode() == folder
    plain = sessions([{"step": 0, "kind": "session", "command": "gankit train ring --out 'my run'"}])
    assert plain[0]["command"] == "gankit train ring --out 'my run'"


def test_past_32_runs_the_page_says_which_share_a_style(tmp_path):
    from gankit.report.compare_curves import shared_styles_note
    names = [f"r{i:03d}" for i in range(1, 35)]
    assert shared_styles_note(names[:32]) == ""
    note = shared_styles_note(names)
    assert "r001 = r033; r002 = r034" in note and "4 runs share a style" in note
    runs = [_hand_run(tmp_path / n, {}, {"jsd": 0.1}) for n in names[:33]]
    page = CMP.write_compare(runs, tmp_path / "cmp.html").read_text()
    assert "33 runs, 32 styles" in page and "r001 = r033" in page


def test_few_runs_get_no_such_note(tmp_path):
    runs = [_hand_run(tmp_path / f"r{i}", {}, {"jsd": 0.1}) for i in range(3)]
    assert "share a style" not in CMP.write_compare(runs, tmp_path / "cmp.html").read_text()
