"""Image measures as pure functions: numpy/torch in, floats out.

Each is checked against an independent computation in tests/test_image_metrics.py;
gankit/metrics/images.py registers the metrics that feed them a run's samples and
features.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from gankit.kernels import load_kernels
from gankit.metrics.base import TooFewSamples


def as_tensor(x) -> Tensor:
    """A caller's numbers as a tensor the measures can compute on: numpy arrays and lists
    converted, a tensor detached (one that requires grad cannot be read as numpy), dtypes kept."""
    return x.detach() if isinstance(x, Tensor) else torch.as_tensor(np.asarray(x))


def as_array(x, dtype=np.float64) -> np.ndarray:
    """A caller's numbers as a numpy array of ``dtype`` (None: the caller's): tensors detached and
    moved to the CPU, bfloat16 (which numpy has no type for) widened to float32 first, exactly."""
    if isinstance(x, Tensor):
        x = x.detach().cpu()
        x = x.float() if x.dtype == torch.bfloat16 else x
    return np.asarray(x, dtype=dtype)


def as_probabilities(probs, name: str) -> np.ndarray:
    """Rows of class probabilities (n, classes) in float64, refused when they are not any:
    logits or unnormalised scores would give numbers (IS 9.5e57 for 100 rows of N(0, 1) logits), not an error."""
    p = as_array(probs)
    if p.ndim != 2:
        raise ValueError(f"{name}: probabilities must have shape (n, classes), got {p.shape}")
    # a float32 softmax over 1,000 classes sums to 1 within ~1e-5; float16's and bfloat16's are coarser
    dtype = probs.dtype if isinstance(probs, (Tensor, np.ndarray)) else None
    eps = (torch.finfo(dtype).eps if isinstance(dtype, torch.dtype) and dtype.is_floating_point
           else float(np.finfo(dtype).eps) if isinstance(dtype, np.dtype) and dtype.kind == "f" else 0.0)
    tol = max(1e-3, 8 * eps)
    sums = p.sum(1)
    bad = ~np.isfinite(p).all(1) | (p < 0).any(1) | (np.abs(sums - 1) > tol)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        if not np.isfinite(p[i]).all():     # a diverged classifier or G: softmax would not mend it
            raise ValueError(f"{name}: {int((~np.isfinite(p).all(1)).sum())} of {len(p)} rows hold NaN or "
                             f"infinite values (row {i}); the probabilities came from non-finite inputs")
        raise ValueError(f"{name}: {int(bad.sum())} of {len(p)} rows are not probabilities (row {i}: sum "
                         f"{sums[i]:.4g}, min {p[i].min():.4g}); pass softmax(logits), each row >= 0 summing to 1")
    return p


def gaussian_stats(f) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of features (n, d), in float64 (NaN for a NaN or inf row)."""
    f = as_array(f)
    if f.ndim != 2 or len(f) < 2:
        raise TooFewSamples(f"need features of shape (n >= 2, d), got {f.shape}")
    with np.errstate(invalid="ignore", over="ignore"):     # inf - inf: NaN, as frechet_distance says
        return f.mean(0), np.cov(f, rowvar=False)


def _sqrt_psd(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_distance(mu1, s1, mu2, s2) -> float:
    """Frechet distance of N(mu1, S1) and N(mu2, S2).

    tr (S1 S2)^(1/2) = tr (S1^(1/2) S2 S1^(1/2))^(1/2): the inner matrix is
    symmetric PSD, so its square root's trace is sum sqrt(eigenvalues) (eigh, no
    complex sqrtm and none of its spurious imaginary parts).
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.atleast_2d(np.asarray(s1, np.float64)), np.atleast_2d(np.asarray(s2, np.float64))
    if not all(np.isfinite(a).all() for a in (mu1, mu2, s1, s2)):
        # eigh does not converge on a NaN ("Eigenvalues did not converge"): NaN, as prdc, kid and c2st give
        return float("nan")
    r1 = _sqrt_psd(s1)
    m = r1 @ s2 @ r1
    tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum()
    d = float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)
    return max(d, 0.0)


def fid_from_features(f1, f2) -> float:
    return frechet_distance(*gaussian_stats(f1), *gaussian_stats(f2))


def inception_score(probs, splits: int = 10) -> tuple[float, float]:
    """exp(mean_x KL(p(y|x) || p(y))) per split (p(y) = the split's mean); (mean, std).

    Each split needs 2 or more samples: one sample's p(y) is its own p(y|x), a score of 1
    whatever G does.  A split of m samples scores at most m (p(y) >= p(y|x) / m)."""
    p = as_probabilities(probs, "inception_score")
    if len(p) < 2 * splits:
        raise TooFewSamples(f"inception_score: {len(p)} samples for {splits} splits; each split needs 2 or more")
    scores = []
    n = len(p)
    # the original code's boundaries (Salimans et al., inception_score.py): floor(i n / splits)
    for part in (p[i * n // splits:(i + 1) * n // splits] for i in range(splits)):
        py = part.mean(0, keepdims=True)
        kl = (part * (np.log(np.clip(part, 1e-30, None)) - np.log(np.clip(py, 1e-30, None)))).sum(1)
        scores.append(math.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def kid(f1, f2, n_subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance: unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3; (mean, std).

    Subsets are drawn as in the per-subset loop (``kid_loop``: the same rng calls, so the
    same subsets); each kernel matrix is computed once for all features, by column
    blocks, and the subset sums read off it as s_i^T K s_j with 0/1 indicator rows s.
    Same numbers up to float64 summation order; 50 subsets of 1,000 from 2,500 features:
    benchmarks/eval_speed.py (docs/speed.md).
    """
    f1, f2 = as_array(f1), as_array(f2)
    d = f1.shape[1]
    m = min(len(f1), len(f2), subset_size)
    if m < 2:
        raise TooFewSamples(f"kid: need 2 or more features in each set, got {len(f1)} and {len(f2)}")
    whole = m == len(f1) == len(f2)     # every subset would be the whole of both sets
    if whole:
        n_subsets = 1
    rng = np.random.default_rng(seed)
    s1, s2 = np.zeros((n_subsets, len(f1))), np.zeros((n_subsets, len(f2)))
    for i in range(n_subsets):     # the loop's order of rng calls: x's subset, then y's
        s1[i, rng.choice(len(f1), m, replace=False)] = 1.0
        s2[i, rng.choice(len(f2), m, replace=False)] = 1.0

    def block_sums(a, sa, b, sb, same):
        total, diag = np.zeros(n_subsets), np.zeros(n_subsets)
        for j in range(0, len(b), _KID_BLOCK):
            k = a @ b[j:j + _KID_BLOCK].T                            # (len(a), block)
            k /= d
            k += 1
            k *= k * k                                                # (x.y / d + 1)^3 in place
            total += ((sa @ k) * sb[:, j:j + _KID_BLOCK]).sum(1)
            if same:      # k(x, x) of the block's own rows
                diag += sb[:, j:j + _KID_BLOCK] @ k[j:j + _KID_BLOCK].diagonal()
        return total, diag

    txx, dxx = block_sums(f1, s1, f1, s1, True)
    tyy, dyy = block_sums(f2, s2, f2, s2, True)
    txy, _ = block_sums(f1, s1, f2, s2, False)
    mmd = (txx - dxx) / (m * (m - 1)) + (tyy - dyy) / (m * (m - 1)) - 2 * txy / (m * m)
    # subsets that are the whole sets have no spread to show: NaN, not a std of 0 that reads as exact
    return float(np.mean(mmd)), float("nan") if whole else float(np.std(mmd))


_KID_BLOCK = 1024      # columns of a kernel matrix held at once: memory n x 1024 float64


def kid_loop(f1, f2, n_subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """KID by the plain per-subset loop (the reference that ``kid`` is tested and timed against)."""
    f1, f2 = as_array(f1), as_array(f2)
    d = f1.shape[1]
    m = min(len(f1), len(f2), subset_size)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_subsets):
        x = f1[rng.choice(len(f1), m, replace=False)]
        y = f2[rng.choice(len(f2), m, replace=False)]
        kxx, kyy, kxy = (x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3
        mmd = ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
               - 2 * kxy.mean())
        out.append(mmd)
    return float(np.mean(out)), float(np.std(out))


def pairwise_sq_dists(a: Tensor, b: Tensor, chunk: int = 4096, out_dtype=None) -> Tensor:
    """||a_i - b_j||^2 (n, m) in float32 (float64 if an input is), by chunks of a; clamped at 0.
    ``out_dtype``: the result's type when it differs (distances computed in float64, held
    in float32)."""
    dt = torch.promote_types(torch.promote_types(a.dtype, b.dtype), torch.float32)
    a, b = a.reshape(len(a), -1).to(dt), b.reshape(len(b), -1).to(dt)
    bb = (b * b).sum(1)
    out = []
    for i in range(0, len(a), chunk):
        x = a[i:i + chunk]
        out.append(((x * x).sum(1)[:, None] + bb[None] - 2 * x @ b.T).clamp_min_(0).to(out_dtype or dt))
    return torch.cat(out)


def centred64(first, *others) -> list[Tensor]:
    """The sets as float64 rows, centred on the first set's mean.  Distances by ||a||^2 + ||b||^2
    - 2 a.b lose ~1e-7 ||x||^2 in float32: more than the k-NN radii of data away from the origin
    or with close neighbours (a ring of std 0.01: density 1.16 instead of 1.01; shifted by
    1,000, 36 instead of 1.01); centring and float64 leave ~1e-16 of the spread."""
    sets = [as_tensor(s) for s in (first, *others)]
    sets = [s.reshape(len(s), -1).double() for s in sets]
    mu = sets[0].mean(0) if len(sets[0]) else 0.0
    return [s - mu for s in sets]


def nn_sq_dist(a: Tensor, b: Tensor, chunk: int = 1024) -> tuple[Tensor, Tensor]:
    """For each row of a, the squared distance to and index of its nearest row of b."""
    a, b = a.reshape(len(a), -1).float(), b.reshape(len(b), -1).float()
    bb = (b * b).sum(1)
    dist, idx = [], []
    for i in range(0, len(a), chunk):
        x = a[i:i + chunk]
        d = ((x * x).sum(1)[:, None] + bb[None] - 2 * x @ b.T).clamp_min_(0)
        v, j = d.min(1)
        dist.append(v)
        idx.append(j)
    return torch.cat(dist), torch.cat(idx)


def _copy_groups(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(the distinct rows, which of them each row is, how many rows each row's copies make)."""
    u, group, counts = torch.unique(x, dim=0, return_inverse=True, return_counts=True)
    return u, group, counts[group]


def _kth_nn_radius(x: Tensor, k: int, copies: tuple | None = None, merge: bool = True) -> Tensor:
    """Distance of each row of x to its k-th nearest other point.  ``merge``: a row's copies
    (``copies``: _copy_groups(x)) are one point, and the radius is 0 when fewer than k points
    differ from it; counted as neighbours, a data file's repeated rows would put every k-th
    neighbour at distance 0 and shrink every ball to a point.  Without ``merge`` (generated
    samples) copies are neighbours at distance 0, as Kynkaanniemi et al. define it: a G that
    repeats a few outputs has balls of radius 0, not balls reaching its other outputs."""
    u, group, _ = (_copy_groups(x) if copies is None else copies) if merge else (x, None, None)
    if len(u) == len(x):       # no copies: the rows as they are, in their order
        u, group = x, None
    d = pairwise_sq_dists(u, u, out_dtype=torch.float32)
    d.fill_diagonal_(float("inf"))
    # k or fewer distinct points (a G collapsed onto them) have no k-th neighbour: a ball of
    # radius 0, so the space between them is not credited
    r = d.kthvalue(min(k, len(u)), dim=1).values.sqrt()
    r = r.masked_fill_(torch.isposinf(r), 0.0)
    return r if group is None else r[group]


def _per_point(hit: Tensor, copies: tuple) -> Tensor:
    """The share of distinct points hit, from one 0/1 value per row: a point's m copies count 1/m
    each (they agree, up to the rounding of their distances)."""
    u, group, _ = copies
    if len(u) == len(hit):
        return hit.double().mean()
    hits = torch.zeros(len(u), dtype=torch.float64).index_add_(0, group, hit.double())
    return (hits / torch.bincount(group, minlength=len(u))).mean()


def prdc(real, fake, k: int = 3, k_dc: int = 5) -> dict[str, float]:
    """k-NN precision, recall, density and coverage of fake features against real ones.

    A point's ball has the radius of its k-th nearest neighbour in its own set; the real
    set's repeated rows count as one point (a data file may repeat rows) in all four, the
    generated set's as neighbours at distance 0 (a G repeating itself is collapsed).
    precision = share of fakes inside some real ball; recall = share of distinct reals
    inside some fake ball (both with k = 3 and closed balls, Kynkaanniemi et al. 2019);
    density = mean count of real balls holding a fake / k_dc, the m copies of a real point
    counting 1/m each; coverage = share of distinct real balls holding a fake (both with
    k_dc = 5 and open balls, as Naeem et al.'s code: a copy of the data reads density 1, where
    closed balls would also count each fake on the sphere of the points it is the k-th
    neighbour of).  A non-finite value in either set gives NaN for all four.
    """
    real, fake = centred64(real, fake)
    kk = max(k, k_dc)
    if min(len(real), len(fake)) <= kk:
        data_short = len(real) <= kk and len(real) < len(fake)     # the data, not eval.n_samples, ran out
        raise TooFewSamples(f"prdc: need more than k = {kk} points in each set, got {len(real)} real and "
                            f"{len(fake)} generated" + (" (lower eval.pr_k / eval.dc_k)" if data_short else ""),
                            # the evaluation's usual hint (500 or more) does not reach a k this large
                            n_needed=2 * (kk + 1) if 2 * (kk + 1) > 500 else None, more_helps=not data_short)
    if not (torch.isfinite(real).all() and torch.isfinite(fake).all()):
        # one NaN row made every distance to it NaN, and NaN <= r is False: coverage read 0 for
        # one bad sample, all four 0 for one bad real point, as if G were far off
        return dict.fromkeys(("precision", "recall", "density", "coverage"), float("nan"))
    copies = _copy_groups(real)
    if len(copies[0]) <= max(k, k_dc):
        raise TooFewSamples(f"prdc: the real set holds {len(copies[0])} distinct points; k-NN balls "
                            f"need more than k = {max(k, k_dc)} (lower eval.pr_k / eval.dc_k)", more_helps=False)
    d = pairwise_sq_dists(real, fake, out_dtype=torch.float32).sqrt()     # (n_real, n_fake)
    r_real, r_fake = _kth_nn_radius(real, k, copies), _kth_nn_radius(fake, k, merge=False)
    precision = (d <= r_real[:, None]).any(0).double().mean()    # fake j in the ball of some real i
    r_dc = r_real if k_dc == k else _kth_nn_radius(real, k_dc, copies)
    # a point's m copies are one ball: counted m times each, density would read m times too high,
    # and recall and coverage would weigh the point m times (its copies' hits are its own)
    density = ((d < r_dc[:, None]).double() / copies[2][:, None]).sum(0).mean() / k_dc
    recall = _per_point((d <= r_fake[None, :]).any(1), copies)
    coverage = _per_point(d.min(1).values < r_dc, copies)
    return {"precision": float(precision), "recall": float(recall), "density": float(density),
            "coverage": float(coverage)}


def parzen_lls(centres: Tensor, x: Tensor, sigmas, chunk: int = 256) -> Tensor:
    """log p(x_i) under the mean of N(c_k, sigma^2 I), for each row of x at each sigma:
    (len(x), len(sigmas)) float64, nats.

    log p(x) = logsumexp_k(-||x - c_k||^2 / (2 sigma^2)) - log N - (d/2) log(2 pi sigma^2)

    By chunks of x, every sigma from one distance block: the block is shifted by its row
    minimum m, so exp(-(d2 - m) / (2 sigma^2)) lies in (0, 1] with a term equal to 1 and
    its float32 sum loses nothing the float32 distances have not (1e-6 relative against
    a float64 logsumexp, tested); the shift is added back in float64.  Exponents are
    clamped at -80: a term below e^-80 adds < 1e-30 to a sum >= 1, and exp's results
    below ~1e-38 (subnormal floats) made the 10-sigma search 2.4x slower here.  A float64
    logsumexp of the whole (n, N) matrix per sigma was 2-3x slower and took 800 MB at
    10,000 x 10,000 (docs/speed.md).  Finite float32 inputs take gankit/parzen_numba.py
    (the same sums, each row's in cache; exp below e^-87 is 0 there); float64 inputs, NaNs
    and machines without numba take the torch loop."""
    centres, x = as_tensor(centres), as_tensor(x)
    dt = torch.promote_types(torch.promote_types(centres.dtype, x.dtype), torch.float32)
    c, x = centres.reshape(len(centres), -1).to(dt), x.reshape(len(x), -1).to(dt)
    cc = (c * c).sum(1)
    a = [1.0 / (2 * float(s) ** 2) for s in np.atleast_1d(np.asarray(sigmas, dtype=np.float64))]
    out = torch.empty(len(x), len(a), dtype=torch.float64)
    buf = torch.empty(min(chunk, len(x)), len(c), dtype=dt)
    nb = load_kernels("parzen_numba", "Parzen window", "torch (same values, slower)") \
        if dt == torch.float32 and bool(torch.isfinite(x).all()) and bool(torch.isfinite(c).all()) else None
    for i in range(0, len(x), chunk):
        xi = x[i:i + chunk]
        if nb is not None:      # one pass per sigma over each row, in cache (gankit/parzen_numba.py)
            g = torch.mm(xi, c.T, out=buf[:len(xi)])
            nb.log_sums(g.numpy(), (xi * xi).sum(1).numpy(), cc.numpy(), np.asarray(a),
                        np.asarray(a, dtype=np.float32), out[i:i + chunk].numpy())
            continue
        d2 = ((xi * xi).sum(1)[:, None] + cc[None] - 2 * xi @ c.T).clamp_min_(0)
        m = d2.min(1, keepdim=True).values
        d2 -= m
        b = buf[:len(xi)]
        for j, aj in enumerate(a):
            torch.mul(d2, -aj, out=b).clamp_min_(-80.0).exp_()
            out[i:i + chunk, j] = b.sum(1).double().log_() - m[:, 0].double() * aj
    var = torch.tensor([0.5 / aj for aj in a], dtype=torch.float64)
    return out - math.log(len(c)) - 0.5 * c.shape[1] * torch.log(2 * math.pi * var)


def parzen_log_likelihood(centres: Tensor, x: Tensor, sigma: float) -> Tensor:
    """log p(x) under the mean of N(c_i, sigma^2 I): one value per row of x (nats)."""
    return parzen_lls(centres, x, [sigma])[:, 0]


def parzen_protocol(centres: Tensor, valid: Tensor, test: Tensor, sigmas=None) -> dict[str, float]:
    """Goodfellow et al. 2014 (parzen_ll.py): sigma from 10 log-spaced values in [0.1, 1] by
    mean validation log-likelihood; report mean test log-likelihood and its standard error.
    Pixels are expected in [0, 1], as in the paper."""
    sigmas = np.logspace(-1, 0, 10) if sigmas is None else np.asarray(sigmas, dtype=np.float64)
    best = float(sigmas[int(parzen_lls(centres, valid, sigmas).mean(0).argmax())])
    t = parzen_log_likelihood(centres, test, best)
    return {"parzen_ll": float(t.mean()), "parzen_se": float(t.std() / math.sqrt(len(t))),
            "parzen_sigma": best}


def stacked_modes(digits, n_per_channel: int = 10) -> dict:
    """digits (n, C) predicted class per channel -> modes covered of n_per_channel^C and
    KL(sample mode histogram || uniform) (PacGAN/VEEGAN's Stacked MNIST numbers)."""
    digits = np.asarray(digits, dtype=np.int64)
    n, c = digits.shape
    total = n_per_channel ** c
    mode = (digits * (n_per_channel ** np.arange(c - 1, -1, -1))[None]).sum(1)
    counts = np.bincount(mode, minlength=total)
    q = counts / n
    nz = q > 0
    kl = float((q[nz] * np.log(q[nz] * total)).sum())
    # the part of the KL that unequal digit shares per channel explain (equal to stacked_kl
    # when the channels are independent; the rest is dependence between channels)
    channel_kl = 0.0
    for j in range(c):
        h = np.bincount(digits[:, j], minlength=n_per_channel) / n
        channel_kl += float((h[h > 0] * np.log(h[h > 0] * n_per_channel)).sum())
    return {"stacked_modes": int(nz.sum()), "stacked_modes_total": total, "stacked_kl": kl,
            "stacked_channel_kl": channel_kl}


def class_histogram(pred, n_classes: int, reference=None) -> dict:
    """Predicted classes of samples: counts, the data's classes never generated, KL(samples || reference).

    ``n_classes``: the classifier's classes; a predicted class beyond them and beyond the
    reference (a 10-digit classifier on data of digits 0-3 named as 4 classes) widens the
    histogram, so the counts add up to the samples.  ``reference``: the data's class counts
    or shares, 0 (or past its end) for classes the data lacks; uniform over n_classes when
    None.  class_kl is inf when G produces a class the reference gives no mass (never the
    best score; records write "inf"); classes_missing and class_min_share are over the
    reference's classes."""
    pred = np.asarray(pred, dtype=np.int64)
    ref = np.ones(n_classes) if reference is None else np.asarray(reference, np.float64).reshape(-1)
    k = max(n_classes, len(ref), int(pred.max()) + 1 if len(pred) else 0)
    counts = np.bincount(pred, minlength=k)
    ref = np.pad(ref, (0, k - len(ref))) / ref.sum()
    q = counts / max(counts.sum(), 1)
    nz, data = q > 0, ref > 0
    kl = math.inf if (nz & ~data).any() else float((q[nz] * np.log(q[nz] / ref[nz])).sum())
    return {"class_counts": counts.tolist(), "classes_missing": int((counts[data] == 0).sum()),
            "class_kl": kl, "class_min_share": float(q[data].min()), "class_max_share": float(q.max())}
