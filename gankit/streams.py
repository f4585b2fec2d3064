"""The command line's standard streams, so that output which cannot be written never costs
the work it reports on: diagnostics (stderr) that fail are dropped (``QuietStream``), and a
failed standard output is told apart from a failed run-folder write (``GuardedStdout``).
"""
from __future__ import annotations

import os
import sys

from gankit.io import displayable


class QuietStream:
    """A diagnostic stream (stderr) that never stops the work it reports on: the first write
    or flush it cannot make (a closed stream, a full disk, a reader gone) turns it off, and
    what follows is dropped.  ``stream`` None (Python's stderr when file descriptor 2 is
    closed) is off from the start."""

    def __init__(self, stream):
        self.stream, self.failed = stream, stream is None

    def _guarded(self, name: str, *args):
        if not self.failed:
            try:
                return getattr(self.stream, name)(*args)
            except (OSError, ValueError):    # ValueError: a stream closed under us
                self.failed = True
        return None

    def write(self, text: str) -> int:
        self._guarded("write", text)
        return len(text)

    def flush(self):
        self._guarded("flush")

    def isatty(self) -> bool:
        return bool(self._guarded("isatty"))

    def __getattr__(self, name):     # encoding, errors, fileno, ... of the stream itself
        stream = self.__dict__.get("stream")     # (not yet set while copy or pickle rebuild one)
        if stream is None:
            raise AttributeError(name)
        return getattr(stream, name)


class StdoutFailed(Exception):
    """A write to the standard output failed (``error``, an OSError): the command's own files are
    not at fault.  ``note`` says what was done all the same."""

    def __init__(self, error: OSError, note: str = ""):
        super().__init__(error)
        self.error, self.note = error, note


class GuardedStdout:
    """sys.stdout while a command runs: a failed write raises StdoutFailed, so main tells a
    full disk or a closed pipe on the output apart from one in the files the command writes."""

    def __init__(self, stream):
        self.stream, self.failed = stream, False

    def _call(self, name: str, *args):
        try:
            return getattr(self.stream, name)(*args)
        except OSError as e:
            self.failed = True
            raise StdoutFailed(e) from e

    def write(self, text: str):
        return self._call("write", text)

    def flush(self):
        self._call("flush")

    def __getattr__(self, name):      # encoding, fileno, ... of the stream itself
        if "stream" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.__dict__["stream"], name)


def shown(text, stream=None) -> str:
    """A path (or any text) as ``stream`` (default: stdout) can print it: a file name's
    undecodable bytes as U+FFFD, characters its encoding lacks (an ASCII locale) as \\ escapes."""
    text = displayable(text)
    encoding = getattr(sys.stdout if stream is None else stream, "encoding", None) or "utf-8"
    try:
        return text.encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:
        return text.encode("ascii", "backslashreplace").decode("ascii")


def discard(stream):
    """A stream whose writes failed, pointed at the null device: Python's flush of its buffer at
    exit would fail again (a message, exit status 120)."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):    # not a file (a test's captured stream)
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)
