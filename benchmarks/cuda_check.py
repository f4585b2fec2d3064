"""GPU path check: each preset family trains, resumes and evaluates on a CUDA device, and
its run folder opens on the CPU with the same G.

For every case: train half the steps on the device, resume to the full count (checkpoint
written on the GPU, read back), evaluate the default metrics, then reopen the folder
with `train.device=cpu` and compare G's outputs on the same noise (max abs difference;
the CPU and GPU kernels round differently, so not bitwise). Prints one row per case.
Not a test: CI has no GPU. Results in docs/core.md (GPU section).

    python benchmarks/cuda_check.py [--device cuda] [--cases ring,mnist-dcgan]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
import traceback
from pathlib import Path

import torch

from gankit import config as C
from gankit.train.run import Run
import _cli   # benchmarks/_cli.py: this folder is on sys.path

# preset -> (G steps, extra overrides): tiny, every family and the GPU-sensitive pieces
# (DRS, packing, gradient penalty, spectral norm, conditioning, policy gradient)
CASES = {
    "ring": (2000, ["objective.drs_steps=200"]),
    "grid-vanilla": (1000, []),
    "wgan": (200, []),
    "wgan-gp": (200, []),
    "hinge-sn": (300, []),
    "ring-cgan": (500, []),
    "mnist-dcgan": (200, []),
    "mnist-dcgan+bf16": (200, ["train.precision=bf16"]),     # label+variant: the preset before "+"
    "stacked-mnist": (200, ["objective.name=gan", "objective.pack=2", "objective.drs=true",
                            "objective.drs_steps=50", "eval.n_samples=2000"]),
    "fashion-cgan": (200, ["eval.n_samples=1000"]),
    "seqgan-oracle": (20, ["objective.pretrain_steps=50", "objective.d_pretrain_steps=10",
                           "objective.rollouts=4", "eval.n_samples=200"]),
    # the other model families: nets their objectives build and initialise themselves
    "mnist-ssgan": (200, ["eval.n_samples=1000"]),
    "mnist-infogan": (200, ["objective.q_batchnorm=true", "eval.n_samples=1000"]),
    "mnist-vae": (200, ["eval.n_samples=1000"]),
    "mnist-ae": (200, ["eval.n_samples=1000"]),
    "mnist-bigan": (200, ["eval.n_samples=1000"]),
    "mnist-ebm": (20, ["eval.n_samples=1000"]),
}


def g_outputs(run: Run, z: torch.Tensor) -> torch.Tensor | None:
    """G's output on the noise z (None for conditional and sequence G, which draw more randomness,
    and for an energy model, which has none)."""
    if run.G is None or run.conditional or run.cfg.objective.name == "seqgan":
        return None
    with torch.no_grad():
        run.G.eval()
        return run.G(z.to(run.device)).float().cpu()


def check(name: str, steps: int, extra: list[str], device: str, folder: Path) -> dict:
    over = [f"train.device={device}", "train.progress=false", f"train.checkpoint_every={max(steps // 2, 1)}",
            f"train.sample_every={max(steps // 2, 1)}", *extra]
    cfg = C.load(name.split("+")[0], over + [f"train.steps={max(steps // 2, 1)}"])
    t0 = time.time()
    Run.create(cfg, folder).train()
    run = Run.open(folder, [f"train.steps={steps}"]).train()           # resume on the device
    seconds = time.time() - t0
    result = run.evaluate()
    z = torch.randn(256, run.cfg.noise.dim, generator=torch.Generator().manual_seed(0))
    on_dev = g_outputs(run, z)
    cpu = Run.open(folder, ["train.device=cpu"])
    on_cpu = g_outputs(cpu, z)
    same = all(torch.equal(p.cpu(), q) for name in run.modules
               for p, q in zip(run.modules[name].state_dict().values(), cpu.modules[name].state_dict().values()))
    diff = None if on_dev is None else float((on_dev - on_cpu).abs().max())
    return {"case": name, "steps": run.step, "train_s": round(seconds, 1), "device": str(run.device),
            "cpu_weights_equal": same, "cpu_g_max_abs_diff": diff,
            "metrics": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in result.items()
                        if isinstance(v, (int, float))}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--cases", default=",".join(CASES))
    a = ap.parse_args()
    cases = _cli.choose(a.cases, CASES, "case")
    if not torch.cuda.is_available() and a.device.startswith("cuda"):
        raise SystemExit("no CUDA device here; this check needs a GPU")
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} torch {torch.__version__}, "
          f"{torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu'}")
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in cases:
            steps, extra = CASES[name]
            try:
                row = check(name, steps, extra, a.device, Path(tmp) / name)
                print(json.dumps(row), flush=True)
            except Exception as e:   # report every case, then fail
                failed += 1
                print(json.dumps({"case": name, "error": f"{type(e).__name__}: {e}"}), flush=True)
                traceback.print_exc()
    if failed:
        raise SystemExit(f"{failed} case(s) failed")


if __name__ == "__main__":
    _cli.run_main(main)
