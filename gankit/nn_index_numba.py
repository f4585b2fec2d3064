"""The candidate loops of gankit.metrics.nn_index, compiled by numba (cached on disk).

Serial, as in gankit/l1kernel_numba.py: numba's parallel pool beside torch's slowed both.
"""
import numpy as np
from numba import njit

GROUP = 32


@njit(cache=True)
def start(J0, Q, bank, out_d, out_j, count):
    """Each query's first answer: the row J0[i] (the best bound among rows spread over the
    bank) and its squared distance, in float64; no candidate counted yet."""
    D = Q.shape[1]
    for i in range(len(J0)):
        j0 = J0[i]
        d = 0.0
        for u in range(D):
            e = np.float64(Q[i, u]) - np.float64(bank[j0, u])
            d += e * e
        out_d[i] = d
        out_j[i] = j0
        count[i] = 0


@njit(cache=True, fastmath={"nnan", "ninf", "nsz"})   # min reductions vectorise; sums keep their order
def walk(S, off, qp_sq, rq, rb, Q, bank, margin, max_candidates, out_d, out_j, count):
    """One block of bank rows (off .. off + S.shape[1]) for each query i.

    S[i, j] + qp_sq[i] is a lower bound of ||Q_i - bank_{off+j}||^2 (the projected distance),
    and S[i, j] + qp_sq[i] + (rq[i] - rb[off+j])^2 a tighter one (rq, rb: the norms of the parts
    outside the projection).  Only rows whose bound is within ``margin`` of the best distance
    so far (out_d[i]) are measured, each in float64 and abandoned as soon as its partial sum
    passes the best; the best tightens as the walk goes, so any first answer gives the exact
    nearest row.  The caller passes finite queries only (fastmath assumes no NaN).  Among
    equal distances the lowest row wins, as in a full scan.  A query that has measured more
    than ``max_candidates`` rows (one far from every row, e.g. a blank image) is left for the
    caller to scan: its count stays above the limit and later blocks skip it."""
    m, w = S.shape
    D = Q.shape[1]
    for i in range(m):
        cnt = count[i]
        if cnt > max_candidates:
            continue
        s = S[i]
        best = out_d[i]
        bj = out_j[i]
        limit = best - qp_sq[i] + margin
        g = 0
        while g < w:
            # a group of GROUP bounds is skipped on its minimum (a vectorised reduction): most
            # groups hold no candidate, and a branch per bound cost ~4 cycles each
            e = min(g + GROUP, w)
            low = s[g]
            for j in range(g + 1, e):
                low = min(low, s[j])
            if low > limit:
                g = e
                continue
            for j in range(g, e):
                if s[j] > limit:
                    continue
                jj = off + j
                if jj == bj:
                    continue
                r = rq[i] - rb[jj]          # the residual norms' difference bounds the rest
                if s[j] + r * r > limit:
                    continue
                cnt += 1
                if cnt > max_candidates:
                    break
                d = 0.0
                stop = best + margin
                for u in range(D):
                    t = np.float64(Q[i, u]) - np.float64(bank[jj, u])
                    d += t * t
                    if d > stop:
                        break
                if d < best or (d == best and jj < bj):
                    best = d
                    bj = jj
                    limit = best - qp_sq[i] + margin
            if cnt > max_candidates:
                break
            g = e
        out_d[i] = best
        out_j[i] = bj
        count[i] = cnt
