"""Image metrics: a feature extractor (metrics/features.py) plus pure functions
from features (or pixels) to numbers.

Pure functions (numpy/torch in, floats out; each checked against an independent
computation in tests/test_image_metrics.py):

- ``frechet_distance``: ||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)), the FID
  formula, on any features;
- ``inception_score``: exp(E_x KL(p(y|x) || p(y))), mean and std over splits;
- ``kid``: unbiased MMD^2 with the cubic polynomial kernel, over subsets;
- ``prdc``: k-NN precision/recall (Kynkaanniemi 2019), density/coverage (Naeem 2020);
- ``parzen_protocol``: Goodfellow 2014's Gaussian Parzen window log-likelihood;
- ``stacked_modes``: modes of Stacked MNIST covered and KL(histogram || uniform);
- ``class_histogram``: mode dropping per class;
- ``memorisation``: nearest-neighbour distances to training vs held-out images,
  exact and horizontally flipped copies.

The registered metrics (``gankit eval RUN --metrics fid,is,...``) ask the dataset
for its classifier key, classes, held-out split and per-channel classes; none
names a dataset.
"""
from __future__ import annotations

import math
import os

import numpy as np
import torch
from torch import Tensor

from gankit.components import METRICS
from gankit.metrics.base import Metric
from gankit.config import ConfigError

# ------------------------------------------------------------------ pure functions


def gaussian_stats(f) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of features (n, d), in float64."""
    f = np.asarray(f, dtype=np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"need features of shape (n >= 2, d), got {f.shape}")
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
    r1 = _sqrt_psd(s1)
    m = r1 @ s2 @ r1
    tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum()
    d = float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)
    return max(d, 0.0)


def fid_from_features(f1, f2) -> float:
    return frechet_distance(*gaussian_stats(f1), *gaussian_stats(f2))


def inception_score(probs, splits: int = 10) -> tuple[float, float]:
    """exp(mean_x KL(p(y|x) || p(y))) per split (p(y) = the split's mean); (mean, std)."""
    p = np.asarray(probs, dtype=np.float64)
    if len(p) < splits:
        raise ValueError(f"inception_score: {len(p)} samples for {splits} splits")
    scores = []
    for part in np.array_split(p, splits):
        py = part.mean(0, keepdims=True)
        kl = (part * (np.log(np.clip(part, 1e-30, None)) - np.log(np.clip(py, 1e-30, None)))).sum(1)
        scores.append(math.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def kid(f1, f2, n_subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance: unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3; (mean, std)."""
    f1, f2 = np.asarray(f1, np.float64), np.asarray(f2, np.float64)
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


def pairwise_sq_dists(a: Tensor, b: Tensor, chunk: int = 4096) -> Tensor:
    """||a_i - b_j||^2 (n, m) in float32 (float64 if an input is), by chunks of a; clamped at 0."""
    dt = torch.promote_types(torch.promote_types(a.dtype, b.dtype), torch.float32)
    a, b = a.reshape(len(a), -1).to(dt), b.reshape(len(b), -1).to(dt)
    bb = (b * b).sum(1)
    out = []
    for i in range(0, len(a), chunk):
        x = a[i:i + chunk]
        out.append(((x * x).sum(1)[:, None] + bb[None] - 2 * x @ b.T).clamp_min_(0))
    return torch.cat(out)


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


def _kth_nn_radius(x: Tensor, k: int) -> Tensor:
    """Distance of each row of x to its k-th nearest other row."""
    d = pairwise_sq_dists(x, x)
    return d.kthvalue(k + 1, dim=1).values.sqrt()   # k + 1: the row itself is at 0


def prdc(real, fake, k: int = 5) -> dict[str, float]:
    """k-NN precision, recall, density and coverage of fake features against real ones.

    A point's ball has the radius of its k-th nearest neighbour in its own set.
    precision = share of fakes inside some real ball; recall = share of reals
    inside some fake ball; density = mean count of real balls holding a fake / k;
    coverage = share of real balls holding at least one fake.
    """
    real, fake = torch.as_tensor(np.asarray(real)).float(), torch.as_tensor(np.asarray(fake)).float()
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"prdc: need more than k = {k} points in each set")
    r_real, r_fake = _kth_nn_radius(real, k), _kth_nn_radius(fake, k)
    d = pairwise_sq_dists(real, fake).sqrt()            # (n_real, n_fake)
    inside = d <= r_real[:, None]                       # fake j in the ball of real i
    precision = inside.any(0).float().mean()
    recall = (d <= r_fake[None, :]).any(1).float().mean()
    density = inside.float().sum(0).mean() / k
    coverage = (d.min(1).values <= r_real).float().mean()
    return {"precision": float(precision), "recall": float(recall), "density": float(density),
            "coverage": float(coverage)}


def parzen_log_likelihood(centres: Tensor, x: Tensor, sigma: float) -> Tensor:
    """log p(x) under the mean of N(c_i, sigma^2 I): one value per row of x (nats).

    log p(x) = logsumexp_i(-||x - c_i||^2 / (2 sigma^2)) - log N - (d/2) log(2 pi sigma^2)
    """
    d2 = pairwise_sq_dists(x, centres).double()
    dim = x[0].numel()
    return (torch.logsumexp(-d2 / (2 * sigma ** 2), 1) - math.log(len(centres))
            - 0.5 * dim * math.log(2 * math.pi * sigma ** 2))


def parzen_protocol(centres: Tensor, valid: Tensor, test: Tensor, sigmas=None) -> dict[str, float]:
    """Goodfellow et al. 2014 (parzen_ll.py): sigma from 10 log-spaced values in [0.1, 1] by
    mean validation log-likelihood; report mean test log-likelihood and its standard error.
    Pixels are expected in [0, 1], as in the paper."""
    sigmas = np.logspace(-1, 0, 10) if sigmas is None else np.asarray(sigmas, dtype=np.float64)
    dv = pairwise_sq_dists(valid, centres).double()
    dim = valid[0].numel()

    def ll(d2, s):
        return (torch.logsumexp(-d2 / (2 * s ** 2), 1) - math.log(len(centres))
                - 0.5 * dim * math.log(2 * math.pi * s ** 2))
    valid_ll = [float(ll(dv, s).mean()) for s in sigmas]
    best = float(sigmas[int(np.argmax(valid_ll))])
    t = ll(pairwise_sq_dists(test, centres).double(), best)
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
    return {"stacked_modes": int(nz.sum()), "stacked_modes_total": total, "stacked_kl": kl}


def class_histogram(pred, n_classes: int, reference=None) -> dict:
    """Predicted classes of samples: counts, classes never generated, KL(samples || reference)."""
    counts = np.bincount(np.asarray(pred, dtype=np.int64), minlength=n_classes)[:n_classes]
    q = counts / max(counts.sum(), 1)
    ref = (np.full(n_classes, 1.0 / n_classes) if reference is None
           else np.asarray(reference, np.float64) / np.sum(reference))
    nz = q > 0
    return {"class_counts": counts.tolist(), "classes_missing": int((counts == 0).sum()),
            "class_kl": float((q[nz] * np.log(q[nz] / np.clip(ref[nz], 1e-12, None))).sum()),
            "class_min_share": float(q.min()), "class_max_share": float(q.max())}


def memorisation(samples: Tensor, train: Tensor, heldout: Tensor, tol: float = 0.02,
                 seed: int = 0) -> dict:
    """Nearest-neighbour distances (per-pixel RMS, data in [-1, 1]) of samples to the
    training images, their horizontal mirror images, and held-out images.

    - copy_frac: samples within ``tol`` of a training image (exact copies);
    - flip_copy_frac: samples within ``tol`` of a mirrored training image and not of
      an unmirrored one (the flip trick);
    - nn_train_all: median NN distance to all training images;
    - nn_train / nn_heldout: median NN distance to a training subset the size of the
      held-out set, and to the held-out set (same size, so comparable); a ratio well
      below 1 means samples sit closer to the training images than to unseen ones.
    """
    d = samples[0].numel()
    flat = samples.reshape(len(samples), -1).float()
    full, _ = nn_sq_dist(flat, train)
    flipped, _ = nn_sq_dist(flat, train.flip(-1))
    rms_full, rms_flip = (full / d).sqrt(), (flipped / d).sqrt()
    g = torch.Generator().manual_seed(seed)
    sub = train[torch.randperm(len(train), generator=g)[:len(heldout)]]
    rms_sub = (nn_sq_dist(flat, sub)[0] / d).sqrt()
    rms_held = (nn_sq_dist(flat, heldout)[0] / d).sqrt()
    copy = rms_full <= tol
    flip = (rms_flip <= tol) & ~copy
    med_sub, med_held = float(rms_sub.median()), float(rms_held.median())
    return {"copy_frac": float(copy.float().mean()), "flip_copy_frac": float(flip.float().mean()),
            "nn_train_all": float(rms_full.median()), "nn_train": med_sub, "nn_heldout": med_held,
            "nn_ratio": med_sub / med_held if med_held > 0 else float("nan"),
            "nn_train_min": float(rms_full.min())}


# ------------------------------------------------------------------ run-level metrics

def _cache(run) -> dict:
    c = getattr(run, "_image_eval_cache", None)
    if c is None or c.get("step") != run.step:
        c = {"step": run.step}
        run._image_eval_cache = c
    return c


def eval_samples(run, n: int | None = None) -> Tensor:
    n = n or run.cfg.eval.n_samples
    c = _cache(run)
    key = ("samples", n)
    if key not in c:
        c[key] = run.generate(n, seed=run.cfg.seed + 13).float()
    return c[key]


def _inception_path(run) -> str:
    return getattr(run.cfg.eval, "inception_weights", "") or os.environ.get("GANKIT_INCEPTION", "")


def _use_inception(run) -> bool:
    return getattr(run.cfg.eval, "features", "classifier") == "inception"


def has_features(ds) -> bool:
    """A dataset has evaluation features if a shipped classifier fits it (or Inception is set up)."""
    if getattr(ds, "kind", None) != "image":
        return False
    from gankit.metrics.features import weights_path
    own = ds.classifier is not None and ds.shape[0] == 1 and weights_path(ds.classifier).is_file()
    return own or bool(os.environ.get("GANKIT_INCEPTION"))


def extract(run, x: Tensor) -> tuple[Tensor, Tensor, str]:
    """(features, class probabilities, name of the extractor) of images x."""
    ds = run.dataset
    if _use_inception(run) or ds.classifier is None or ds.shape[0] != 1:
        from gankit.metrics.features import InceptionFeatures
        f, p = InceptionFeatures(_inception_path(run))(x)
        return f, p, "inception"
    from gankit.metrics.features import classifier_outputs, load_classifier
    f, p = classifier_outputs(load_classifier(ds.classifier), x)
    return f, p, "classifier"


def _fake_features(run):
    c = _cache(run)
    if "fake_feat" not in c:
        c["fake_feat"] = extract(run, eval_samples(run))
    return c["fake_feat"]


_REAL_CACHE: dict = {}


def _real_features(run, n: int):
    """Features of n training images (a fixed subset), cached per dataset and extractor."""
    ds = run.dataset
    key = (id(ds), n, _use_inception(run))
    if key not in _REAL_CACHE:
        g = torch.Generator().manual_seed(run.cfg.seed + 17)
        x = ds.split("train")
        x = x[torch.randperm(len(x), generator=g)[:n]]
        _REAL_CACHE.clear()
        _REAL_CACHE[key] = extract(run, x)
    return _REAL_CACHE[key]


def _fd_key(kind):
    return "fid" if kind == "inception" else "fcd"   # Frechet classifier distance with gankit's nets


def _fid(run):
    f, _, kind = _fake_features(run)
    r, _, _ = _real_features(run, len(f))
    return {_fd_key(kind): fid_from_features(r.numpy(), f.numpy())}


def _kid(run):
    f, _, kind = _fake_features(run)
    r, _, _ = _real_features(run, len(f))
    m, s = kid(r.numpy(), f.numpy(), n_subsets=50, subset_size=min(1000, len(f)), seed=run.cfg.seed)
    pre = "kid" if kind == "inception" else "kcd"
    return {pre: m, f"{pre}_std": s}


def _is(run):
    _, p, kind = _fake_features(run)
    m, s = inception_score(p.numpy(), splits=10)
    pre = "is" if kind == "inception" else "cs"     # "classifier score" with gankit's nets
    return {pre: m, f"{pre}_std": s}


def _prdc(run):
    f, _, _ = _fake_features(run)
    n = min(len(f), 5000)
    r, _, _ = _real_features(run, len(f))
    return prdc(r[:n], f[:n], k=5)


def _class_hist(run):
    ds = run.dataset
    _, p, kind = _fake_features(run)
    if kind != "classifier":
        raise ConfigError("class_hist needs the dataset's own classifier (eval.features=classifier)")
    ref = None
    if ds.labels is not None:
        ref = np.bincount(ds.labels.numpy(), minlength=ds.n_classes)[:ds.n_classes]
    return class_histogram(p.argmax(1).numpy(), ds.n_classes, ref)


def _stacked(run):
    from gankit.metrics.features import classifier_outputs, load_classifier
    ds = run.dataset
    net = load_classifier(ds.classifier)
    x = eval_samples(run)
    digits = torch.stack([classifier_outputs(net, x[:, c:c + 1])[1].argmax(1)
                          for c in range(x.shape[1])], 1)
    return stacked_modes(digits.numpy(), ds.channel_classes)


def _parzen(run):
    ds = run.dataset
    n = min(run.cfg.eval.n_samples, 10000)
    centres = (eval_samples(run, n).reshape(n, -1) + 1) / 2        # pixels in [0, 1], as in the paper
    held = (ds.split("heldout").reshape(-1, centres.shape[1]) + 1) / 2
    n_valid = min(1000, len(held) // 2)
    return parzen_protocol(centres, held[:n_valid], held[n_valid:n_valid + 10000])


def _memorisation(run):
    ds = run.dataset
    x = eval_samples(run)[:2500]     # 2,500 samples: enough to see copies, cheap against 60k images
    return memorisation(x, ds.split("train"), ds.split("heldout"))


def _image(ds):
    return getattr(ds, "kind", None) == "image"


def _held(ds):
    return _image(ds) and getattr(ds, "heldout", None) is not None


def _classified(ds):
    from gankit.metrics.features import weights_path
    return (_image(ds) and ds.classifier is not None and ds.shape[0] == 1 and ds.n_classes is not None
            and weights_path(ds.classifier).is_file())


def _stackable(ds):
    from gankit.metrics.features import weights_path
    return (_image(ds) and getattr(ds, "channel_classes", None) is not None and ds.classifier is not None
            and weights_path(ds.classifier).is_file())


_SPECS = [
    ("fid", _fid, has_features, "Frechet distance of features (fcd: gankit's classifier; fid: Inception)"),
    ("kid", _kid, has_features, "kernel distance of features, unbiased MMD^2 (kcd / kid)"),
    ("is", _is, has_features, "Inception Score, 10 splits (cs: on gankit's classifier)"),
    ("prdc", _prdc, has_features, "k-NN precision, recall, density, coverage of features (k = 5)"),
    ("class_hist", _class_hist, _classified, "class histogram of samples: classes dropped, KL to data"),
    ("stacked_modes", _stacked, _stackable, "Stacked MNIST: modes covered of 1,000 and KL to uniform"),
    ("parzen", _parzen, _held, "Parzen window log-likelihood of held-out images (Goodfellow 2014)"),
    ("memorisation", _memorisation, _held, "NN distances to training vs held-out; exact and flipped copies"),
]

for _name, _fn, _applies, _help in _SPECS:
    METRICS.register(_name, None, _help)(
        lambda _n=_name, _f=_fn, _a=_applies, _h=_help: Metric(_n, _f, _a, _h))
