"""The narrow view of a run that metrics get: no Run, no optimizer, no training state."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor

from gankit import seeds


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
    cache: dict = field(default_factory=dict)   # features shared by the metrics of one evaluation

    def stream(self, name: str) -> int:
        """The seed of evaluation stream ``name`` (gankit.seeds.EVAL)."""
        return seeds.stream_seed(self.seed, name)

    def generate(self, n: int, stream: str = "samples", y: Tensor | None = None,
                 c: Tensor | None = None) -> Tensor:
        """n samples drawn with the noise of evaluation stream ``stream``."""
        return self.sample(n, self.stream(stream), y=y, c=c)[0]

    def cached(self, key, make: Callable[[], object]):
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]
