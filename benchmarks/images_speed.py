"""Image speed: the DCGAN step in gankit's trainer vs a plain PyTorch loop (same nets,
interleaved runs), the step's achieved GFLOP/s beside this machine's matmul peak,
and FID's matrix square root (eigh) vs the scipy sqrtm implementation.

    .venv/bin/python benchmarks/images_speed.py [--preset mnist-dcgan] [--steps 150] [--repeats 3] [--device cuda]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F

from gankit import config as C
from gankit.metrics.image_measures import fid_from_features
from gankit.train.baseline import gankit_loop, plain_loop, sync
from gankit.train.run import Run
import _cli   # benchmarks/_cli.py: this folder is on sys.path


def step_flops(run: Run) -> float:
    """FLOPs of one plain Algorithm-1 step (D step + G step, one G forward), counted by torch."""
    from torch.utils.flop_counter import FlopCounterMode
    G, D, m, dim = run.G, run.D, run.cfg.train.batch_size, run.cfg.noise.dim
    real = run.dataset.sample(m, torch.Generator().manual_seed(0)).to(run.device)
    with FlopCounterMode(display=False) as fc:
        fake = G(torch.randn(m, dim, device=run.device))
        d_loss = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
        d_loss.backward()
        F.softplus(-D(fake)).mean().backward()
    return float(fc.get_total_flops())


def matmul_peak(n: int = 1024, reps: int = 20, device: str = "cpu") -> float:
    """fp32 matmul GFLOP/s (on a GPU with PyTorch's default fp32 precision, no TF32)."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    sync()
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync()
    return 2 * n ** 3 * reps / (time.perf_counter() - t) / 1e9


def scipy_fid(f1, f2):
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1.dot(s2)).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="mnist-dcgan")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="train.device of both loops")
    ap.add_argument("--set", action="append", default=[])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    over = [f"train.steps={a.steps}", f"train.device={a.device}", "train.sample_every=1000000",
            "train.checkpoint_every=1000000",
            "train.log_every=1000000", "train.progress=false", "loss.name=nonsaturating", "train.d_steps=1",
            *a.set]
    cfg = C.load(a.preset, over)
    plain, ours = [], []
    with tempfile.TemporaryDirectory() as tmp:
        flops = step_flops(Run(cfg, f"{tmp}/f"))
        for r in range(a.repeats):
            plain.append(plain_loop(Run(cfg, f"{tmp}/p{r}"), a.steps))
            ours.append(gankit_loop(cfg, a.steps, f"{tmp}/g{r}")[1])
    p, g = statistics.median(plain), statistics.median(ours)
    peak = matmul_peak(4096 if a.device != 'cpu' else 1024, device=a.device)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} preset {a.preset}, batch {cfg.train.batch_size}, "
          f"{a.steps} steps x {a.repeats} repeats, {a.threads} thread(s), device {a.device}")
    print(f"plain PyTorch: {a.steps / p:7.2f} steps/s  {flops * a.steps / p / 1e9:6.2f} GFLOP/s")
    print(f"gankit:        {a.steps / g:7.2f} steps/s  {flops * a.steps / g / 1e9:6.2f} GFLOP/s")
    print(f"ratio gankit/plain = {p / g:.3f} (goal >= 1.0); {flops / 1e9:.3f} GFLOP per step; "
          f"fp32 matmul peak {peak:.1f} GFLOP/s on {a.device}")
    rng = np.random.default_rng(0)
    for d in (128, 2048):
        f1, f2 = rng.normal(size=(5000, d)), rng.normal(size=(5000, d)) + 0.1
        t = time.perf_counter()
        ours_v = fid_from_features(f1, f2)
        t_ours = time.perf_counter() - t
        t = time.perf_counter()
        ref = scipy_fid(f1, f2)
        t_ref = time.perf_counter() - t
        print(f"FID d={d}, n=5000: gankit (eigh) {t_ours:.2f} s, scipy sqrtm {t_ref:.2f} s, "
              f"speed-up {t_ref / t_ours:.1f}x, relative difference {abs(ours_v - ref) / ref:.1e}")


if __name__ == "__main__":
    _cli.run_main(main)
