"""Figures built from a run folder: 2-D samples over D(x), the paper's Figure 1, curves (their
values as gankit.report.curve_values draws them; the compare page's runs overlaid are
gankit.report.compare_figure)."""
from __future__ import annotations

import math

import numpy as np

# figs and PALETTE are also imported from here by the other figure modules
from gankit.report.axes import PALETTE, _grid, _legend, _style, compact_steps, figs, literal_text, log_y
from gankit.report.curve_values import _beyond, _plot, _spans_decades
from gankit.report.page import escape_figure, figure_text


def _tight(fig, **kw):
    """fig.tight_layout, which measures every text: a title or label from a run folder (a class
    folder's or a record key's ESC) escaped first, or matplotlib warns of each glyph it lacks."""
    escape_figure(fig)
    fig.tight_layout(**kw)


def pick_snapshots(snaps: list[dict], n: int = 6) -> list[dict]:
    """At most n snapshots spread evenly over training's steps (always the first and last;
    gankit.report.snapshots.pick_steps)."""
    from gankit.report.snapshots import pick_steps
    return [snaps[i] for i in pick_steps([s["step"] for s in snaps], n)]


def _d_label(snap) -> str:
    if "d_label" in snap:
        return figure_text(snap["d_label"]).replace("$", r"\$")    # read from disk: no mathtext
    return "D(x)" if bool(snap.get("d_probabilistic", True)) else "critic f(x)"


# _frame's margin each side, a share of its span: points on the data's bounds (an EBM's clamped
# step-0 samples, a ring's modes at +-1 without a D map) were cut in half on the frame's edge
FRAME_MARGIN = 0.04


def _frame(lo: float, hi: float, values: np.ndarray, scale: float | None = None) -> tuple[float, float]:
    """The plotted range on one axis: the D grid's [lo, hi] (the data's bounds) widened to take
    in G's samples, by at most half the grid's span on each side, then FRAME_MARGIN of it added
    on each side, so points on the edge are drawn whole.  Widening shows a G just off
    the data (a step-0 G at -0.2 beside a grid from -0.1) where it is; the cap keeps a diverged
    G (samples at 1e3) from squeezing the data into a corner: what still lies outside is
    counted in the panel's title (_outside_note) instead of vanishing.  A constant coordinate
    (hi == lo) is framed centred on its value, as wide as ``scale`` (the other coordinates'
    spread, as padded_box borrows it) or else its own magnitude: a frame starting at the value
    put the data on its edge and a G on the other side of it wholly outside (no margin but where G widens it)."""
    lo, hi = float(lo), float(hi)
    constant = not hi > lo
    if constant:
        width = next((w for w in (scale, abs(lo)) if w is not None and np.isfinite(w) and w > 0), 1.0)
        # float64 steps at the value: a frame narrower than them would be empty
        width = max(width, 8 * np.spacing(abs(lo)))
        lo, hi = lo - width / 2, hi + width / 2
    span = hi - lo
    v = values[np.isfinite(values)]
    new_lo, new_hi = (max(min(lo, v.min()), lo - span / 2), min(max(hi, v.max()), hi + span / 2)) if v.size else (lo, hi)
    pad = FRAME_MARGIN * (new_hi - new_lo)
    return (float(new_lo - pad if new_lo < lo or not constant else lo),
            float(new_hi + pad if new_hi > hi or not constant else hi))


def _outside_note(x: np.ndarray, box: list[tuple[float, float]]) -> str:
    """"12% of samples outside the frame" for the samples (rows of x) not within the box."""
    inside = np.all(np.isfinite(x), axis=1)
    for j, (lo, hi) in enumerate(box):
        inside &= (x[:, j] >= lo) & (x[:, j] <= hi)
    share = 1.0 - float(inside.mean()) if len(x) else 0.0
    if share <= 0:
        return ""
    return f"{'<1' if share < 0.01 else f'{100 * share:.0f}'}% of samples outside the frame"


def _title(ax, snap, note: str = ""):
    ax.set_title(f"step {int(snap['step'])}" + (f"\n{note}" if note else ""), fontsize=10 if not note else 9)


# above the 2x that _frame's widening alone can make of a square frame (a ring's G drifting off)
ASPECT_RATIO_MAX = 3.0


def _comparable_spans(ax) -> bool:
    """Whether the panel's two axes span comparable ranges (within ASPECT_RATIO_MAX of each
    other), so equal aspect keeps shapes true (a ring stays round); columns on different
    scales (income ~50,000 beside age ~40) would squeeze the panel to a strip."""
    sx, sy = abs(np.diff(ax.get_xlim())[0]), abs(np.diff(ax.get_ylim())[0])
    if not (np.isfinite(sx) and np.isfinite(sy)) or min(sx, sy) <= 0:
        return False
    return max(sx, sy) / min(sx, sy) <= ASPECT_RATIO_MAX


def _legend_row(fig, handles: list, labels: list[str], height_in: float):
    """The figure's legend in a row above the panels, where it covers no data (points, the D
    heat map); tight_layout leaves the row free, inside the figure (TensorBoard's add_figure
    keeps no more than that)."""
    _tight(fig, rect=(0, 0, 1, 1 - 0.32 / height_in))
    # right above the panels' titles: equal-aspect panels end lower than tight_layout's row
    renderer = fig.canvas.get_renderer()
    top = max((ax.get_tightbbox(renderer).y1 for ax in fig.axes if ax.get_visible() and ax.axison),
              default=fig.bbox.height)
    fig.legend(handles, [figure_text(t) for t in labels], loc="lower center",
               bbox_to_anchor=(0.5, min(top / fig.bbox.height, 0.99)),
               ncol=len(labels), fontsize=8, frameon=False, handletextpad=0.3, columnspacing=1.5)


@literal_text
def figure_2d(snaps: list[dict], real: np.ndarray, modes: np.ndarray | None = None):
    """Generated points over real ones on top of D(x) as a heat map, one panel per moment."""
    from matplotlib.lines import Line2D
    n = len(snaps)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    height = 4.0 * rows + 0.3
    fig, axes = figs.subplots(rows, cols, figsize=(4.2 * cols, height), squeeze=False)
    gridded = [s for s in snaps if "d_grid" in s]
    # one frame for every panel: equal panels that compare at a glance (the D grid's bounds, or
    # without a D map the real data's, widened for G's samples)
    g = np.concatenate([s["grid"] for s in gridded]) if gridded else np.asarray(real)[:, :2]
    x = np.concatenate([s["samples"][:, :2] for s in (gridded or snaps)])
    spread = float(np.ptp(g, axis=0).max()) if len(g) else None     # a constant column's width
    box = [_frame(g[:, j].min(), g[:, j].max(), x[:, j], spread) for j in (0, 1)] if len(g) else None
    for ax, snap in zip(axes.ravel(), snaps):
        if "d_grid" in snap:
            g = snap["grid"]
            k = int(snap["grid_shape"][0])
            extent = [g[:, 0].min(), g[:, 0].max(), g[:, 1].min(), g[:, 1].max()]
            prob = bool(snap.get("d_probabilistic", True))
            im = ax.imshow(snap["d_grid"].reshape(k, k), origin="lower", extent=extent, cmap="RdBu_r",
                           vmin=0 if prob else None, vmax=1 if prob else None, aspect="auto", alpha=0.85)
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label=_d_label(snap))
        ax.scatter(real[:, 0], real[:, 1], s=3, c="black", alpha=0.4, linewidths=0)
        x = snap["samples"]
        ax.scatter(x[:, 0], x[:, 1], s=3, c="#ffb000", alpha=0.6, linewidths=0)
        if modes is not None:    # thin and under the points: G's mass on a mode must stay visible
            ax.scatter(modes[:, 0], modes[:, 1], marker="+", s=40, c="green", linewidths=0.6, alpha=0.7,
                       zorder=0.5)
        note = ""
        if box is not None:
            ax.set_xlim(*box[0])
            ax.set_ylim(*box[1])
            note = _outside_note(x[:, :2], box)
        _title(ax, snap, note)
    drawn = axes.ravel()[:n]     # one aspect for every panel, so they compare at a glance
    if all(_comparable_spans(ax) for ax in drawn):
        for ax in drawn:
            ax.set_aspect("equal", adjustable="box")
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    handles = [Line2D([], [], ls="none", marker="o", ms=4, color="black", alpha=0.6),
               Line2D([], [], ls="none", marker="o", ms=4, color="#ffb000")]
    labels = ["real", "generated"]
    if modes is not None:
        handles.append(Line2D([], [], ls="none", marker="+", ms=7, mew=1.5, color="green"))
        labels.append("modes")
    _legend_row(fig, handles, labels, height)
    return fig


def _density_hist(ax, x: np.ndarray, bins: np.ndarray, **kw):
    """A histogram as a density of all of x: samples outside the bins count in the total, so
    the visible part is not scaled up as if it were everything (density=True would)."""
    x = np.asarray(x, dtype=float).ravel()
    width = bins[1] - bins[0]
    shown = x[np.isfinite(x)]
    return ax.hist(shown, bins=bins, weights=np.full(len(shown), 1.0 / (max(len(x), 1) * width)),
                   histtype="step", **kw)


@literal_text
def figure_1d(snaps: list[dict], grid: np.ndarray, p_data: np.ndarray | None, real: np.ndarray):
    """The paper's Figure 1: data density (black dots), p_g (green), D(x) (blue dashes)."""
    from matplotlib.lines import Line2D
    n = len(snaps)
    height = 3.5
    fig, axes = figs.subplots(1, n, figsize=(3.6 * n, height), squeeze=False)
    lo, hi = _frame(float(grid.min()), float(grid.max()),     # one frame for every panel, as figure_2d
                    np.concatenate([np.asarray(s["samples"])[:, 0] for s in snaps]))
    bins = np.linspace(lo, hi, 80)
    d_labels = []
    for ax, snap in zip(axes[0], snaps):
        x = np.asarray(snap["samples"])
        if p_data is not None:
            ax.plot(grid, p_data, ":", c="black", lw=2)
        else:
            _density_hist(ax, real, bins, color="black")
        _density_hist(ax, x[:, 0], bins, color="green", lw=1.5)
        if "d_grid" in snap:
            ax2 = ax.twinx()
            ax2.plot(snap["grid"][:, 0], snap["d_grid"], "--", c="tab:blue")
            if bool(snap.get("d_probabilistic", True)):
                ax2.set_ylim(0, 1)
            ax2.tick_params(labelsize=7, colors="tab:blue")
            ax2.set_ylabel(_d_label(snap), fontsize=8, color="tab:blue", labelpad=2)
            d_labels.append(_d_label(snap))
        _title(ax, snap, _outside_note(x[:, :1], [(lo, hi)]))
        ax.set_xlim(lo, hi)
        if p_data is not None:   # a collapsed p_g spikes: keep p_data readable, and say so
            top = 2.5 * float(np.max(p_data))
            ax.set_ylim(0, top)
            peak = float(np.max(np.histogram(x[:, 0], bins=bins, density=True)[0])) if len(x) else 0.0
            if peak > top:
                ax.text(0.02, 0.97, f"p_g peaks at {peak:.3g}, cut off", transform=ax.transAxes,
                        fontsize=7, va="top", color="green")
    axes[0, 0].set_ylabel("density", fontsize=8)
    handles = [Line2D([], [], ls=":" if p_data is not None else "-", lw=2 if p_data is not None else 1,
                      color="black"), Line2D([], [], color="green", lw=1.5)]
    labels = ["p_data" if p_data is not None else "data", "p_g (G's samples)"]
    for lab in dict.fromkeys(d_labels):
        handles.append(Line2D([], [], ls="--", color="tab:blue"))
        labels.append(f"{lab} (right axis)")
    _legend_row(fig, handles, labels, height)
    return fig


CURVE_GROUPS = [
    ("losses", ["loss_d", "loss_g"]),
    ("D outputs", ["d_real", "d_fake", "critic_real", "critic_fake"]),
    ("D accuracy", ["d_acc_real", "d_acc_fake"]),
    ("gradient norms", ["grad_norm_d", "grad_norm_g"]),
    ("Wasserstein estimate", ["wasserstein_estimate"]),
    # a packed critic (objective.pack = m) scores m-tuples: W1 between them, not W1(p_data, p_g)
    ("W1(p^m, q^m) of m-packed samples (critic's estimate)", ["wasserstein_packed_estimate"]),
    ("JSD estimate (D's bound)", ["jsd_estimate"]),
    # a packed D (objective.pack = m) bounds the JSD of m-tuples, not the JSD of single samples
    ("JSD(p^m, q^m) of m-packed samples (D's bound)", ["jsd_packed_estimate"]),
    ("regularisers", ["gp", "r1", "feature_matching", "hist_d", "hist_g", "instance_noise"]),
]


def curve_groups(records: list[dict]) -> list[tuple[str, list[str]]]:
    """Every numeric key of the train records in a panel: the known groups, then one panel
    per other key (an objective's own logs too); learning rates apart (figure_lr)."""
    from gankit.report.metricinfo import numeric_keys
    keys = [k for k in numeric_keys(records) if not k.startswith("lr_")]
    groups = [(t, [k for k in ks if k in keys]) for t, ks in CURVE_GROUPS]
    groups = [(t, ks) for t, ks in groups if ks]
    grouped = {k for _, ks in groups for k in ks}
    return groups + [(k, [k]) for k in keys if k not in grouped]


@literal_text
def figure_curves(records: list[dict], evals: list[dict] | None = None):
    """The train records over steps, every key (evals are drawn by figure_eval)."""
    groups = curve_groups(records)
    if not groups:
        return None
    fig, axes = _grid(len(groups))
    for ax, (title, keys) in zip(axes, groups):
        entries, notes = [], []
        for i, k in enumerate(keys):
            line, inf = _plot(ax, records, k, k, PALETTE[i % len(PALETTE)], lw=1.2)
            entries += [(line, k)] if line is not None else []
            notes += inf
        if title == "gradient norms" or _spans_decades(records, keys):
            log_y(ax)
        _style(ax, title)
        # every curve named, a lone one too, unless the panel's title is its key already
        named = entries if keys != [title] else []
        _legend(ax, named + notes, fontsize=7, frameon=False)
    _tight(fig)
    return fig


@literal_text
def figure_lr(records: list[dict]):
    from gankit.report.metricinfo import as_float
    keys = [k for k in {k: None for r in records for k in r if k.startswith("lr_")}]
    if not keys:
        return None
    fig, ax = figs.subplots(figsize=(6.0, 2.6))
    entries = []
    for i, k in enumerate(keys):
        line, inf = _plot(ax, records, k, k[3:], PALETTE[i % len(PALETTE)], lw=1.5,
                          ls="-" if i % 2 == 0 else "--")
        entries += ([(line, k[3:])] if line is not None else []) + inf
    _style(ax, "learning rate per optimizer")
    if _spans_decades(records, keys):
        log_y(ax)
    _legend(ax, entries, fontsize=7, frameon=False)
    _tight(fig)
    return fig


@literal_text
def figure_eval(evals: list[dict], keys: list[str], infos, reference: dict | None = None,
                refs: list[dict] | None = None):
    """One panel per measured key over steps, titled with its label and direction; the
    real-data reference as a dashed line where one was measured (``reference``: the final
    evaluation's; ``refs``: the run's reference records, for numbers measured at other settings)."""
    from gankit.report.axes import code_segments
    from gankit.report.curve_values import part_references, settings_parts
    from gankit.report.metricinfo import ARROW, Measuring, info
    measuring = Measuring(infos)
    # a number with no direction the same in every evaluation and on real data describes the data
    # (modes_total, ndb_k): no curve.  A score flat by result (modes_covered staying 8) is drawn
    real = reference or {}
    keys = [k for k in keys if not (info(k, infos).better is None and k in real
                                    and all(r.get(k) == real[k] for r in evals if k in r))]
    if not keys:
        return None
    fig, axes = _grid(len(keys), cols=4, w=3.6, h=2.5)
    for ax, k in zip(axes, keys):
        ki = info(k, infos)
        entries = []
        # a user's metric edited between evaluations, or numbers measured with other eval settings
        # (gankit eval --set eval.n_samples=N of the last step): each a line of its own, named
        parts = settings_parts(code_segments(evals, k, measuring), k, measuring)
        for i, (part, note, setting) in enumerate(parts):
            colour = PALETTE[i % len(PALETTE)]
            label = ", ".join(t for t in (note, setting and f"{k} @ {setting}") if t)
            line, inf = _plot(ax, part, k, k, colour, marker="o", ms=3.5, lw=1.4)
            entries += ([(line or ax.plot([], [], color=colour, marker="o", ms=3.5)[0], label)] if label else []) + inf
        # each setting's part beside the real data measured alike, in its colour; else the one grey line
        apart = any(setting for *_, setting in parts)
        refs_of = part_references(parts, k, evals, reference, refs, infos) if apart else [(reference or {}).get(k)]
        for i, ref in reversed(list(enumerate(refs_of))):
            if isinstance(ref, (int, float)) and not isinstance(ref, bool) and not _beyond(ref):
                line = ax.axhline(ref, ls="--", lw=1, color=PALETTE[i % len(PALETTE)] if apart else "#666666")
                entries.insert(0, (line, f"real data @ {parts[i][2]}" if apart else "real data"))
        # framed, where it covers least (drawn after the inf triangles): frameless, they ran through its text
        _legend(ax, entries, fontsize=6, loc="best", frameon=True, framealpha=0.85)
        import textwrap
        label = "\n".join(textwrap.wrap(ki.label, 34))      # 4 panels a row: long labels ran together
        _style(ax, f"{label}\n{ki.metric} \u00b7 {ARROW[ki.better]}" if ki.better else f"{label}\n{ki.metric}")
        ax.title.set_fontsize(8)
        compact_steps(ax)
    _tight(fig)
    return fig


@literal_text
def plot_samples_file(dataset, x: np.ndarray, out):
    """``gankit sample --out plot.png``: an image grid, or samples over real data."""
    if x.ndim == 4:                       # images (n, C, H, W) in [-1, 1]: one grid
        from gankit.report.images import tile
        img = tile(x, int(np.ceil(np.sqrt(len(x)))))
        # one screen pixel per image pixel made 64 8x8 digits a 71-pixel stamp: enlarged by a
        # whole factor (each pixel a block) to about 512 pixels a side
        k = max(1, 512 // max(img.shape[:2]))
        img = np.repeat(np.repeat(img, k, axis=0), k, axis=1)
        figs.imsave(out, img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)
        return
    import torch
    real = dataset.sample(len(x), torch.Generator().manual_seed(0)).numpy()
    fig, ax = figs.subplots(figsize=(5, 5))
    if x.shape[1] == 1:        # one set of bins for both, so their heights compare
        both = np.concatenate([real[:, 0], x[:, 0]])
        bins = np.linspace(*np.nanquantile(both[np.isfinite(both)], [0.0, 1.0]), 81)
        ax.hist(real[:, 0], bins=bins, density=True, histtype="step", color="black", label="real")
        ax.hist(x[:, 0], bins=bins, density=True, histtype="step", color="green", label="generated")
    else:
        ax.scatter(real[:, 0], real[:, 1], s=3, c="black", alpha=0.4, label="real")
        ax.scatter(x[:, 0], x[:, 1], s=3, c="#ffb000", alpha=0.6, label="generated")
        if x.shape[1] > 2:
            ax.set_title("first two coordinates")
    ax.legend(loc="best", framealpha=0.8)
    figs.save(fig, out, dpi=120, bbox_inches="tight")
