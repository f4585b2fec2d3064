"""Reading text files: their lines, what gankit refuses to read as UTF-8, and the commands it suggests.

gankit reads UTF-8 text (docs/reliability.md); a UTF-16 or UTF-32 file would read as NUL bytes
between letters and train on them as tokens, so gankit.data.text refuses it with the iconv
command that converts it.  A gzip, bzip2 or xz file is read decompressed; an archive (zip, tar,
7z, ...) or another compression is refused: its bytes would train as tokens; so is a file that is
no text at all (an executable, an image, a saved array: by its first bytes, or by its share of
control bytes)."""
from __future__ import annotations

import bz2
import codecs
import gzip
import lzma
import re
import shlex
import unicodedata
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
# of CONTROLS, what a text written in a wide encoding holds as it is: line ends, form feed (a page
# break), the bidirectional marks (Hebrew or Arabic text); the others are few in a text
TEXT_CONTROLS = re.compile("[\n\r\x0c\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def shell_path(p: Path) -> str:
    """``p`` as one shell word for a command to paste (spaces, quotes; a leading dash is no option)."""
    s = str(p)
    return shlex.quote("./" + s if s.startswith("-") else s)


BOMS = [(codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),   # before UTF-16's: FF FE 00 00
         (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16")]


def _decodes(head: bytes, name: str, unit: int = 1) -> str | None:
    """``head`` (a file's first bytes) decoded as ``name``, or None where it is not that encoding;
    a character the cut at the end of the head splits (a surrogate pair, a UTF-8 sequence) is dropped."""
    head = head[: len(head) // unit * unit]
    try:
        return head.decode(name)
    except UnicodeDecodeError as e:
        return head[:e.start].decode(name) if e.reason == "unexpected end of data" else None


def _lines_aligned(head: bytes, name: str, unit: int) -> bool:
    """Whether the line ends of ``head`` in the wide encoding ``name`` (\\n: 0A 00 in UTF-16LE) sit,
    most of them, where a character starts (in a UTF-8 file with stray NULs "\\0\\n" falls anywhere)."""
    starts = [m.start() for end in "\n\r"
              for m in re.finditer(b"(?=%s)" % re.escape(end.encode(name)), head)]
    aligned = sum(i % unit == 0 for i in starts)
    return bool(aligned) and aligned >= 0.8 * len(starts)


def _other_controls(text: str) -> int:
    """How many characters of ``text`` are controls a text does not hold as it is (not TEXT_CONTROLS)."""
    return len(CONTROLS.findall(TEXT_CONTROLS.sub("", text)))


def _plain_lines(text: str, head: bytes, name: str, unit: int) -> bool:
    """Whether ``text``, ``head`` decoded as the wide encoding ``name``, reads as lines of text:
    line ends aligned (_lines_aligned); form feeds and bidirectional marks (TEXT_CONTROLS) but at
    most 2% other controls (a terminal's escapes; a binary's decoding is full of them); no
    private-use character, and hardly an unassigned one (an emoji newer than Python's Unicode
    tables is one)."""
    if not _lines_aligned(head, name, unit) or _other_controls(text) > len(text) / 50:
        return False
    kinds = Counter(unicodedata.category(c) for c in text)
    return not kinds["Co"] and kinds["Cn"] <= len(text) / 100


def wide_encoding(raw: bytes) -> tuple[str, str] | None:
    """(what the file is, iconv's name for it) when ``raw`` is UTF-16 or UTF-32 text, else None.
    Read as UTF-8 such a file is NUL bytes between letters (ASCII letters are valid UTF-8), which
    would train as tokens.  Without a byte-order mark: NUL bytes, and the file decodes as that
    encoding to lines of text (``_plain_lines``).  Stray NULs in a UTF-8 file (a C program's
    "word\\0\\n") decode so too, to letters spread over CJK and other blocks: where the file is valid
    UTF-8, 80% of the characters must also lie in two blocks of 256 (U+0000-00FF, and Cyrillic's,
    Greek's, ... for such a text).  CJK text in UTF-16 or UTF-32 is no valid UTF-8 (its bytes
    above 7F are not UTF-8's sequences), so its characters may spread over many blocks."""
    for bom, name in BOMS:
        if raw.startswith(bom):
            return f"{name} (it starts with a byte-order mark)", name
    if b"\x00" not in raw:
        return None
    head = raw[:1 << 16]
    utf8 = _decodes(head, "utf-8") is not None
    for name, unit in (("UTF-32LE", 4), ("UTF-32BE", 4), ("UTF-16LE", 2), ("UTF-16BE", 2)):
        text = _decodes(head, name, unit)
        if text is None or not _plain_lines(text, head, name, unit):
            continue
        blocks = Counter(ord(c) >> 8 for c in text).most_common(2)
        if not utf8 or sum(n for _, n in blocks) >= 0.8 * len(text):
            return f"{name} (NUL bytes between its letters)", name
    return None


def _wide_layout(raw: bytes) -> str | None:
    """The wide encoding (iconv's name) whose layout ``raw``, no text by wide_encoding, has: NUL
    bytes, the file decodes as it, its line ends aligned, at most a fifth of its characters other
    controls (an array of small integers decodes as UTF-32 too, to a quarter of them); or None."""
    head = raw[:1 << 16]
    if b"\x00" not in head:
        return None
    for name, unit in (("UTF-32LE", 4), ("UTF-32BE", 4), ("UTF-16LE", 2), ("UTF-16BE", 2)):
        text = _decodes(head, name, unit)
        if text and _lines_aligned(head, name, unit) and _other_controls(text) <= len(text) / 5:
            return name
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


def _zip_member(b: bytes) -> bytes:
    """The name of the first file in the zip ``b`` (its local header's), b"" for no zip."""
    return b[30:30 + int.from_bytes(b[26:28], "little")] if b[:4] == b"PK\x03\x04" else b""


def _pe(b: bytes) -> bool:
    """Whether ``b`` is a Windows executable: "MZ", and the header its offset 0x3c points to ("MZ" alone
    can begin a text)."""
    at = int.from_bytes(b[60:64], "little")
    return b[:2] == b"MZ" and b[at:at + 4] == b"PE\x00\x00"


# files that are no text at all, known by their first bytes (before ARCHIVES: a PyTorch file and a
# .npz are zips, to be named as what they are, not "unzip it first"): (test, what it is)
BINARIES = (
    (lambda b: _zip_member(b).endswith(b"data.pkl"), "a PyTorch file (torch.save)"),
    (lambda b: _zip_member(b).endswith(b".npy"), "a NumPy archive (.npz)"),
    (lambda b: b[:6] == b"\x93NUMPY", "a NumPy array (.npy)"),
    (lambda b: re.match(rb"\x80[\x02-\x05]", b) is not None, "a Python pickle"),
    (lambda b: b[:8] == b"\x89HDF\r\n\x1a\n", "an HDF5 file"),
    (lambda b: b[:16] == b"SQLite format 3\x00", "an SQLite database"),
    (lambda b: b[:4] == b"\x7fELF", "an executable (ELF)"),
    (lambda b: b[:4] in (b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xcf", b"\xfe\xed\xfa\xce"),
     "an executable (Mach-O)"),
    (_pe, "an executable (Windows)"),
    (lambda b: b[:8] == b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (lambda b: b[:3] == b"\xff\xd8\xff", "a JPEG image"),
    (lambda b: b[:6] in (b"GIF87a", b"GIF89a"), "a GIF image"),
    (lambda b: b[:5] == b"%PDF-", "a PDF document"),
)
# bytes no text holds: the C0 controls but tab, line feed, form feed and carriage return, and DEL
CONTROL_BYTES = bytes(c for c in range(32) if c not in b"\t\n\x0c\r") + b"\x7f"


def control_bytes(raw: bytes) -> str | None:
    """Why ``raw``, which is no UTF-16 or UTF-32 text (wide_encoding), is no text either, or None:
    control bytes (NUL, ...) are 5% of its first 64 KiB where those are not UTF-8 (a text in a
    single-byte code holds as good as none, random bytes 11%), or over a third where they are (a
    UTF-8 file with a NUL after each word, "cat\\0\\n", or with terminal escapes is text: read with
    the control-character warning)."""
    head = raw[:1 << 16]
    n = len(head) - len(head.translate(None, CONTROL_BYTES))
    utf8 = _decodes(head, "utf-8") is not None
    if not n or (n <= len(head) / 3 if utf8 else n < len(head) / 20):
        return None
    of = f"its first {len(head)} bytes" if len(head) < len(raw) else f"its {len(head)} bytes"
    return f"{n / len(head):.0%} of {of} are control bytes (NUL and others text does not hold)" \
        + ("" if utf8 else " and it is not UTF-8")


def _tar_header(b: bytes) -> bool:
    """Whether ``b`` begins with a tar header: its checksum right, and its magic exactly ("ustar\\0"
    and version "00": POSIX; "ustar  \\0": GNU), or, a v7 (pre-POSIX) tar having none, its name
    NUL-padded and its size in octal digits (a text holds no NUL); a text can read "gustar " at byte 256."""
    if len(b) < 512:
        return False
    try:
        said = int(b[148:156].replace(b"\x00", b" ").strip() or b"x", 8)
    except ValueError:
        return False
    # the sum of the header's bytes, its checksum field counted as spaces (signed by some old tars)
    rest = b[:148] + b" " * 8 + b[156:512]
    if said not in (sum(rest), sum(c - 256 if c > 127 else c for c in rest)):
        return False
    if b[257:265] in (b"ustar\x0000", b"ustar  \x00"):
        return True
    name, nul, pad = b[:100].partition(b"\x00")
    return bool(name and nul) and not pad.strip(b"\x00") \
        and re.fullmatch(rb" *[0-7]+[ \x00]*", b[124:136]) is not None


def read_text_bytes(p: Path, path: str, hint: str = "") -> tuple[bytes, str | None]:
    """The bytes of the text file at ``p`` (``path`` as the user gave it), decompressed where it is
    gzip, bzip2 or xz, and the command that writes them to stdout (None for a plain file), for
    the advice that pipes them to iconv.  An archive (a tar inside gzip too), another
    compression, or a file known as no text (BINARIES) is refused, with ``hint`` (what data.path
    takes) for the last: read as text, its bytes would train as tokens."""
    try:
        raw = p.read_bytes()
    except OSError as e:   # read()'s error (/proc/self/mem, a failing disk) names no file: name it here
        fix = f"; let it be read: chmod a+r {shell_path(p)}" if isinstance(e, PermissionError) else hint
        raise ConfigError(f"data.path: {path!r} could not be read ({e.strerror or e}){fix}") from None
    how = next(((name, unpack, cmd) for name, test, unpack, cmd in COMPRESSIONS if test(raw)), None)
    if how is not None:
        try:
            raw = how[1](raw)
        except (EOFError, OSError, ValueError, lzma.LZMAError, zlib.error) as e:   # bz2's cut short: ValueError
            raise ConfigError(f"data.path: {path!r} is {how[0]}-compressed but does not decompress ({e}): "
                              f"it is cut short or damaged; compress the text file again") from None
    inside = f" (inside the {how[0]} compression)" if how else ""
    binary = next((w for test, w in BINARIES if test(raw)), None)
    if binary is not None:
        raise ConfigError(f"data.path: {path!r} is {binary}{inside}, not a text file{hint}")
    what = next(((w, fix) for test, w, fix in ARCHIVES if test(raw)), None)
    if what is not None:
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
    letters lost; a UTF-16 or UTF-32 file, which would be read as NULs between letters, is refused,
    and so is a file that is no text (BINARIES, control_bytes), with ``hint``."""
    p = Path(path).expanduser()
    if path and p.is_dir():
        raise ConfigError(f"data.path: {path!r} is a folder, not a file{hint}")
    if not path or not p.is_file():
        raise ConfigError(f"data.path: {path!r} is not a file{hint}")
    raw, source = read_text_bytes(p, path, hint)       # a .gz, .bz2 or .xz file decompressed
    wide = wide_encoding(raw)
    if wide:
        command, out = iconv_command(p, source, wide[1])
        raise ConfigError(f"data.path: {path!r} is {wide[0]}, and gankit reads UTF-8 text; convert it with "
                          f"`{command}`, then --set data.path={out}")
    binary = control_bytes(raw)
    if binary:
        code = _wide_layout(raw)
        if code:      # e.g. UTF-16 with many terminal escapes: wide_encoding does not take it for text
            command, out = iconv_command(p, source, code)
            raise ConfigError(f"data.path: {path!r} is not a text file: {binary}{hint} (its NUL bytes lie as in "
                              f"{code} text: if it is, convert it with `{command}`, then --set data.path={out})")
        raise ConfigError(f"data.path: {path!r} is not a text file: {binary}{hint} (text in an encoding "
                          f"gankit does not recognise: convert it to UTF-8 with iconv first)")
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
