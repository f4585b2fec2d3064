"""A sweep's results file (one JSONL record per run: read, reused by --resume, appended) and
its table: mean ± standard error over seeds per variant, with what each cell covers.

A cell that averages fewer runs than its row holds says so, ``2.50 ± 1.50 (2/3)``: a metric a
run did not measure (left out with a warning) or a run that failed would otherwise shrink the
mean's sample unseen.  A NaN result (records write it as null) counts as a run's result and
makes the cell ``nan``, as an infinite one makes it ``inf``: skipping it would leave the mean of
the runs that went well.
"""
from __future__ import annotations

import errno
import json
import math
import os
import re
import sys
from pathlib import Path
from typing import Callable

from gankit.config import ConfigError
from gankit.io import INF_STRINGS

# bookkeeping numbers of a record that are not measurements
NOT_METRICS = {"seed", "steps", "wall_s"}

# an infinite result as records write it ("inf") or as Python holds it
_INFINITE = (*INF_STRINGS, math.inf, -math.inf)


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def read_results(path: str | Path, log: Callable[[str], None] = _stderr) -> list[dict]:
    """The records of a JSONL results file ([] if none); damaged lines are skipped with a warning
    (a sweep killed while writing leaves a torn last line; bytes that are not UTF-8 or nesting
    too deep to parse are damage too, as in gankit.io.read_jsonl)."""
    path = Path(path)
    if not path.exists():
        return []
    from gankit.io import jsonl_lines
    out = []
    for n, line, r in jsonl_lines(path):
        if isinstance(r, dict) and isinstance(r.get("config_hash"), (str, type(None))):
            out.append(r)
        else:
            log(f"warning: {path}:{n}: damaged record skipped: {line[:60]!r}")
    return out


def _append(path: Path, record: dict) -> None:
    """Append one record as one line; a write that fails (a full disk) is cut back off, so the
    file keeps no torn line of it."""
    line = (json.dumps(record) + "\n").encode()
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        end = os.lseek(fd, 0, os.SEEK_END)
        if end and os.pread(fd, 1, end - 1) != b"\n":   # after a torn last line (a kill): a new line
            line = b"\n" + line
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view):]
        except OSError:
            try:
                os.ftruncate(fd, end)
            except OSError:
                pass     # the reader skips a torn line with a warning
            raise
    finally:
        os.close(fd)


def results_refused(e: OSError, path: Path, then: str) -> OSError:
    """A write to the results file (or its lock) refused, as one line: the file, why, the fix,
    then ``then``."""
    from gankit.io import WriteError, disk_full_cause, storage_refusal, write_failure
    where = "the file" if path.exists() else "the folder"
    if disk_full_cause(e):
        said, fix = f"the disk is full{storage_refusal(e, path.parent)[1]}", "free some space"
    elif e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        said, fix = write_failure(e, where), "make it writable or give --results another file"
    else:
        said, fix = write_failure(e, where), "give --results a file on another drive"
    return WriteError(e.errno, f"{said}; {fix}, then {then}", str(path))


def _is_num(v) -> bool:
    # is_number first: math.isfinite of an int too large for a float (10**400) raises OverflowError
    from gankit.report.metricinfo import is_number
    return is_number(v) and math.isfinite(v)


def _is_nan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)


def mean_se(xs: list[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (nan for one value)."""
    n = len(xs)
    mu = sum(xs) / n
    if n < 2:
        return mu, float("nan")
    return mu, math.sqrt(sum((x - mu) ** 2 for x in xs) / (n - 1) / n)


def pm(mu: float, se: float, digits: int, unit: str = "") -> str:
    """``mean ± s.e.``, or just the mean when there is no s.e. (one value).  A standard error
    that ``digits`` decimals would round to 0 gets its first significant digit, and the mean as
    many decimals: -43.633 ± 0.034 reads -43.63 ± 0.03, not -43.6 ± 0.0, which looks like runs
    that all agree (a true 0 stays 0.00, as does the rounding noise of a mean of equal floats)."""
    if se != se:
        return f"{mu:.{digits}f}{unit}"
    if abs(mu) * 1e-9 < se < math.inf and float(f"{se:.{digits}f}") == 0:
        digits = min(12, -math.floor(math.log10(float(f"{se:.1g}"))))    # 0.0096: 0.01, not 0.010
    return f"{mu:.{digits}f}{unit} ± {se:.{digits}f}{unit}"


def fmt(xs: list[float], digits: int) -> str:
    return pm(*mean_se(xs), digits)


def summarise(results: list[dict], group_by=("label",), keys: list[str] | None = None) -> list[dict]:
    """One row per group (first seen first): its group_by values, n (runs), per key (mean,
    standard error) over the runs that hold the key, and ``n_of``: per key, how many runs
    those were.  A NaN (null in a record) or an infinity in any run is the cell's mean.  keys
    None: every numeric top-level key of the records but bookkeeping (seed, steps, wall_s)."""
    if keys is None:
        keys = list(dict.fromkeys(k for r in results for k, v in r.items()
                                  if (_is_num(v) or _is_nan(v) or v in _INFINITE) and k not in NOT_METRICS))
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault(tuple(r.get(g) for g in group_by), []).append(r)
    rows = []
    for values, rs in groups.items():
        row = {**dict(zip(group_by, values)), "n": len(rs), "n_of": {}}
        for k in keys:
            xs = [r[k] for r in rs if _is_num(r.get(k))]
            nans = sum(1 for r in rs if k in r and (r[k] is None or _is_nan(r[k])))
            ends = {math.copysign(math.inf, 1 if r[k] in ("inf", math.inf) else -1) for r in rs
                    if r.get(k) in _INFINITE}
            count = len(xs) + nans + sum(1 for r in rs if r.get(k) in _INFINITE)
            if nans or len(ends) > 1:
                row[k] = (float("nan"), float("nan"))
            elif ends:     # a run at an infinite end (records write "inf"): the mean is there too
                row[k] = (ends.pop(), float("nan"))
            elif xs:
                row[k] = mean_se(xs)
            else:
                continue
            row["n_of"][k] = count
        rows.append(row)
    return rows


def _digits(mu: float) -> int:
    """Decimals: three below 1, more for small values, so 0.0027 is not 0.003 and 4e-4 not 0.000."""
    if not math.isfinite(mu) or abs(mu) >= 1 or mu == 0:
        return 0 if abs(mu) >= 100 else 1 if abs(mu) >= 10 else 2 if abs(mu) >= 1 else 3
    return min(6, max(3, 2 - math.floor(math.log10(abs(mu)))))


# a declared fixed-point or percent format (".3f", ".1%"; flags before the dot are dropped)
_FIXED = re.compile(r"\.(\d+)([f%])$")


def value_cell(mu: float, se: float, fmt: str | None = None) -> str:
    """``mean ± s.e.``: fixed decimals, or scientific notation below 1e-4, where six decimals
    would print a p-value of 1e-64 as 0.000000.  ``fmt``, the metric's declared Output.fmt,
    sets the decimals where it is fixed-point or percent (0.51 at ".1%" reads 51.0%), with
    more for a mean it would leave fewer than 3 significant digits, as the report does; a "d"
    or "g" format would round a mean of counts to an integer or drop the s.e.'s digit, so
    those keep the table's own decimals."""
    m = _FIXED.search(fmt) if fmt else None
    if m and math.isfinite(mu):
        scale, unit = (100, "%") if m[2] == "%" else (1, "")
        shown, digits = mu * scale, int(m[1])
        need = 0 if shown == 0 else 2 - math.floor(math.log10(abs(shown)))
        if need <= 6:
            return pm(shown, se * scale, max(digits, need), unit)
    if math.isfinite(mu) and mu != 0 and abs(mu) < 1e-4:
        return f"{mu:.2e} ± {se:.1e}" if se == se else f"{mu:.2e}"
    return pm(mu, se, _digits(mu))


# Markdown's link, image, emphasis and code characters (and the backslash, so a label's own "\[" stays
# text): a label "[x](javascript:alert(1))" from a shared results file is a live link where the
# renderer does not sanitise links (Python-Markdown, MkDocs).  "(" and ")" stay: they make a link
# only after a "]", and a note's own "1 failed (ValueError)" reads as written.  An "_" between two
# letters or digits stays: it starts no emphasis (CommonMark, Python-Markdown), so lr_0.01 or
# modes_covered read as typed.
_MARKDOWN_SPECIAL = re.compile(r"[\\`*!\[\]]|(?<![^\W_])_|_(?![^\W_])")


def html_text(text: str) -> str:
    """``text`` as plain text wherever the markdown is rendered: "<", ">" and "&" as entities ("&"
    first: it starts the others), as markdown renders a key "k<b>ey" as HTML, then Markdown's
    link and emphasis characters backslash-escaped (_MARKDOWN_SPECIAL).  Not "\\<": Python-Markdown
    (MkDocs) keeps "\\<script>" as a backslash and a tag; entities are text in every renderer."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(lambda m: "\\" + m[0], text)


def _cell(v, html: bool = True) -> str:
    """A table cell: a "|" would start another column and a line break end the row; a
    backslash is escaped first, so a label's own "\\|" stays text; ``html``: for a table that
    may be rendered, html_text (which escapes the backslash itself); else the text as typed."""
    text = " ".join(str(v).splitlines()) if v is not None else ""
    text = html_text(text) if html else text.replace("\\", "\\\\")
    return text.replace("|", "\\|")


# keys of a summarise row that are not columns
_ROW_INFO = ("n", "n_of", "asked")


def markdown_table(rows: list[dict], group_by=("label",), keys: list[str] | None = None,
                   formats: dict[str, str] | None = None, html: bool = True) -> str:
    """Markdown table of summarise's rows: group columns, runs, then mean ± s.e. per key, in
    the format its metric declares (``formats``: key -> Output.fmt; None: the registered
    metrics' own, gankit.report.metricinfo.key_infos).  ``html=False``: labels and keys keep
    "<", ">" and "&" as they are, for a terminal (no renderer to inject into; "&lt;" misread).

    runs reads ``done/asked`` where a row has ``asked`` and fewer ran; a cell covering fewer
    runs than its row ends with ``(n/runs)``."""
    keys = keys if keys is not None else list(dict.fromkeys(
        k for row in rows for k in row if k not in (*group_by, *_ROW_INFO)))
    if formats is None:
        from gankit.report.metricinfo import key_infos
        formats = {k: i.fmt for k, i in key_infos().items()}
    lines = ["| " + " | ".join(_cell(c, html) for c in [*group_by, "runs", *keys]) + " |",
             "|" + "---|" * (len(group_by) + 1 + len(keys))]
    for row in rows:
        n, asked = row["n"], row.get("asked")
        cells = [_cell(row.get(g), html) for g in group_by] + [f"{n}/{asked}" if asked not in (None, n) else str(n)]
        for k in keys:
            if k not in row:
                cells.append("–")
                continue
            got = row.get("n_of", {}).get(k, n)
            cells.append(value_cell(*row[k], formats.get(k)) + (f" ({got}/{n})" if got != n else ""))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


ANY_METRICS = object()      # reuse's default: a record counts whatever metrics it measured


def _covers(record: dict, metrics) -> bool:
    """Whether a record measured the metrics asked now (None: all that apply); a record from
    before ``metrics_asked`` was kept counts as all."""
    if metrics is ANY_METRICS:
        return True
    asked = record.get("metrics_asked", "all")
    return asked == "all" or (metrics is not None and isinstance(asked, list)
                              and set(metrics) <= {m for m in asked if isinstance(m, str)})


def reuse(jobs: list, results_path: str | Path, identify: Callable[[dict], str] | None = None,
          log: Callable[[str], None] = _stderr, metrics=ANY_METRICS,
          code: Callable[[object], dict] | None = None) -> tuple[list[dict], list]:
    """(records already in results_path for these jobs (gankit.sweep.Job), relabelled as the
    job; jobs still to run).

    A record is matched by its config_hash (the job's identity, or one an older gankit gave the
    same run: gankit.identity.run_identities), or ``identify(record)`` for records written before
    hashes were stored; the last record of an identity wins.  One that did not measure every
    metric asked now (``metrics``) is run again, as is one whose ``user_code`` (the user's own
    dataset and metrics it was measured with) differs from ``code(job)``, the code loaded now; a
    record without it (an older gankit) counts as before."""
    done = {}
    for r in read_results(results_path, log):
        h = r.get("config_hash")
        if not h and identify is not None:
            try:
                h = identify(r)
            except (ConfigError, KeyError) as e:   # e.g. a preset renamed since: cannot match
                log(f"warning: record {r.get('label')!r} seed {r.get('seed')} not identified: {e}")
        if h and _covers(r, metrics):
            done[h] = r
    found, todo, edited, stale = [], [], set(), 0
    for j in jobs:
        h = next((h for h in _identities(j) if h in done), None) if done else None
        if h is not None and code is not None and isinstance(done[h].get("user_code"), dict):
            was, now = done[h]["user_code"], code(j)
            if was != now:
                edited.update(part for part in set(was) | set(now) if was.get(part) != now.get(part))
                stale, h = stale + 1, None
        if h is not None:
            found.append({**done[h], "label": j.label})
        else:
            todo.append(j)
    if stale:
        from gankit.streams import listed
        log(f"{stale} recorded runs were measured with other code of your {listed(sorted(edited))} than is "
            "loaded now (an edited module): running them again")
    return found, todo


def _identities(job) -> list[str]:
    """The job's identity, then those older records of the same run may hold."""
    from gankit.identity import run_identities
    config = getattr(job, "resolved", None)
    if config is None and callable(getattr(job, "config", None)):
        config = job.config()
    return list(dict.fromkeys([job.identity, *(run_identities(config) if config is not None else [])]))


def only_asked(record: dict, metrics) -> dict:
    """A reused record without the numbers of metrics not asked now: a row must not mix a
    metric some seeds measured in an earlier sweep with seeds that never measured it."""
    if not isinstance(metrics, list):
        return record
    from gankit.registry import METRICS
    # every metric that declares a key: prdc and prdc_points share theirs, and asking for
    # either keeps them
    declarers: dict[str, set[str]] = {}
    for entry in METRICS.entries():
        for key in getattr(entry.factory(), "outputs", {}):
            declarers.setdefault(key, set()).add(entry.name)
    out = {}
    for k, v in record.items():
        names = declarers.get(k) if k not in ("label", "config_hash") else None
        if not names or names & set(metrics):
            out[k] = only_asked(v, metrics) if k == "g_alone" and isinstance(v, dict) else v
    return out
