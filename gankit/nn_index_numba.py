"""The candidate loops of gankit.metrics.nn_index, compiled by numba (cached on disk).

Serial, as in gankit/l1kernel_numba.py: numba's parallel pool beside torch's slowed both.
"""
import numpy as np
from numba import njit

GROUP = 32


@njit(cache=True, fastmath={"nnan", "ninf", "nsz"})
def _better(d, q, j, grp, best_d, best_q, best_j):
    """Row j at squared distance d, found for query q, beats its group's answer so far: a
    smaller distance, or an equal one found for an earlier query or (same query) a lower row."""
    bd = best_d[grp]
    return d < bd or (d == bd and (q < best_q[grp] or (q == best_q[grp] and j < best_j[grp])))


@njit(cache=True, fastmath={"nnan", "ninf", "nsz"})
def _distance(Q, i, rows, j, stop):
    """||query i - bank row j||^2 in float64, abandoned (some value > stop) once the partial sum
    passes stop.  Bank row j is rows[r] in orientation o (j = o n + r); Q[o, i] is query i
    permuted to match it (gankit.metrics.nn_index.NNIndex)."""
    o = j // rows.shape[0]
    r = j - o * rows.shape[0]
    d = 0.0
    for u in range(rows.shape[1]):
        t = np.float64(Q[o, i, u]) - np.float64(rows[r, u])
        d += t * t
        if d > stop:
            break
    return d


@njit(cache=True)
def start(J0, Q, q0, rows, groups, best_d, best_q, best_j, count):
    """Each query's first answer: the row J0[i] (the best bound among rows spread over the
    bank), measured in float64 and kept if it beats its group's answer so far; Q's row i is
    query q0 + i; no candidate counted yet."""
    for i in range(len(J0)):
        d = _distance(Q, i, rows, J0[i], 1e300)
        if _better(d, q0 + i, J0[i], groups[q0 + i], best_d, best_q, best_j):
            best_d[groups[q0 + i]] = d
            best_q[groups[q0 + i]] = q0 + i
            best_j[groups[q0 + i]] = J0[i]
        count[i] = 0


@njit(cache=True, fastmath={"nnan", "ninf", "nsz"})   # min reductions vectorise; sums keep their order
def walk(S, off, qp_sq, rq, rb, Q, q0, rows, margin, max_candidates, groups, best_d, best_q, best_j, count):
    """One block of bank rows (off .. off + S.shape[1]) for each query i (query q0 + i; Q and
    rows as in _distance).

    S[i, j] + qp_sq[i] is a lower bound of ||Q_i - bank_{off+j}||^2 (the projected distance),
    and S[i, j] + qp_sq[i] + (rq[i] - rb[off+j])^2 a tighter one (rq, rb: the norms of the parts
    outside the projection).  A query belongs to a group (groups[q]: e.g. the 9 shifts of one
    image) whose answer is the nearest row over its queries: best_d/q/j, the squared distance,
    the query that found it and the row.  Only rows whose bound is within ``margin`` of the
    group's best distance so far are measured, each in float64 and abandoned as soon as its
    partial sum passes the best; the best tightens as the walk goes, so any first answer gives
    the exact nearest row, and a query whose own nearest row is farther than another query's
    of its group measures almost nothing.  The caller passes finite queries only (fastmath
    assumes no NaN).  Among equal distances the earliest query, then the lowest row wins, as
    in a full scan query by query.  A query that has measured more than ``max_candidates``
    rows (one far from every row, e.g. a blank image) is left for the caller to scan: its
    count stays above the limit and later blocks skip it."""
    m, w = S.shape
    for i in range(m):
        cnt = count[i]
        if cnt > max_candidates:
            continue
        s = S[i]
        q = q0 + i
        grp = groups[q]
        limit = best_d[grp] - qp_sq[i] + margin
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
                if jj == best_j[grp] and q == best_q[grp]:
                    continue
                r = rq[i] - rb[jj]          # the residual norms' difference bounds the rest
                if s[j] + r * r > limit:
                    continue
                cnt += 1
                if cnt > max_candidates:
                    break
                d = _distance(Q, i, rows, jj, best_d[grp] + margin)
                if _better(d, q, jj, grp, best_d, best_q, best_j):
                    best_d[grp] = d
                    best_q[grp] = q
                    best_j[grp] = jj
                    limit = d - qp_sq[i] + margin
            if cnt > max_candidates:
                break
            g = e
        count[i] = cnt
