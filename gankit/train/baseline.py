"""The plain PyTorch baseline every speed claim is a ratio against.

``plain_loop`` is Algorithm 1 written out by hand (k = 1, non-saturating loss, one G
forward reused for both steps) on a Run's own nets, optimizers and data; ``gankit_loop``
times gankit's trainer on the same config.  benchmarks/step_speed.py and
benchmarks/images_speed.py interleave the two.
"""
from __future__ import annotations

import contextlib
import time

import torch
import torch.nn.functional as F

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


def steady_seconds_per_step(run: Run) -> float:
    """Seconds per step between the run's first and last logged step (its own training clock):
    the step without what a run does once (set-up, the last snapshot and report)."""
    recs = run.folder.records("train")
    if len(recs) < 2 or recs[-1]["step"] == recs[0]["step"]:
        raise ValueError(f"{run.dir}: {len(recs)} logged step(s); a steady-state rate needs two or more: "
                         f"train more steps or lower train.log_every (now {run.cfg.train.log_every})")
    return (recs[-1]["time"] - recs[0]["time"]) / (recs[-1]["step"] - recs[0]["step"])


def gankit_loop(cfg, steps: int, folder: str) -> tuple[Run, float]:
    run = Run.create(cfg, folder)
    sync()
    t = time.perf_counter()
    run.train(progress=False)
    sync()
    return run, time.perf_counter() - t
