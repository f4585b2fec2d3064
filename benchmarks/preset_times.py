"""Measure each preset's training time on this machine, for `gankit list`.

For every preset: build the run (data, nets) and time it, then time `--steps` training
steps after `--warmup` steps (no snapshots, checkpoints or evaluation in between), and
extrapolate: estimate = set-up + train.steps x seconds per step.  Snapshots, evaluations and
the report come on top.  Writes gankit/presets/times.json (read by `gankit list`).

    OMP_NUM_THREADS=2 python benchmarks/preset_times.py [--steps 20] [--only ring grid]
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch

from gankit import config as C
from gankit.train.run import Run

OUT = Path(C.PRESET_DIR) / "times.json"
QUIET = ["train.progress=false", "train.sample_every=1000000", "train.checkpoint_every=1000000",
         "train.log_every=10", "train.live_report=false", "train.eval_every=0"]


def measure(name: str, steps: int, warmup: int) -> dict:
    full = C.load(name)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run = Run.create(C.load(name, QUIET + [f"train.steps={warmup}"]), Path(tmp) / "r")
        setup = time.perf_counter() - t0
        run.train()
        run.cfg.train.steps = warmup + steps
        t0 = time.perf_counter()
        run.train()
        per_step = (time.perf_counter() - t0) / steps
    return {"setup_s": round(setup, 2), "s_per_step": round(per_step, 5), "steps": full.train.steps,
            "estimate_min": round((setup + per_step * full.train.steps) / 60, 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--only", nargs="*")
    a = ap.parse_args()
    times = json.loads(OUT.read_text()) if OUT.is_file() else {}
    for name in a.only or C.preset_names():
        try:
            r = measure(name, a.steps, a.warmup)
        except Exception as e:      # e.g. a Debian data package missing: say so, measure the rest
            print(f"{name}: not measured ({type(e).__name__}: {e})")
            continue
        r.update(date=time.strftime("%Y-%m-%d"), threads=torch.get_num_threads(), cpus=os.cpu_count(),
                 load=round(os.getloadavg()[0], 1),   # the machine is shared: a busy one measures slower
                 command=f"python benchmarks/preset_times.py --steps {a.steps} --warmup {a.warmup} --only {name}")
        times[name] = r
        print(name, r, flush=True)
        OUT.write_text(json.dumps(times, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
