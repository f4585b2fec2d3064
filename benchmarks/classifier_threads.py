"""The cost of training the metrics' classifiers on one thread.

    env -u OMP_NUM_THREADS python benchmarks/classifier_threads.py [--rounds 3] [--n 2000]

CAS's classifier (and the one gankit trains for labelled data that ships none) trains by a
fixed recipe, 400 steps of batch 128 (gankit/metrics/own_classifier.py).  It trains on one
torch thread, so that its weights do not depend on eval.threads (on some CPUs they did).  This
script times, interleaved round by round on random 28x28 images of 10 classes, the recipe at
two threads (what it did before) against ``train_classifier`` (one thread), with the machine's
load beside each time.
"""
from __future__ import annotations

import argparse
import os
import time

import torch

from gankit.metrics import own_classifier as OC
import _cli   # benchmarks/_cli.py: this folder is on sys.path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--n", type=int, default=2000, help="training images")
    a = ap.parse_args(argv)
    _cli.at_least(ap, a, rounds=1, n=1)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(a.n, 1, 28, 28, generator=g) * 2 - 1
    y = torch.randint(0, 10, (a.n,), generator=g)
    for r in range(a.rounds):
        times = {}
        for n in (2, 1):
            torch.set_num_threads(2)
            load = os.getloadavg()[0]
            t = time.perf_counter()
            if n == 2:
                OC._train(x, y, 10, None, 0)      # the recipe at two threads
            else:
                OC.train_classifier(x, y, 10)     # one thread, as the metrics train it
            times[n] = time.perf_counter() - t
            print(f"round {r + 1}, {n} thread{'s' * (n > 1)}: {times[n]:.1f} s (load {load:.2f})", flush=True)
        print(f"round {r + 1}: one thread / two = {times[1] / times[2]:.2f}", flush=True)


if __name__ == "__main__":
    _cli.run_main(main)
