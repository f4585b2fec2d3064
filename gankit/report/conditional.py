"""Report panel of a conditional run: one row (images) or panel (points) per condition."""
from __future__ import annotations

import torch


def condition_sections(dataset, snaps: list[dict]) -> list:
    from gankit.report.page import Section, png
    if not snaps or "labels" not in snaps[-1]:
        return []
    from gankit.report.plots import plt
    snap = snaps[-1]
    x, y = snap["samples"], snap["labels"]
    classes = sorted(set(y.tolist()))[:20]
    names = getattr(dataset, "class_names", None)
    label = (lambda k: f"{k}: {names[k]}") if names and len(names) > max(classes) else str
    if dataset.kind == "image":
        from gankit.report.images import tile
        per = 10
        rows = [x[y == k][:per] for k in classes]
        fig, axes = plt.subplots(len(rows), 1, figsize=(per * 0.55 + 1.5, 0.62 * len(rows) + 0.3),
                                 squeeze=False)
        for ax, k, r in zip(axes[:, 0], classes, rows):
            ax.imshow(tile(r, per)[..., 0] if r.shape[1] == 1 else tile(r, per), cmap="gray",
                      vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_ylabel(label(k), rotation=0, ha="right", va="center", fontsize=8)
    else:
        real = dataset.sample(2000, torch.Generator().manual_seed(0)).numpy()
        cols = min(len(classes), 5)
        nrow = -(-len(classes) // cols)
        fig, axes = plt.subplots(nrow, cols, figsize=(2.6 * cols, 2.6 * nrow), squeeze=False)
        for ax, k in zip(axes.ravel(), classes):
            ax.scatter(real[:, 0], real[:, 1], s=2, c="lightgrey", linewidths=0)
            pts = x[y == k]
            ax.scatter(pts[:, 0], pts[:, 1], s=3, c="#d55e00", linewidths=0)
            ax.set_title(f"condition {label(k)}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        for ax in axes.ravel()[len(classes):]:
            ax.axis("off")
    fig.tight_layout()
    kind = "row" if dataset.kind == "image" else "panel"
    return [Section(f"One {kind} per condition",
                    [f"Samples at step {int(snap['step'])} generated for each condition "
                     f"({getattr(dataset, 'condition_kind', 'label')})."],
                    png(fig, "samples per condition", wide=dataset.kind != "image"))]
