"""Reading text files: their lines, what gankit refuses to read as UTF-8, and the commands it suggests.

gankit reads UTF-8 text (docs/reliability.md); a UTF-16 or UTF-32 file would read as NUL bytes
between letters and train on them as tokens, so gankit.data.text refuses it with the iconv
command that converts it.  A gzip, bzip2 or xz file is read decompressed; an archive (zip, tar,
7z, ...) or another compression is refused: its bytes would train as tokens."""
from __future__ import annotations

import bz2
import codecs
import gzip
import lzma
import re
import shlex
import warnings
import zlib
from collections import Counter
from pathlib import Path

from gankit.config import ConfigError

REPLACEMENT = "\ufffd"   # what a byte that is not UTF-8 decodes to
# C0 controls but tab, DEL, C1 controls (a terminal acts on them: colours, cursor moves, title
# changes), the bidirectional marks, embeddings, overrides and isolates (they reorder what is
# shown around them) and the Unicode line and paragraph separators (one sample is one line)
CONTROLS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def shell_path(p: Path) -> str:
    """``p`` as one shell word for a command to paste (spaces, quotes; a leading dash is no option)."""
    s = str(p)
    return shlex.quote("./" + s if s.startswith("-") else s)


BOMS = [(codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),   # before UTF-16's: FF FE 00 00
         (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16")]


def wide_encoding(raw: bytes) -> tuple[str, str] | None:
    """(what the file is, iconv's name for it) when ``raw`` is UTF-16 or UTF-32 text, else None.
    Read as UTF-8 such a file is NUL bytes between letters (ASCII letters are valid UTF-8), which
    would train as tokens.  Without a byte-order mark: NUL bytes, and the file decodes as that
    encoding to lines free of control characters, 80% of whose characters lie in two blocks of
    256 (U+0000-00FF, and Cyrillic's, Greek's, ... for such a text); stray NULs in a UTF-8 file
    (a C program's "word\\0\\n") decode to letters spread over CJK and other blocks."""
    for bom, name in BOMS:
        if raw.startswith(bom):
            return f"{name} (it starts with a byte-order mark)", name
    if b"\x00" not in raw:
        return None
    head = raw[:1 << 16]
    for name, unit in (("UTF-32LE", 4), ("UTF-32BE", 4), ("UTF-16LE", 2), ("UTF-16BE", 2)):
        text = head[: len(head) // unit * unit].decode(name, errors="replace")
        # one U+FFFD allowed at the end: the 64 KiB cut may split a surrogate pair
        if not ("\n" in text or "\r" in text) or REPLACEMENT in text[:-1] \
                or CONTROLS.search(text.replace("\n", "").replace("\r", "")):
            continue
        blocks = Counter(ord(c) >> 8 for c in text).most_common(2)
        if sum(n for _, n in blocks) >= 0.8 * len(text):
            return f"{name} (NUL bytes between its letters)", name
    return None


# known by their first bytes, not the file's name: words.txt.gz renamed words.txt is still gzip.
# (name, test, decompress, the command that writes the text to stdout)
COMPRESSIONS = (
    ("gzip", lambda b: b[:3] == b"\x1f\x8b\x08", gzip.decompress, "gzip -dc"),
    # "BZh", the block size 1-9, then a block's or the stream end's magic: a text may begin "BZh9"
    ("bzip2", lambda b: re.match(rb"BZh[1-9](1AY&SY|\x17rE8P\x90)", b) is not None, bz2.decompress,
     "bzip2 -dc"),
    ("xz", lambda b: b[:6] == b"\xfd7zXZ\x00", lzma.decompress, "xz -dc"),
)
# what gankit does not unpack: (test, what it is, what to do)
ARCHIVES = (
    (lambda b: b[:4] in (b"PK\x03\x04", b"PK\x05\x06"), "a zip archive", "unzip it first"),
    (lambda b: _tar_header(b), "a tar archive", "unpack it first (tar -xf)"),
    (lambda b: b[:6] == b"7z\xbc\xaf\x27\x1c", "a 7z archive", "unpack it first"),
    (lambda b: b[:6] == b"Rar!\x1a\x07", "a RAR archive", "unpack it first"),
    (lambda b: b[:4] == b"\x28\xb5\x2f\xfd", "zstd-compressed", "decompress it first (zstd -d)"),
    (lambda b: b[:4] == b"\x04\x22\x4d\x18", "lz4-compressed", "decompress it first (lz4 -d)"),
    (lambda b: b[:5] == b"LZIP\x01", "lzip-compressed", "decompress it first (lzip -d)"),
    (lambda b: b[:2] == b"\x1f\x9d", "compress(1)-compressed (.Z)", "decompress it first (uncompress)"),
)


def _tar_header(b: bytes) -> bool:
    """Whether ``b`` begins with a POSIX or GNU tar header: its magic exactly ("ustar\\0" and version
    "00", or GNU's "ustar  \\0") and its checksum right; a text can read "gustar " at byte 256."""
    if len(b) < 512 or b[257:265] not in (b"ustar\x0000", b"ustar  \x00"):
        return False
    try:
        said = int(b[148:156].replace(b"\x00", b" ").strip() or b"x", 8)
    except ValueError:
        return False
    # the sum of the header's bytes, its checksum field counted as spaces (signed by some old tars)
    rest = b[:148] + b" " * 8 + b[156:512]
    return said in (sum(rest), sum(c - 256 if c > 127 else c for c in rest))


def read_text_bytes(p: Path, path: str) -> tuple[bytes, str | None]:
    """The bytes of the text file at ``p`` (``path`` as the user gave it), decompressed where it is
    gzip, bzip2 or xz, and the command that writes them to stdout (None for a plain file), for
    the advice that pipes them to iconv.  An archive (a tar inside gzip too), or another
    compression, is refused: read as text, its bytes would train as tokens."""
    raw = p.read_bytes()
    how = next(((name, unpack, cmd) for name, test, unpack, cmd in COMPRESSIONS if test(raw)), None)
    if how is not None:
        try:
            raw = how[1](raw)
        except (EOFError, OSError, ValueError, lzma.LZMAError, zlib.error) as e:   # bz2's cut short: ValueError
            raise ConfigError(f"data.path: {path!r} is {how[0]}-compressed but does not decompress ({e}): "
                              f"it is cut short or damaged; compress the text file again") from None
    what = next(((w, fix) for test, w, fix in ARCHIVES if test(raw)), None)
    if what is not None:
        inside = f" (inside the {how[0]} compression)" if how else ""
        raise ConfigError(f"data.path: {path!r} is {what[0]}{inside}, not a text file; {what[1]} and give "
                          f"the .txt (one sample per line)")
    return raw, None if how is None else f"{how[2]} {shell_path(p)}"


def iconv_command(p: Path, source: str | None, code: str) -> tuple[str, str]:
    """(the command converting the file at ``p`` from ``code`` to UTF-8, the file it writes);
    ``source``: read_text_bytes' command for a compressed file, whose text it pipes to iconv."""
    plain = p.with_suffix("") if source and p.suffix.lower() in (".gz", ".bz2", ".xz") else p
    out = shell_path(Path(f"{plain}.utf8.txt"))
    if source:
        return f"{source} | iconv -f {code} -t UTF-8 > {out}", out
    return f"iconv -f {code} -t UTF-8 {shell_path(p)} > {out}", out


def read_lines(path: str, lowercase: bool, hint: str, bad_bytes: str) -> list[str]:
    """The file's non-blank lines, stripped (a gzip, bzip2 or xz file decompressed first, an archive
    refused: read_text_bytes).  ``bad_bytes`` says what becomes of bytes that are
    not UTF-8 (the warning names it): a file in another single-byte code is read, its other
    letters lost; a UTF-16 or UTF-32 file, which would be read as NULs between letters, is refused."""
    p = Path(path).expanduser()
    if path and p.is_dir():
        raise ConfigError(f"data.path: {path!r} is a folder, not a file{hint}")
    if not path or not p.is_file():
        raise ConfigError(f"data.path: {path!r} is not a file{hint}")
    raw, source = read_text_bytes(p, path)       # a .gz, .bz2 or .xz file decompressed
    wide = wide_encoding(raw)
    if wide:
        command, out = iconv_command(p, source, wide[1])
        raise ConfigError(f"data.path: {path!r} is {wide[0]}, and gankit reads UTF-8 text; convert it with "
                          f"`{command}`, then --set data.path={out}")
    try:   # utf-8-sig: a byte-order mark (Windows editors write one) is no character of the first line
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        text = raw.decode("utf-8-sig", errors="replace")
        line = raw[:e.start].count(b"\n") + 1
        # not "the file is latin-1": any single-byte code (or Shift-JIS, GBK, ...) lands here, and
        # cp1252 is latin-1 plus the quotes and dashes Windows puts at 0x80-0x9f
        warnings.warn(f"{path}: bytes that are not UTF-8 (the first on line {line}): {bad_bytes}; if "
                      f"the file is latin-1/cp1252, convert it with `{iconv_command(p, source, 'CP1252')[0]}` "
                      f"(for another encoding name it after -f)", stacklevel=3)
    # a mark inside the file (two files joined by `cat`) is no character either: it would glue
    # itself to a word ("\ufeffcat")
    text = text.replace("\ufeff", "")
    # one sample per line: \n, \r\n or \r, not the other separators str.splitlines knows
    # (form feed, U+2028, ...), which can sit inside a sample
    lines = [s.strip() for s in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return [s.lower() if lowercase else s for s in lines if s]
