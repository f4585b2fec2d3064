"""Text files' encodings: what gankit refuses to read as UTF-8, and the commands it suggests.

gankit reads UTF-8 text (docs/reliability.md); a UTF-16 or UTF-32 file would read as NUL bytes
between letters and train on them as tokens, so gankit.data.text refuses it with the iconv
command that converts it."""
from __future__ import annotations

import codecs
import re
import shlex
from collections import Counter
from pathlib import Path

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
