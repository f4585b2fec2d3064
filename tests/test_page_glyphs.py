"""Figures of names with characters the figure's font lacks (a class folder named 日本 under
DejaVu Sans): drawn from an installed font that has them, else written as \\uHHHH, never as
missing-glyph boxes with matplotlib's "Glyph ... missing" warnings."""
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from gankit.report import page

NOWHERE = "\U0010fffd"      # a private-use character: no font has a glyph for it
STIX_ONLY = "\u210a"        # SCRIPT SMALL G: in matplotlib's own STIXGeneral, not in DejaVu Sans


def _drawable_or_escaped(t, name: str, escaped: str):
    """The Text ``t`` shows ``name`` from fonts that have its glyphs, or ``escaped``."""
    from matplotlib.font_manager import fontManager
    if t.get_text().endswith(escaped):
        return True
    fonts = [page._codes(p) for p in fontManager._find_fonts_by_props(t.get_fontproperties())]
    return t.get_text().endswith(name) and all(any(ord(c) in f for f in fonts) for c in name)


def test_the_conditional_rows_name_classes_a_font_lacks_without_warnings(monkeypatch):
    from gankit.report.conditional import condition_sections
    figures = []
    png = page.png
    monkeypatch.setattr(page, "png", lambda fig, *a, **k: figures.append(fig) or png(fig, *a, **k))
    # the last is drawn from another font wherever matplotlib is: it must be so while it is measured
    ds = SimpleNamespace(kind="image", class_names=["café", "日本", "chat noir", f"g{STIX_ONLY}"],
                         condition_kind="label", classes=[0, 1, 2, 3])
    snap = {"step": 3, "samples": np.random.default_rng(0).random((8, 1, 8, 8)), "labels": np.repeat([0, 1, 2, 3], 2)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # "Glyph 26085 (CJK UNIFIED IDEOGRAPH-65E5) missing ..."
        (section,) = condition_sections(ds, [snap])
    labels = [ax.yaxis.label for ax in figures[0].axes]
    assert [labels[i].get_text() for i in (0, 2, 3)] == ["0: café", "2: chat noir", f"3: g{STIX_ONLY}"]
    assert _drawable_or_escaped(labels[1], "日本", "\\u65e5\\u672c"), labels[1].get_text()


def test_a_character_no_font_has_is_escaped_one_another_font_has_is_drawn_from_it():
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    try:
        t = ax.set_title(f"g{STIX_ONLY} {NOWHERE} café")
        page.escape_figure(fig)
        assert t.get_text() == f"g{STIX_ONLY} \\U0010fffd café"
        assert t.get_fontfamily()[0] == "sans-serif" and len(t.get_fontfamily()) == 2
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fig.canvas.draw()
    finally:
        plt.close(fig)
    # text drawn in the default font, escaped before code puts it in a figure
    assert page.figure_text(f"x{NOWHERE}\x1b") == "x\\U0010fffd\\x1b"
    assert page.figure_text(f"x{STIX_ONLY}") == f"x{STIX_ONLY}"


@pytest.mark.parametrize("name", ["café", "chat noir", "a\tb"])
def test_what_the_font_draws_is_left_as_it_is(name):
    assert page.figure_text(name) == name
