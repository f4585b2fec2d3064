"""RunFolder's records: metrics.jsonl, append-only ({"step", "kind": "train" | "eval" | ...,
...}), read once per process and then only what was appended (the runs read last kept, up to
200,000 records in all), a record without an integer step skipped with a warning, and the records
past a resumed checkpoint moved to metrics.discarded.jsonl, never deleted; a record the storage
refuses is a RecordNotWritten, which training turns into a stop after the step.
"""
from __future__ import annotations

from gankit.io import JsonlLog, append_jsonl, check_writable, write_atomic
from gankit.io.files import unshare
from gankit.io.jsonl import JsonlLogs
from gankit.runfolder.errors import RunFolderError


def _step_fault(record: dict) -> str | None:
    step = record.get("step")
    if isinstance(step, int) and not isinstance(step, bool):
        return None
    return "a record without an integer step is skipped"


class RecordNotWritten(RunFolderError):
    """The storage refused a record (a full disk, a file-size limit): ``said`` what happened,
    ``then`` the fix and what to run after.  Training stops after the step (as on a signal) and
    keeps it in a checkpoint where one can still be written (gankit/train/run_training.py)."""

    def __init__(self, said: str, then: str):
        super().__init__(f"{said}; {then}")
        self.said, self.then = said, then

    def __reduce__(self):      # pickled with its two parts (a sweep's worker process)
        return type(self), (self.said, self.then)


# metrics.jsonl path -> its records, read once per process; a notebook reporting or comparing many
# long runs keeps about 200,000 records (~175 MB), the least recently read runs dropped first
_LOGS = JsonlLogs(200_000, _step_fault)


class Records:
    """The records half of RunFolder (it uses the folder's path, records_path, locked, _was_there and _writing)."""

    def append(self, record: dict):
        if not self.locked and not self.path.is_dir():     # locked: moved or deleted, _writing says so
            if self._was_there:     # moved or deleted meanwhile (gankit eval measuring): no new folder
                raise RunFolderError(f"{self.path} is gone (moved or deleted since it was opened); nothing is "
                                     "written there, so no new folder is made")
            self.path.mkdir(parents=True, exist_ok=True)
            self._was_there = True
        with self._writing(f"a record to {self.records_path}", error=RecordNotWritten):
            unshare(self.records_path)      # a cp -al copy's records: appended to this folder's alone
            append_jsonl(self.records_path, record)

    def _log(self) -> JsonlLog:
        """metrics.jsonl's parsed records, shared by every RunFolder of this path in the process."""
        return _LOGS.get(self.records_path)

    def records(self, kind: str | None = None) -> list[dict]:
        """The records, oldest first (a new list; the dicts are shared within the process: read
        them, never change them); one without an integer step (a damaged or foreign line) is
        skipped with a warning, so every reader may rely on ``record["step"]``.  The file is
        parsed once, then only what was appended (gankit.io.JsonlLog), while the process keeps
        it (_LOGS: the runs read last, up to 200,000 records in all)."""
        out = _LOGS.read(self.records_path)
        return out if kind is None else [r for r in out if r.get("kind") == kind]

    def check_records_writable(self, hint: str = ""):
        """WriteError (naming metrics.jsonl, then ``hint``) when a record could not be appended."""
        check_writable(self.records_path, hint)

    def clear_records(self):
        self.records_path.unlink(missing_ok=True)
        self._log().forget()

    def truncate_records(self, step: int) -> int:
        """Move the records after ``step`` (a resume goes on from that checkpoint), with the unreadable
        lines following them, to metrics.discarded.jsonl (appended): the number moved (JsonlLog.keep_only)."""
        from gankit.io.jsonl import append_lines
        aside = self.path / "metrics.discarded.jsonl"      # no reader opens it: not the run's records

        def set_aside(lines):       # before metrics.jsonl is replaced: a crash leaves them twice, never lost
            with self._writing(str(aside)):
                append_lines(aside, lines)

        def rewrite(write):
            with self._writing(str(self.records_path)):
                write_atomic(self.records_path, write)
        return self._log().keep_only(lambda r: r["step"] <= step, rewrite, set_aside)
