"""Pages through Jinja2 templates (gankit/report/templates, shipped as package data).

Autoescape is on for every template: every value a run folder holds (its name, config
strings, commands, decoded samples, metric keys) reaches the HTML escaped.  Figures are
PNGs that gankit renders itself; they travel as base64 text, whose alphabet needs no
escaping, so no template marks anything ``|safe``.
"""
from __future__ import annotations

import base64
import functools
import io
import re
from dataclasses import dataclass, field

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape


@dataclass
class Figure:
    b64: str          # a PNG, base64
    alt: str = ""
    wide: bool = True


@dataclass
class Section:
    """A titled block of the page: paragraphs, then a figure, a table or columns of text."""
    title: str
    paragraphs: list[str] = field(default_factory=list)
    figure: Figure | None = None
    header: list[str] | None = None
    rows: list[list] | None = None
    columns: list[tuple[str, list[str]]] | None = None    # (heading, lines) side by side
    anchor: str = ""


# control characters no font draws (a run or class folder's ESC, BEL): matplotlib warns "Glyph 27
# missing" and draws a box, and a page holding them raw is no valid HTML; tab and newline lay text out
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# those and the bidirectional controls, for a figure (matplotlib does not apply them) and for a
# metric key in a table row (they would reorder the row)
_ALL_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def escaped(text: str, controls: re.Pattern = _CONTROLS) -> str:
    """``text`` with each of ``controls`` written as \\xHH or \\uHHHH, as ``gankit compare --text``
    writes them (gankit.data.text.printable)."""
    return controls.sub(lambda m: _escape(m[0]), text)


@functools.lru_cache(maxsize=None)
def _codes(path) -> frozenset[int]:
    """The characters (code points) the font file at ``path`` has glyphs for."""
    from matplotlib.font_manager import get_font
    try:
        return frozenset(get_font(path).get_charmap())
    except (OSError, RuntimeError, ValueError):     # a damaged font file draws nothing
        return frozenset()


@functools.lru_cache(maxsize=None)
def _family_drawing(code: int, style: str = "normal", weight="normal") -> str | None:
    """An installed font family whose font of this style and weight (the one matplotlib picks
    for that family) has a glyph for character ``code``, else None; not matplotlib's "Last
    Resort", whose glyph for every character is a box."""
    import logging

    from matplotlib.font_manager import FontProperties, fontManager
    log = logging.getLogger("matplotlib.font_manager")
    level = log.level
    log.setLevel(logging.ERROR)     # findfont's "Failed to find font weight" for a family of other weights
    try:
        for name in dict.fromkeys(f.name for f in fontManager.ttflist if not f.name.startswith("Last Resort")):
            try:
                path = fontManager.findfont(FontProperties(family=name, style=style, weight=weight),
                                            fallback_to_default=False)
            except ValueError:
                continue
            if code in _codes(path):
                return name
        return None
    finally:
        log.setLevel(level)


def _in_fonts(text: str, t=None) -> str:
    """``text`` to be drawn by the Text ``t`` (None: one in the default font): each character its
    font lacks (a class folder named 日本 under DejaVu Sans) is drawn from an installed font that has
    it, added to t's families, or where none has it written as \\uHHHH; matplotlib would warn
    "Glyph ... missing" and draw a box.  Tab and newline lay the text out."""
    if text.isascii():      # every font draws ASCII; the controls are escaped before
        return text
    from matplotlib.font_manager import FontProperties, fontManager
    prop = t.get_fontproperties() if t is not None else FontProperties()
    # the font and its fallbacks; _find_fonts_by_props is matplotlib's private list of them (3.6+):
    # where it is gone, the one font findfont picks
    fonts = getattr(fontManager, "_find_fonts_by_props", lambda p: [fontManager.findfont(p)])(prop)
    have = [_codes(p) for p in fonts]
    lacking = {c for c in text if c not in "\t\n" and not any(ord(c) in h for h in have)}
    drawn = {c: _family_drawing(ord(c), prop.get_style(), prop.get_weight()) for c in lacking}
    others = sorted(set(drawn.values()) - {None})
    if others and t is not None:
        t.set_fontfamily(list(prop.get_family()) + others)
    return "".join(_escape(c) if c in drawn and drawn[c] is None else c for c in text)


def figure_text(text) -> str:
    """Text from a run folder drawn in a figure (a run's or class's name, a record's key): its
    undecodable bytes replaced (displayable), its control characters escaped and the characters
    no installed font draws (_in_fonts); the page shows them as they are."""
    from gankit.io import displayable
    return _in_fonts(escaped(displayable(text), _ALL_CONTROLS))


def escape_figure(fig):
    """Every text of ``fig`` with its control characters escaped and the characters its font
    lacks drawn from another installed font or escaped (figure_text), before it is measured or
    drawn: text set from a folder's names by code that did not escape it."""
    from matplotlib.text import Text
    for t in fig.findobj(Text):
        text = _in_fonts(escaped(t.get_text(), _ALL_CONTROLS), t)
        if text != t.get_text():
            t.set_text(text)


def png(fig, alt: str = "", dpi: int = 90, wide: bool = True) -> Figure:
    """A matplotlib figure -> Figure; control characters in its text (titles, legends, captions
    from folder names) written as escapes."""
    from gankit.report.plots import figs
    escape_figure(fig)
    buf = io.BytesIO()
    figs.save(fig, buf, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    return Figure(base64.b64encode(buf.getvalue()).decode("ascii"), alt, wide)


_ENV: Environment | None = None


def environment() -> Environment:
    global _ENV
    if _ENV is None:
        _ENV = Environment(loader=PackageLoader("gankit.report", "templates"),
                           autoescape=select_autoescape(default=True, default_for_string=True),
                           undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        _ENV.filters["printable"] = lambda text: escaped(str(text), _ALL_CONTROLS)
    return _ENV


def render(template: str, **context) -> str:
    """The page as text that can be written and shown: a folder name's undecodable bytes,
    wherever the run's name, paths or records carry them, replaced (displayable), and its control
    characters (a folder named with ESC, in the title) written as \\xHH."""
    from gankit.io import displayable
    return escaped(displayable(environment().get_template(template).render(**context)))


class _Utf8Page:
    encoding = "utf-8"        # a page shows every character a name holds


def command_word(word) -> str:
    """``word`` (a run folder) written into a command the page suggests, for the reader to paste
    into a shell: quoted (a name with spaces or ``;``), and $'...' with \\xHH for a name holding
    control or bidirectional characters, which would reorder the page's line (gankit.streams.pasteable)."""
    from gankit.streams import pasteable
    return pasteable(word, _Utf8Page)


def local_time(t: float) -> str:
    """``t`` in local time with its offset from UTC: unambiguous wherever the page is read."""
    from datetime import datetime
    d = datetime.fromtimestamp(t).astimezone()
    z = d.strftime("%z")
    return f"{d:%Y-%m-%d %H:%M:%S} UTC{z[:3]}:{z[3:5]}"


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h} h {m:02d} min" if h else (f"{m} min {s:02d} s" if m else f"{s} s")


def page_stamp(path) -> tuple | None:
    """What changes when report.html is rewritten (an atomic write is a new file)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size
