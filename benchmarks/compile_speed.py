"""train.compile: steps/s of a compiled run over the same run eager, and the compile's cost.

Rates are taken between the first and the last logged step, so the one-off compile (in the
first steps) is reported apart as "first-log seconds".  Eager and compiled runs interleave.

    .venv/bin/python benchmarks/compile_speed.py [--presets ring-vanilla:1500 mnist-dcgan:200] [--repeats 2]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import torch

from gankit import config as C
from gankit.train.baseline import steady_seconds_per_step
from gankit.train.run import Run
import _cli   # benchmarks/_cli.py: this folder is on sys.path


def speed(preset: str, steps: int, compiled: bool, folder: str) -> tuple[float, float]:
    log = max(1, steps // 10)
    cfg = C.load(preset, [f"train.steps={steps}", f"train.log_every={log}", "train.threads=1",
                          "train.sample_every=1000000", "train.checkpoint_every=1000000",
                          "train.progress=false", "train.live_report=false",
                          f"train.compile={'true' if compiled else 'false'}"])
    run = Run.create(cfg, folder).train(progress=False)
    return 1.0 / steady_seconds_per_step(run), run.folder.records("train")[0]["time"]


def preset_steps(item: str) -> tuple[str, int]:
    """One --presets item, PRESET:STEPS."""
    preset, sep, steps = item.rpartition(":")
    if not sep or not preset or not steps.isdigit() or int(steps) < 2:
        raise argparse.ArgumentTypeError(f"{item!r} is not PRESET:STEPS (e.g. ring-vanilla:1500; "
                                         "STEPS a whole number, at least 2)")
    return preset, int(steps)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", type=preset_steps, metavar="PRESET:STEPS",
                    default=[("ring-vanilla", 1500), ("mnist-dcgan", 200)],
                    help="presets to time, each with its number of training steps "
                         "(default: ring-vanilla:1500 mnist-dcgan:200)")
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args(argv)
    for preset, _ in a.presets:     # a wrong name (ConfigError) fails here, before any timing
        C.load(preset)
    torch.set_num_threads(1)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} load {os.getloadavg()[0]:.1f}, 1 thread")
    with tempfile.TemporaryDirectory() as tmp:
        for preset, steps in a.presets:
            res = {False: [], True: []}
            for r in range(a.repeats):
                for compiled in (False, True):
                    res[compiled].append(speed(preset, steps, compiled, f"{tmp}/{preset}-{r}-{compiled}"))
            eager = statistics.median(x[0] for x in res[False])
            comp = statistics.median(x[0] for x in res[True])
            print(f"{preset}: eager {eager:.1f} steps/s, compiled {comp:.1f} steps/s, ratio {comp / eager:.2f}; "
                  f"first-log seconds eager {[round(x[1], 1) for x in res[False]]}, "
                  f"compiled {[round(x[1], 1) for x in res[True]]}", flush=True)


if __name__ == "__main__":
    _cli.run_main(main)
