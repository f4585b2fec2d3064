"""Where a trained run's samples miss the modes, and what its rejection sampler makes of them.

For a run on points with known modes (ring, grid, gmm): samples counted by their distance to
the nearest mode in units of the mode's std (HQ counts those within 3), from G alone and
through the fitted rejection sampler (DRS); the RMS distance of the HQ samples (sqrt 2 = 1.41
for the data's own 2-D Gaussians: lower means G's modes are narrower than the data's); and the
sampler's logit (log p_data / p_g as its D reads it) on G's samples by band.

    .venv/bin/gankit train ring --set seed=11 --out runs/ring11
    .venv/bin/python benchmarks/ring_misses.py runs/ring11 [--samples 2500] [--seeds 1 2]
"""
from __future__ import annotations

import argparse

import torch

from gankit.train.run import Run
import _cli   # benchmarks/_cli.py: this folder is on sys.path  # noqa: F401

BANDS = [(0, 1), (1, 2), (2, 3), (3, 5), (5, 10), (10, 30), (30, float("inf"))]


def _bands(d: torch.Tensor) -> list[int]:
    return [int(((d >= lo) & (d < hi)).sum()) for lo, hi in BANDS]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("--samples", type=int, default=2500, help="per draw (the PacGAN protocol's 2,500)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2], help="noise seeds of the draws")
    ap.add_argument("--logit-samples", type=int, default=20000)
    a = ap.parse_args()
    torch.set_num_threads(1)
    run = Run.open(a.run_dir)
    ds = run.dataset
    if ds.modes is None or ds.mode_std is None:
        raise SystemExit(f"{a.run_dir}: its data has no known modes (ring, grid or gmm data have)")
    modes, std = ds.modes.double(), float(ds.mode_std)

    def dist(x):       # distance to the nearest mode, in stds
        return torch.cdist(x.double(), modes).min(1).values / std

    sampler = getattr(run.objective, "rejection", None)
    fitted = sampler is not None and sampler.ready
    head = " | ".join(f"{lo:g}-{hi:g}" for lo, hi in BANDS)
    print(f"| sampler | seed | % HQ | RMS of HQ (std) | {head} |\n|---|---|---|---|" + "---|" * len(BANDS))
    for rejection in (False, True) if fitted else (False,):
        for s in a.seeds:
            d = dist(run.generate(a.samples, seed=s, rejection=rejection))
            hq = d <= 3
            print(f"| {'DRS' if rejection else 'G alone'} | {s} | {100 * float(hq.double().mean()):.2f} | "
                  f"{float(d[hq].pow(2).mean().sqrt()):.2f} | " + " | ".join(map(str, _bands(d))) + " |")
    if not fitted:
        print("\n(no fitted rejection sampler in this run: objective.drs, or `gankit drs RUN`)")
        return
    x = run.generate(a.logit_samples, seed=max(a.seeds) + 1, rejection=False)
    d, logit = dist(x), sampler.logit(run._to_model(x).to(run.device)).float().cpu()
    print(f"\nM = {float(sampler.M):.4f}, acceptance {float(sampler.acceptance):.3f}\n")
    print("| band (std) | samples | logit median | min | max | acceptance |\n|---|---|---|---|---|---|")
    for lo, hi in BANDS:
        m = (d >= lo) & (d < hi)
        if m.any():
            lg = logit[m]
            print(f"| {lo:g}-{hi:g} | {int(m.sum())} | {float(lg.median()):.3f} | {float(lg.min()):.3f} | "
                  f"{float(lg.max()):.3f} | {float(sampler.accept_prob(lg).mean()):.3f} |")


if __name__ == "__main__":
    main()
