"""A disk that fills after an evaluation's record (at the reference row, at report.html) said
"run the command again" without the numbers recorded, or warned of the report with a class
name, two fixes and "its numbers are kept" before a training that had failed."""
from __future__ import annotations

import errno
import json
import shutil

import gankit.runfolder as rf
import gankit.runfolder.records as rf_records
from gankit.cli import main

FULL = OSError(errno.ENOSPC, "No space left on device")


def test_a_disk_full_at_the_reference_row_tells_the_evaluation_recorded_and_its_numbers(tiny_run_dir, tmp_path,
                                                                                       monkeypatch, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_run_dir, run)
    real = rf_records.append_jsonl

    def append(path, record):
        if record.get("kind") == "reference":
            raise FULL
        return real(path, record)
    monkeypatch.setattr(rf_records, "append_jsonl", append)
    assert main(["eval", str(run), "--metrics", "modes"]) == 1
    [line] = [s for s in capsys.readouterr().err.splitlines() if s.startswith("gankit:")]
    records = [json.loads(s) for s in (run / "metrics.jsonl").read_text().splitlines()]
    [ev] = [r for r in records if r.get("source") == "gankit eval"]
    assert not [r for r in records if r["kind"] == "reference"]
    assert line.startswith(f"gankit: error: disk full while writing a record to {run / 'metrics.jsonl'}"), line
    assert f"the evaluation of step 30 was recorded (modes_covered {ev['modes_covered']}, modes_total 8" in line, line
    assert line.endswith("only the reference row was not (run again, the command records the evaluation once more)")


def _train_with_full_report(tmp_path, tiny, monkeypatch, full_at_checkpoint: int | None):
    real_text, real_save = rf.write_text_atomic, rf.save_atomic

    def text(path, content):
        if str(path).endswith("report.html"):
            raise FULL
        return real_text(path, content)

    def save(state, path):
        if full_at_checkpoint is not None and str(path).endswith(f"step_{full_at_checkpoint:08d}.pt"):
            raise FULL
        return real_save(state, path)
    monkeypatch.setattr(rf, "write_text_atomic", text)
    monkeypatch.setattr(rf, "save_atomic", save)
    argv = ["train", "ring", "--out", str(tmp_path / "r"), "--set", "train.live_report=false", "--set",
            'eval.metrics=["modes"]'] + [a for kv in tiny for a in ("--set", kv)]
    return main(argv)


def test_a_report_not_rebuilt_after_training_failed_is_said_in_a_clause(tmp_path, tiny, monkeypatch, capsys):
    assert _train_with_full_report(tmp_path, tiny, monkeypatch, full_at_checkpoint=20) == 1
    err = [s for s in capsys.readouterr().err.splitlines() if s.startswith("gankit:")]
    report = tmp_path / "r" / "report.html"
    assert len(err) == 2 and err[0].startswith(f"gankit: warning: report.html not rebuilt (disk full while writing "
                                               f"{report} (") and err[0].endswith(" MB free))"), err
    assert "RunFolderError" not in err[0] and "numbers are kept" not in err[0] and "--resume" not in err[0]
    assert err[1].startswith("gankit: error: disk full while writing") and "step_00000020.pt" in err[1]


def test_a_report_the_full_disk_refuses_after_training_and_evaluation_fails_nothing(tmp_path, tiny, monkeypatch,
                                                                                   capsys):
    """The run folder's RunFolderError (not a bare OSError) made the command exit 1 without
    printing the numbers, advising a --resume that has nothing left to train."""
    assert _train_with_full_report(tmp_path, tiny, monkeypatch, full_at_checkpoint=None) == 0
    captured = capsys.readouterr()
    [warned] = [s for s in captured.err.splitlines() if "report.html" in s]
    assert warned.startswith(f"gankit: warning: report.html not written: disk full while writing "
                             f"{tmp_path / 'r' / 'report.html'}"), warned
    assert warned.endswith(f"free some space; the run and its numbers are kept: gankit report {tmp_path / 'r'} "
                           "writes it") and "--resume" not in warned, warned
    assert "modes covered" in captured.out
