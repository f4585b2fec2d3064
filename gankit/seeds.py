"""Named random streams derived from the run's one seed.

Every random draw of a run comes from a generator seeded here, so two streams never
share numbers by accident and a benchmark that re-draws an evaluation uses exactly the
samples the metric used.  The offsets are part of the recorded results: changing one
changes every number measured with it.
"""
from __future__ import annotations

import torch

# training streams
TRAIN = {"data": 0, "noise": 1_000_003, "fixed": 2_000_003, "cond": 3_000_003,
         "labels": 4_000_003}   # labels: which training images keep their label (semi-supervised)
# evaluation streams: samples drawn for a metric, and the real subset it compares with
EVAL = {"modes": 7, "jsd": 11, "samples": 13, "real_subset": 17, "captions": 17, "within_class": 19}


def stream_seed(seed: int, name: str) -> int:
    """The seed of stream ``name`` for a run seeded ``seed``."""
    if name in TRAIN:
        return seed + TRAIN[name]
    if name in EVAL:
        return seed + EVAL[name]
    raise KeyError(f"unknown random stream {name!r}; known: {', '.join([*TRAIN, *EVAL])}")


def generator(seed: int, name: str, device: str | torch.device = "cpu") -> torch.Generator:
    return torch.Generator(device).manual_seed(stream_seed(seed, name))
