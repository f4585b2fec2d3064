"""gankit sweep when --results, its lock or TMPDIR cannot be written: refused before any training
where it can be known, one line naming the file and the fix, a measured run's numbers shown when
they cannot be recorded, no torn line left.  Disks are simulated (ENOSPC, EACCES raised by the
calls that would meet them); runs are canned records, made in this process."""
import argparse
import errno
import json
import os
from concurrent.futures import Future

import pytest

from gankit import sweep as S

TINY = ["train.steps=5", "train.batch_size=16", "generator.hidden=[8, 8]", "discriminator.hidden=[8, 8]"]


def _cli(argv):
    parser = argparse.ArgumentParser(prog="gankit")
    S.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sweep", *argv])
    return args.fn(args)


class _InProcess:
    """ProcessPoolExecutor's part a sweep uses, running each job at submission."""

    def __init__(self, *a, **k):
        self._processes = {}

    def submit(self, fn, *args):
        f = Future()
        f.set_result(fn(*args))
        return f

    def shutdown(self, *a, **k):
        pass


@pytest.fixture
def canned(monkeypatch):
    """Runs that train nothing: each job's record is made at once."""
    trained = []

    def work(job, metrics, tmp_root, i, command_line=False):
        trained.append((job.label, job.seed))
        return ("ok", {"label": job.label, "source": job.source, "overrides": job.overrides, "seed": job.seed,
                       "config_hash": job.identity, "steps": 5, "modes_covered": 6 + job.seed, "cpu_s": 0.5})
    monkeypatch.setattr(S, "ProcessPoolExecutor", _InProcess)
    monkeypatch.setattr(S, "_work", work)
    return trained


def _disk_full_for(monkeypatch, name, room=20):
    """Writes to the file ``name`` put ``room`` bytes on the disk, then fail with ENOSPC."""
    real = os.write
    left = [room]

    def write(fd, data):
        if os.readlink(f"/proc/self/fd/{fd}").endswith(name):
            if left[0] <= 0:
                raise OSError(errno.ENOSPC, "No space left on device")
            data, left[0] = bytes(data)[:left[0]], 0
        return real(fd, data)
    monkeypatch.setattr(os, "write", write)


def test_a_full_disk_at_the_append_shows_the_numbers_and_leaves_no_torn_line(tmp_path, canned, monkeypatch,
                                                                               capsys):
    res = tmp_path / "res.jsonl"
    kept = json.dumps({"label": "old", "seed": 0, "config_hash": "x", "modes_covered": 8}) + "\n"
    res.write_text(kept)
    _disk_full_for(monkeypatch, "res.jsonl")
    sets = [a for o in TINY for a in ("--set", o)]
    assert _cli(["ring", "--seeds", "2", "--workers", "1", "--results", str(res), *sets]) == 1
    out, err = capsys.readouterr()
    assert res.read_text() == kept                          # as it was: no torn '{"label": "ring", ' line
    assert "ring seed 0: modes_covered 6" in err and "ring seed 1: modes_covered 7" in err
    said = sorted(line for line in err.splitlines() if "not recorded" in line)
    assert len(said) == 3, err                              # one per run, then the summary
    for seed, line in enumerate(said[1:]):
        assert line.startswith(f"ring seed {seed}: measured, not recorded: cannot write {res}: the disk is full (")
        assert line.endswith("; free some space, then rerun the same command with --resume (runs recorded in "
                             "res.jsonl are reused)")
    assert said[0].startswith(f"gankit: 2 of 2 runs measured but not recorded in {res}")
    assert "| ring | 2 |" in out                             # the table still has them
    assert "Traceback" not in err


def test_a_torn_line_left_by_a_kill_is_skipped_with_a_warning_and_the_next_record_starts_a_line(tmp_path):
    res = tmp_path / "res.jsonl"
    res.write_text('{"label": "a", "config_hash": "h"}\n{"label": "ring", ')
    S._append(res, {"label": "b", "config_hash": "k"})
    said = []
    assert [r["label"] for r in S.read_results(res, log=said.append)] == ["a", "b"]
    assert len(said) == 1 and "res.jsonl:2: damaged record skipped" in said[0]


def test_a_read_only_results_file_is_refused_before_any_training(tmp_path, canned, monkeypatch):
    import gankit.io
    res = tmp_path / "res.jsonl"
    res.write_text("")
    real = gankit.io.open_in_place

    def refuse(path, flags, *a):
        if str(path) == str(res) and flags & (os.O_WRONLY | os.O_RDWR):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path, flags, *a)
    monkeypatch.setattr(gankit.io, "open_in_place", refuse)
    with pytest.raises(OSError) as e:
        S.run_sweep([S.Job("a", "ring", TINY, 0)], res, workers=1, log=lambda m: None)
    assert canned == []                                      # nothing trained for a record it could not keep
    assert str(e.value) == (f"cannot write {res}: the file is not writable (Permission denied); make it writable "
                            "or give --results another file, then rerun the same command")


def test_a_full_disk_at_the_lock_names_the_lock_file_and_the_fix(tmp_path, canned, monkeypatch):
    import gankit.io

    def full(path):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(gankit.io, "lock_file", full)
    res = tmp_path / "res.jsonl"
    with pytest.raises(OSError) as e:
        S.run_sweep([S.Job("a", "ring", TINY, 0)], res, workers=1, log=lambda m: None)
    said = str(e.value)
    assert said.startswith(f"cannot write {res}.lock: the disk is full (") and " MB free)" in said
    assert said.endswith("; free some space, then rerun the same command") and canned == []


def test_a_full_tmpdir_names_tmpdir_not_the_deleted_run_folder(tmp_path, monkeypatch):
    from gankit.runfolder import RunFolderError
    tmp_root = str(tmp_path / "gankit-sweep-abc")
    os.mkdir(tmp_root)

    def run_job(job, metrics, tmp_root=None):
        run = f"{tmp_root}/gankit-sweep-xyz/run"
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:     # as RunFolder says it
            raise RunFolderError(f"disk full while writing {run}/metrics.jsonl (0.0 MB free); free some space, "
                                 f"then run the command again (training: gankit train --resume --out {run})") from None
    monkeypatch.setattr(S, "run_job", run_job)
    _, _, said = S._work(S.Job("a", "ring", TINY, 0), None, tmp_root, 0)
    assert said.startswith(f"disk full in the sweep's temporary run folders under TMPDIR={tmp_path} (")
    assert "point TMPDIR at a drive with room" in said and "--out" not in said
