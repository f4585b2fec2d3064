"""How a record key's values are drawn as a curve over steps (plots.figure_curves, figure_lr,
figure_eval and compare_figure.figure_compare draw through _plot): values past PLOT_LIMIT as the
infinities of their sign, and whether a panel's values span decades enough for a log axis."""
from __future__ import annotations

import math

from gankit.report.axes import _plot_key


# values beyond this are drawn as infinities (a triangle at the panel's edge, named in its legend):
# an axis reaching 1e308 overflows float64 in its margins or ticks (or spanning -1e308 to 1e308),
# and matplotlib's ticker raised "arange: cannot compute length" (an edited metrics.jsonl)
PLOT_LIMIT = 1e300


def _beyond(v) -> bool:
    """Whether a record value is a finite number past PLOT_LIMIT ("inf" and text are not)."""
    if type(v) is not float:          # the common case first, as _series
        from gankit.report.metricinfo import as_float
        v = None if v is None or isinstance(v, str) else as_float(v)
        if v is None:
            return False
    return PLOT_LIMIT < abs(v) < math.inf


def _plot(ax, records: list[dict], key: str, *args, **kw):
    """_plot_key, the key's values past PLOT_LIMIT as the infinities of their sign (noted, not plotted)."""
    if any(_beyond(r.get(key)) for r in records):
        records = [{**r, key: math.copysign(math.inf, float(r[key]))} if _beyond(r.get(key)) else r
                   for r in records]
    return _plot_key(ax, records, key, *args, **kw)


def _spans_decades(records: list[dict], keys: list[str]) -> bool:
    """All of a panel's values positive and spanning more than 20x: a linear axis would flatten
    the small curves (a loss of 5 beside one of 690), as for the learning rates."""
    from gankit.report.metricinfo import as_float
    vals = [v if type(v) is float else as_float(v) for r in records for k in keys if (v := r.get(k)) is not None]
    vals = [v for v in vals if v is not None and math.isfinite(v) and abs(v) <= PLOT_LIMIT]   # as _plot draws them
    return bool(vals) and min(vals) > 0 and max(vals) / min(vals) > 20


def settings_parts(segments: list[tuple[list[dict], str | None]], key: str,
                   measuring) -> list[tuple[list[dict], str | None, str | None]]:
    """axes.code_segments' parts of ``key``'s records each cut further by the eval settings that
    change its number (measuring.of, less the user's code those parts were cut on): evaluations
    at eval.n_samples=500 during training and a ``gankit eval --set eval.n_samples=10000`` of the
    last step are other measures, which one line joined as if training had moved the number.
    Records of the same settings make one part wherever they lie (a run resumed at its old settings
    continues its line).  Each part as (records, the note that starts its code part, its settings
    that differ from another part's, "n_samples=10000"); one part of one setting has neither, so
    it is drawn as before.  A record without settings (an older gankit's) joins the part of the
    record before it (the first part, before any)."""
    import json
    parts: list[list] = []          # [records, note, settings or None]
    for seg, note in segments:
        mine: dict[str, list] = {}
        current, pending = None, []
        for r in seg:
            if key not in r:
                continue
            s = measuring.of(key, r.get("settings"))
            if s is None:
                (current[0] if current is not None else pending).append(r)
                continue
            s = {n: v for n, v in s.items() if n != "user_code"}
            current = mine.get(tag := json.dumps(s, sort_keys=True, default=str))
            if current is None:
                current = mine[tag] = [[], note, s]
                parts.append(current)
            current[0].extend(pending)
            pending = []
            current[0].append(r)
        if pending:                 # a code part of records without settings
            parts.append([pending, note, None])
    known = [p[2] for p in parts if p[2] is not None]
    names = sorted(n for n in {n for s in known for n in s}
                   if len({_shown_setting(n, s.get(n)) for s in known}) > 1)
    return [(recs, note, None if not names else "settings unrecorded" if s is None else
             ", ".join(f"{n}={_shown_setting(n, s.get(n))}" for n in names)) for recs, note, s in parts]


def _shown_setting(name: str, value) -> str:
    """An eval setting's value in a curve's label, as compare's settings note words it."""
    import json

    from gankit.report.compare_settings import CODE, SAMPLERS, _code_shown
    if name == CODE:
        return _code_shown(value)
    if name == "sampler" and isinstance(value, (str, type(None))):
        return SAMPLERS.get(value, value)
    if value is None:
        return "unset"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def part_references(parts: list[tuple], key: str, evals: list[dict], reference: dict | None,
                    refs: list[dict] | None, infos) -> list:
    """The real-data value of ``key`` for each of settings_parts' parts: the reference recorded
    with that part's settings (gankit.report._matching_reference, from ``refs``, the run's
    reference records); without ``refs``, ``reference`` (the final evaluation's) for the part
    holding the newest record of the key and none for the others, as no other was measured alike."""
    newest = next((r for r in reversed(evals) if key in r), None)
    if refs is None:
        return [(reference or {}).get(key) if any(r is newest for r in recs) else None for recs, *_ in parts]
    from gankit.report import _matching_reference
    out = []
    for recs, *_ in parts:
        rec = next((r for r in reversed(recs) if isinstance(r.get("settings"), dict)), recs[-1])
        out.append((_matching_reference({key: rec}, refs, infos) or {}).get(key))
    return out
