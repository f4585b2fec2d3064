"""The loops of gankit.l1kernel, compiled by numba (cached on disk after the first run).

Serial on purpose: numba's parallel=True starts its own OpenMP pool beside torch's, and the
two pools spinning against each other made a training step 3x slower on 2 cores.
"""
import numpy as np
from numba import njit


@njit(cache=True, fastmath=True)
def l1(Mt, L):                     # Mt (B, C, n) -> L (B, n, n) pairwise L1 distances
    B, C, n = Mt.shape
    for b in range(B):
        for i in range(n):
            acc = L[b, i]
            acc[:] = 0
            for c in range(C):
                row = Mt[b, c]
                x = row[i]
                for j in range(n):
                    acc[j] += abs(x - row[j])


@njit(cache=True, fastmath=True)
def l1_grad(Mt, K, g, out):
    # d o_i / d M_ic summed over the loss: -sum_j (g_i + g_j) K_ij sign(M_ic - M_jc)
    B, C, n = Mt.shape
    for b in range(B):
        w = np.empty(n, dtype=Mt.dtype)
        gb = g[b]
        for i in range(n):
            Ki = K[b, i]
            gi = gb[i]
            for j in range(n):
                w[j] = (gi + gb[j]) * Ki[j]
            for c in range(C):
                row = Mt[b, c]
                x = row[i]
                s = 0.0 * x
                for j in range(n):
                    d = x - row[j]
                    s += (d > 0) * w[j] - (d < 0) * w[j]
                out[b, c, i] = -s
