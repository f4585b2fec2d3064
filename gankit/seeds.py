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
EVAL = {"modes": 7, "jsd": 11, "samples": 13, "real_subset": 17, "captions": 17, "within_class": 19,
        "parzen": 23, "classifier": 29, "c2st": 31}


# stream seeds lie in [0, SEED_SPAN): a sample seed must (RunSampling.sample: its rejection
# stream takes seed + 1 and torch seeds are 64-bit)
SEED_SPAN = 2 ** 63 - 1


def stream_seed(seed: int, name: str) -> int:
    """The seed of stream ``name`` for a run seeded ``seed``: ``seed + offset``, wrapped into
    [0, SEED_SPAN) for the seeds near 2^63 that the config accepts (every smaller seed's
    streams are ``seed + offset`` itself)."""
    if name in TRAIN:
        return (seed + TRAIN[name]) % SEED_SPAN
    if name in EVAL:
        return (seed + EVAL[name]) % SEED_SPAN
    raise KeyError(f"unknown random stream {name!r}; known: {', '.join([*TRAIN, *EVAL])}")


def generator(seed: int, name: str, device: str | torch.device = "cpu") -> torch.Generator:
    return torch.Generator(device).manual_seed(stream_seed(seed, name))


def rank_seed(seed: int, rank: int, step: int = 0) -> int:
    """The seed of process ``rank``'s own streams in a data-parallel run of seed ``seed``.

    Rank 0 keeps ``seed`` itself, so a one-process run (and rank 0 of any run) draws exactly
    the numbers it always did.  Other ranks get a hash of (seed, rank), far from every
    ``seed + offset`` above, so no rank repeats another's data or noise.  ``step`` > 0 names
    a rank that joins a resumed run without a saved stream of its own (the world grew): its
    streams start at a point unique to that step instead of replaying the run's first batches.
    """
    if rank == 0 and step == 0:
        return seed
    import hashlib
    digest = hashlib.sha256(f"gankit-rank/{seed}/{rank}/{step}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 2      # < 2**62: room for the offsets
