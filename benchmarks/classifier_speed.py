"""The evaluation classifier's speed in channels-last layout against the default layout.

    OMP_NUM_THREADS=1 python benchmarks/classifier_speed.py [--rounds 3] [--threads 1]

gankit's evaluation classifier (gankit.metrics.features.EvalClassifier) keeps its weights in
channels-last layout.  This script times, interleaved round by round, the same weights in
both layouts on the two jobs it does: feature extraction of 5,000 images of 28x28 in batches
of 100 under inference mode (every image metric), and training steps of batch 128 (the
classifier gankit trains for labelled data that ships none, gankit/metrics/own_classifier.py).
It prints each round's seconds, the ratio default / channels-last, and the largest difference
of the features between the layouts.
"""
from __future__ import annotations

import argparse
import copy
import time

import torch
import torch.nn.functional as F

from gankit.metrics.features import EvalClassifier


def in_layout(net: EvalClassifier, channels_last: bool) -> EvalClassifier:
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return copy.deepcopy(net).to(memory_format=fmt)


def features_time(net, x) -> tuple[float, torch.Tensor]:
    net.eval()
    t = time.perf_counter()
    with torch.inference_mode():
        f = torch.cat([net.features(x[i:i + 100]) for i in range(0, len(x), 100)])
    return time.perf_counter() - t, f


def train_time(net, x, y, steps: int) -> float:
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)
    t = time.perf_counter()
    for _ in range(steps):
        i = torch.randint(0, len(x), (128,), generator=g)
        loss = F.cross_entropy(net(x[i]), y[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--train-steps", type=int, default=40)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = EvalClassifier(1, 10)
    x = torch.rand(5000, 1, 28, 28) * 2 - 1
    y = torch.randint(0, 10, (5000,))
    print(f"threads {a.threads}; features: 5,000 images in batches of 100; training: {a.train_steps} steps of 128")
    print("round | features default / channels-last (s) | ratio | training default / channels-last (s) | ratio")
    for r in range(a.rounds):
        fd, f0 = features_time(in_layout(net, False), x)
        fc, f1 = features_time(in_layout(net, True), x)
        td = train_time(in_layout(net, False), x, y, a.train_steps)
        tc = train_time(in_layout(net, True), x, y, a.train_steps)
        print(f"{r + 1} | {fd:.2f} / {fc:.2f} | {fd / fc:.2f} | {td:.2f} / {tc:.2f} | {td / tc:.2f}")
    print(f"largest feature difference between the layouts: {(f0 - f1).abs().max().item():.2e}")


if __name__ == "__main__":
    main()
