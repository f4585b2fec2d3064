"""The Parzen window's sums over centres (gankit.metrics.image_measures.parzen_lls), compiled
by numba (cached on disk).

One pass turns a row of dot products into squared distances and finds the row's minimum;
then each sigma is one vectorised pass over the same row (40 KB at 10,000 centres: it
stays in the core's cache), exp by gankit/l1kernel_numba.py's float32 polynomial, summed
in float64.  torch needed four passes per sigma over the whole (chunk, centres) block, each
from memory (docs/speed.md).  Serial, as gankit/l1kernel_numba.py explains.
"""
import math

import numpy as np
from numba import njit

from gankit.l1kernel_numba import _expneg


@njit(cache=True, fastmath=True)
def log_sums(G, xx, cc, a, af, out):
    """For each row i: d_ik = max(xx_i + cc_k - 2 G_ik, 0) (written over G), then for each
    a_s, out[i, s] = log sum_k exp(-a_s d_ik) in float64 (the sum shifted by the row's
    smallest d, so its largest term is 1; the shift is added back in float64)."""
    m, n = G.shape
    for i in range(m):
        g = G[i]
        x2 = xx[i]
        low = max(x2 + cc[0] - (g[0] + g[0]), x2 - x2)
        for k in range(n):
            d = x2 + cc[k] - (g[k] + g[k])
            d = max(d, d - d)
            g[k] = d
            low = min(low, d)
        for s in range(len(a)):
            t = af[s]
            acc = 0.0
            for k in range(n):
                acc += np.float64(_expneg(t * (g[k] - low)))
            out[i, s] = math.log(acc) - np.float64(low) * a[s]
