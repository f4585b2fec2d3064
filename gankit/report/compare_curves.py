"""The records compare's page draws, kept small: a run logged every step holds millions of train
records (~1 KB each as parsed); the page draws a few keys of them, each thinned to a few thousand
points (gankit.report.axes.decimate).  Each run keeps its evaluations and, per drawn train key,
only the points the drawing can show, so a comparison holds one run's records at a time."""
from __future__ import annotations

import textwrap

import numpy as np

from gankit.report import metricinfo as MI

# (key, panel title) of a GAN's losses and D's outputs, the compare page's first train panels
TRAIN_PANELS = [("loss_d", "D loss"), ("loss_g", "G loss"), ("d_real", "D(x) on real"),
                ("d_fake", "D(G(z))"), ("critic_real", "critic on real"), ("critic_fake", "critic on fake"),
                ("wasserstein_estimate", "Wasserstein estimate"),
                # a packed D's numbers bound the m-tuples' divergence: panels of their own
                ("wasserstein_packed_estimate", "W1 of m-packed samples"),
                ("jsd_estimate", "JSD estimate (D's bound)"),
                ("jsd_packed_estimate", "JSD of m-packed samples (D's bound)"), ("lr_g", "G learning rate")]


def drawn_keys(train: list[dict]) -> list[str]:
    """The train keys a compare page draws, in first-seen order: TRAIN_PANELS, and what other
    objectives log as their own (a VAE's ELBO); a GAN's diagnostics (gradient norms,
    regularisers) stay in each report."""
    from gankit.report.plots import CURVE_GROUPS
    panels = {k for k, _ in TRAIN_PANELS}
    diagnostics = {k for _, keys in CURVE_GROUPS for k in keys} | panels
    return [k for k in MI.numeric_keys(train)
            if k in panels or (k not in diagnostics and not k.startswith("lr_"))]


def drawn_records(records: list[dict], evals: list[dict]) -> list[dict]:
    """What figure_compare reads of one run: its evaluations ``evals`` as they are, then per
    drawn train key one small record ({"kind", "step", key}) per point kept (_kept)."""
    train = [r for r in records if r.get("kind") == "train"]
    out = list(evals)
    for key in drawn_keys(train):
        steps, values, raw = [], [], []
        for r in train:
            v = r.get(key)
            x = v if type(v) is float else MI.as_float(v)     # as axes._series reads it
            step = r["step"]
            if x is not None and isinstance(step, (int, float)):
                steps.append(step)
                values.append(x)
                raw.append(v)
        out += [{"kind": "train", "step": steps[i], key: raw[i]}
                for i in _kept(np.asarray(steps, dtype=float), np.asarray(values, dtype=float))]
    return out


def _kept(steps: np.ndarray, values: np.ndarray) -> list[int]:
    """Indices of a key's points that draw as the whole series does: all of them up to
    axes.MAX_DRAWN; past it, a superset of what axes.decimate keeps (the first and last points,
    the lowest and highest step, each step bin's lowest and highest finite value), so the
    thinned curve shows the same spikes, and every non-finite point (the infinities' markers and
    legend count them all; the breaks in the line), every point with no finite neighbour (a lone
    marker), and a finite neighbour of each kept point that has one (so none looks lone)."""
    from gankit.report.axes import BINS, MAX_DRAWN, _bins, _isolated
    n = len(values)
    if n <= MAX_DRAWN:
        return list(range(n))
    idx = np.arange(n)
    fin = np.isfinite(values)
    keep = [idx[[0, -1]], [int(np.argmin(steps)), int(np.argmax(steps))], idx[~fin], _isolated(values)]
    if fin.any():
        f = idx[fin]
        b = _bins(steps, BINS)[f]
        by = np.lexsort((values[f], b))                 # by bin, then by value
        order, ob = f[by], b[by]
        starts = np.flatnonzero(np.r_[True, ob[1:] != ob[:-1]])
        ends = np.r_[starts[1:], len(order)] - 1
        keep += [order[starts], order[ends]]
    kept = np.unique(np.concatenate([np.asarray(k, dtype=np.int64) for k in keep]))
    k = kept[fin[kept]]
    left = (k > 0) & fin[np.maximum(k - 1, 0)]
    right = (k < n - 1) & fin[np.minimum(k + 1, n - 1)]
    kept = np.unique(np.r_[kept, np.where(left, k - 1, np.where(right, k + 1, k))])
    return kept.tolist()


def panels(records: list[list[dict]], metrics: list[dict], config_diff: list[dict] | None = None) -> list[tuple]:
    """A GAN's losses and D's outputs, then what other objectives log as their own (a VAE's ELBO,
    SeqGAN's MLE loss); a GAN's diagnostics (gradient norms, regularisers) stay in each report.
    Each panel is (title, kind, key), or (title, kind, key, runs) drawing only the runs of that
    tuple of indices: the losses of runs of several objectives or losses (``config_diff``:
    compare_data's, naming objective.name / loss.name where they differ), one panel per them."""
    train = [r for recs in records for r in recs if r.get("kind") == "train"]
    drawn = drawn_keys(train)
    out: list[tuple] = []
    for k, title in TRAIN_PANELS:
        if k not in drawn:
            continue
        groups = loss_groups(records, k, config_diff)
        # WGAN's critic loss -E f(G(z)), a VAE's -ELBO per dimension and -log D(G(z)) are not one
        # quantity: on one axis they read as one scale (gankit compare drew them so)
        out += ([(title, "train", k)] if len(groups) < 2 else
                [(f"{title} ({name})", "train", k, tuple(runs)) for name, runs in groups.items()])
    out += [(k, "train", k) for k in drawn if k not in dict(TRAIN_PANELS)]
    arrows = {"higher": " \u2191", "lower": " \u2193"}
    out += [(m["label"] + arrows.get(m["better"], ""), "eval", m["key"]) for m in metrics]
    # a panel is about 50 characters of its title's type wide: a longer title ran into the next one
    return [(textwrap.fill(p[0], 48, break_long_words=False), *p[1:]) for p in out]


# the train keys whose meaning is the objective's and the loss's: one panel per (objective, loss)
SPLIT_BY_LOSS = ("loss_d", "loss_g")


def loss_groups(records: list[list[dict]], key: str, config_diff: list[dict] | None) -> dict[str, list[int]]:
    """{name: indices of the runs logging ``key``} per (objective.name, loss.name) of theirs, in
    run order, for the keys of SPLIT_BY_LOSS (else one group); ``name`` says what sets the group
    apart: the objective where the groups' objectives differ, the loss where runs of one
    objective differ in it ("vae", "gan, wgan")."""
    logged = [i for i, recs in enumerate(records) if any(r.get("kind") == "train" and key in r for r in recs)]
    if key not in SPLIT_BY_LOSS:
        return {"": logged}
    differ = {d["key"]: d["values"] for d in config_diff or []}
    obj, loss = ([differ[k][i] if k in differ else None for i in range(len(records))]
                 for k in ("objective.name", "loss.name"))
    pairs = list(dict.fromkeys((obj[i], loss[i]) for i in logged))
    objectives = {o for o, _ in pairs}

    def name(o, l):
        parts = [o] * (len(objectives) > 1) + [l] * (len({m for p, m in pairs if p == o}) > 1)
        return ", ".join("?" if v is None else str(v) for v in parts)
    return {name(*p): [i for i in logged if (obj[i], loss[i]) == p] for p in pairs}


def curves_note(names: list[str], records: list[list[dict]], config_diff: list[dict] | None) -> str:
    """The compare page's words above its figure: runs drawn alike (shared_styles_note), and
    that losses of runs of different objectives or losses are drawn apart (panels)."""
    split = [k for k in SPLIT_BY_LOSS if len(loss_groups(records, k, config_diff)) > 1]
    note = ("Loss curves of runs with different objectives/losses are not comparable (a WGAN critic's "
            "-E f(G(z)), a VAE's -ELBO and a GAN's -log D(G(z)) are different quantities): "
            f"{' and '.join(dict(TRAIN_PANELS)[k] for k in split)} are drawn in one panel per objective "
            "and loss." if split else "")
    return " ".join(n for n in (note, shared_styles_note(names)) if n)


def shared_styles_note(names: list[str], listed: int = 4) -> str:
    """The runs drawn alike, in a sentence: past 8 colours x 4 line styles (axes.run_style),
    run i+32 gets run i's style, so their curves cannot be told apart; "" for 32 runs or fewer."""
    from gankit.report.axes import LINE_STYLES, PALETTE
    n = len(PALETTE) * len(LINE_STYLES)
    if len(names) <= n:
        return ""
    alike = [names[i::n] for i in range(n) if len(names[i::n]) > 1]
    shown = "; ".join(" = ".join(group) for group in alike[:listed]) + ("; ..." if len(alike) > listed else "")
    return (f"{len(names)} runs, {n} styles ({len(PALETTE)} colours x {len(LINE_STYLES)} line styles): each run "
            f"after the first {n} is drawn as the run {n} places before it, so {sum(map(len, alike))} runs share a style "
            f"with another ({shown}); compare at most {n} at a time to tell every curve apart.")
