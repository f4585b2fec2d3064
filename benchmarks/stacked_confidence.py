"""How sure gankit's MNIST classifier is of each channel of Stacked-MNIST samples: the
mean top class probability and the share below 0.5, for trained runs beside real
triples. Low confidence on G's digits (ambiguous strokes) is what turns into unequal
digit shares per channel, i.e. the KL of the Stacked-MNIST protocol (docs/images.md).

    .venv/bin/python benchmarks/stacked_confidence.py RUN [RUN ...] [--n 10000]
"""
from __future__ import annotations

import argparse
import time

import torch

from gankit.metrics.features import channel_probs, load_classifier
from gankit.train.run import Run
import _cli   # benchmarks/_cli.py: this folder is on sys.path


def confidence(net, x: torch.Tensor) -> tuple[float, float]:
    top = channel_probs(net, x).max(2).values
    return float(top.mean()), float((top < 0.5).float().mean())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    runs = [Run.open(d) for d in a.runs]   # every run checked before anything is printed
    for d, run in zip(a.runs, runs):
        if getattr(run.dataset, "channel_classes", None) is None:
            _cli.fail(f"{d}: not a Stacked-MNIST run (data.name = {run.cfg.data.name!r}); "
                      "give run folders trained on stacked-mnist")
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} {a.n} samples per row; top = mean top class "
          "probability per channel, low = share of channels with top < 0.5")
    net = load_classifier(runs[0].dataset.classifier)
    # fixed triples, whatever the run's data stream state: rows stay comparable
    real = runs[0].dataset.sample(a.n, torch.Generator().manual_seed(0))
    print("real triples (training split): top %.3f, low %.3f" % confidence(net, real))
    for d, run in zip(a.runs, runs):
        net = load_classifier(run.dataset.classifier)
        print(f"{d} (step {run.step}): top %.3f, low %.3f" % confidence(net, run.generate(a.n, seed=5)))

if __name__ == "__main__":
    _cli.run_main(main)
