"""A user's dataset (--import) checked against the contract on one sample, before any training."""
from __future__ import annotations


def probe_samples(ds, named: str):
    """A user's dataset (--import) against the contract, on one sample() before any training
    (as gankit/train/build.py probes user nets): a tensor of shape (n, *ds.shape), float32 and
    finite, or integer token ids for text; caught here, not as a dtype traceback inside a net,
    or as NaN losses blamed on the learning rate."""
    import random

    import numpy as np
    import torch

    from gankit.config import ConfigError
    n = 2 if ds.size is None else min(2, ds.size)
    # its own generator; a sample() that draws from a global stream (torch's, numpy's, Python's)
    # finds it as it was, so the probe changes no run's data
    py, npy = random.getstate(), np.random.get_state()
    try:
        with torch.random.fork_rng(devices=[]):
            x = ds.sample(n, torch.Generator().manual_seed(0))
    finally:
        random.setstate(py)
        np.random.set_state(npy)
    if not isinstance(x, torch.Tensor):
        fix = ("torch.from_numpy(x).float()" if type(x).__module__ == "numpy"
               else "torch.as_tensor(x, dtype=torch.float32)")
        raise ConfigError(f"{named}: sample() returns {type(x).__module__}.{type(x).__qualname__}; "
                          f"return a torch tensor ({fix})")
    shape = getattr(ds, "shape", None)
    if shape is not None and tuple(x.shape) != (n, *tuple(shape)):
        raise ConfigError(f"{named}: sample({n}) returns shape {tuple(x.shape)}; it must return "
                          f"{(n, *tuple(shape))}: (n, *shape), with the dataset's shape {tuple(shape)}")
    if getattr(ds, "kind", "points") == "text":     # token ids (the oracle's, a text file's)
        if x.dtype.is_floating_point or x.dtype.is_complex or x.dtype == torch.bool:
            raise ConfigError(f"{named}: sample() returns {str(x.dtype).replace('torch.', '')} for text; "
                              f"it must return integer token ids (return x.long())")
        return
    # refused rather than converted: a dataset hands out data by other ways too (rows() for the
    # metrics, sample_conditional, whatever its own class offers), and converting only some of
    # them would leave float64 to fail later, far from here; x.float() in sample() is one line
    if x.dtype != torch.float32:
        what = "float64" if x.dtype == torch.float64 else str(x.dtype).replace("torch.", "")
        raise ConfigError(f"{named}: sample() returns {what} values; gankit's nets take float32: "
                          f"return x.float()")
    rows = ds.rows()
    if isinstance(rows, torch.Tensor) and rows.is_floating_point():
        # every row of one held in memory (one pass over data already read once, in chunks of
        # ~4M values); a sample of 2 would miss the one NaN row in a hundred
        flat = rows.reshape(len(rows), -1)
        step = max(1, (1 << 22) // max(1, flat.shape[1]))
        bad = torch.cat([~torch.isfinite(flat[i:i + step]).all(1) for i in range(0, len(flat), step)]
                        or [torch.zeros(0, dtype=torch.bool)])
        if bool(bad.any()):
            first = int(bad.nonzero()[0, 0])
            raise ConfigError(f"{named} holds non-finite values (NaN or inf) in {int(bad.sum())} of its "
                              f"{len(rows)} samples (the first: row {first}); drop or replace them")
    elif not bool(torch.isfinite(x).all()):
        raise ConfigError(f"{named}: sample() returns non-finite values (NaN or inf); drop or replace them")
