"""A sweep table written where it may be rendered (--out, a redirected stdout) escapes Markdown's
link and emphasis characters ([ ] ! * _ `; "(" and ")" make no link without "]") in labels, keys
and notes: a label "[x](javascript:alert(1))" from a shared results file was a live javascript:
link in Python-Markdown / MkDocs (gankit/sweep_table.py)."""
from __future__ import annotations

import argparse

import pytest

from gankit.sweep_table import markdown_table, summarise

LINK = "[x](javascript:alert(1))"
ODD = "*b* _c_ `d` ![i](j) a\\[b lr_0.01"


def test_a_rendered_table_escapes_links_and_emphasis_in_labels_and_keys():
    rows = summarise([{"label": LINK, "m": 1.0}, {"label": ODD, "m": 2.0, "[k](javascript:1)": 3.0}])
    table = markdown_table(rows, formats={}).splitlines()
    assert table[0] == "| label | runs | m | \\[k\\](javascript:1) |", table[0]
    assert table[2] == "| \\[x\\](javascript:alert(1)) | 1 | 1.00 | – |", table[2]
    # an "_" inside a word (lr_0.01) starts no emphasis and stays as typed; a label's own "\[" stays text
    assert table[3] == "| \\*b\\* \\_c\\_ \\`d\\` \\!\\[i\\](j) a\\\\\\[b lr_0.01 | 1 | 2.00 | 3.00 |", table[3]
    # on a terminal (html=False) the labels read as typed
    assert markdown_table(rows, formats={}, html=False).splitlines()[2] == f"| {LINK} | 1 | 1.00 | – |"


def test_the_rendered_table_holds_no_link():
    import markdown
    rows = summarise([{"label": LINK, "m": 1.0}, {"label": ODD, "m": 2.0}])
    html = markdown.markdown(markdown_table(rows, formats={}), extensions=["tables"])
    assert "<a " not in html and "<img" not in html and "<em>" not in html and "<code>" not in html, html
    assert f"<td>{LINK}</td>" in html and "<td>*b* _c_ `d` ![i](j) a\\[b lr_0.01</td>" in html, html


@pytest.mark.parametrize("tty", [True, False])
def test_the_table_only_file_escapes_a_link_label_and_its_note(tmp_path, monkeypatch, capsys, tty):
    from gankit import sweep as S
    from gankit import sweep_cli
    res, out = tmp_path / "res.jsonl", tmp_path / "table.md"
    res.write_text("")
    monkeypatch.setattr(sweep_cli, "_on_terminal", lambda: tty, raising=False)
    parser = argparse.ArgumentParser(prog="gankit")
    S.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sweep", f"{LINK}=ring", "--seeds", "1", "--table-only", "--results", str(res),
                              "--out", str(out)])
    capsys.readouterr()
    assert args.fn(args) == 1          # no run recorded: its row (0/1) and its note
    shown, written = capsys.readouterr().out, out.read_text()
    escaped = "\\[x\\](javascript:alert(1))"
    for md in [written] + ([] if tty else [shown]):
        assert LINK not in md, md
        assert f"| {escaped} | 0/1 |" in md and f"- {escaped}: 0/1 runs" in md, md
    if tty:
        assert f"| {LINK} | 0/1 |" in shown and f"- {LINK}: 0/1 runs" in shown, shown
