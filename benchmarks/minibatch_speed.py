"""Minibatch discrimination's cost: a ring GAN step with it over the same step without it.

Interleaved runs (plain, discrimination, [torch cdist kernel,] plain, ...) so background load
hits all alike; medians over repeats.  Goal (issue 19): discrimination step / plain step <= 2.
The step is the steady state (the run's training clock between its first and last logged
step); the whole run (with its one-off snapshot and report at the end) is printed beside it.

    .venv/bin/python benchmarks/minibatch_speed.py [--steps 300] [--repeats 3] [--threads 1] [--with-torch]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile

import torch

from gankit import config as C
from gankit.l1kernel import closeness_torch
from gankit.train import remedies
from gankit.train.baseline import gankit_loop, steady_seconds_per_step
import _cli   # benchmarks/_cli.py: this folder is on sys.path


def torch_bcn(Mt):
    return closeness_torch(Mt.transpose(1, 2))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="ring-vanilla")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--with-torch", action="store_true",
                    help="also time the torch.cdist expression the kernel replaced")
    ap.add_argument("--set", action="append", default=[])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    over = [f"train.steps={a.steps}", "train.sample_every=1000000", "train.checkpoint_every=1000000",
            "train.progress=false", f"train.threads={a.threads}", *a.set]
    _cli.need_two_logs(C.load(a.preset, over))     # a wrong preset or key, or too few steps, fails here
    variants = {"plain": [], "discrimination": []}
    if a.with_torch:
        variants["discrimination, torch.cdist"] = []
    whole = {k: [] for k in variants}
    kernel = remedies.closeness_bcn
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.repeats):
            for name, times in variants.items():
                extra = [] if name == "plain" else ["objective.minibatch=discrimination"]
                remedies.closeness_bcn = torch_bcn if "torch" in name else kernel
                cfg = C.load(a.preset, over + extra)
                run, t = gankit_loop(cfg, a.steps, f"{tmp}/{r}-{list(variants).index(name)}")
                times.append(steady_seconds_per_step(run))
                whole[name].append(t)
    remedies.closeness_bcn = kernel
    base, base_whole = statistics.median(variants["plain"]), statistics.median(whole["plain"])
    print(f"preset {a.preset}, {a.steps} steps x {a.repeats} repeats, {a.threads} thread(s), "
          f"load {os.getloadavg()[0]:.1f}")
    for name, times in variants.items():
        m, w = statistics.median(times), statistics.median(whole[name])
        print(f"{name:28s} {1 / m:7.1f} steps/s  step {m / base:5.2f}x plain  "
              f"(ms per step {[round(1e3 * t, 2) for t in times]}); whole run {w / base_whole:5.2f}x plain "
              f"({[round(t, 2) for t in whole[name]]} s)")


if __name__ == "__main__":
    _cli.run_main(main)
