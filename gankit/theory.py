"""The paper's theory, computable: the optimal D, V(G, D) and C(G) = -log 4 + 2 JSD.

For fixed G the optimal discriminator is D*(x) = p_data(x) / (p_data(x) + p_g(x))
(Proposition 1), and V(G, D*) = -log 4 + 2 JSD(p_data || p_g) (Theorem 1).  With D*, the
non-saturating G loss is KL(p_g || p_data) - 2 JSD plus terms G's gradient does not see
(Arjovsky & Bottou 2017; ``nonsaturating_terms``).
These functions work on densities known in closed form, or on their logs (``log=True``) where
the densities underflow (1-D here; the integration is a trapezoid rule on an increasing grid).
Values no density (or D) can take are refused, and a density whose integral on the grid is not
1 is warned about: a grid short of the mass gave a KL below 0, unnormalised densities a JSD
above log 2.
"""
from __future__ import annotations

import math
import warnings
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from gankit.losses.adversarial import d_loss_bce
from gankit.train.loop import Phase, Trainer


def optimal_d(log_p_data: Tensor, log_p_g: Tensor) -> Tensor:
    """D*(x) = p_data / (p_data + p_g) = sigmoid(log p_data - log p_g); 1/2 where both
    densities are 0 (D* is free there: no sample of either reaches it)."""
    log_p_data, log_p_g = torch.as_tensor(log_p_data), torch.as_tensor(log_p_g)
    neither = torch.isneginf(log_p_data) & torch.isneginf(log_p_g)
    d = torch.sigmoid(log_p_data - log_p_g)
    return torch.where(neither, torch.full_like(d, 0.5), d)


def _on_grid(x, *densities) -> list[np.ndarray]:
    """x and the densities as float64 1-D arrays of one length; an (n, 1) column (the shape
    ``Dataset.log_prob`` takes) is read as its n values.  Anything else is refused: these
    functions integrate along one axis, from left to right."""
    # float64: the trapezoid sums thousands of terms
    arrays = [np.asarray(a, dtype=np.float64) for a in (x, *densities)]
    arrays = [a[:, 0] if a.ndim == 2 and a.shape[1] == 1 else a for a in arrays]
    if any(a.ndim != 1 or len(a) != len(arrays[0]) for a in arrays) or len(arrays[0]) < 2:
        shapes = ", ".join(str(tuple(np.shape(a))) for a in (x, *densities))
        raise ValueError(f"gankit.theory integrates 1-D densities on a 1-D grid: x and each density need "
                         f"one value per grid point, at least 2 (got shapes {shapes}); for 2-D data of a "
                         f"known density use the jsd metric (gankit eval RUN --metrics jsd: 1-D and 2-D data only)")
    # a descending grid would flip every integral's sign; an unsorted one would give nonsense
    steps = np.diff(arrays[0])
    if not (steps > 0).all():
        i = int(np.argmin(steps > 0))
        grid = arrays[0]
        raise ValueError(f"gankit.theory needs a strictly increasing grid x, but x[{i + 1}] = {grid[i + 1]:g} "
                         f"follows x[{i}] = {grid[i]:g}; sort x and reorder the densities with it "
                         f"(order = np.argsort(x)), dropping repeated points")
    return arrays


# how far a density's mass on the grid may be from 1: the trapezoid rule adds step/2 times each
# jump of a density (1.25e-3 for a uniform's two jumps on a grid of step 1.25e-3)
MASS_TOLERANCE = 1e-2


def _logs(x, *densities, log: bool, names: tuple[str, ...] = ("p", "q")) -> list[np.ndarray]:
    """The grid and the log-densities: given (``log=True``) or the logs of the densities.
    A negative or NaN value is refused (it made the integrals NaN); a density whose mass on the
    grid is not 1 is warned about (the identities assume all of it: KL came out below 0, JSD
    above log 2)."""
    x, *values = _on_grid(x, *densities)
    for name, v in zip(names, values):
        if log:
            _refuse(x, v, name, np.isnan(v), "a log-density is a number or -inf (a density of 0)")
        else:
            _refuse(x, v, name, ~(v >= 0), "a density is a number, 0 or more", " (log=True takes log-densities)")
    logs = values if log else _log(*values)
    fix = "subtract the log of its integral" if log else "divide it by np.trapezoid({}, x)"
    for name, log_p in zip(names, logs):
        with np.errstate(over="ignore"):
            mass = float(np.trapezoid(np.exp(log_p), x))
        if not abs(mass - 1.0) <= MASS_TOLERANCE:
            warnings.warn(f"{name} integrates to {mass:.4g} on the grid [{x[0]:g}, {x[-1]:g}], not 1, so these "
                          f"numbers are not its distribution's (a KL below 0, a JSD above log 2): widen the grid "
                          f"to where {name} has no mass left, or normalise {name} ({fix.format(name)})",
                          RuntimeWarning, stacklevel=3)
    return [x, *logs]


def _refuse(x: np.ndarray, values: np.ndarray, name: str, bad: np.ndarray, rule: str, hint: str = ""):
    """A ValueError naming the first bad value and its index, as for an unsorted grid."""
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"gankit.theory: {name}[{i}] = {values[i]:g} (at x = {x[i]:g}), but {rule}; "
                         f"check how {name} was computed{hint}")


def _log(*densities: np.ndarray) -> list[np.ndarray]:
    with np.errstate(divide="ignore"):
        return [np.log(p) for p in densities]


def _expect(log_p: np.ndarray, f: np.ndarray) -> np.ndarray:
    """p f with 0 where p = 0 (log p = -inf), whatever f is there (0 log 0 = 0), and +-inf where
    f is infinite and p > 0, also where exp(log p) underflows."""
    with np.errstate(invalid="ignore", over="ignore"):
        pf = np.where(np.isinf(f), f, np.exp(log_p) * f)
    return np.where(log_p > -np.inf, pf, 0.0)


def _warn_if_underflow(log_p: np.ndarray, log_q: np.ndarray, log: bool, what: str,
                       p: str = "p", q: str = "q"):
    """An infinite KL(P || Q) from densities may be q underflowing to 0 (float32, far tails),
    which reads the same as Q having no mass there: say which points, and the way out."""
    lacking = (log_q == -np.inf) & (log_p > -np.inf)
    if not log and lacking.any():
        largest = float(np.exp(log_p[lacking].max()))
        warnings.warn(f"{what} is inf: {q} is 0 at {int(lacking.sum())} grid points where {p} > 0 (largest "
                      f"{p} there {largest:.3g}); right if {q} has no mass there, but if it underflowed "
                      f"(float32 densities, far tails) pass log-densities with log=True (e.g. "
                      f"Dataset.log_prob(x)) for the finite value", RuntimeWarning, stacklevel=3)


def value_by_integration(d: np.ndarray, p_data: np.ndarray, p_g: np.ndarray, x: np.ndarray, *,
                         log: bool = False) -> float:
    """V(G, D) = integral of p_data log D + p_g log(1 - D) dx on the increasing grid x (1-D);
    ``d`` may be one number (a constant D, e.g. 1/2); ``log=True`` takes log p_data and log p_g.

    D is clipped to [1e-12, 1 - 1e-12]: a D computed as a sigmoid rounds to exactly 1 (past a
    logit of 17 in float32, 37 in float64) or 0 where one density dwarfs the other, and log 0
    there would make V -inf though those points weigh nothing.  So a D that is 0 where p_data
    has mass (or 1 where p_g has) gives log(1e-12) = -27.6 times that mass, not -inf.  A D
    outside [0, 1] or NaN is refused: clipped, D's logits read as a D of 0 or 1 without a word."""
    if np.ndim(d) == 0:
        d = np.full(np.shape(x)[0] if np.ndim(x) else 0, float(d))
    d = _on_grid(x, d, p_data, p_g)[1]        # the shapes, all named in a refusal
    x, log_data, log_g = _logs(x, p_data, p_g, log=log, names=("p_data", "p_g"))
    _refuse(x, d, "d", ~((d >= 0) & (d <= 1)), "D is a probability, in [0, 1]",
            " (torch.sigmoid of D's logits, not the logits)")
    d = np.clip(d, 1e-12, 1 - 1e-12)
    return float(np.trapezoid(_expect(log_data, np.log(d)) + _expect(log_g, np.log1p(-d)), x))


def _kl(x: np.ndarray, log_p: np.ndarray, log_q: np.ndarray) -> float:
    with np.errstate(invalid="ignore"):      # -inf - -inf where both are 0: _expect drops it
        return float(np.trapezoid(_expect(log_p, log_p - log_q), x))


def _jsd(x: np.ndarray, log_p: np.ndarray, log_q: np.ndarray) -> float:
    log_m = np.logaddexp(log_p, log_q) - math.log(2.0)
    # at most log 2 times the trapezoid masses of p and q (pointwise p log(p/m) <= p log 2), and
    # those exceed 1 by step/2 per jump of a density: two disjoint uniforms read 0.6940; clipped
    # to the bound (far-off masses are warned about in _logs)
    return min(0.5 * _kl(x, log_p, log_m) + 0.5 * _kl(x, log_q, log_m), math.log(2.0))


def kl_by_integration(p: np.ndarray, q: np.ndarray, x: np.ndarray, *, log: bool = False) -> float:
    """KL(P || Q) = integral of p log(p / q) dx in nats on the increasing grid x (1-D), worked in
    log space; ``log=True`` takes log p and log q, which stay finite where densities underflow
    (float32 densities, far tails).  inf where q is 0 and p is not: with densities a warning
    says so, as such a 0 may be q underflowing rather than Q having no mass there."""
    x, log_p, log_q = _logs(x, p, q, log=log)
    kl = _kl(x, log_p, log_q)
    if kl == math.inf:
        _warn_if_underflow(log_p, log_q, log, "KL(P || Q)")
    return kl


def jsd_by_integration(p: np.ndarray, q: np.ndarray, x: np.ndarray, *, log: bool = False) -> float:
    """JSD(P || Q) = 1/2 KL(P || M) + 1/2 KL(Q || M), M = (P + Q) / 2, in nats on the increasing
    grid x (1-D); ``log=True`` takes log p and log q.  Finite (at most log 2) either way."""
    return _jsd(*_logs(x, p, q, log=log))


def nonsaturating_terms(p_data: np.ndarray, p_g: np.ndarray, x: np.ndarray, *,
                        log: bool = False) -> dict[str, float]:
    """The non-saturating G loss against D*, E_pg[-log D*(x)], and its parts:

        E_pg[-log D*] = KL(p_g || p_data) - 2 JSD(p_data || p_g) + log 4 + E_pdata[log D*]

    (from KL(p_g || p_data) = E_pg[log (1 - D*) / D*] and Theorem 1).  The last two terms hold
    D* fixed, so G's gradient is that of KL(p_g || p_data) - 2 JSD: the KL punishes p_g's mass
    where p_data has none (missing precision) without bound, and missing p_data's modes only
    through the bounded JSD (seed 002's account of mode collapse).  ``residual`` is the
    identity's integration error: NaN where the KL is infinite (p_g has mass where p_data has
    none, so the loss is infinite too).  On the increasing grid x (1-D), in log space;
    ``log=True`` takes log p_data and log p_g, which keep far tails finite (densities that
    underflow to 0 where p_g > 0 make the KL and the loss inf, with a warning)."""
    x, log_data, log_g = _logs(x, p_data, p_g, log=log, names=("p_data", "p_g"))
    # log D* = -log(1 + p_g / p_data), and D* = 1/2 where both are 0, as in optimal_d
    neither = (log_data == -np.inf) & (log_g == -np.inf)
    with np.errstate(invalid="ignore"):
        log_d = -np.logaddexp(0.0, np.where(neither, 0.0, log_g - log_data))
    loss = float(np.trapezoid(_expect(log_g, -log_d), x))
    data_term = float(np.trapezoid(_expect(log_data, log_d), x))
    kl, jsd = _kl(x, log_g, log_data), _jsd(x, log_data, log_g)
    if kl == math.inf:
        _warn_if_underflow(log_g, log_data, log, "KL(p_g || p_data)", "p_g", "p_data")
    return {"ns_loss": loss, "kl_g_data": kl, "jsd": jsd, "data_term": data_term,
            "residual": loss - (kl - 2 * jsd + math.log(4.0) + data_term)}


def c_of_g(jsd: float) -> float:
    """C(G) = max_D V(G, D) = -log 4 + 2 JSD(p_data || p_g)."""
    return -math.log(4.0) + 2.0 * jsd


def fit_discriminator(D: torch.nn.Module, sample_real: Callable[[int], Tensor],
                      sample_fake: Callable[[int], Tensor], steps: int = 2000, batch: int = 512,
                      lr: float = 1e-3) -> torch.nn.Module:
    """Train D alone against a fixed p_g: the inner max of Algorithm 1, run to convergence.

    It is the loop with a single D phase (no G phase): phases are data.
    """
    opt = torch.optim.Adam(D.parameters(), lr=lr)
    # the learning rate decays linearly to 0: the last steps average out minibatch noise
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: max(0.0, 1.0 - i / steps))

    def d_phase(ctx):
        return d_loss_bce(D(sample_real(batch)), D(sample_fake(batch))), {}
    trainer = Trainer([Phase("d", opt, d_phase, after_step=[lambda step: sched.step()])],
                      log_every=steps + 1)
    trainer.fit(steps)
    return D
