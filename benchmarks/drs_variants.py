"""Rejection-sampling variants on one trained run: the PacGAN protocol (modes, % HQ,
reverse KL) of G alone and of DRS fitted with other settings, G and D fixed.

    .venv/bin/gankit train ring --set seed=8 --out runs/ring8
    .venv/bin/python benchmarks/drs_variants.py runs/ring8

"undivided" scores a packed D's self-packed logit without dividing by the pack size
(the first version of gankit/train/rejection.py).
"""
from __future__ import annotations

import argparse

import torch

from gankit.train.rejection import RejectionSampler
from gankit.train.run import Run
import _cli   # benchmarks/_cli.py: this folder is on sys.path

VARIANTS = [  # (drs_steps, drs_quantile, undivided)
    (1000, 0.99, False), (1000, 0.99, True), (3000, 0.99, False), (1000, 0.999, False)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    a = ap.parse_args()
    torch.set_num_threads(1)
    run = Run.open(a.run_dir)
    G = run.objective.G_eval or run.objective.G
    G.eval()
    pack = getattr(run.objective, "pack", 1)

    def row(tag, rejection=True):
        r = run.evaluate(["modes"], rejection=rejection)
        print(f"| {tag} | {r['modes_covered']}/{r['modes_total']} | {100 * r['hq_fraction']:.1f} | "
              f"{r['reverse_kl']:.4f} |", flush=True)

    print("| sampler | modes | % HQ | reverse KL |\n|---|---|---|---|")
    row("G alone", rejection=False)
    for steps, q, undivided in VARIANTS:
        rej = RejectionSampler(run.D, pack, steps, 1e-4, q, run.cfg.train.batch_size)
        if undivided:
            f = rej.logit
            rej.logit = lambda x, f=f: f(x) * pack
        torch.manual_seed(0)
        rej.fit(run.D, G, lambda n: run.sample_batch(n).x, run.sample_z)
        run.objective.rejection = rej
        row(f"DRS {steps} steps, quantile {q}{', undivided' if undivided else ''} "
            f"(acceptance {float(rej.acceptance):.2f})")


if __name__ == "__main__":
    _cli.run_main(main)
