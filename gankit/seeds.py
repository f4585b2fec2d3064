"""Named random streams derived from the run's one seed.

Every random draw of a run comes from a generator seeded here, so two streams never
share numbers by accident and a benchmark that re-draws an evaluation uses exactly the
samples the metric used.  The offsets are part of the recorded results: changing one
changes every number measured with it.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch

# training streams
TRAIN = {"data": 0, "noise": 1_000_003, "fixed": 2_000_003, "cond": 3_000_003,
         "labels": 4_000_003}   # labels: which training images keep their label (semi-supervised)
# evaluation streams: samples drawn for a metric, and the real subset it compares with
EVAL = {"modes": 7, "jsd": 11, "samples": 13, "real_subset": 17, "captions": 17, "within_class": 19,
        "parzen": 23, "classifier": 29, "c2st": 31, "elbo": 37}


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


def own_stream_seed(seed: int, name: str) -> int:
    """The seed of a stream a user's metric names itself (one not in TRAIN or EVAL): a hash of
    (seed, name), so two names never share numbers and none repeats a stream above.  A hash
    that lands within reach of ``seed + offset`` (or of the sample rejection stream's
    ``seed + 1``) is hashed again, so it cannot collide with a fixed stream of this seed."""
    if name in TRAIN or name in EVAL:
        raise ValueError(f"{name!r} is one of gankit's own streams; use stream_seed for it")
    import hashlib
    reach = max(*TRAIN.values(), *EVAL.values()) + 2
    text = f"gankit-stream/{seed}/{name}"
    while True:
        digest = hashlib.sha256(text.encode()).digest()
        s = int.from_bytes(digest[:8], "little") >> 2      # < 2**62: in [0, SEED_SPAN), room for + 1
        # s - seed in [-1, reach): s or s + 1 would be some seed + offset (+ 1)
        if (s - seed + 1) % SEED_SPAN > reach:
            return s
        text += "/again"


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


# ---------------------------------------------------------------- torch's global generators
# Dropout, penalty interpolation and default initialisation draw from the global generator of
# the device their tensors live on.  Code that seeds them for its own work forks them, and
# seeds only the CPU's and its own device's: torch.manual_seed would also seed every GPU's,
# which on a GPU is the run's training stream (a periodic evaluation would change the training
# after it).

CPU = torch.device("cpu")


def _module(device: torch.device):
    """torch's module of the device's global generator (torch.cuda, torch.mps, ...), None on the CPU."""
    return None if device.type == "cpu" else torch.get_device_module(device.type)


def device_state(device: torch.device) -> torch.Tensor | None:
    """The state of the device's global generator now; None on the CPU (torch.get_rng_state's)."""
    mod = _module(device)
    return None if mod is None else mod.get_rng_state(device)


def set_device_state(device: torch.device, state: torch.Tensor | None):
    mod = _module(device)
    if mod is not None and state is not None:
        mod.set_rng_state(state, device)


def fresh_device_state(device: torch.device, seed: int) -> torch.Tensor | None:
    """The state of the device's generator seeded with ``seed`` (None on the CPU)."""
    if _module(device) is None:
        return None
    return torch.Generator(device=device).manual_seed(seed).get_state()


def seed(device: torch.device, seed: int):
    """Seed the CPU generator and the run's device's (only that one, unlike torch.manual_seed)."""
    torch.random.default_generator.manual_seed(seed)
    set_device_state(device, fresh_device_state(device, seed))


@contextmanager
def forked(device: torch.device):
    """The CPU generator and the device's are put back as they were when the block ends."""
    before = device_state(device)
    with torch.random.fork_rng(devices=[]):
        try:
            yield
        finally:
            set_device_state(device, before)
