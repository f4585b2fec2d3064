"""Measure each preset's training time on this machine, for `gankit list`.

For every preset: build the run (data, nets) and time it, then time `--steps` training
steps after `--warmup` steps (no snapshots, checkpoints or evaluation in between), and
extrapolate: estimate = set-up + train.steps x seconds per step.  Snapshots, evaluations and
the report come on top.  Updates gankit/presets/times.json (read by `gankit list`), or the
file given as --out (a trial run that should leave the shipped measurements alone).

    OMP_NUM_THREADS=2 python benchmarks/preset_times.py [--steps 20] [--only ring grid] [--out FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from gankit import config as C
from gankit.train.run import Run
import _cli   # benchmarks/_cli.py: this folder is on sys.path

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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--only", nargs="*", metavar="PRESET", help="presets to measure (default: all)")
    ap.add_argument("--out", type=Path, default=OUT,
                    help="JSON file to update (default: the shipped gankit/presets/times.json, "
                         "which `gankit list` reads)")
    a = ap.parse_args(argv)
    names = _cli.choose(a.only, C.preset_names(), "preset") if a.only else C.preset_names()
    times = json.loads(a.out.read_text()) if a.out.is_file() else {}
    failed = []
    for name in names:
        try:
            r = measure(name, a.steps, a.warmup)
        except Exception as e:      # e.g. a Debian data package missing: say so, measure the rest
            print(f"{name}: not measured ({type(e).__name__}: {e})", flush=True)
            failed.append(name)
            continue
        r.update(date=time.strftime("%Y-%m-%d"), threads=torch.get_num_threads(), cpus=os.cpu_count(),
                 load=round(os.getloadavg()[0], 1),   # the machine is shared: a busy one measures slower
                 command=f"python benchmarks/preset_times.py --steps {a.steps} --warmup {a.warmup} --only {name}")
        times[name] = r
        print(name, r, flush=True)
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(times, indent=1, sort_keys=True) + "\n")
    if failed:
        _cli.fail(f"not measured: {', '.join(failed)} (reasons above)", status=1)
    return 0


if __name__ == "__main__":
    sys.exit(_cli.run_main(main))
