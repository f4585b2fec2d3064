"""Axes helpers of the figures (gankit/report/plots.py and the other figure modules): matplotlib
set up for user text, plain-text log axes, panel style and grids, and curves whose infinite
values are marked rather than dropped."""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import NamedTuple

import matplotlib
import matplotlib.image
import matplotlib.text
import matplotlib.ticker as ticker
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from gankit.io import displayable
from gankit.report.literal import literal_text  # noqa: F401 (the figure modules' decorator)


class _Figures:
    """What the figure modules need of pyplot, without pyplot: figures drawn on their own Agg
    canvas need no backend, so gankit never calls matplotlib.use or changes rcParams, and a
    notebook's backend and settings stay as the user set them."""

    @staticmethod
    def subplots(nrows: int = 1, ncols: int = 1, figsize=None, **kw):
        fig = Figure(figsize=figsize)
        FigureCanvasAgg(fig)
        return fig, fig.subplots(nrows, ncols, **kw)

    @staticmethod
    def save(fig, target, **kw):
        # labels carry user text (run folders, class folders, captions): a "$" must print, not
        # start math; texts made while drawing (ticks) see the same setting
        for t in fig.findobj(matplotlib.text.Text):
            t.set_parse_math(False)
        with matplotlib.rc_context({"text.parse_math": False}):
            fig.savefig(target, **kw)

    imsave = staticmethod(matplotlib.image.imsave)


figs = _Figures()


class _LogTicks(ticker.Locator):
    """Minor ticks of a log axis: 2..9 times each power of ten, except over less than a
    decade, where those are one or two ticks: then about four plain values (0.15, 0.2, 0.25)."""

    def __call__(self):
        return self.tick_values(*self.axis.get_view_interval())

    def tick_values(self, vmin, vmax):
        lo, hi = sorted((float(vmin), float(vmax)))
        if not (lo > 0 and np.isfinite(hi)):
            return []
        if hi / lo < 10:
            ticks = ticker.MaxNLocator(nbins=4, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
            return ticks[ticks > 0]
        return _FiniteLogLocator(subs=np.arange(2, 10)).tick_values(lo, hi)


class _FiniteLogLocator(ticker.LogLocator):
    """LogLocator for an axis reaching the float limit (a damaged record's 1e308): its ticks a
    decade or more past it are computed without numpy's overflow warning, and left out."""

    def tick_values(self, vmin, vmax):
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            ticks = super().tick_values(vmin, vmax)
        return ticks[np.isfinite(ticks) & (ticks > 0)]


class _LogLabels(ticker.Formatter):
    """Plain-text labels for a log axis ("0.001", "0.15", "1e-05"): the default ones are math
    ("10^{1}"), which text.parse_math=False would print raw as "$\\mathdefault{10^{1}}$".
    At least 3 significant digits, more where needed to keep neighbours distinct.  Minor
    ticks are labelled where the powers of ten alone say little: every one over less than
    about a decade (_LogTicks makes them few), the 2s and 5s up to 2.5 decades (more would
    collide in a short panel), none beyond."""

    def __init__(self, minor: bool):
        self.minor = minor
        self.digits = 3

    def set_locs(self, locs):
        super().set_locs(locs)
        lo, hi = sorted(self.axis.get_view_interval()) if self.axis is not None else (-np.inf, np.inf)
        shown = [v for v in locs if lo <= v <= hi]
        self.digits = 3
        while self.digits < 8 and len({f"{v:.{self.digits}g}" for v in shown}) < len(shown):
            self.digits += 1

    def __call__(self, x, pos=None):
        if not x > 0:
            return ""
        if self.minor and self.axis is not None:
            lo, hi = sorted(self.axis.get_view_interval())
            if lo > 0 and hi / lo >= 12:
                mantissa = x / 10 ** np.floor(np.log10(x) + 1e-9)
                if hi / lo > 10 ** 2.5 or not np.isclose(mantissa, [2, 5]).any():
                    return ""
        return f"{x:.{self.digits}g}"


def log_y(ax):
    """A log y axis labelled in plain text (_LogLabels), minor labels the size of the major ones.
    Values near the float limit (a damaged record's 1e308) get limits set here: matplotlib's margin
    would pass 1e308 (numpy's "overflow encountered in exp") and leave the panel at 1..10, empty."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        ax.set_yscale("log")
    ax.yaxis.set_major_locator(_FiniteLogLocator(10))
    lo, hi = float(ax.dataLim.minposy), float(ax.dataLim.y1)     # the smallest positive and the largest drawn
    if 0 < lo <= hi < math.inf and not _covers(ax.get_ylim(), lo, hi):
        pad = 10 ** (0.05 * (math.log10(hi) - math.log10(lo)) or 0.5)    # matplotlib's margin, in decades
        ax.set_ylim(max(lo / pad, sys.float_info.min), min(hi * pad, sys.float_info.max))
    ax.yaxis.set_major_formatter(_LogLabels(minor=False))
    ax.yaxis.set_minor_locator(_LogTicks())
    ax.yaxis.set_minor_formatter(_LogLabels(minor=True))
    size = ax.yaxis.get_major_ticks()[0].label1.get_fontsize() if ax.yaxis.get_major_ticks() else None
    if size:
        ax.tick_params(axis="y", which="minor", labelsize=size)


def _covers(limits, lo: float, hi: float) -> bool:
    bottom, top = sorted(limits)
    return bool(0 < bottom <= lo and hi <= top < math.inf)


PALETTE = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#f0e442"]
# beyond the 8 colours, each further 8 runs get the next line style and marker together:
# (matplotlib style, the same dashes as an SVG stroke-dasharray for the page's swatch, marker)
LINE_STYLES = [("-", "", "o"), ("--", "6 3", "s"), (":", "1.5 2.5", "^"), ("-.", "6 2 1.5 2", "D")]


@dataclass(frozen=True)
class RunStyle:
    colour: str
    ls: str
    dasharray: str     # the line style as SVG draws it (the runs table's swatch); "" = solid
    marker: str


def run_style(i: int) -> RunStyle:
    """Run i's style in compare's panels, legend and table: 8 colours x 4 line styles (with
    a marker each), 32 runs told apart; beyond that styles repeat, the legend still names all."""
    ls, dash, marker = LINE_STYLES[(i // len(PALETTE)) % len(LINE_STYLES)]
    return RunStyle(PALETTE[i % len(PALETTE)], ls, dash, marker)


def _style(ax, title: str):
    ax.set_title(displayable(title), fontsize=10, loc="left")
    ax.set_xlabel("step", fontsize=8)
    ax.tick_params(which="both", labelsize=7)
    if ax.get_yscale() == "linear":   # no offset; a power-of-ten factor only outside 1e-4 .. 1e5 (a p-value of 1e-67)
        ax.ticklabel_format(axis="y", useOffset=False, style="sci", scilimits=(-4, 5))
    ax.grid(alpha=0.25)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _grid(n: int, cols: int = 3, w: float = 4.4, h: float = 2.8):
    cols = max(1, min(cols, n))
    rows = math.ceil(n / cols)
    fig, axes = figs.subplots(rows, cols, figsize=(w * cols, h * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    return fig, axes.ravel()


def _series(records: list[dict], key: str):
    """(steps, values) of the key's measurements, infinities ("inf" / "-inf" in the records)
    as NaN so a line breaks there instead of joining its neighbours; and the steps where it
    was +inf and -inf, which no y axis can show (drawn by _mark_infinite)."""
    from gankit.report.metricinfo import as_float
    steps, values, pos, neg = [], [], [], []
    for r in records:
        v = r.get(key)
        if type(v) is not float:        # the common case first: a run logged every step has 10^6
            v = as_float(v)
            if v is None:
                continue
        step = r.get("step")
        if not isinstance(step, (int, float)):
            continue
        steps.append(step)
        if math.isfinite(v):
            values.append(v)
        else:
            values.append(math.nan)
            if v == math.inf:
                pos.append(step)
            elif v == -math.inf:
                neg.append(step)
    return steps, values, pos, neg


def code_segments(records: list[dict], key: str, measuring) -> list[tuple[list[dict], str | None]]:
    """The key's records cut where the user's code that measured it changes (its metric's or
    dataset's hash in settings.user_code, as ``measuring``, a metricinfo.Measuring, keeps it):
    a metric edited before a resume measures other numbers, which one line would join (1.3,
    then 133).  Each part with the note that starts it ("metric code changed at step 40"; None
    for the first).  A record without settings (an older gankit's) says nothing and stays put."""
    parts: list[tuple[list[dict], str | None]] = [([], None)]
    was = None
    for r in records:
        if key not in r:
            continue
        code = None
        if isinstance(r.get("settings"), dict):
            code = (measuring.of(key, r["settings"]) or {}).get("user_code") or {}
        if code is not None and was is not None and code != was and parts[-1][0]:
            names = {n for n in set(code) | set(was) if code.get(n) != was.get(n)}
            what = next((w for w in ("metric", "dataset") if all(n.startswith(w + " ") for n in names)), "user")
            step = r.get("step")
            at = f" at {_steps_text([step])}" if isinstance(step, (int, float)) and not isinstance(step, bool) else ""
            parts.append(([], f"{what} code changed{at}"))
        if code is not None:
            was = code
        parts[-1][0].append(r)
    return parts


# a curve of more points than this is thinned before drawing (a 1M-step run logged every step):
# matplotlib would draw every point into a panel ~400 pixels wide, a solid band, in minutes and GBs
MAX_DRAWN = 4000
BINS = 1000          # about twice the widest panel's pixels: the thinned curve looks the same


def _bins(steps: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Each step's bin of ``bins`` equal spans of steps."""
    lo, span = float(steps.min()), float(steps.max() - steps.min())
    if not span > 0:
        return np.zeros(len(steps), dtype=np.int64)
    return np.minimum(((steps - lo) * (bins / span)).astype(np.int64), bins - 1)


def decimate(steps, values, limit: int = MAX_DRAWN, bins: int = BINS):
    """(steps, values) to draw: as they are up to ``limit`` points; beyond, per bin of steps
    the lowest and the highest finite value (so a spike stays visible) and the bin's first NaN
    (the break an infinity makes in the line), plus the first and last points, in their order."""
    if len(steps) <= limit:
        return steps, values
    s, v = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    b = _bins(s, bins)
    idx = np.arange(len(s))
    fin = np.isfinite(v)
    keep = [idx[[0, -1]]]
    if fin.any():
        f = idx[fin]
        order = f[np.lexsort((v[f], b[f]))]            # by bin, then by value
        ob = b[order]
        starts = np.flatnonzero(np.r_[True, ob[1:] != ob[:-1]])
        ends = np.r_[starts[1:], len(order)] - 1
        keep += [order[starts], order[ends]]
    if not fin.all():
        nan = idx[~fin]
        keep.append(nan[np.unique(b[nan], return_index=True)[1]])
    kept = np.unique(np.concatenate(keep))
    return s[kept], v[kept]


def _thin_steps(steps: list, limit: int = MAX_DRAWN, bins: int = BINS) -> list:
    """Marker positions along the step axis: as they are up to ``limit``, else one per bin."""
    if len(steps) <= limit:
        return steps
    s = np.asarray(steps, dtype=float)
    return list(s[np.unique(_bins(s, bins), return_index=True)[1]])


def _steps_text(steps: list) -> str:
    shown = ", ".join(str(int(s)) if float(s).is_integer() else f"{s:g}" for s in steps[:4])
    more = f" and {len(steps) - 4} more" if len(steps) > 4 else ""
    return ("step " if len(steps) == 1 else "steps ") + shown + more


class InfNote(NamedTuple):
    """A legend entry for infinite values: its handle and label, and which ones (sign "" or "-")."""
    handle: object
    label: str
    sign: str
    steps: list


def _mark_infinite(ax, name: str, pos: list, neg: list, color) -> list[InfNote]:
    """Infinite values cannot be drawn on the axis: a triangle at the panel's top (+inf) or
    bottom (-inf) edge at their steps, and a legend entry naming them, so they are not lost."""
    from matplotlib.lines import Line2D
    from matplotlib.transforms import blended_transform_factory
    edge = blended_transform_factory(ax.transData, ax.transAxes)   # x in steps, y in panel height
    out = []
    for steps, y, marker, sign in ((pos, 1.0, "^", ""), (neg, 0.0, "v", "-")):
        if not steps:
            continue
        drawn = _thin_steps(steps)     # the legend below names them all
        ax.plot(drawn, [y] * len(drawn), ls="none", marker=marker, ms=6, color=color, transform=edge,
                clip_on=False, zorder=5)
        out.append(InfNote(Line2D([], [], ls="none", marker=marker, ms=6, color=color),
                           f"{name} = {sign}inf at {_steps_text(steps)}", sign, list(steps)))
    return out


MAX_INF_LINES = 3     # a panel's legend names at most this many runs' infinities


def _summarise_infinite(notes: list[InfNote]) -> list:
    """The infinity entries of a panel; of more than MAX_INF_LINES runs, one line per sign
    ("19 runs = inf at steps 3, 6"), so the legend stays inside its panel.  The triangles at
    the edge keep each run's colour."""
    from matplotlib.lines import Line2D
    if len(notes) <= MAX_INF_LINES:
        return notes
    out = []
    for sign, marker in (("", "^"), ("-", "v")):
        mine = [n for n in notes if n.sign == sign]
        if mine:
            steps = sorted({s for n in mine for s in n.steps})
            out.append((Line2D([], [], ls="none", marker=marker, ms=6, color="#555555"),
                        f"{len(mine)} runs = {sign}inf at {_steps_text(steps)}"))
    return out


def _isolated(values: list) -> list[int]:
    """Indices of finite values with no finite neighbour: a line through them is no line."""
    fin = np.isfinite(np.asarray(values, dtype=float))
    if not fin.size:
        return []
    before, after = np.r_[False, fin[:-1]], np.r_[fin[1:], False]
    return np.flatnonzero(fin & ~before & ~after).tolist()


def _plot_key(ax, records: list[dict], key: str, name: str, color, lone_marker: str = "o", **kw):
    """Draw one key over steps; returns its line (None when it has no finite value) and the
    legend entries of its infinite values.  A line drawn without markers gets one (``lone_marker``)
    at each point that has no neighbour on it: a single logged value, or one between infinities.
    Lone points and infinities are found on every point; a long curve is drawn thinned (decimate)."""
    s, v, pos, neg = _series(records, key)
    line = None
    if any(math.isfinite(x) for x in v):
        line = ax.plot(*decimate(s, v), color=color, **kw)[0]
        lone = _isolated(v) if kw.get("marker") in (None, "", "none", "None") else []
        if lone:
            ax.plot(*decimate([s[i] for i in lone], [v[i] for i in lone]), ls="none", marker=lone_marker,
                    ms=max(kw.get("ms", 0), 4), color=color, zorder=line.get_zorder())
    return line, _mark_infinite(ax, name, pos, neg, color)


def _legend(ax, entries: list[tuple], **kw):
    """A legend of (handle, label, ...) entries; labels name runs and keys read from disk,
    which matplotlib cannot draw with a file name's undecodable bytes (displayable)."""
    if entries:
        ax.legend([e[0] for e in entries], [displayable(e[1]) for e in entries], **kw)


def compact_steps(ax):
    """Step labels a narrow panel has room for (the default put nine labels of a 200,000-step run
    edge to edge on 3.6 in): at most 6 ticks, in thousands (200k) or millions (1.5M) from 10,000."""
    class StepLabels(ticker.Formatter):
        scale, unit = 1.0, ""

        def set_locs(self, locs):        # one unit for the whole axis: 0 5k 10k, not 0 5000 10k
            super().set_locs(locs)
            top = max((abs(v) for v in locs), default=0.0)
            self.scale, self.unit = (1e6, "M") if top >= 1e6 else (1e3, "k") if top >= 1e4 else (1.0, "")

        def __call__(self, x, pos=None):
            return f"{x / self.scale:g}{self.unit}" if x else "0"
    ax.xaxis.set_major_locator(ticker.MaxNLocator(nbins=5, integer=True, min_n_ticks=3))
    ax.xaxis.set_major_formatter(StepLabels())
