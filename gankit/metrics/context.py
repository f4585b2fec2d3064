"""The narrow view of a run that metrics get: no Run, no optimizer, no training state."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor

from gankit import seeds


class NonFiniteSamples(RuntimeError):
    """G's samples hold NaN or inf: G diverged.  Every number measured on them would be
    meaningless (a JSD of ln 2, no mode, a support larger than the data's) or a library's
    traceback, so the evaluation stops and records nothing."""

    def __init__(self, step: int, bad: int, n: int):
        self.step, self.bad, self.n = step, bad, n
        super().__init__(
            f"G diverged: {bad} of {n} samples drawn at step {step} hold NaN or inf, so nothing was measured "
            "or recorded; resume from a checkpoint before the divergence with a lower learning rate (gankit "
            "eval and gankit train --resume use the newest step_*.pt in the run's checkpoints/ folder: move "
            "later ones out of it)")


@dataclass
class EvalContext:
    dataset: object                       # exposes modes, classes, splits...: never named by a metric
    settings: object                      # the run's EvalConfig (n_samples, hq_std, features, ...)
    seed: int                             # the run's seed: evaluation streams derive from it
    device: torch.device
    step: int
    # (n, seed=None, y=None, c=None) -> (samples on the CPU, their classes or None)
    sample: Callable[..., tuple[Tensor, Tensor | None]]
    likelihood: object | None = None      # a sequence model with token_logp (NLL of data under G)
    # (x) -> class logits on the CPU, where the objective classifies (SS-GAN's D, InfoGAN's Q)
    classify: Callable[[Tensor], Tensor] | None = None
    # (x, **options) -> an Inversion (z, recon, error), where G can be inverted
    invert: Callable[..., object] | None = None
    # (x) -> the code of each sample on the CPU, where the objective has an encoder (BiGAN/ALI's E(x),
    # the AE's and VAE's encoder means): code_nn
    codes: Callable[[Tensor], Tensor] | None = None
    # (x, generator, draws) -> per sample (ELBO, E_q log p(x|z), KL) on the CPU, where the objective
    # has a bound (the VAE): elbo
    elbo: Callable[..., tuple] | None = None
    cache: dict = field(default_factory=dict)   # features shared by the metrics of one evaluation
    real: bool = False       # the real-data reference row: ``sample`` draws real data, not G

    def stream(self, name: str) -> int:
        """The seed of evaluation stream ``name``: one of gankit.seeds.EVAL, or a name of the
        metric's own (a plug-in's "my_stream"), whose seed is a hash of (seed, name) apart from
        every fixed stream.  The training streams are refused: a metric drawing the training
        noise would measure G on the very z it was trained on, not on fresh samples."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"a random stream is named by a non-empty string, got {name!r}")
        if name in seeds.TRAIN:
            raise ValueError(f"random stream {name!r} is a training stream, which a metric may not draw; "
                             f"use one of {', '.join(seeds.EVAL)} or a name of your metric's own")
        if name in seeds.EVAL:
            return seeds.stream_seed(self.seed, name)
        return seeds.own_stream_seed(self.seed, name)

    def generate(self, n: int, stream: str = "samples", y: Tensor | None = None,
                 c: Tensor | None = None) -> Tensor:
        """n samples drawn with the noise of evaluation stream ``stream``; NonFiniteSamples
        when any holds NaN or inf (token ids are integers: never)."""
        x = self.sample(n, self.stream(stream), y=y, c=c)[0]
        # one reduction per draw; the per-sample count only on the way out
        if x.is_floating_point() and not bool(torch.isfinite(x).all()):
            raise NonFiniteSamples(self.step, int((~torch.isfinite(x.reshape(len(x), -1))).any(1).sum()), len(x))
        return x

    def cached(self, key, make: Callable[[], object]):
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]
