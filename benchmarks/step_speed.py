"""Step speed: gankit's trainer against a plain PyTorch loop, same nets, batch and loss.

Both do Algorithm 1 with k = 1 and one G forward per iteration reused for the D
and G steps (gankit's default `objective.reuse_fake`).  Runs are interleaved
(plain, gankit, plain, gankit, ...) so background load hits both alike; the
ratio is gankit steps/s over plain steps/s (goal >= 0.95).

    .venv/bin/python benchmarks/step_speed.py [--preset ring-vanilla] [--steps 2000] [--repeats 5] [--device cuda]
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F

from gankit import config as C
from gankit.train.run import Run


def plain_loop(run: Run, steps: int) -> float:
    """The textbook loop, written out by hand on the run's own nets and data (with
    train.precision = bf16: the forward passes under bf16 autocast, losses in float32)."""
    G, D, opt_g, opt_d = run.G, run.D, run.optimizers["g"], run.optimizers["d"]
    m, dim, ds, dev = run.cfg.train.batch_size, run.cfg.noise.dim, run.dataset, run.device
    g_data, g_noise = torch.Generator().manual_seed(0), torch.Generator(dev).manual_seed(1)
    amp = ((lambda: torch.autocast(dev.type, dtype=torch.bfloat16))
           if run.cfg.train.precision == "bf16" else contextlib.nullcontext)
    sync()
    t = time.perf_counter()
    for _ in range(steps):
        real = ds.sample(m, g_data).to(dev, non_blocking=True)
        with amp():
            fake = G(torch.randn(m, dim, generator=g_noise, device=dev))
            d_loss = (F.softplus(-D(real).float()).mean()
                      + F.softplus(D(fake.detach()).float()).mean())
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        with amp():
            g_loss = F.softplus(-D(fake).float()).mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
    sync()
    return time.perf_counter() - t


def sync():
    """Wait for queued GPU work, so wall-clock times cover it (no-op on the CPU)."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def gankit_loop(cfg, steps: int, folder: str) -> tuple[Run, float]:
    run = Run.create(cfg, folder)
    sync()
    t = time.perf_counter()
    run.train(progress=False)
    sync()
    return run, time.perf_counter() - t


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
    plain, ours = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.repeats):
            run = Run(cfg, f"{tmp}/p{r}")              # fresh nets for the plain loop too
            plain.append(plain_loop(run, a.steps))
            ours.append(gankit_loop(cfg, a.steps, f"{tmp}/g{r}")[1])
    p, g = statistics.median(plain), statistics.median(ours)
    print(f"preset {a.preset}, batch {cfg.train.batch_size}, {a.steps} steps x {a.repeats} repeats, "
          f"{a.threads} thread(s), device {a.device}")
    print(f"plain PyTorch: {a.steps / p:8.1f} steps/s   (median of {[round(x, 2) for x in plain]} s)")
    print(f"gankit:        {a.steps / g:8.1f} steps/s   (median of {[round(x, 2) for x in ours]} s)")
    print(f"ratio gankit/plain = {p / g:.3f}  (goal >= 0.95)")


if __name__ == "__main__":
    main()
