"""Run folders and sweep records of an older gankit used by this one: options added since are no
difference (they ran at today's defaults), neither to a run's identity nor to compare or a
resume's session record (audit a105 F3, F4)."""
import json
import shutil
import tomllib

import pytest
import tomli_w

from gankit import config as C
from gankit.cli import main
from gankit.identity import ADDED_OPTIONS, run_identity
from gankit.report import compare as CMP

LATE = [("words", ("objective", "gumbel_hard")), ("seqgan-oracle", ("objective", "gumbel_hard")),
        ("mnist-infogan", ("objective", "q_batchnorm"))]


def _without(d: dict, keys) -> dict:
    """A resolved config as a gankit before ``keys`` existed wrote it."""
    d = json.loads(json.dumps(d))
    for section, key in keys:
        node = d if section == "" else d.get(section)
        if isinstance(node, dict):
            node.pop(key, None)
    return d


@pytest.mark.parametrize("preset,key", LATE)
def test_an_option_added_since_leaves_a_runs_identity_as_it_was(preset, key):
    cfg = C.load(preset)
    assert key[1] in C.to_dict(cfg)[key[0]]
    assert run_identity(_without(C.to_dict(cfg), [key])) == run_identity(cfg)
    other = not ADDED_OPTIONS[key]
    assert run_identity(C.load(preset, [f"{key[0]}.{key[1]}={str(other).lower()}"])) != run_identity(cfg)


def test_sweep_resume_reuses_records_of_either_identity_an_older_gankit_gave(tmp_path, monkeypatch):
    """Records made before objective.gumbel_hard existed, and those made while it was missing
    from ADDED_OPTIONS (their identity holds it), both stand for today's job."""
    from gankit import identity
    from gankit.sweep import Job
    from gankit.sweep_table import reuse
    jobs = [Job("a", "words", [], 0), Job("b", "words", [], 1)]
    before = run_identity(_without(C.to_dict(jobs[0].config()), [("objective", "gumbel_hard")]))
    entries = {k: v for k, v in ADDED_OPTIONS.items() if k != ("objective", "gumbel_hard")}
    monkeypatch.setattr(identity, "ADDED_OPTIONS", entries)
    between = run_identity(jobs[1].config())
    monkeypatch.undo()
    assert between != jobs[1].identity
    path = tmp_path / "s.jsonl"
    path.write_text("".join(json.dumps({"label": "x", "seed": s, "config_hash": h, "nll_test": 1.5}) + "\n"
                            for s, h in ((0, before), (1, between))))
    found, todo = reuse(jobs, path)
    assert not todo and [(r["label"], r["seed"]) for r in found] == [("a", 0), ("b", 1)]


@pytest.fixture
def old_and_new(tmp_path, tiny_cli):
    """A tiny run, and a copy whose config.toml lacks every option added since runs were
    recorded (as a gankit before them wrote it): the same run."""
    new = tmp_path / "new"
    assert main(["train", "ring", "--out", str(new), *tiny_cli]) == 0
    old = tmp_path / "old"
    shutil.copytree(new, old)
    raw = tomllib.loads((old / "config.toml").read_text())
    raw = _without(raw, ADDED_OPTIONS)
    raw["eval"]["hq_std"] = 3.0          # its default then; None now ("follow the data"): 3.0 in 2-D
    (old / "config.toml").write_text(tomli_w.dumps(raw))
    assert "standardize" not in raw["data"] and "pr_k" not in raw["eval"]
    return old, new


def test_compare_counts_no_option_added_since_as_a_difference(old_and_new, capsys):
    old, new = old_and_new
    data = CMP.compare_data([old, new])
    assert data["config_diff"] == [] and not data["note"].startswith("no value is marked better")
    assert [m["settings_differ"] for m in data["metrics"] if m["key"] == "jsd"] == [[]]
    capsys.readouterr()
    assert main(["compare", str(old), str(new), "--text"]) == 0
    text = capsys.readouterr().out
    assert "configs: identical" in text and "differ in" not in text
    # a real difference is still one: here config.toml edited after training, which compare names
    raw = tomllib.loads((old / "config.toml").read_text())
    raw["data"]["n_modes"] = raw["data"].get("n_modes", 8) + 1
    (old / "config.toml").write_text(tomli_w.dumps(raw))
    data = CMP.compare_data([old, new])
    assert f"{old.name}: its config.toml differs from its checkpoints in data.n_modes" in data["note"]
    assert not any(0 in (m.get("best") or []) for m in data["metrics"])


def test_a_resume_lists_no_option_added_since_as_changed():
    from gankit.train.watch import config_changes
    cfg = C.to_dict(C.load("ring", ["train.steps=30"]))
    old = _without(cfg, ADDED_OPTIONS)
    assert config_changes(old, cfg) == {}
    now = C.to_dict(C.load("ring", ["train.steps=40", "data.standardize=\"global\""]))
    assert config_changes(old, now) == {"train.steps": [30, 40], "data.standardize": ["none", "global"]}


def test_a_points_run_from_before_data_standardize_opens_as_it_trained(tmp_path, tiny_cli, capsys):
    """A points file's default became global; a config.toml written before the option existed
    has no data.standardize and trained raw: it still opens as that run (sample, eval), and a
    resume lists nothing as changed."""
    import numpy as np

    from gankit.train.run import Run
    from gankit.train.watch import config_changes
    pts = tmp_path / "pts.npy"
    np.save(pts, np.random.default_rng(0).normal(size=(300, 2)).astype(np.float32))
    run = tmp_path / "old"
    sets = ["--set", "data.name=points", "--set", f"data.path='{pts}'", "--set", "data.standardize=none"]
    assert main(["train", "ring-vanilla", "--out", str(run), *tiny_cli, *sets]) == 0
    raw = tomllib.loads((run / "config.toml").read_text())
    del raw["data"]["standardize"]
    (run / "config.toml").write_text(tomli_w.dumps(raw))
    opened = Run.open(str(run))
    assert opened.cfg.data.params["standardize"] == "none" and opened.scaler is None
    capsys.readouterr()
    assert main(["sample", str(run), "-n", "5", "--out", str(tmp_path / "s.npy")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (5, 2)
    assert config_changes(raw, C.to_dict(opened.cfg)) == {}
