"""The loops of gankit.l1kernel, compiled by numba (cached on disk after the first run).

Each pair i < j is visited once (the distance, and so exp(-distance), is symmetric): P holds
the upper triangle row by row, row i being the pairs (i, i+1 .. n-1), so every inner loop runs
over a contiguous slice and vectorises.

Rows go four at a time: their common columns j >= i + 4 are one loop that loads M_j once for
the four rows and, in the backward, adds the four rows' terms to column j at once (a quarter
of the loop starts and column loads and stores of one row at a time); the six pairs inside
the tile and the last rows are done one by one.  Every accumulator has the array's dtype: a
float64 literal (``0.0 * x``) made LLVM widen the float32 loops to float64, half the lanes
(docs/speed.md).

Serial on purpose: numba's parallel=True starts its own OpenMP pool beside torch's, and the
two pools spinning against each other made a training step 3x slower on 2 cores.
"""
import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload


@njit(cache=True, fastmath=True)
def _row_offset(i, n):             # where row i starts in P
    return i * (2 * n - i - 1) // 2


def _expneg(d):
    """exp(-d): float32 by the polynomial below, other dtypes by math.exp (numba overloads)."""
    return math.exp(-d)


@intrinsic
def _bits_to_f32(typingctx, i):    # the float32 whose bits are the int32 i
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())
    return types.float32(types.int32), codegen


@overload(_expneg, jit_options={"fastmath": True})
def _expneg_typed(d):
    if d != types.float32:
        return lambda d: math.exp(-d)

    def expneg32(d):
        # Cephes' expf: 2^k e^r, r = x - k ln 2 in two parts, e^r by a degree-7 polynomial;
        # within 3e-7 relative of float64's exp (numpy's float32 exp: 2e-7), and it
        # vectorises (numba's math.exp is a scalar libm call here, no SVML).  Below
        # float32's normal range (d > 87.33) it returns 0 instead of a subnormal (< 1.2e-38).
        x = -d
        if x < np.float32(-87.33):
            return np.float32(0.0)
        k = np.floor(x * np.float32(1.44269504) + np.float32(0.5))
        x = x - k * np.float32(0.693359375)
        x = x - k * np.float32(-2.12194440e-4)
        y = np.float32(1.9875691500e-4)
        y = y * x + np.float32(1.3981999507e-3)
        y = y * x + np.float32(8.3334519073e-3)
        y = y * x + np.float32(4.1665795894e-2)
        y = y * x + np.float32(1.6666665459e-1)
        y = y * x + np.float32(5.0000001201e-1)
        y = y * x * x + x + np.float32(1.0)
        return y * _bits_to_f32((np.int32(k) + np.int32(127)) << np.int32(23))
    return expneg32


@njit(cache=True, fastmath=True)
def closeness_pairs(Mt, P, o):
    """Mt (B, C, n) -> P (B, n(n-1)/2): K_ij = exp(-||M_i - M_j||_1) of each pair i < j, and
    o (B, n): o_i = sum_{j != i} K_ij.  Each tile's distances are turned into K and summed while
    they are still in the first-level cache."""
    B, C, n = Mt.shape
    for b in range(B):
        ob = o[b]
        ob[:] = 0
        i = 0
        while i + 4 < n:
            L = n - i - 4
            o0, o1, o2, o3 = (_row_offset(i, n), _row_offset(i + 1, n), _row_offset(i + 2, n),
                              _row_offset(i + 3, n))
            a0, a1 = P[b, o0 + 3:o0 + 3 + L], P[b, o1 + 2:o1 + 2 + L]
            a2, a3 = P[b, o2 + 1:o2 + 1 + L], P[b, o3:o3 + L]
            z = Mt[b, 0, i] - Mt[b, 0, i]
            p01, p02, p03, p12, p13, p23 = z, z, z, z, z, z
            for c in range(C):
                x0, x1, x2, x3 = Mt[b, c, i], Mt[b, c, i + 1], Mt[b, c, i + 2], Mt[b, c, i + 3]
                p01 += abs(x0 - x1)
                p02 += abs(x0 - x2)
                p03 += abs(x0 - x3)
                p12 += abs(x1 - x2)
                p13 += abs(x1 - x3)
                p23 += abs(x2 - x3)
            a0[:] = 0
            a1[:] = 0
            a2[:] = 0
            a3[:] = 0
            c4 = C - C % 4
            for c in range(0, c4, 4):     # four dimensions a pass over the accumulators (1.25x)
                r0, r1, r2, r3 = Mt[b, c, i + 4:], Mt[b, c + 1, i + 4:], Mt[b, c + 2, i + 4:], Mt[b, c + 3, i + 4:]
                x00, x01, x02, x03 = Mt[b, c, i], Mt[b, c, i + 1], Mt[b, c, i + 2], Mt[b, c, i + 3]
                x10, x11, x12, x13 = Mt[b, c + 1, i], Mt[b, c + 1, i + 1], Mt[b, c + 1, i + 2], Mt[b, c + 1, i + 3]
                x20, x21, x22, x23 = Mt[b, c + 2, i], Mt[b, c + 2, i + 1], Mt[b, c + 2, i + 2], Mt[b, c + 2, i + 3]
                x30, x31, x32, x33 = Mt[b, c + 3, i], Mt[b, c + 3, i + 1], Mt[b, c + 3, i + 2], Mt[b, c + 3, i + 3]
                for j in range(L):
                    u0, u1, u2, u3 = r0[j], r1[j], r2[j], r3[j]
                    a0[j] += abs(x00 - u0) + abs(x10 - u1) + abs(x20 - u2) + abs(x30 - u3)
                    a1[j] += abs(x01 - u0) + abs(x11 - u1) + abs(x21 - u2) + abs(x31 - u3)
                    a2[j] += abs(x02 - u0) + abs(x12 - u1) + abs(x22 - u2) + abs(x32 - u3)
                    a3[j] += abs(x03 - u0) + abs(x13 - u1) + abs(x23 - u2) + abs(x33 - u3)
            for c in range(c4, C):
                row = Mt[b, c, i + 4:]
                x0, x1, x2, x3 = Mt[b, c, i], Mt[b, c, i + 1], Mt[b, c, i + 2], Mt[b, c, i + 3]
                for j in range(L):
                    r = row[j]
                    a0[j] += abs(x0 - r)
                    a1[j] += abs(x1 - r)
                    a2[j] += abs(x2 - r)
                    a3[j] += abs(x3 - r)
            s0, s1, s2, s3 = z, z, z, z
            orest = ob[i + 4:]
            for j in range(L):
                k0, k1, k2, k3 = _expneg(a0[j]), _expneg(a1[j]), _expneg(a2[j]), _expneg(a3[j])
                a0[j], a1[j], a2[j], a3[j] = k0, k1, k2, k3
                s0 += k0
                s1 += k1
                s2 += k2
                s3 += k3
                orest[j] += k0 + k1 + k2 + k3
            k01, k02, k03 = _expneg(p01), _expneg(p02), _expneg(p03)
            k12, k13, k23 = _expneg(p12), _expneg(p13), _expneg(p23)
            P[b, o0], P[b, o0 + 1], P[b, o0 + 2], P[b, o1], P[b, o1 + 1], P[b, o2] = k01, k02, k03, k12, k13, k23
            ob[i] += s0 + k01 + k02 + k03
            ob[i + 1] += s1 + k01 + k12 + k13
            ob[i + 2] += s2 + k02 + k12 + k23
            ob[i + 3] += s3 + k03 + k13 + k23
            i += 4
        for i in range(i, n - 1):
            m = n - 1 - i
            off = _row_offset(i, n)
            acc = P[b, off:off + m]
            acc[:] = 0
            for c in range(C):
                row = Mt[b, c, i + 1:]
                x = Mt[b, c, i]
                for j in range(m):
                    acc[j] += abs(x - row[j])
            s = acc[0] - acc[0]
            orest = ob[i + 1:]
            for j in range(m):
                k = _expneg(acc[j])
                acc[j] = k
                s += k
                orest[j] += k
            ob[i] += s


@njit(cache=True, fastmath=True)
def _signed(w, x, r, zero):        # w sign(x - r), with sign(0) = 0 as torch's cdist gradient
    t = w if x > r else zero
    return t - w if x < r else t


@njit(cache=True, fastmath=True)
def pairs_grad(Mt, P, g, out):
    # d/dM_ic of sum_i g_i o_i = -sum_j (g_i + g_j) K_ij sign(M_ic - M_jc); the pair (i, j)
    # adds -t to i and +t to j, t = (g_i + g_j) K_ij sign(M_ic - M_jc)
    B, C, n = Mt.shape
    w = np.empty((4, n), dtype=Mt.dtype)
    for b in range(B):
        gb = g[b]
        out[b] = 0
        i = 0
        while i + 4 < n:
            L = n - i - 4
            o0, o1, o2, o3 = (_row_offset(i, n), _row_offset(i + 1, n), _row_offset(i + 2, n),
                              _row_offset(i + 3, n))
            g0, g1, g2, g3 = gb[i], gb[i + 1], gb[i + 2], gb[i + 3]
            a0, a1 = P[b, o0 + 3:o0 + 3 + L], P[b, o1 + 2:o1 + 2 + L]
            a2, a3 = P[b, o2 + 1:o2 + 1 + L], P[b, o3:o3 + L]
            w0, w1, w2, w3 = w[0], w[1], w[2], w[3]
            grest = gb[i + 4:]
            for j in range(L):
                gj = grest[j]
                w0[j] = (g0 + gj) * a0[j]
                w1[j] = (g1 + gj) * a1[j]
                w2[j] = (g2 + gj) * a2[j]
                w3[j] = (g3 + gj) * a3[j]
            q01, q02, q03 = (g0 + g1) * P[b, o0], (g0 + g2) * P[b, o0 + 1], (g0 + g3) * P[b, o0 + 2]
            q12, q13, q23 = (g1 + g2) * P[b, o1], (g1 + g3) * P[b, o1 + 1], (g2 + g3) * P[b, o2]
            for c in range(C):
                x0, x1, x2, x3 = Mt[b, c, i], Mt[b, c, i + 1], Mt[b, c, i + 2], Mt[b, c, i + 3]
                z = x0 - x0
                s0, s1, s2, s3 = z, z, z, z
                row = Mt[b, c, i + 4:]
                oc = out[b, c, i + 4:]
                for j in range(L):
                    r = row[j]
                    t0 = _signed(w0[j], x0, r, z)
                    t1 = _signed(w1[j], x1, r, z)
                    t2 = _signed(w2[j], x2, r, z)
                    t3 = _signed(w3[j], x3, r, z)
                    s0 += t0
                    s1 += t1
                    s2 += t2
                    s3 += t3
                    oc[j] += t0 + t1 + t2 + t3
                t01, t02, t03 = _signed(q01, x0, x1, z), _signed(q02, x0, x2, z), _signed(q03, x0, x3, z)
                t12, t13, t23 = _signed(q12, x1, x2, z), _signed(q13, x1, x3, z), _signed(q23, x2, x3, z)
                out[b, c, i] -= s0 + t01 + t02 + t03
                out[b, c, i + 1] += t01 - s1 - t12 - t13
                out[b, c, i + 2] += t02 + t12 - s2 - t23
                out[b, c, i + 3] += t03 + t13 + t23 - s3
            i += 4
        w0 = w[0]
        for i in range(i, n - 1):
            m = n - 1 - i
            off = _row_offset(i, n)
            seg = P[b, off:off + m]
            gi = gb[i]
            grest = gb[i + 1:]
            for j in range(m):
                w0[j] = (gi + grest[j]) * seg[j]
            for c in range(C):
                row = Mt[b, c, i + 1:]
                x = Mt[b, c, i]
                oc = out[b, c, i + 1:]
                z = x - x
                s = z
                for j in range(m):
                    t = _signed(w0[j], x, row[j], z)
                    s += t
                    oc[j] += t
                out[b, c, i] -= s
