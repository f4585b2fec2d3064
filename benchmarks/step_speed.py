"""Step speed: gankit's trainer against a plain PyTorch loop, same nets, batch and loss.

Both do Algorithm 1 with k = 1 and one G forward per iteration reused for the D
and G steps (gankit's default `objective.reuse_fake`).  Runs are interleaved
(plain, gankit, plain, gankit, ...) so background load hits both alike; the
ratio is gankit steps/s over plain steps/s (goal >= 1.0).  Two gankit figures: the step
(steady state: steps per second between the first and the last logged step, from the
run's own training clock) and the whole run (the same steps plus what a run does once:
the snapshot and report at the last step); the plain loop has no fixed part.

    .venv/bin/python benchmarks/step_speed.py [--preset ring-vanilla] [--steps 2000] [--repeats 5] [--device cuda]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile

import torch

from gankit import config as C
from gankit.train.baseline import gankit_loop, plain_loop, steady_seconds_per_step
from gankit.train.run import Run
import _cli   # benchmarks/_cli.py: this folder is on sys.path


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="ring-vanilla",
                    help="an unpacked plain-GAN preset (the plain loop has no packing)")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="train.device of both loops")
    ap.add_argument("--set", action="append", default=[])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    over = [f"train.steps={a.steps}", f"train.device={a.device}", "train.sample_every=1000000",
            "train.checkpoint_every=1000000",
            "train.progress=false", "loss.name=nonsaturating", "train.d_steps=1", *a.set]
    cfg = C.load(a.preset, over)
    _cli.need_two_logs(cfg)
    plain, ours, steady = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.repeats):
            run = Run(cfg, f"{tmp}/p{r}")              # fresh nets for the plain loop too
            plain.append(plain_loop(run, a.steps))
            run, t = gankit_loop(cfg, a.steps, f"{tmp}/g{r}")
            ours.append(t)
            steady.append(steady_seconds_per_step(run) * a.steps)
    p, g, st = statistics.median(plain), statistics.median(ours), statistics.median(steady)
    print(f"preset {a.preset}, batch {cfg.train.batch_size}, {a.steps} steps x {a.repeats} repeats, "
          f"{a.threads} thread(s), device {a.device}")
    print(f"plain PyTorch: {a.steps / p:8.1f} steps/s   (median of {[round(x, 2) for x in plain]} s)")
    print(f"gankit step:   {a.steps / st:8.1f} steps/s   (steady state, median of "
          f"{[round(x, 2) for x in steady]} s per {a.steps} steps)")
    print(f"gankit run:    {a.steps / g:8.1f} steps/s   (whole run, median of {[round(x, 2) for x in ours]} s)")
    print(f"ratio gankit/plain: step {p / st:.3f} (goal >= 1.0), whole run {p / g:.3f}")


if __name__ == "__main__":
    _cli.run_main(main)
