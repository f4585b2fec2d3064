"""``gankit compare RUN...``: runs side by side, as an HTML page, text or JSON."""
from __future__ import annotations

import sys

from gankit.cli_args import shown_path
from gankit.streams import shown


def add_parser(sub):
    c = sub.add_parser("compare", help="runs side by side: overlaid curves, final metrics, config differences")
    c.add_argument("run_dirs", nargs="+", metavar="RUN")
    c.add_argument("--out", default=None, help="write the HTML page here (default compare.html unless "
                   "--json/--text); an existing file is replaced only if it is an earlier compare page")
    printed = c.add_mutually_exclusive_group()
    printed.add_argument("--json", action="store_true", help="print the comparison as JSON")
    printed.add_argument("--text", action="store_true", help="print the comparison as a text table")
    c.set_defaults(fn=_cmd_compare)


def _cmd_compare(a):
    from gankit.cli_args import output_file
    from gankit.report import compare as CMP
    page = a.out or (None if a.json or a.text else "compare.html")
    if a.out:
        output_file("compare", a.out, "compare.html")
    if page:
        CMP.check_out(page, a.run_dirs)           # before any work, as output_file
    data = None
    if a.json or a.text:
        # built once: with the page's curves only where a page is written too
        data = CMP.compare_data(a.run_dirs, curves=bool(page))
        print(shown(CMP.to_json(data) if a.json else CMP.to_text(data)))   # the runs' paths in it
    if page:
        out = CMP.write_compare(a.run_dirs, page, data)
        stream = sys.stderr if a.json else sys.stdout
        print(f"compare: {shown_path(out.resolve(), stream)}", file=stream)
