"""gankit from Python: register your own dataset and generator, train, sample, evaluate.

    python examples/custom_parts.py [RUN_DIR] [STEPS]

A ring of 6 Gaussians of your own and a generator with a skip connection train through the
same loop, run folder and report as the presets.  The tests run this file.

The parts are registered in this process; for the command line to find them later
(`gankit report`, `gankit eval`), make the module importable and name it in the config's
``imports`` (or pass ``--import MODULE``).
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import torch
from torch import nn

from gankit import api
from gankit.config import opt
from gankit.data.toy import GaussianMixture


@dataclass
class HexParams:
    radius: float = opt(2.0, "radius of the six modes")
    std: float = opt(0.05, "std of each mode")


@api.register_dataset("hexagon", HexParams, "six Gaussians on a hexagon (examples/custom_parts.py)")
def hexagon(radius, std):
    a = 2 * math.pi * torch.arange(6) / 6
    return GaussianMixture(radius * torch.stack([torch.cos(a), torch.sin(a)], 1), std)


class SkipG(nn.Module):
    """z -> x: an MLP plus a linear skip from z."""

    def __init__(self, noise_dim: int, out_dim: int, width: int):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(noise_dim, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                                  nn.Linear(width, out_dim))
        self.skip = nn.Linear(noise_dim, out_dim)

    def forward(self, z):
        return self.body(z) + self.skip(z)


@dataclass
class SkipGParams:
    width: int = opt(64, "hidden width", ge=1)


@api.register_generator("skip-mlp", SkipGParams, "MLP generator with a linear skip (examples/custom_parts.py)")
def skip_generator(noise_dim, data, width):
    return SkipG(noise_dim, math.prod(data.shape), width)


def main(out: str = "runs/example-hexagon", steps: int = 300):
    run = api.train({"data": {"name": "hexagon"}, "generator": {"name": "skip-mlp", "width": 32},
                     "discriminator": {"name": "mlp", "hidden": [32, 32]}},
                    out=out, overrides=[f"train.steps={steps}", "train.progress=false", "train.sample_every=100",
                                        "eval.jsd_samples=5000"])
    x = api.sample(run, 6)
    print("six samples:", [tuple(round(v, 2) for v in p) for p in x.tolist()])
    scores = api.evaluate(out, ["modes"], overrides=["eval.n_samples=1000"])
    print(f"modes covered {scores['modes_covered']}/{scores['modes_total']}")
    print(f"report: {api.report(out)}")
    return run, scores


if __name__ == "__main__":
    main(*(sys.argv[1:2] or ["runs/example-hexagon"]), *[int(a) for a in sys.argv[2:3]])
