"""Report panel of a conditional run: one row (images) or panel (points) per condition."""
from __future__ import annotations

import numpy as np
import torch

from gankit.report.literal import literal_text

REAL, GENERATED = "#888888", "#d55e00"
# 2-D panels: every class's real points faint, the condition's own over them (the mode G is asked for)
REAL_ALL, REAL_OWN = "#d3d3d3", "#222222"
SHOWN = 20          # classes drawn per grid


@literal_text
def _image_rows(x, y, classes, label):
    from gankit.report.images import tile
    from gankit.report.plots import _tight, figs
    per = 10
    rows = [x[y == k][:per] for k in classes]
    fig, axes = figs.subplots(len(rows), 1, figsize=(per * 0.55 + 1.5, 0.62 * len(rows) + 0.3), squeeze=False)
    for ax, k, r in zip(axes[:, 0], classes, rows):
        ax.imshow(tile(r, per)[..., 0] if r.shape[1] == 1 else tile(r, per), cmap="gray",
                  vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(label(k), rotation=0, ha="right", va="center", fontsize=8)
    _tight(fig)     # a class name's glyphs from the font that has them, as it is measured
    return fig


def _real_by_class(dataset, n: int = 2000):
    """Real points and their classes (None where the data cannot say which class a point is)."""
    g = torch.Generator().manual_seed(0)
    if hasattr(dataset, "sample_conditional"):
        x, _, y = dataset.sample_conditional(n, g)
        return x.numpy(), y.numpy()
    return dataset.sample(n, g).numpy(), None


@literal_text
def _point_panels(dataset, x, y, classes, label):
    """1-D: real vs generated density of each class on one axis; 2-D and more: generated
    points of each class over all the real ones (the class's own marked), on the first two
    coordinates, every panel on one frame that keeps shapes (a ring stays round)."""
    from matplotlib.lines import Line2D

    from gankit.report.plots import _comparable_spans, _density_hist, _frame, _legend_row, _outside_note, figs
    real, ry = _real_by_class(dataset)
    one_d = x.shape[1] == 1
    cols = min(len(classes), 5)
    nrow = -(-len(classes) // cols)
    height = (2.6 if one_d else 2.9) * nrow + 0.3     # 2-D: square panels (equal aspect) and their titles
    fig, axes = figs.subplots(nrow, cols, figsize=(2.6 * cols, height), squeeze=False)
    if not one_d:     # one frame for every panel: each framed on its own samples hid how far apart they are
        shown = x[np.isin(y, classes), :2]
        ref = real[:, :2] if len(real) else shown[np.isfinite(shown).all(1)]     # the real data's bounds
        spread = float(np.ptp(ref, axis=0).max())           # a constant column's width (_frame)
        box = [_frame(ref[:, j].min(), ref[:, j].max(), shown[:, j], spread) for j in (0, 1)]
    for ax, k in zip(axes.ravel(), classes):
        pts = x[y == k]
        title = f"condition {label(k)}"
        if one_d:
            # each class on its own range: classes of very different spreads stay readable
            own = real[ry == k, 0] if ry is not None and (ry == k).any() else real[:, 0]
            lo, hi = _frame(float(own.min()), float(own.max()), pts[:, 0])
            bins = np.linspace(lo, hi, 40)
            _density_hist(ax, own, bins, color=REAL, lw=1.2)
            _density_hist(ax, pts[:, 0], bins, color=GENERATED, lw=1.5)
            ax.set_xlim(lo, hi)
            ax.set_yticks([])
            ax.tick_params(labelsize=7)
            note = _outside_note(pts[:, :1], [(lo, hi)])
            title += f"\n{note}" if note else ""
        else:
            ax.scatter(real[:, 0], real[:, 1], s=2, c=REAL_ALL, linewidths=0)
            if ry is not None:
                ax.scatter(real[ry == k, 0], real[ry == k, 1], s=2, c=REAL_OWN, alpha=0.5, linewidths=0)
            ax.scatter(pts[:, 0], pts[:, 1], s=3, c=GENERATED, linewidths=0)
            ax.set_xlim(*box[0])
            ax.set_ylim(*box[1])
            note = _outside_note(pts[:, :2], box)
            title += f"\n{note}" if note else ""
            ax.set_xticks([])
            ax.set_yticks([])
            if x.shape[1] > 2:
                ax.set_xlabel("coordinate 1", fontsize=7)
                ax.set_ylabel("coordinate 2", fontsize=7)
        ax.set_title(title, fontsize=9)
    drawn = axes.ravel()[:len(classes)]
    if not one_d and all(_comparable_spans(ax) for ax in drawn):
        for ax in drawn:
            ax.set_aspect("equal", adjustable="box")
    for ax in axes.ravel()[len(classes):]:
        ax.axis("off")
    if one_d:
        real_name = "real, this class" if ry is not None else "real, all classes"
        handles = [Line2D([], [], color=REAL, lw=1.2), Line2D([], [], color=GENERATED, lw=1.5)]
        names = [real_name]
    else:
        dot = dict(ls="none", marker="o", ms=4)
        handles = [Line2D([], [], color=REAL_ALL, **dot)] + [Line2D([], [], color=REAL_OWN, **dot)] * (ry is not None) \
            + [Line2D([], [], color=GENERATED, **dot)]
        names = ["real, all classes"] + ["real, this class"] * (ry is not None)
    _legend_row(fig, handles, names + ["generated for the condition"], height)
    return fig


def condition_sections(dataset, snaps: list[dict]) -> list:
    from gankit.report.page import Section, figure_text, png
    if not snaps or "labels" not in snaps[-1]:
        return []
    snap = snaps[-1]
    x, y = snap["samples"], snap["labels"]
    drawn = sorted(set(y.tolist()))
    classes = drawn[:SHOWN]
    names = getattr(dataset, "class_names", None)
    # class names are folder names: their undecodable bytes cannot be drawn as they are, a
    # bidirectional control (U+202E) would reverse the rest of a caption, ESC has no glyph
    label = (lambda k: f"{k}: {figure_text(names[k])}") if names and len(names) > max(classes) else str
    words = (f"Samples at step {int(snap['step'])} generated for each condition "
             f"({getattr(dataset, 'condition_kind', 'label')})")
    # the classes with data: fixed samples fewer than them (train.n_fixed) hold only the first ones
    with_data = getattr(dataset, "classes", None)
    total = max(len(drawn), 0 if with_data is None else len(with_data))
    if len(classes) < total:    # a grid of every class would be unreadable; the caption says it is cut
        words += f", the first {len(classes)} of {total} classes"
        if len(drawn) < total:
            words += " (the run's fixed samples, train.n_fixed, hold no others)"
    if dataset.kind == "image":
        return [Section("One row per condition", [words + "."],
                        png(_image_rows(x, y, classes, label), "samples per condition", wide=False))]
    if x.shape[1] == 1:
        words += ": their histogram over that of the real data of the class."
    else:
        words += (f", over all the real data{' (first two coordinates)' if x.shape[1] > 2 else ''}" +
                  (" in grey, the class's own in black." if hasattr(dataset, "sample_conditional") else "."))
    return [Section("One panel per condition", [words],
                    png(_point_panels(dataset, x, y, classes, label), "samples per condition", wide=True))]
