"""The candidate loop of gankit.metrics.nn_index, compiled by numba (cached on disk).

Serial, as in gankit/l1kernel_numba.py: numba's parallel pool beside torch's slowed both.
"""
import numpy as np
from numba import njit


@njit(cache=True)
def nearest(S, J0, qp_sq, Q, bank, margin, max_candidates, out_d, out_j):
    """For each query i: the squared distance to its nearest bank row and that row's index.

    S[i, j] + qp_sq[i] is a lower bound of ||Q_i - bank_j||^2 (the projected distance).
    The row with the smallest bound (J0[i], found by torch's vectorised argmin) gives a
    first distance; then only rows whose bound is within ``margin`` of the best distance
    so far are measured, each in float64 and abandoned as soon as its partial sum passes
    the best.  Among equal distances the
    lowest row wins, as in a full scan.  A query with more than ``max_candidates`` rows
    under its first limit (one far from every row, e.g. a blank image) is left to the
    caller: out_j = -1."""
    m, n = S.shape
    D = Q.shape[1]
    for i in range(m):
        s = S[i]
        j0 = J0[i]
        best = 0.0
        for u in range(D):
            e = np.float64(Q[i, u]) - np.float64(bank[j0, u])
            best += e * e
        bj = j0
        limit = best - qp_sq[i] + margin
        count = 0
        for j in range(n):
            count += s[j] <= limit
        if count > max_candidates:
            out_d[i] = best
            out_j[i] = -1
            continue
        for j in range(n):
            if s[j] > limit or j == j0:
                continue
            d = 0.0
            stop = best + margin
            for u in range(D):
                e = np.float64(Q[i, u]) - np.float64(bank[j, u])
                d += e * e
                if d > stop:
                    break
            if d < best or (d == best and j < bj):
                best = d
                bj = j
                limit = best - qp_sq[i] + margin
        out_d[i] = best
        out_j[i] = bj
