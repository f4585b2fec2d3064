"""Figures built from a run folder: 2-D samples over D(x), the paper's Figure 1, curves."""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
# labels carry user text (run folders, class folders, captions): a "$" must print, not start math
matplotlib.rcParams["text.parse_math"] = False
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as ticker  # noqa: E402
import numpy as np  # noqa: E402


def log_y(ax):
    """A log y axis labelled in plain text: the default labels are math ("10^{1}"), which
    text.parse_math=False would print raw, as "$\\mathdefault{10^{1}}$"."""
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(ticker.LogFormatter())
    ax.yaxis.set_minor_formatter(ticker.LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))


def pick_snapshots(snaps: list[dict], n: int = 6) -> list[dict]:
    """At most n snapshots spread evenly over training (always the first and last)."""
    if len(snaps) <= n:
        return snaps
    idx = np.unique(np.linspace(0, len(snaps) - 1, n).round().astype(int))
    return [snaps[i] for i in idx]


def _d_label(snap) -> str:
    return "D(x)" if bool(snap.get("d_probabilistic", True)) else "critic f(x)"


def figure_2d(snaps: list[dict], real: np.ndarray, modes: np.ndarray | None = None):
    """Generated points over real ones on top of D(x) as a heat map, one panel per moment."""
    n = len(snaps)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 4.0 * rows), squeeze=False)
    for ax, snap in zip(axes.ravel(), snaps):
        if "d_grid" in snap:
            g = snap["grid"]
            k = int(snap["grid_shape"][0])
            extent = [g[:, 0].min(), g[:, 0].max(), g[:, 1].min(), g[:, 1].max()]
            prob = bool(snap.get("d_probabilistic", True))
            im = ax.imshow(snap["d_grid"].reshape(k, k), origin="lower", extent=extent, cmap="RdBu_r",
                           vmin=0 if prob else None, vmax=1 if prob else None, aspect="auto", alpha=0.85)
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label=_d_label(snap))
        ax.scatter(real[:, 0], real[:, 1], s=3, c="black", alpha=0.4, label="real", linewidths=0)
        x = snap["samples"]
        ax.scatter(x[:, 0], x[:, 1], s=3, c="#ffb000", alpha=0.6, label="generated", linewidths=0)
        if modes is not None:
            ax.scatter(modes[:, 0], modes[:, 1], marker="+", s=60, c="green", label="modes")
        if "d_grid" in snap:
            ax.set_xlim(extent[0], extent[1])
            ax.set_ylim(extent[2], extent[3])
        ax.set_title(f"step {int(snap['step'])}")
        ax.set_aspect("equal", adjustable="box")
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    axes[0, 0].legend(loc="upper right", fontsize=7, markerscale=3)
    fig.tight_layout()
    return fig


def figure_1d(snaps: list[dict], grid: np.ndarray, p_data: np.ndarray | None, real: np.ndarray):
    """The paper's Figure 1: data density (black dots), p_g (green), D(x) (blue dashes)."""
    n = len(snaps)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.2), squeeze=False)
    lo, hi = grid.min(), grid.max()
    bins = np.linspace(lo, hi, 80)
    for ax, snap in zip(axes[0], snaps):
        if p_data is not None:
            ax.plot(grid, p_data, ":", c="black", lw=2, label="p_data")
        else:
            ax.hist(real, bins=bins, density=True, histtype="step", color="black", label="data")
        ax.hist(snap["samples"][:, 0], bins=bins, density=True, histtype="step", color="green", lw=1.5,
                label="p_g")
        if "d_grid" in snap:
            ax2 = ax.twinx()
            ax2.plot(snap["grid"][:, 0], snap["d_grid"], "--", c="tab:blue", label=_d_label(snap))
            if bool(snap.get("d_probabilistic", True)):
                ax2.set_ylim(0, 1)
            ax2.tick_params(labelsize=7)
        ax.set_title(f"step {int(snap['step'])}")
        ax.set_xlim(lo, hi)
        if p_data is not None:   # a collapsed p_g spikes: keep p_data readable
            ax.set_ylim(0, 2.5 * float(np.max(p_data)))
    axes[0, 0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


CURVE_GROUPS = [
    ("losses", ["loss_d", "loss_g"]),
    ("D outputs", ["d_real", "d_fake", "critic_real", "critic_fake"]),
    ("D accuracy", ["d_acc_real", "d_acc_fake"]),
    ("gradient norms", ["grad_norm_d", "grad_norm_g"]),
    ("Wasserstein estimate", ["wasserstein_estimate"]),
    ("JSD estimate (D's bound)", ["jsd_estimate"]),
    ("regularisers", ["gp", "r1", "feature_matching", "hist_d", "hist_g", "instance_noise"]),
]
PALETTE = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#f0e442"]


def _style(ax, title: str):
    ax.set_title(title, fontsize=10, loc="left")
    ax.set_xlabel("step", fontsize=8)
    ax.tick_params(labelsize=7)
    if ax.get_yscale() == "linear":   # no offset; a power-of-ten factor only outside 1e-4 .. 1e5 (a p-value of 1e-67)
        ax.ticklabel_format(axis="y", useOffset=False, style="sci", scilimits=(-4, 5))
    ax.grid(alpha=0.25)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _grid(n: int, cols: int = 3, w: float = 4.4, h: float = 2.8):
    cols = max(1, min(cols, n))
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(w * cols, h * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    return fig, axes.ravel()


def _series(records: list[dict], key: str):
    pts = [(r["step"], r[key]) for r in records
           if isinstance(r.get(key), (int, float)) and not isinstance(r.get(key), bool)]
    return zip(*pts) if pts else ((), ())


def curve_groups(records: list[dict]) -> list[tuple[str, list[str]]]:
    """Every numeric key of the train records in a panel: the known groups, then one panel
    per other key (an objective's own logs too); learning rates apart (figure_lr)."""
    from gankit.report.metricinfo import numeric_keys
    keys = [k for k in numeric_keys(records) if not k.startswith("lr_")]
    groups = [(t, [k for k in ks if k in keys]) for t, ks in CURVE_GROUPS]
    groups = [(t, ks) for t, ks in groups if ks]
    grouped = {k for _, ks in groups for k in ks}
    return groups + [(k, [k]) for k in keys if k not in grouped]


def figure_curves(records: list[dict], evals: list[dict] | None = None):
    """The train records over steps, every key (evals are drawn by figure_eval)."""
    groups = curve_groups(records)
    if not groups:
        return None
    fig, axes = _grid(len(groups))
    for ax, (title, keys) in zip(axes, groups):
        for i, k in enumerate(keys):
            s, v = _series(records, k)
            ax.plot(s, v, label=k, lw=1.2, color=PALETTE[i % len(PALETTE)])
        if title == "gradient norms":
            log_y(ax)
        _style(ax, title)
        if len(keys) > 1:
            ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def figure_lr(records: list[dict]):
    keys = [k for k in {k: None for r in records for k in r if k.startswith("lr_")}]
    if not keys:
        return None
    fig, ax = plt.subplots(figsize=(6.0, 2.6))
    for i, k in enumerate(keys):
        s, v = _series(records, k)
        ax.plot(s, v, label=k[3:], lw=1.5, color=PALETTE[i % len(PALETTE)],
                ls="-" if i % 2 == 0 else "--")
    _style(ax, "learning rate per optimizer")
    vals = [r[k] for r in records for k in keys if isinstance(r.get(k), (int, float)) and r[k] > 0]
    if vals and max(vals) / min(vals) > 20:
        log_y(ax)
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def figure_eval(evals: list[dict], keys: list[str], infos, reference: dict | None = None):
    """One panel per measured key over steps, titled with its label and direction; the
    real-data reference as a dashed line where one was measured."""
    from gankit.report.metricinfo import ARROW, info
    if not keys:
        return None
    fig, axes = _grid(len(keys), cols=4, w=3.6, h=2.5)
    for ax, k in zip(axes, keys):
        ki = info(k, infos)
        s, v = _series(evals, k)
        ax.plot(s, v, marker="o", ms=3.5, lw=1.4, color="#0072b2")
        ref = (reference or {}).get(k)
        if isinstance(ref, (int, float)) and not isinstance(ref, bool):
            ax.axhline(ref, ls="--", lw=1, color="#666666", label="real data")
            ax.legend(fontsize=6, frameon=False)
        _style(ax, f"{ki.label}\n{ki.metric} \u00b7 {ARROW[ki.better]}" if ki.better else
               f"{ki.label}\n{ki.metric}")
        ax.title.set_fontsize(8)
    fig.tight_layout()
    return fig


def figure_compare(runs: list[tuple[str, list[dict]]], panels: list[tuple[str, str, str]]):
    """Runs overlaid: ``runs`` = [(name, records)], ``panels`` = [(title, kind, key)] with
    kind "train" or "eval"; one colour per run, the same in every panel."""
    if not panels:
        return None
    fig, axes = _grid(len(panels), cols=3, w=4.4, h=2.8)
    for ax, (title, kind, key) in zip(axes, panels):
        for i, (name, recs) in enumerate(runs):
            s, v = _series([r for r in recs if r.get("kind") == kind], key)
            if s:
                ax.plot(s, v, label=name, lw=1.3, color=PALETTE[i % len(PALETTE)],
                        marker="o" if kind == "eval" else None, ms=3)
        _style(ax, title)
        ax.title.set_fontsize(9)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="upper center", ncol=min(len(labels), 4), fontsize=8,
                   frameon=False, bbox_to_anchor=(0.5, 1.0 + 0.02 * math.ceil(len(labels) / 4)))
    fig.tight_layout()
    return fig


def plot_samples_file(dataset, x: np.ndarray, out):
    """``gankit sample --out plot.png``: an image grid, or samples over real data."""
    if x.ndim == 4:                       # images (n, C, H, W) in [-1, 1]: one grid
        from gankit.report.images import tile
        img = tile(x, int(np.ceil(np.sqrt(len(x)))))
        plt.imsave(out, img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)
        return
    import torch
    real = dataset.sample(len(x), torch.Generator().manual_seed(0)).numpy()
    fig, ax = plt.subplots(figsize=(5, 5))
    if x.shape[1] == 1:
        ax.hist(real[:, 0], bins=80, density=True, histtype="step", color="black", label="real")
        ax.hist(x[:, 0], bins=80, density=True, histtype="step", color="green", label="generated")
    else:
        ax.scatter(real[:, 0], real[:, 1], s=3, c="black", alpha=0.4, label="real")
        ax.scatter(x[:, 0], x[:, 1], s=3, c="#ffb000", alpha=0.6, label="generated")
        if x.shape[1] > 2:
            ax.set_title("first two coordinates")
    ax.legend()
    fig.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(fig)
