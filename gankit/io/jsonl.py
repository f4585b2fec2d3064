"""Reading an append-only JSONL file (a run's metrics.jsonl) once per process, and afterwards
only what was appended."""
from __future__ import annotations

import json
import os
import re
import sys
import threading
import warnings
from collections import OrderedDict
from pathlib import Path
from stat import S_ISREG


_intern = sys.intern
# what json.loads gives for a line that is valid JSON but no object, as the warning names it
_JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "true or false",
               type(None): "null"}
# the skipped lines one warning names with their reasons; past them, only counted (garbage appended
# to a file makes thousands of "lines": a warning each drowned every other message)
SKIPS_NAMED = 5


def read_jsonl(path: str | Path) -> list[dict]:
    """The records of a JSONL file; a damaged line (a torn write at a full disk or a kill)
    is skipped with a warning naming it."""
    return JsonlLog(path).read()


def append_lines(path: str | Path, lines: list[bytes]) -> None:
    """Append ``lines`` (each ending in a newline) to ``path``, fsynced; a file hard-linked elsewhere
    (a ``cp -al`` copy of a run) is first given a copy of its own, so the other name keeps it as it was."""
    from gankit.io.files import unshare
    unshare(path)
    with open(path, "ab") as f:
        f.writelines(lines)
        f.flush()
        os.fsync(f.fileno())


class JsonlLog:
    """An append-only JSONL file's records, parsed once per process: a later ``read`` parses only
    the lines appended since (whole lines: a torn last line is read again until its newline comes).
    The file is read whole again where it was replaced (another inode: an atomic rewrite), cut
    below what was read, or rewritten in place (same size, another mtime; or the bytes before the
    point read to differ).  ``check(record)``: a warning for a record to skip, or None.  A damaged
    or skipped line is warned of once, all of a read's in one warning.  Callers get a new list, but
    the records themselves are shared: never change them.

    A record holds about 0.87 KB of memory (a line of ~390 bytes; its keys and short strings are
    interned, shared by every record, which halves it).  The logs a process keeps (``JsonlLogs``,
    RunFolder's records) are bounded by the records they hold together, not by their number."""

    def __init__(self, path: str | Path, check=None):
        self.path, self.check, self._mutex = Path(path), check, threading.Lock()
        self._skips: list[str] = []     # why each line skipped since the last warning was skipped
        self.forget()

    def forget(self):
        self.identity = self.mtime = None
        self.offset = self.size = self.lines = self.skipped = 0     # bytes / lines parsed
        self.seen, self.records, self.tail, self.warned = b"", [], [], set()
        from array import array
        self.linenos = array("q")      # each record's line

    def read(self) -> list[dict]:
        with self._mutex:
            self._catch_up()
            out = self.records + self.tail
        self._warn_skips()
        return out

    def _warn_skips(self):
        """One warning for the lines skipped since the last: a single line's reason as it is; of
        many, the count and the first ones' reasons."""
        skips, self._skips = self._skips, []
        if len(skips) == 1:
            warnings.warn(f"{self.path}: {skips[0]}", stacklevel=3)
        elif skips:
            named = [re.sub(r",? (and )?(is )?skipped$", "", why) for why in skips[:SKIPS_NAMED]]
            more = len(skips) - SKIPS_NAMED
            last = re.match(r"line (\d+)", skips[-1]).group(1)
            warnings.warn(f"{self.path}: {len(skips)} lines are skipped (damaged, or no record gankit reads): "
                          + "; ".join(named) + (f"; and {more} more, up to line {last}" if more > 0 else ""),
                          stacklevel=3)

    def _catch_up(self):
        try:
            st = os.stat(self.path)
        except OSError:
            return self.forget()
        if not S_ISREG(st.st_mode):
            return self.forget()
        if (st.st_dev, st.st_ino) == self.identity and (st.st_size, st.st_mtime_ns) == (self.size, self.mtime):
            return
        with open(self.path, "rb") as f:
            st = os.fstat(f.fileno())
            if (st.st_dev, st.st_ino) != self.identity or st.st_size < self.offset or \
                    (st.st_size == self.size and st.st_mtime_ns != self.mtime):
                self.forget()
            f.seek(self.offset - len(self.seen))
            if f.read(len(self.seen)) != self.seen:
                self.forget()
                f.seek(0)
            tail = b""
            for line in f:
                if not line.endswith(b"\n"):
                    tail = line
                    break
                self.lines += 1
                self.offset += len(line)
                self._take(self.lines, line[:-1])
            f.seek(max(0, self.offset - 64))
            self.seen = f.read(self.offset - f.tell())
        # the size seen before reading: a line appended while this read ran is then read again from offset
        self.identity, self.mtime, self.size = (st.st_dev, st.st_ino), st.st_mtime_ns, st.st_size
        rec = self._parse(self.lines + 1, tail)
        self.tail = [] if rec is None else [rec]

    def _take(self, lineno: int, raw: bytes):
        rec = self._parse(lineno, raw)
        if rec is None:
            self.skipped += 1
        else:
            self.records.append(rec)
            self.linenos.append(lineno)

    def _parse(self, lineno: int, raw: bytes) -> dict | None:
        """A line's record, or None (blank, damaged, not an object, or refused by ``check``)."""
        text = raw.decode("utf-8", errors="replace")
        if not text.strip():
            return None
        try:
            rec = json.loads(text)
        except (ValueError, RecursionError):     # JSONDecodeError, or nesting too deep to parse
            why = f"line {lineno} is damaged and skipped"
        else:
            if not isinstance(rec, dict):      # valid JSON, but no record: [1, 2], 42, "text", null
                why = f"line {lineno} is {_JSON_TYPES.get(type(rec), 'a value')}, not a record " \
                      "(a JSON object), and is skipped"
            elif not (why := self.check and self.check(rec)):
                # the same keys (and "kind" values) on every line: one string each, not one per record
                return {_intern(k): _intern(v) if type(v) is str and len(v) <= 32 else v for k, v in rec.items()}
            else:
                why = f"line {lineno}: {why}"
        if lineno not in self.warned:
            self.warned.add(lineno)
            self._skips.append(why)     # warned of once the read ends (_warn_skips)
        return None

    def keep_only(self, keep, rewrite, set_aside=None) -> int:
        """Leave only the records ``keep(record)`` accepts; the number of records left out.
        ``rewrite(write)`` replaces the file atomically (``write(file)`` copies the lines kept,
        unparsed).  A line gankit does not read (damaged, blank, a user's own note) is no record to
        drop: it goes where the record before it goes (kept where none is before), so it is never
        lost.  A torn last line (no newline: a write cut short) leaves the file (the next append
        would be glued to it) for ``set_aside``, a newline added, with a warning saying so; only
        without a ``set_aside`` is it dropped.
        ``set_aside(lines)`` gets the lines left out before the file is replaced (a crash between
        leaves them in both files, never in neither).  Nothing left out and no torn line: the file
        is not written.  The kept records stay cached."""
        with self._mutex:
            self._catch_up()
            if self.identity is None:
                return 0
            keep_lines, is_record, kept = bytearray(self.lines + 1), bytearray(self.lines + 1), []
            for r, n in zip(self.records, self.linenos):
                is_record[n] = 1
                if keep(r):
                    keep_lines[n] = 1
                    kept.append(r)
            # lines skipped alone are no reason to write: the file would only lose them
            if len(kept) == len(self.records) and self.size == self.offset:
                return 0
            lines = self.lines
            # of the file written: its bytes, last 64 bytes, lines, lines no record; kept records'
            # lines; and the records left out
            done = {"size": 0, "seen": b"", "lines": 0, "skipped": 0, "linenos": [], "left_out": 0}

            def place(going: bool, record: bool, line: bytes, out, aside):
                if not going:
                    aside.append(line)
                    done["left_out"] += record
                    return
                out.write(line)
                done["size"], done["seen"] = done["size"] + len(line), (done["seen"] + line)[-64:]
                done["lines"] += 1
                if record:
                    done["linenos"].append(done["lines"])
                else:
                    done["skipped"] += 1

            def write(out):
                aside, going = [], True        # going: whether the last record seen is kept
                with open(self.path, "rb") as f:
                    for n, line in enumerate(f, 1):
                        if n > lines:       # appended since (another process) or torn: as read, never lost
                            torn = not line.endswith(b"\n")
                            line = line.rstrip(b"\n") + b"\n"
                            if (rec := self._parse(n, line[:-1])) is not None:
                                going = bool(keep(rec))
                                kept.extend([rec] if going else [])
                            elif torn:      # a write cut short: out of the file, but never lost
                                if set_aside is not None:
                                    aside.append(line)
                                    # told once, where it went: not also "damaged and skipped" (this read's)
                                    self._skips = [w for w in self._skips if not re.match(rf"line {n}\b", w)]
                                    self._skips.append(f"line {n} is torn (no newline: a write cut short) and moved "
                                                       "to the set-aside file (a run's metrics.discarded.jsonl)")
                                continue
                            place(going, rec is not None, line, out, aside)
                        else:
                            going = bool(keep_lines[n]) if is_record[n] else going
                            place(going, bool(is_record[n]), line, out, aside)
                if aside and set_aside is not None:
                    set_aside(aside)
            try:
                rewrite(write)
            finally:
                self._warn_skips()
            st = os.stat(self.path)
            self.forget()
            from array import array
            self.records, self.linenos, self.lines = kept, array("q", done["linenos"]), done["lines"]
            self.offset, self.seen, self.skipped = done["size"], done["seen"], done["skipped"]
            # what this process wrote, as if read: a later append is read from its end
            self.identity, self.mtime, self.size = (st.st_dev, st.st_ino), st.st_mtime_ns, done["size"]
            return done["left_out"]


class JsonlLogs:
    """The parsed logs a process keeps (path -> JsonlLog), bounded by the records they hold
    together (``max_records``; about 0.87 KB each): the least recently read logs go first.  A log
    above the bound alone is still read whole and kept while it is the one read last.  A log read
    again costs nothing while it is kept; one dropped is parsed whole at its next read."""

    def __init__(self, max_records: int, check=None):
        self.max_records, self.check = max_records, check
        self._logs: OrderedDict[str, JsonlLog] = OrderedDict()
        self._mutex = threading.Lock()

    def get(self, path: str | Path) -> JsonlLog:
        """The log of ``path``, now the most recently used (for its other calls: keep_only, forget)."""
        key = str(path)
        with self._mutex:
            if (log := self._logs.get(key)) is None:
                log = self._logs[key] = JsonlLog(path, self.check)
            self._logs.move_to_end(key)
            return log

    def read(self, path: str | Path) -> list[dict]:
        """``path``'s records (JsonlLog.read), then the oldest logs dropped past the bound."""
        out = self.get(path).read()
        with self._mutex:
            held = sum(len(log.records) for log in self._logs.values())
            while held > self.max_records and len(self._logs) > 1:
                held -= len(self._logs.popitem(last=False)[1].records)
        return out

    def __len__(self) -> int:
        return len(self._logs)

    def values(self) -> list[JsonlLog]:
        with self._mutex:
            return list(self._logs.values())

    def clear(self):
        with self._mutex:
            self._logs.clear()
