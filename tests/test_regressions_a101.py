"""Audit a101: records handed to a caller are its own, an interrupted command's suggested command
can be pasted and keeps a resume's --set, and an old reference row missing a metric's newer key
is measured again."""
import json
import os
import shutil
import signal

import pytest

from gankit import cli, cli_train
from test_interrupt_lines import lines, run_main, stop_with


@pytest.fixture
def run_copy(tiny_run_dir, tmp_path):
    shutil.copytree(tiny_run_dir, tmp_path / "my run")     # a space: the command must quote it
    return tmp_path / "my run"


def test_read_metrics_returns_copies_that_a_caller_may_edit(run_copy):
    """A notebook's edit of what read_metrics gave reached compare, the report and a second read."""
    from gankit.report import read_metrics
    from gankit.runfolder import RunFolder
    first = read_metrics(run_copy)
    ev = [r for r in first if r.get("kind") == "eval" or "settings" in r] or first
    ev[-1]["step"] = -1
    ev[-1].pop("settings", None)
    for r in first:
        for v in r.values():
            if isinstance(v, list):
                v.append("edited")
            elif isinstance(v, dict):
                v["edited"] = True
    shared = RunFolder(run_copy).records()
    assert all(r.get("step") != -1 for r in shared) and all(r.get("step") != -1 for r in read_metrics(run_copy))
    assert "edited" not in json.dumps(shared) and "edited" not in json.dumps(read_metrics(run_copy))
    assert read_metrics(run_copy) == [json.loads(x) for x in (run_copy / "metrics.jsonl").read_text().splitlines()
                                      if x.strip()]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_resume_with_set_stopped_before_its_config_is_written_repeats_the_set(run_copy, monkeypatch, capsys, sig):
    """It said "continue with gankit train --resume --out R": config.toml did not hold the new
    train.steps yet, so that command trained nothing."""
    monkeypatch.setattr(cli_train, "_train", stop_with(sig))
    value = 'eval.metrics=["modes", "jsd"]'
    assert run_main(["train", "--resume", "--out", run_copy, "--set", "train.steps=400", "--set", value]) == 128 + sig
    assert lines(capsys) == [f"gankit: train stopped by {signal.Signals(sig).name}: {run_copy} keeps what was "
                             f"written; continue with gankit train --resume --out '{run_copy}' --set "
                             f"train.steps=400 --set '{value}'"]


def test_a_resume_stopped_before_it_began_says_nothing_was_changed(run_copy, monkeypatch, capsys):
    """It said "no run folder was written" about the existing run being resumed."""
    monkeypatch.setattr(cli, "_one_process_only", stop_with(signal.SIGINT))
    assert run_main(["train", "--resume", "--out", run_copy, "--set", "train.steps=400"]) == 130
    assert lines(capsys) == ["gankit: train stopped by SIGINT: nothing was changed; continue with gankit train "
                             f"--resume --out '{run_copy}' --set train.steps=400"]
    assert run_main(["train", "--resume", "--out", run_copy.parent / "none"]) == 130
    assert lines(capsys) == ["gankit: train stopped by SIGINT: nothing was changed; run the same command again"]


def test_a_fresh_run_stopped_names_the_resume_without_its_set_and_quoted(tmp_path, monkeypatch, capsys):
    """config.toml holds a fresh run's --set: the resume needs none; the folder is quoted."""
    out = tmp_path / "new run"

    def written(a, folder):
        out.mkdir()
        (out / "config.toml").write_text("")
        raise KeyboardInterrupt
    monkeypatch.setattr(cli_train, "_train", written)
    assert run_main(["train", "ring", "--out", out, "--set", "train.steps=400"]) == 130
    assert lines(capsys) == [f"gankit: train stopped by SIGINT: {out} keeps what was written; continue with "
                             f"gankit train --resume --out '{out}'"]


def test_drs_stopped_names_its_own_options_quoted(run_copy, monkeypatch, capsys):
    """`gankit drs my run` split the folder in two and left out --steps."""
    monkeypatch.setattr(cli, "_one_process_only", stop_with(signal.SIGINT))
    assert run_main(["drs", run_copy, "--steps", "3000", "--lr", "1e-05"]) == 130
    assert lines(capsys) == ["gankit: drs stopped by SIGINT: the run is left as it was (no sampler kept); run "
                             f"gankit drs '{run_copy}' --steps 3000 --lr 1e-05 again"]


def test_a_second_signal_in_a_resume_names_its_set_quoted(run_copy, monkeypatch, capsys):
    from gankit.train.signals import TrainingInterrupted

    def second(a, out):
        raise TrainingInterrupted(signal.SIGINT, "stopped at once by a second SIGINT; the last checkpoint "
                                                 "written is kept", at_once=True)
    monkeypatch.setattr(cli_train, "_train", second)
    assert run_main(["train", "--resume", "--out", run_copy, "--set", "train.steps=400"]) == 130
    assert lines(capsys) == ["gankit: stopped at once by a second SIGINT; the last checkpoint written is kept; "
                             f"continue with gankit train --resume --out '{run_copy}' --set train.steps=400"]


def _rewrite(path, records):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in records))
    os.replace(tmp, path)


def test_an_old_reference_without_a_newer_key_is_measured_again(run_copy):
    """A reference recorded before c2st gained c2st_gap covered c2st by name: the report's
    real-data cell for c2st_gap stayed empty."""
    from gankit import api
    run = api.open_run(run_copy)
    try:
        api.evaluate(run, ["c2st"])
        path = run_copy / "metrics.jsonl"
        old = [json.loads(x) for x in path.read_text().splitlines()]
        for r in old:
            r.pop("c2st_gap", None)
            if r.get("kind") == "reference":
                r["metrics"] = []       # all: as an old run's final evaluation recorded it
        _rewrite(path, old)
        api.evaluate(run, ["c2st"])
        refs = run.folder.records("reference")
        assert len(refs) == 2 and "c2st_gap" in refs[-1]
        api.evaluate(run, ["c2st"])     # now covered: not measured again
        assert len(run.folder.records("reference")) == 2
    finally:
        run.close()


def test_a_users_metric_giving_part_of_its_outputs_on_real_data_keeps_its_reference():
    # an inverse-dependent key has no real-data value: the reference row is not old for that
    # (it was measured again at every gankit eval); an edit of the metric is caught by its hash
    from gankit import api
    from gankit.api import _holds_keys

    @api.register_metric("part_out", lambda ds: True, "x",
                         {"pa": api.Output("a", "lower"), "pb": api.Output("b", "lower")})
    def part(ctx):
        return {}
    assert _holds_keys({"pa": 1.0}, ["pa", "pb"])
    assert not _holds_keys({"c2st_acc": 0.5}, ["c2st_acc", "c2st_gap"])     # gankit's own: measured again


def test_drs_stopped_on_a_folder_named_like_an_option_names_it_as_a_path():
    import argparse

    from gankit.cli_errors import interrupted_line
    a = argparse.Namespace(command="drs", run_dir="-dash", steps=None, quantile=None, lr=1e-4)
    assert "run gankit drs ./-dash --lr 0.0001 again" in interrupted_line(a, KeyboardInterrupt())
