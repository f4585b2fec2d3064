"""CPU cost of a Stacked-MNIST DCGAN step by width (the preset's 32 against the GPU search's 128),
one thread, a few steps each: what a width-128 run would cost on this machine.

    .venv/bin/python benchmarks/stacked_cpu_step.py [--widths 32 128] [--steps 30]
"""
from __future__ import annotations

import argparse
import tempfile
import time

import torch

from gankit import config as C
import gankit.components  # noqa: F401
from gankit.train.run import Run


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", type=int, nargs="+", default=[32, 128])
    ap.add_argument("--steps", type=int, default=30)
    a = ap.parse_args()
    torch.set_num_threads(1)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} stacked-mnist, batch 64, 1 thread, {a.steps} steps")
    for w in a.widths:
        cfg = C.load("stacked-mnist", [f"generator.width={w}", f"discriminator.width={w}",
                                       f"train.steps={a.steps}", "train.progress=false",
                                       "train.sample_every=1000000", "train.checkpoint_every=1000000",
                                       "train.n_fixed=10"])
        with tempfile.TemporaryDirectory() as d:
            run = Run.create(cfg, d)
            t = time.perf_counter()
            run.train()
            dt = (time.perf_counter() - t) / a.steps
        print(f"width {w:4d}: {dt:.3f} s/step, {dt * 30000 / 3600:.1f} h per 30,000 steps")


if __name__ == "__main__":
    main()
