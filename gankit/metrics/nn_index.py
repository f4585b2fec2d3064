"""Exact nearest neighbours in a large bank, pruned by a low-dimensional lower bound.

For an orthonormal basis V (D x k), ||V^T (a - b)|| <= ||a - b||: the distance in the
projection never exceeds the true one.  So for each query a

    1. the projected squared distances L_j to every bank row (k flops a pair, not D);
    2. ub = the true squared distance to the row with the smallest L_j;
    3. the true nearest row has L_j <= its distance <= ub, so only rows with
       L_j <= ub + MARGIN are measured in full.

V is the top-k principal directions of (a subsample of) the bank, where most of a
row's length lies; any orthonormal V keeps the answer exact, a good one keeps step 3
small.  On the memorisation bank of Fashion-MNIST (180,000 rows of 784), k = 64 keeps
about 30 rows a query of 180,000 (docs/speed.md).  The answer is the one a full scan
gives, up to float32 rounding: the candidates' distances are computed as sums of
squared differences, the full scan's as ||a||^2 + ||b||^2 - 2 a.b.

Steps 2-3 run in gankit/nn_index_numba.py where numba loads (one pass over each query's
bounds, candidates measured in float64 and abandoned once past the best; else the torch
route ``query_projected``, the same answers): torch's gathers of candidate rows took more
than half the search time (docs/speed.md).  Grouping the bank's projections by k-means,
to skip whole groups by the triangle inequality, was tried and skipped nothing: on
Fashion-MNIST's bank the groups' radii (~0.6) exceed the nearest distances (~0.45).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from gankit.kernels import load_kernels

MARGIN = 1e-3      # float32 rounding of L (norms <= ~1 here is ~1e-6); a wide margin costs a few rows
MAX_CANDIDATES = 4096   # a query with more candidates than this is scanned in full
PIECE = 65536           # candidate pairs measured at once: 65,536 x 784 float32 = 200 MB
_kernel = None


def _numba():
    """gankit.nn_index_numba, or None (one warning) where numba cannot load or cache it."""
    global _kernel
    if _kernel is None:
        _kernel = load_kernels("nn_index_numba", "nearest-neighbour search", "torch (same answers, slower)") or False
    return _kernel or None


class NNIndex:
    def __init__(self, bank: Tensor, k: int = 64, fit_rows: int = 20000, seed: int = 0):
        self.bank = bank.reshape(len(bank), -1).float().contiguous()
        d = self.bank.shape[1]
        self.k = min(k, d)
        g = torch.Generator().manual_seed(seed)
        sub = self.bank[torch.randperm(len(self.bank), generator=g)[:fit_rows]].double()
        _, vecs = torch.linalg.eigh(sub.T @ sub)          # uncentred: differences ignore the mean
        self.V = vecs[:, -self.k:].float().contiguous()  # (D, k), orthonormal
        self.proj = self.bank @ self.V                    # (N, k)
        self.proj_sq = (self.proj * self.proj).sum(1)
        self.bank_sq = (self.bank * self.bank).sum(1)

    def query(self, a: Tensor, chunk: int = 256) -> tuple[Tensor, Tensor]:
        """For each row of a: (squared distance to its nearest bank row, that row's index)."""
        nb = _numba()
        if nb is None:
            return self.query_projected(a, chunk)
        a = a.reshape(len(a), -1).float().contiguous()
        n = len(self.bank)
        buf = torch.empty(min(chunk, len(a)), n)
        dist, idx = np.empty(len(a)), np.empty(len(a), dtype=np.int64)
        bank = self.bank.numpy()
        for i in range(0, len(a), chunk):
            q = a[i:i + chunk]
            qp = q @ self.V
            s = torch.addmm(self.proj_sq[None].expand(len(q), n), qp, self.proj.T, beta=1, alpha=-2,
                            out=buf[:len(q)])
            nb.nearest(s.numpy(), s.argmin(1).numpy(), (qp * qp).sum(1).double().numpy(), q.numpy(), bank,
                       MARGIN, MAX_CANDIDATES, dist[i:i + chunk], idx[i:i + chunk])
            heavy = np.flatnonzero(idx[i:i + chunk] < 0)
            if len(heavy):
                d, j = self._scan(q[torch.from_numpy(heavy)], buf)
                dist[i + heavy], idx[i + heavy] = d.numpy(), j.numpy()
        return torch.from_numpy(dist).float(), torch.from_numpy(idx)

    def _scan(self, q: Tensor, buf: Tensor) -> tuple[Tensor, Tensor]:
        """A query far from every row (a blank image) bounds nothing: scan the bank, then
        measure its nearest row as the candidates are measured."""
        n = len(self.bank)
        full = torch.addmm(self.bank_sq[None].expand(len(q), n), q, self.bank.T, beta=1, alpha=-2,
                           out=buf[:len(q)])
        j = full.argmin(1)
        return ((q - self.bank[j]) ** 2).sum(1), j

    def query_projected(self, a: Tensor, chunk: int = 256) -> tuple[Tensor, Tensor]:
        """``query`` in torch: candidates gathered and measured in pieces."""
        a = a.reshape(len(a), -1).float()
        n = len(self.bank)
        buf = torch.empty(min(chunk, len(a)), n)       # reused: no fresh pages each chunk
        dist, idx = torch.empty(len(a)), torch.empty(len(a), dtype=torch.long)
        for i in range(0, len(a), chunk):
            q = a[i:i + chunk]
            c = len(q)
            qp = q @ self.V
            s = buf[:c]
            # s = ||Vb||^2 - 2 (Va).(Vb); L = s + ||Va||^2
            torch.addmm(self.proj_sq[None].expand(c, n), qp, self.proj.T, beta=1, alpha=-2, out=s)
            best = s.argmin(1)
            ub = ((q - self.bank[best]) ** 2).sum(1)
            limit = ub - (qp * qp).sum(1) + MARGIN
            mask = s <= limit[:, None]
            heavy = mask.sum(1) > MAX_CANDIDATES
            light = (~heavy).nonzero(as_tuple=True)[0]
            rows, cols = mask[light].nonzero(as_tuple=True)
            rows = light[rows]
            d = torch.cat([((q[rows[p:p + PIECE]] - self.bank[cols[p:p + PIECE]]) ** 2).sum(1)
                           for p in range(0, len(rows), PIECE)] or [torch.empty(0)])
            if heavy.any():
                h = heavy.nonzero(as_tuple=True)[0]
                dh, j = self._scan(q[h], buf)
                rows, cols, d = torch.cat([rows, h]), torch.cat([cols, j]), torch.cat([d, dh])
            # per-row minimum over the candidates (the first index among equal distances)
            key = rows * n + cols                              # rows, then columns, in order
            pos = torch.argsort(key)
            rows, cols, d = rows[pos], cols[pos], d[pos]
            order = torch.argsort(d, stable=True)
            first = torch.full((c,), -1, dtype=torch.long)
            first.scatter_reduce_(0, rows[order], torch.arange(len(order)), "amin", include_self=False)
            dist[i:i + c] = d[order][first]
            idx[i:i + c] = cols[order][first]
        return dist, idx
