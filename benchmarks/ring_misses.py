"""Where a trained run's samples miss the modes, and what its rejection sampler makes of them.

For a run on points with known modes (ring, grid, gmm): samples counted by their distance to
the nearest mode in units of the mode's std (HQ counts those within 3), from G alone and
through the fitted rejection sampler (DRS); the RMS distance of the HQ samples (sqrt 2 = 1.41
for the data's own 2-D Gaussians: lower means G's modes are narrower than the data's); and the
sampler's logit (log p_data / p_g as its D reads it) on G's samples by band.

    .venv/bin/gankit train ring --set seed=11 --out runs/ring11
    .venv/bin/python benchmarks/ring_misses.py runs/ring11 [--samples 2500] [--seeds 1 2] [--refit 5000]

``--refit STEPS``: also a fresh classifier (an MLP 2-128-128-128-1, Adam 1e-3 with a cosine decay,
batches of 512) trained STEPS steps on real vs G's samples, and the HQ of rejection sampling by its
logits at M = their 0.9, 0.99 and 0.999 quantiles: what a D fitted harder than DRS's would do.
"""
from __future__ import annotations

import argparse

import torch

from gankit.train.run import Run
import _cli   # benchmarks/_cli.py: this folder is on sys.path

BANDS = [(0, 1), (1, 2), (2, 3), (3, 5), (5, 10), (10, 30), (30, float("inf"))]


def _bands(d: torch.Tensor) -> list[int]:
    return [int(((d >= lo) & (d < hi)).sum()) for lo, hi in BANDS]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("--samples", type=int, default=2500, help="per draw (the PacGAN protocol's 2,500)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2], help="noise seeds of the draws")
    ap.add_argument("--logit-samples", type=int, default=20000)
    ap.add_argument("--refit", type=int, default=0, metavar="STEPS", help="also a fresh classifier's rejection")
    a = ap.parse_args(argv)
    _cli.at_least(ap, a, samples=1, logit_samples=1, refit=0)
    torch.set_num_threads(1)
    run = Run.open(a.run_dir)
    ds = run.dataset
    if ds.modes is None or ds.mode_std is None:
        _cli.fail(f"{a.run_dir}: its data has no known modes (ring, grid or gmm data have)")
    modes, std = ds.modes.double(), float(ds.mode_std)

    def dist(x):       # distance to the nearest mode, in stds
        return torch.cdist(x.double(), modes).min(1).values / std

    if a.refit:
        _refit(run, dist, a.refit)
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


def _refit(run, dist, steps: int):
    from gankit.losses.adversarial import d_loss_bce
    torch.manual_seed(0)
    width = [2, 128, 128, 128]
    layers = [m for i, o in zip(width, width[1:]) for m in (torch.nn.Linear(i, o), torch.nn.ReLU())]
    net = torch.nn.Sequential(*layers, torch.nn.Linear(128, 1))
    opt = torch.optim.Adam(net.parameters(), 1e-3, betas=(0.5, 0.999))
    decay = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    g = torch.Generator().manual_seed(1)
    pool = run.generate(200000, seed=77, rejection=False)
    for _ in range(steps):
        real = run.dataset.sample(512, g)
        loss = d_loss_bce(net(real), net(pool[torch.randint(len(pool), (512,), generator=g)]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        decay.step()
    with torch.no_grad():
        x = run.generate(50000, seed=5, rejection=False)
        logit = net(x).reshape(-1)
    u = torch.rand(len(x), generator=torch.Generator().manual_seed(3))
    hq = lambda y: 100 * float((dist(y) <= 3).double().mean())     # noqa: E731
    print(f"| fresh classifier, {steps} steps: M at quantile | % HQ | acceptance |\n|---|---|---|")
    print(f"| G alone (50,000 samples) | {hq(x):.2f} | 1.000 |")
    for q in (0.9, 0.99, 0.999):
        keep = u < torch.exp((logit - torch.quantile(logit, q)).clamp(max=0))
        print(f"| {q} | {hq(x[keep]):.2f} | {float(keep.float().mean()):.3f} |")
    print()


if __name__ == "__main__":
    _cli.run_main(main)
