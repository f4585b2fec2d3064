"""Report panel of a conditional run: one row (images) or panel (points) per condition."""
from __future__ import annotations

import numpy as np
import torch

from gankit.report.literal import literal_text

REAL, GENERATED = "#888888", "#d55e00"
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
    points of each class over all the real ones, on the first two coordinates."""
    from matplotlib.lines import Line2D

    from gankit.report.plots import _density_hist, _frame, _legend_row, _outside_note, figs
    real, ry = _real_by_class(dataset)
    one_d = x.shape[1] == 1
    cols = min(len(classes), 5)
    nrow = -(-len(classes) // cols)
    height = 2.6 * nrow + 0.3
    fig, axes = figs.subplots(nrow, cols, figsize=(2.6 * cols, height), squeeze=False)
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
            ax.scatter(real[:, 0], real[:, 1], s=2, c="lightgrey", linewidths=0)
            ax.scatter(pts[:, 0], pts[:, 1], s=3, c=GENERATED, linewidths=0)
            ax.set_xticks([])
            ax.set_yticks([])
            if x.shape[1] > 2:
                ax.set_xlabel("coordinate 1", fontsize=7)
                ax.set_ylabel("coordinate 2", fontsize=7)
        ax.set_title(title, fontsize=9)
    for ax in axes.ravel()[len(classes):]:
        ax.axis("off")
    if one_d:
        real_name = "real, this class" if ry is not None else "real, all classes"
        handles = [Line2D([], [], color=REAL, lw=1.2), Line2D([], [], color=GENERATED, lw=1.5)]
    else:
        real_name = "real, all classes"
        handles = [Line2D([], [], ls="none", marker="o", ms=4, color="lightgrey"),
                   Line2D([], [], ls="none", marker="o", ms=4, color=GENERATED)]
    _legend_row(fig, handles, [real_name, "generated for the condition"], height)
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
        words += (f", over all the real data{' (first two coordinates)' if x.shape[1] > 2 else ''}.")
    return [Section("One panel per condition", [words],
                    png(_point_panels(dataset, x, y, classes, label), "samples per condition", wide=True))]
