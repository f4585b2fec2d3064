"""Exact nearest neighbours in a large bank, pruned by a low-dimensional lower bound.

For an orthonormal basis V (D x k), ||V^T (a - b)|| <= ||a - b||: the distance in the
projection never exceeds the true one, and with the residual R = I - V V^T,

    ||a - b||^2 = ||V^T (a - b)||^2 + ||R (a - b)||^2 >= L_ab + (||R a|| - ||R b||)^2,

L_ab the projected squared distance; ||R b|| is kept per bank row.  So for each query a

    1. a first answer: the true squared distance ub to the row with the smallest L among
       BLOCK rows spread over the bank;
    2. the projected distances L_j to the bank's rows, a block of BLOCK rows at a time
       (k flops a pair, not D; the block's bounds stay in cache while they are read);
    3. the true nearest row has its bound <= its distance <= ub, so only rows with a bound
       <= ub + MARGIN are measured in full, and ub tightens to each better row found.

Queries may come in groups whose answer is the nearest row over the group (the 9 shifts of
an image in gankit/metrics/memorisation.py): step 3 then measures only rows that could beat
the group's best so far, so once one query of a group is answered the others measure few
rows (on a trained Fashion-MNIST G's samples, ~20 for each shifted copy against ~90 for the
unshifted image; docs/speed.md).

V is the top-k principal directions of (a subsample of) the bank, where most of a
row's length lies; any orthonormal V keeps the answer exact, a good one keeps step 3
small (top_directions: for wide rows, as of 64x64 RGB images, from fewer rows than D,
at a cost set by the rows).  On the memorisation bank of Fashion-MNIST (180,000 rows of
784), k = 64 leaves a trained G's queries ~80 rows to measure of 180,000 (docs/speed.md).
The answer is the one a full scan gives, up to float32 rounding: the candidates'
distances are computed as sums of squared differences, the full scan's as
||a||^2 + ||b||^2 - 2 a.b.

Steps 1 and 3 run in gankit/nn_index_numba.py where numba loads (candidates measured in
float64 and abandoned once past the best); else the torch route ``query_projected`` (all
bounds of a chunk at once, candidates gathered), the same answers: torch's gathers of
candidate rows took more than half its time, and its 184 MB of bounds per chunk went
through main memory four times (docs/speed.md).  Grouping the bank's projections by
k-means, to skip whole groups by the triangle inequality, was tried and skipped nothing:
on Fashion-MNIST's bank the groups' radii (~0.6) exceed the nearest distances (~0.45).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from gankit.kernels import load_kernels

MARGIN = 1e-3      # float32 rounding of L (norms <= ~1 here is ~1e-6); a wide margin costs a few rows
MAX_CANDIDATES = 4096   # a query with more candidates than this is scanned in full
BLOCK = 4096            # bank rows a block: 256 queries x 4,096 bounds (4 MB) stay in cache
PIECE = 65536 * 784     # numbers of the candidate pairs measured at once: 200 MB of float32
FIT_NUMBERS = 20000 * 784   # numbers of the subsample V is fitted on: 63 MB of float32
EIGH_MAX = 1024         # the largest matrix V's eigh decomposes: 0.75 s on one core (2,048: 8 s)


def fit_size(size: int, d: int, fit_rows: int, k: int) -> int:
    """Rows of the bank V is fitted on: fit_rows, fewer for wide rows (FIT_NUMBERS) and at most
    EIGH_MAX where D is larger (top_directions then decomposes their Gram matrix), never
    fewer than 2k; at most the bank."""
    m = min(fit_rows, max(2 * k, FIT_NUMBERS // d))
    if d > EIGH_MAX:
        m = min(m, max(2 * k, EIGH_MAX))
    return min(size, m)


def top_directions(sub: Tensor, k: int) -> Tensor:
    """(D, k') orthonormal, k' = min(k, rows, D): the top-k uncentred principal directions of
    sub (m, D) (differences ignore the mean).  With at least D rows, eigh of sub^T sub (D x D;
    the product in float32, 0.2 vs 0.5 s on Fashion-MNIST: V only steers the pruning, and any
    orthonormal V keeps the answers exact); with fewer, eigh of the m x m Gram matrix, whose
    eigenvectors u give the directions sub^T u: the cost follows the rows, not D (49,152 at
    128x128 RGB, a 9.7 GB D x D matrix).  QR makes them orthonormal to rounding whatever the
    spread of the eigenvalues (a rank below k among them)."""
    m, d = sub.shape
    k = min(k, m, d)
    if d <= m:
        _, vecs = torch.linalg.eigh((sub.T @ sub).double())
        return vecs[:, -k:].float().contiguous()
    _, u = torch.linalg.eigh((sub @ sub.T).double())
    q, _ = torch.linalg.qr(sub.T.double() @ u[:, -k:])
    return q.float().contiguous()


def _numba():
    """gankit.nn_index_numba, or None (one warning) where numba cannot load or cache it."""
    return load_kernels("nn_index_numba", "nearest-neighbour search", "torch (same answers, slower)")


class NNIndex:
    """Exact nearest rows of a bank: ``rows`` (n, D), and with ``perms`` (O permutations of
    the D columns) the bank of O x n rows whose row o n + r is rows[r][perms[o]] (e.g. the
    training images mirrored and flipped), searched without being built: a permutation keeps
    distances, so ||a - rows[r][p]|| = ||a[p^-1] - rows[r]|| and each query is permuted
    instead (O x D numbers, against O x n x D for the bank)."""

    def __init__(self, rows: Tensor, k: int = 64, fit_rows: int = 20000, seed: int = 0, perms=None):
        self.rows = rows.reshape(len(rows), -1).float().contiguous()
        self.n, d = self.rows.shape
        ident = torch.arange(d)
        self.perms = [ident] if perms is None else [torch.as_tensor(p, dtype=torch.long) for p in perms]
        if any(sorted(p.tolist()) != list(range(d)) for p in self.perms):
            raise ValueError(f"NNIndex: each of perms must be a permutation of the {d} columns")
        self.inv = [torch.argsort(p) for p in self.perms]
        self.size = len(self.perms) * self.n         # rows of the bank
        g = torch.Generator().manual_seed(seed)
        sub = self._gather(torch.randperm(self.size, generator=g)[:fit_size(self.size, d, fit_rows, k)])
        self.V = top_directions(sub, k)                 # (D, k), orthonormal; k <= the rows fitted
        self.k = self.V.shape[1]
        # rows[r][p] V = rows[r] V[p^-1]: the bank's projection, orientation by orientation
        self.proj = torch.cat([self.rows @ self.V[inv] for inv in self.inv])     # (size, k)
        self.proj_sq = (self.proj * self.proj).sum(1)
        self.bank_sq = (self.rows * self.rows).sum(1).repeat(len(self.perms))
        self.res = (self.bank_sq.double() - self.proj_sq.double()).clamp_min(0).sqrt().numpy()   # ||R b||
        # the rows that give each query its first answer: every orientation and part of the bank
        self.spread = torch.arange(0, self.size, max(1, self.size // BLOCK))[:BLOCK]
        self.spread_proj, self.spread_sq = self.proj[self.spread].contiguous(), self.proj_sq[self.spread]
        self.spread_res = torch.from_numpy(self.res)[self.spread]

    def _gather(self, idx: Tensor) -> Tensor:
        """Rows idx of the bank, (len(idx), D)."""
        out = self.rows[idx % self.n]
        for o, p in enumerate(self.perms[1:], 1):
            m = (idx // self.n) == o
            out[m] = out[m][:, p]
        return out

    def _oriented(self, q: Tensor) -> Tensor:
        """(O, len(q), D): the queries permuted for each orientation of the bank's rows."""
        return torch.stack([q[:, inv] for inv in self.inv])

    def query(self, a: Tensor, chunk: int = 256, groups=None) -> tuple[Tensor, Tensor]:
        """For each row of a: (squared distance to its nearest bank row, that row's index).

        ``groups`` (one int per row, 0 .. G-1): the answer is per group instead, the nearest
        row over the group's queries (among equal distances the earliest query's); the walk
        then measures only rows that could beat the group's best, which spares the queries
        whose own nearest row is farther (the other shifts of an image).  A group with a
        non-finite query gets a NaN distance and row 0, as a scan gives, and so does a group
        number no query has.  The module's docstring gives the steps; a chunk of queries goes
        through them together."""
        a = a.reshape(len(a), -1).float().contiguous()
        if a.shape[1] != self.rows.shape[1]:
            raise ValueError(f"NNIndex.query: queries have {a.shape[1]} numbers each, the bank's rows "
                             f"{self.rows.shape[1]}: compare images of the training images' shape")
        groups = np.arange(len(a)) if groups is None else np.asarray(groups, dtype=np.int64)
        if len(groups) != len(a):
            raise ValueError(f"NNIndex.query: {len(groups)} group numbers for {len(a)} queries")
        ngroups = int(groups.max()) + 1 if len(a) else 0
        ok = torch.isfinite(a).all(1).numpy()
        nb = _numba()
        if nb is None:
            d, j = _group_min(*self.query_projected(a[torch.from_numpy(ok)], chunk), groups[ok], ngroups)
        elif ok.all():
            d, j = self._walk(nb, a, chunk, groups, ngroups)
        else:
            d, j = self._walk(nb, a[torch.from_numpy(ok)], chunk, groups[ok], ngroups)
        bad = torch.from_numpy(np.unique(groups[~ok]))
        d[bad], j[bad] = float("nan"), 0
        return d, j

    def _walk(self, nb, a: Tensor, chunk: int, groups: np.ndarray, ngroups: int) -> tuple[Tensor, Tensor]:
        n = self.size
        width = min(BLOCK, n)
        flat = torch.empty(min(chunk, len(a)) * width)
        best_d = np.full(ngroups, 1e300)                 # finite: the kernels assume no inf
        best_q = np.full(ngroups, len(a), dtype=np.int64)
        best_j = np.zeros(ngroups, dtype=np.int64)
        count = np.empty(len(a), dtype=np.int64)
        rows = self.rows.numpy()
        for i in range(0, len(a), chunk):
            q = a[i:i + chunk]
            c = len(q)
            grp = groups[i:i + c]
            qp = q @ self.V
            qp_sq = (qp * qp).sum(1).double()
            rq = ((q * q).sum(1).double() - qp_sq).clamp_min(0).sqrt().numpy()     # ||R a||
            qp_sq = qp_sq.numpy()
            cnt = count[i:i + c]
            qo = self._oriented(q).numpy()
            # s = ||V^T b||^2 - 2 (V^T a).(V^T b); L = s + ||V^T a||^2
            s = torch.addmm(self.spread_sq[None].expand(c, len(self.spread)), qp, self.spread_proj.T,
                            beta=1, alpha=-2)
            nb.start(self.spread[s.argmin(1)].numpy(), qo, i, rows, groups, best_d, best_q, best_j, cnt)
            # a query whose first answer leaves many spread rows in reach (one far from every row,
            # e.g. a blank image) would measure thousands of rows before the walk gave up: scan it
            lb = s.double() + torch.from_numpy(qp_sq)[:, None] + (torch.from_numpy(rq)[:, None] - self.spread_res) ** 2
            reach = (lb <= torch.from_numpy(best_d[grp])[:, None] + MARGIN).sum(1) * (n / len(self.spread))
            cnt[(reach > MAX_CANDIDATES).numpy()] = MAX_CANDIDATES + 1
            for b0 in range(0, n, width):
                w = min(width, n - b0)
                s = torch.addmm(self.proj_sq[None, b0:b0 + w].expand(c, w), qp, self.proj[b0:b0 + w].T,
                                beta=1, alpha=-2, out=flat[:c * w].view(c, w))
                nb.walk(s.numpy(), b0, qp_sq, rq, self.res, qo, i, rows, MARGIN, MAX_CANDIDATES,
                        groups, best_d, best_q, best_j, cnt)
            heavy = np.flatnonzero(cnt > MAX_CANDIDATES)
            if len(heavy):
                hd, hj = self._scan(q[torch.from_numpy(heavy)], torch.empty(len(heavy), n))
                for h, dh, jh in zip(heavy, hd.double().tolist(), hj.tolist()):
                    g, qi = grp[h], i + h
                    if (dh, qi, jh) < (best_d[g], best_q[g], best_j[g]):
                        best_d[g], best_q[g], best_j[g] = dh, qi, jh
        d = torch.from_numpy(best_d).float()
        d[torch.from_numpy(best_q == len(a))] = float("nan")    # a group no query has, as _group_min
        return d, torch.from_numpy(best_j)

    def _scan(self, q: Tensor, buf: Tensor) -> tuple[Tensor, Tensor]:
        """A query far from every row (a blank image) bounds nothing: scan the bank, then
        measure its nearest row as the candidates are measured."""
        full = buf[:len(q)].view(len(q), len(self.perms), self.n)
        for o, qo in enumerate(self._oriented(q)):
            torch.addmm(self.bank_sq[None, :self.n].expand(len(q), self.n), qo, self.rows.T, beta=1, alpha=-2,
                        out=full[:, o])
        j = full.view(len(q), -1).argmin(1)
        return ((q - self._gather(j)) ** 2).sum(1), j

    def query_projected(self, a: Tensor, chunk: int = 256) -> tuple[Tensor, Tensor]:
        """``query`` in torch: candidates gathered and measured in pieces."""
        a = a.reshape(len(a), -1).float()
        n = self.size
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
            ub = ((q - self._gather(best)) ** 2).sum(1)
            limit = ub - (qp * qp).sum(1) + MARGIN
            mask = s <= limit[:, None]
            heavy = mask.sum(1) > MAX_CANDIDATES
            light = (~heavy).nonzero(as_tuple=True)[0]
            rows, cols = mask[light].nonzero(as_tuple=True)
            rows = light[rows]
            piece = max(1, PIECE // a.shape[1])
            d = torch.cat([((q[rows[p:p + piece]] - self._gather(cols[p:p + piece])) ** 2).sum(1)
                           for p in range(0, len(rows), piece)] or [torch.empty(0)])
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


def _group_min(d: Tensor, j: Tensor, groups: np.ndarray, ngroups: int) -> tuple[Tensor, Tensor]:
    """Per group, the smallest d among its rows (the earliest row among equal ones) and its j;
    NaN and row 0 for a group with no rows."""
    order = torch.argsort(d, stable=True)
    first = torch.full((ngroups,), len(d), dtype=torch.long)
    first.scatter_reduce_(0, torch.from_numpy(groups)[order], torch.arange(len(d)), "amin")
    has = first < len(d)
    out_d, out_j = torch.full((ngroups,), float("nan")), torch.zeros(ngroups, dtype=torch.long)
    out_d[has], out_j[has] = d[order][first[has]], j[order][first[has]]
    return out_d, out_j

