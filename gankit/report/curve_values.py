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
