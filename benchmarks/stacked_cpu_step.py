"""CPU cost of a Stacked-MNIST DCGAN step by width (the preset's 32 against the GPU search's 128)
and arithmetic (float32 against bf16 autocast, `train.precision`), a few steps each through
gankit's loop: what a run would cost on this machine.

    .venv/bin/python benchmarks/stacked_cpu_step.py [--widths 32 128] [--precisions fp32 bf16]
        [--steps 30] [--threads 1]

The ratio column is the fp32 time over this precision's time at the same width.
"""
from __future__ import annotations

import argparse
import tempfile
import time

import torch

from gankit import config as C
from gankit.train.run import Run
import _cli   # benchmarks/_cli.py: this folder is on sys.path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", type=int, nargs="+", default=[32, 128])
    ap.add_argument("--precisions", nargs="+", default=["fp32"], choices=["fp32", "bf16"])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    _cli.at_least(ap, a, widths=1, steps=1, threads=1)
    torch.set_num_threads(a.threads)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} stacked-mnist, batch 64, {a.threads} thread(s), "
          f"{a.steps} steps after 5 warm-up steps")
    for w in a.widths:
        base = None
        for p in a.precisions:
            cfg = C.load("stacked-mnist", [f"generator.width={w}", f"discriminator.width={w}",
                                           f"train.steps={a.steps + 5}", "train.progress=false",
                                           "train.sample_every=1000000", "train.checkpoint_every=1000000",
                                           "train.n_fixed=10", f"train.precision={p}"])
            with tempfile.TemporaryDirectory() as d:
                run = Run.create(cfg, d)
                run.cfg.train.steps = 5
                run.train()                                   # warm-up (first calls, allocator)
                run.cfg.train.steps = a.steps + 5
                t = time.perf_counter()
                run.train()
                dt = (time.perf_counter() - t) / a.steps
            base = dt if p == "fp32" else base
            ratio = f", fp32/{p} {base / dt:.2f}x" if base and p != "fp32" else ""
            print(f"width {w:4d} {p}: {dt:.3f} s/step, {dt * 30000 / 3600:.1f} h per 30,000 steps{ratio}")


if __name__ == "__main__":
    _cli.run_main(main)
