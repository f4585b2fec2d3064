"""The command line's standard streams, so that output which cannot be written never costs
the work it reports on: diagnostics (stderr) that fail are dropped (``QuietStream``), and a
failed standard output is told apart from a failed run-folder write (``GuardedStdout``).
Both write any text as their stream's encoding can take it (``shown``): under an ASCII locale
a help text's "±", a class named "café" or a folder's undecodable bytes never stop a command.
"""
from __future__ import annotations

import os
import re
import shlex
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
        if not self.failed:
            self._guarded("write", _writable(text, self.stream))
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
        self._call("write", _writable(text, self.stream))
        return len(text)

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


def _writable(text: str, stream) -> str:
    # ASCII (nearly every write: progress frames, numbers) is written as it is, at no cost
    return text if text.isascii() else shown(text, stream)


# repr()'s escapes of a file name's undecodable bytes (surrogateescape keeps byte 0xHH as
# U+DCHH), not preceded by an escaped backslash of its own
_ESCAPED_BYTES = re.compile(r"(?<!\\)((?:\\\\)*)((?:\\udc[89a-f][0-9a-f])+)")


def unescaped_bytes(text: str) -> str:
    """``text`` with repr()'s ``\\udcHH`` escapes (a message quoting an argument or a name that
    Python read under an ASCII locale: 'caf\\udcc3\\udca9') turned back into the text those
    bytes encode ('café' from UTF-8; U+FFFD where they are not UTF-8), so that they are shown as
    ``shown`` shows any other text."""
    def back(m):
        raw = bytes(int(m[2][i + 4:i + 6], 16) for i in range(0, len(m[2]), 6))
        return m[1] + raw.decode("utf-8", "replace")
    return _ESCAPED_BYTES.sub(back, text)


def pasteable(word, stream=None) -> str:
    """``word`` (a path, an argument) quoted for a shell command the user copies from ``stream``
    (default: stderr) and pastes back: shlex.quote where the stream shows it as it is; else
    bash's and zsh's $'...' (POSIX.1-2024) with each byte the stream cannot show, and each
    control character or run of spaces (a one-line message would garble them), as \\xHH, so the
    paste names the very file: a name with bytes that are not UTF-8, or any non-ASCII name
    under an ASCII locale."""
    text = str(word)
    encoding = getattr(sys.stderr if stream is None else stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)       # strict: refuses lone surrogates (undecodable bytes) too
        plain = text.isprintable() and "  " not in text
    except (UnicodeEncodeError, LookupError):
        plain = False
    if plain:
        return shlex.quote(text)
    try:
        raw = os.fsencode(text)     # the name's bytes as the file system holds them
    except UnicodeEncodeError:      # a character the locale's encoding lacks: read from a UTF-8 file
        raw = text.encode("utf-8", "surrogateescape")
    out = []
    for i, b in enumerate(raw):
        c = chr(b)
        lone = c == " " and raw[i - 1:i] != b" " and raw[i + 1:i + 2] != b" "
        out.append(f"\\{c}" if c in "\\'" else c if (0x20 < b < 0x7f or lone) else f"\\x{b:02x}")
    return "$'" + "".join(out) + "'"


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


def listed(items, most: int = 4) -> str:
    """The first ``most`` of ``items`` joined for a message, and how many more there are."""
    items = [str(i) for i in items]
    return ", ".join(items[:most]) + (f" and {len(items) - most} more" if len(items) > most else "")
