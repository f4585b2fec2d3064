"""The report's sections for points: G's samples over the real ones (on D(x), or the energy
net's -E(x)) through training for 1-D and 2-D data, the newest samples' first two coordinates for
more, and the table of high-quality samples per mode of a mixture."""
from __future__ import annotations


def point_sections(dataset, snaps: list[dict], pack: int = 1, energy: bool = False) -> list:
    import numpy as np
    import torch

    from gankit.report import plots
    from gankit.report.page import Section, png
    if not snaps or getattr(dataset, "kind", "points") in ("image", "text"):
        return []
    gone = getattr(dataset, "gone", False)      # G's samples alone, said so with each figure

    def real_points(n):
        return (np.zeros((0, dataset.dim), np.float32) if gone
                else dataset.sample(n, torch.Generator().manual_seed(0)).numpy())
    black = "No real data (missing: see above). " if gone else "Black: real data. "
    if dataset.dim in (1, 2):
        chosen = plots.pick_snapshots(snaps, 6)
        real = real_points(2500)
        if dataset.dim == 2:
            modes = dataset.modes.numpy() if dataset.modes is not None and len(dataset.modes) <= 100 else None
            if "d_grid" in chosen[-1] and energy:     # D is the energy net; samples are Langevin chains
                title, words = (f"Generated points{' over real ones' * (not gone)}, on -E(x)", f"{black}Orange: "
                                "Langevin samples from fixed starting noise. Colour: the energy net's -E(x) (red = "
                                "low energy, where the samples should gather)." + (
                                    " Green +: the mixture's modes." if modes is not None else ""))
            elif "d_grid" in chosen[-1]:
                shown, colour = _score_words(chosen[-1])
                title, words = (f"Generated points{' over real ones' * (not gone)}, on {shown}", f"{black}Orange: G's "
                                f"samples from fixed noise. Colour: {colour}" + (
                                    f", on x packed with {pack - 1} cop{'y' if pack == 2 else 'ies'} of itself (D judges {pack} samples "
                                    "at once, and is trained on distinct ones: the map is a slice of it)."
                                    if pack > 1 else ".") + (" Green +: the mixture's modes." if modes is not None
                                                              else ""))
            else:      # no D (a VAE), or one D per condition (conditional runs)
                title, words = (f"Generated points{' over real ones' * (not gone)}", f"{black}Orange: G's samples from "
                                "fixed noise. (No D(x) map: this run has no single D to draw.)" + (
                                    " Green +: the mixture's modes." if modes is not None else ""))
            return [Section(title, [words], png(plots.figure_2d(chosen, real, modes), title.lower()),
                            anchor="samples")]
        span = real[:, 0] if len(real) else np.concatenate([s["samples"][:, 0] for s in chosen])
        grid = chosen[-1]["grid"][:, 0] if "grid" in chosen[-1] else np.linspace(span.min(), span.max(), 400)
        p = np.exp(dataset.log_prob(torch.as_tensor(grid[:, None])).numpy()) if dataset.has_density else None
        shown = _score_words(chosen[-1])[0]
        title = f"Figure 1: p_data, p_g and {shown} over training" if "d_grid" in chosen[-1] else \
            "Figure 1: p_data and p_g over training (no D(x): this run has no single D to draw)"
        return [Section(title, [black] if gone else [],
                        png(plots.figure_1d(chosen, grid, p, real[:, 0]), f"p_data, p_g and {shown}"),
                        anchor="samples")]
    x = snaps[-1]["samples"]
    real = real_points(len(x))
    fig = plots.figure_2d([{"step": snaps[-1]["step"], "samples": x[:, :2]}], real[:, :2])
    return [Section("Samples", [f"{len(x)} fixed-noise samples of dimension {x.shape[1]} at step "
                                f"{int(snaps[-1]['step'])} (first two coordinates)." + (f" {black}" if gone else "")],
                    png(fig, "samples, first two coordinates", wide=False), anchor="samples")]


def _score_words(snap) -> tuple[str, str]:
    """What a snapshot's map of D shows, named as its colour bar names it (plots._d_label), and
    the caption's words for its colour: D's probability, a critic's unbounded score (WGAN's f(x)
    was captioned "D's output, red = judged real"), or the objective's own score (d_label)."""
    if "d_label" in snap:
        label = str(snap["d_label"])
        return label, f"{label}, the objective's score of x (red = higher)"
    if bool(snap.get("d_probabilistic", True)):
        return "D(x)", "D's output (red = judged real)"
    return "critic f(x)", "the critic's score f(x), unbounded (red = higher: judged more real)"


# rows of a modes table drawn where the data are gone (their number of modes unknown: modes_total
# leaves out modes of weight 0, so it cannot be matched exactly)
MAX_UNCHECKED_MODES = 10_000
# a mode centre's coordinate within this share of the data's scale (the largest |coordinate|) is 0
CENTRE_ZERO = 1e-6


def mode_section(last: dict, dataset, where: str = "metrics.jsonl"):
    """The table of HQ samples per mode, or None (with a warning) where the final evaluation's
    mode_counts has another length than the data's modes (more than MAX_UNCHECKED_MODES where
    the data are gone): an edited record of a million counts made a page of a million rows for
    8 modes."""
    import warnings

    import numpy as np

    from gankit.report.page import Section
    counts = last["mode_counts"]
    modes = getattr(dataset, "modes", None)
    if len(counts) != len(modes) if modes is not None else len(counts) > MAX_UNCHECKED_MODES:
        of = f"data of {len(modes)} modes" if modes is not None else f"a table of at most {MAX_UNCHECKED_MODES:,} rows"
        warnings.warn(f"{where}: the evaluation of step {last.get('step')} holds {len(counts):,} mode_counts for "
                      f"{of}: no modes table (an edited record? gankit eval measures it again)", stacklevel=3)
        return None
    total = max(sum(counts), 1)
    modes = dataset.modes.numpy() if getattr(dataset, "modes", None) is not None else None
    weights = getattr(dataset, "mode_weights", None)
    weights = None if weights is None or len(weights) != len(counts) else [float(w) for w in weights]

    def covered(i, n):    # a mode of weight 0 is not part of the data: the metric does not count it
        return "weight 0" if weights is not None and weights[i] == 0 else "yes" if n else "MISSED"

    # float32 cos/sin leave ~1e-8 where a centre is 0 (-4.371e-08, 1 on a ring): 0 within
    # CENTRE_ZERO of the data's scale, and no "-0"
    scale = np.abs(modes[np.isfinite(modes)]) if modes is not None else np.zeros(0)
    zero = CENTRE_ZERO * float(scale.max()) if scale.size else 0.0

    def centre(c) -> str:
        c = float(c)
        return "0" if abs(c) <= zero or c == 0 else f"{c:.4g}"

    rows = [[i, ", ".join(centre(c) for c in modes[i]) if modes is not None and i < len(modes) else "", n,
             f"{100 * n / total:.1f}%", *([f"{100 * weights[i]:.1f}%"] if weights is not None else []),
             covered(i, n)] for i, n in enumerate(counts)]
    ideal = "ideal: each mode's share of the data" if weights is not None else "ideal: equal shares"
    return Section("Modes", [f"High-quality samples per mode ({ideal})."],
                   header=["mode", "centre", "HQ samples", "share",
                           *(["data's share"] if weights is not None else []), "covered"],
                   rows=rows, anchor="modes")
