"""The loops of gankit.l1kernel, compiled by numba (cached on disk after the first run).

Each pair i < j is visited once (the distance, and so exp(-distance), is symmetric): P holds
the upper triangle row by row, row i being the pairs (i, i+1 .. n-1), so every inner loop runs
over a contiguous slice and vectorises.

Serial on purpose: numba's parallel=True starts its own OpenMP pool beside torch's, and the
two pools spinning against each other made a training step 3x slower on 2 cores.
"""
import numpy as np
from numba import njit


@njit(cache=True, fastmath=True)
def l1_pairs(Mt, P):               # Mt (B, C, n) -> P (B, n(n-1)/2): L1 distance of each pair i < j
    B, C, n = Mt.shape
    for b in range(B):
        off = 0
        for i in range(n - 1):
            m = n - 1 - i
            acc = P[b, off:off + m]
            acc[:] = 0
            for c in range(C):
                row = Mt[b, c, i + 1:]
                x = Mt[b, c, i]
                for j in range(m):
                    acc[j] += abs(x - row[j])
            off += m


@njit(cache=True, fastmath=True)
def pair_sums(P, o):               # o (B, n): o_i = sum_{j != i} K_ij, K's upper triangle in P
    B, n = o.shape
    for b in range(B):
        ob = o[b]
        ob[:] = 0
        off = 0
        for i in range(n - 1):
            m = n - 1 - i
            seg = P[b, off:off + m]
            rest = ob[i + 1:]
            s = 0.0 * seg[0]
            for j in range(m):
                s += seg[j]
                rest[j] += seg[j]
            ob[i] += s
            off += m


@njit(cache=True, fastmath=True)
def pairs_grad(Mt, P, g, out):
    # d/dM_ic of sum_i g_i o_i = -sum_j (g_i + g_j) K_ij sign(M_ic - M_jc); the pair (i, j)
    # adds -t to i and +t to j, t = (g_i + g_j) K_ij sign(M_ic - M_jc)
    B, C, n = Mt.shape
    w = np.empty(n, dtype=Mt.dtype)
    for b in range(B):
        gb = g[b]
        out[b] = 0
        off = 0
        for i in range(n - 1):
            m = n - 1 - i
            seg = P[b, off:off + m]
            gi = gb[i]
            grest = gb[i + 1:]
            for j in range(m):
                w[j] = (gi + grest[j]) * seg[j]
            for c in range(C):
                row = Mt[b, c, i + 1:]
                x = Mt[b, c, i]
                oc = out[b, c, i + 1:]
                s = 0.0 * x
                for j in range(m):
                    d = x - row[j]
                    t = (d > 0) * w[j] - (d < 0) * w[j]
                    s += t
                    oc[j] += t
                out[b, c, i] -= s
            off += m
