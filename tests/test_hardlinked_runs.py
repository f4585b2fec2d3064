"""A hard-linked copy of a run (cp -al, a hard-link snapshot) shared metrics.jsonl and the lock
file with the original: resuming or evaluating the copy appended to the original's records, and
the copy was "in use" by the process training the original."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

from gankit.cli import main
from gankit.io.locks import lock_holder
from gankit.runfolder import LOCK_NAME, RunFolder
from gankit.runfolder.lock import FolderInUse


def _linked_copy(tiny_run_dir, tmp_path):
    original, copy = tmp_path / "H1", tmp_path / "H2"
    shutil.copytree(tiny_run_dir, original)
    subprocess.run(["cp", "-al", str(original), str(copy)], check=True)
    assert os.stat(original / "metrics.jsonl").st_nlink == 2
    return original, copy


def _files(folder) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_hard_linked_copy_resumed_and_evaluated_leaves_the_original_as_it_was(tiny_run_dir, tmp_path):
    original, copy = _linked_copy(tiny_run_dir, tmp_path)
    before = _files(original)
    assert main(["train", "--resume", "--out", str(copy), "--set", "train.steps=40"]) == 0
    assert main(["eval", str(copy), "--metrics", "modes"]) == 0
    assert _files(original) == before        # records, lock and checkpoints byte for byte
    steps = [r["step"] for r in RunFolder(copy).records()]
    assert max(steps) == 40 and max(r["step"] for r in RunFolder(original).records()) == 30
    assert [r for r in RunFolder(copy).records("eval") if r.get("source") == "gankit eval"]
    assert not [r for r in RunFolder(original).records("eval") if r.get("source") == "gankit eval"]
    assert os.stat(copy / LOCK_NAME).st_ino != os.stat(original / LOCK_NAME).st_ino
    assert os.stat(original / "metrics.jsonl").st_nlink == 1


def test_an_append_to_a_linked_records_file_copies_it_first(tmp_path):
    folder = RunFolder(tmp_path / "a")
    folder.append({"step": 1, "kind": "train"})
    os.link(folder.records_path, tmp_path / "elsewhere.jsonl")
    mode = 0o640
    os.chmod(folder.records_path, mode)
    folder.append({"step": 2, "kind": "train"})
    assert (tmp_path / "elsewhere.jsonl").read_text().count("\n") == 1
    assert [r["step"] for r in folder.records()] == [1, 2]
    assert os.stat(folder.records_path).st_mode & 0o777 == mode
    assert not [p for p in folder.path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="the holder's names are read in /proc")
def test_the_copys_lock_is_its_own_while_the_original_trains(tiny_run_dir, tmp_path):
    original, copy = _linked_copy(tiny_run_dir, tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from gankit.io.locks import lock_file; "
         "assert lock_file(sys.argv[1])[0]; print('held', flush=True); time.sleep(60)", str(original / LOCK_NAME)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert lock_holder(original / LOCK_NAME) == str(holder.pid)
        assert lock_holder(copy / LOCK_NAME) is None        # the original's holder, not the copy's
        mine = RunFolder(copy)
        mine.lock()                                          # was: "in use: another gankit process (PID ..)"
        try:
            assert os.stat(copy / LOCK_NAME).st_ino != os.stat(original / LOCK_NAME).st_ino
            assert (copy / LOCK_NAME).read_text().strip() == str(os.getpid())
            assert (original / LOCK_NAME).read_text().strip() == str(holder.pid)
            with pytest.raises(FolderInUse, match=f"PID {holder.pid}"):
                RunFolder(original).lock()                    # the original stays its holder's
            assert lock_holder(original / LOCK_NAME) == str(holder.pid)
        finally:
            mine.unlock()
    finally:
        holder.kill()
        holder.wait()
    deadline = time.monotonic() + 5
    while lock_holder(original / LOCK_NAME) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in copy.iterdir() if p.name.endswith(".tmp")]


def test_a_free_linked_lock_is_replaced_by_the_folders_own(tiny_run_dir, tmp_path):
    original, copy = _linked_copy(tiny_run_dir, tmp_path)
    before = (original / LOCK_NAME).read_bytes()
    folder = RunFolder(copy)
    folder.lock()
    try:
        assert os.stat(copy / LOCK_NAME).st_nlink == 1 and os.stat(original / LOCK_NAME).st_nlink == 1
        assert (original / LOCK_NAME).read_bytes() == before
        other = RunFolder(original)
        other.lock()             # the original's lock is free: this process takes it too
        other.unlock()
    finally:
        folder.unlock()


# ------------------------------------------------------------------ a cache shared by processes
# (the reference row's cache, gankit/metrics/reference.py; these would sit as well in test_reference.py)

def _reference_run(tmp_path, tiny):
    from gankit import api
    return api.train("ring", out=tmp_path / "ref", overrides=tiny, evaluate=False, report=False, log=None)


def test_a_reader_between_the_two_writes_of_a_reference_row_finds_no_row_not_a_bad_one(tmp_path, tiny, monkeypatch):
    import warnings

    import gankit.io
    from gankit import api
    from gankit.metrics import reference as R
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    real, seen = gankit.io.write_text_atomic, []

    def write(path, text):
        out = real(path, text)
        json_path = path.with_suffix(".json")
        if not seen:         # the first of the two files is written: read as another process would
            with warnings.catch_warnings(record=True) as said:
                warnings.simplefilter("always")
                got = R._read_row(json_path)
            seen.append((got[0] if isinstance(got, tuple) else got, [str(w.message) for w in said]))
        return out
    monkeypatch.setattr(gankit.io, "write_text_atomic", write)
    api.record_reference(_reference_run(tmp_path, tiny), ["modes"])
    assert seen == [(None, [])]       # was: "does not match its digest ...; measuring again"


def test_a_row_finished_while_waiting_for_the_lock_is_read_without_a_warning(tmp_path, tiny, monkeypatch):
    import contextlib
    import warnings

    from gankit import api
    from gankit.io import locks
    from gankit.metrics import reference as R
    cache = tmp_path / "cache" / "reference"
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    run = _reference_run(tmp_path, tiny)
    api.record_reference(run, ["modes"])
    (digest,) = cache.glob("*.sha1")
    good = digest.read_text()
    digest.write_text("0" * 40)       # the other writer's row is in, its digest not yet

    @contextlib.contextmanager
    def waited(path, what):
        digest.write_text(good)        # ... and written while this process waited for its lock
        yield True

    def measured(*a, **k):
        raise AssertionError("measured again")
    monkeypatch.setattr(locks, "computing", waited)
    monkeypatch.setattr(R, "evaluate_reference", measured)
    run.folder.clear_records()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert api.record_reference(run, ["modes"])["modes_covered"] == 8


def test_a_reference_cache_that_cannot_be_written_is_not_said_to_keep_the_row(tmp_path, tiny, monkeypatch):
    from gankit import api
    from gankit.metrics import reference as R
    (tmp_path / "afile").write_text("")
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "afile" / "cache"))
    assert R.reference_cache_where() is None
    said = []
    with pytest.warns(UserWarning, match="cannot write the reference cache .*; the row is not kept, and is "
                                         "measured again next time"):
        api.record_reference(_reference_run(tmp_path, tiny), ["modes"], log=said.append)
    assert said and not any("kept in" in line for line in said), said
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    assert R.reference_cache_where() == tmp_path / "cache" / "reference"
