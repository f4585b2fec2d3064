"""Training remedies as small parts the GAN objective composes (none touches the loop).

- ``InstanceNoise``: x + sigma(t) eps on D's inputs, sigma annealed to 0 (seed 001's fix for
  disjoint supports, Sonderby et al. 2016);
- ``pack`` / ``PackedData``: PacGAN (Lin et al. 2018), D judges m samples at once;
- ``MinibatchStd``, ``MinibatchDiscrimination`` and ``MinibatchHead``: batch-level features
  fed to D's last layer (Karras et al. 2018; Salimans et al. 2016);
- ``EMA``: an exponential moving average of G's weights, used for evaluation;
- ``HistoricalAverage``: lam ||theta - mean of past theta||^2 (Salimans et al. 2016);
- ``critic_schedule``: n_critic per iteration, e.g. WGAN's 100 critic steps early on;
- ``LRDecay``: learning rates held, then decayed linearly to a fraction reached at the end of training.

Everything works for any sample shape: points (n, d), images (n, c, h, w), sequences.
Random draws use torch's default generator, which the run forks and checkpoints.
"""
from __future__ import annotations

import copy
from contextlib import contextmanager
from typing import Callable

import torch
from torch import Tensor, nn

from gankit.l1kernel import closeness_bcn
from gankit.train.distributed import sum_over_ranks


# ------------------------------------------------------------------ instance noise

def instance_noise_std(step: int, sigma0: float, anneal_steps: int, schedule: str = "linear") -> float:
    """sigma(t): linear sigma0 (1 - t/T)_+, or exponential sigma0 * 0.01^(t/T) (1 % of sigma0
    just before T, 0 from T on); T = 0 keeps sigma0 for the whole run."""
    if sigma0 <= 0:
        return 0.0
    if anneal_steps <= 0:
        return sigma0
    frac = step / anneal_steps
    if frac >= 1:
        return 0.0
    if schedule == "linear":
        return sigma0 * (1.0 - frac)
    if schedule == "exponential":
        return sigma0 * 0.01 ** frac
    raise ValueError(f"instance noise schedule {schedule!r}: valid choices: linear, exponential")


class InstanceNoise:
    """A ``d_input`` transform: x -> x + sigma(step) * N(0, I), real and fake alike."""

    def __init__(self, sigma0: float, anneal_steps: int, schedule: str = "linear"):
        self.sigma0, self.anneal_steps, self.schedule = sigma0, anneal_steps, schedule

    def sigma(self, step: int) -> float:
        return instance_noise_std(step, self.sigma0, self.anneal_steps, self.schedule)

    def __call__(self, x: Tensor, step: int) -> Tensor:
        s = self.sigma(step)
        return x + s * torch.randn_like(x) if s > 0 else x


# ------------------------------------------------------------------ packing (PacGAN)

def pack(x: Tensor, m: int) -> Tensor:
    """(n, s0, s1, ...) -> (n/m, m*s0, s1, ...): m consecutive samples side by side along the
    first sample axis (coordinates of points, channels of images)."""
    n = len(x)
    if n % m:
        raise ValueError(f"packing {m} samples: the batch of {n} is not a multiple of {m}")
    return x.reshape(n // m, m * x.shape[1], *x.shape[2:]) if x.ndim > 1 else x.reshape(n // m, m)


class PackedData:
    """A view of a dataset whose samples look packed: what D's factory must build for."""

    def __init__(self, data, m: int):
        self._data, self.m = data, m
        s = tuple(data.shape)
        self.shape = (m * s[0], *s[1:]) if s else (m,)
        if getattr(data, "dim", None) is not None and len(s) == 1:
            self.dim = self.shape[0]

    def __getattr__(self, name):
        return getattr(self._data, name)


# ------------------------------------------------------------------ minibatch layers

class MinibatchStd(nn.Module):
    """Karras et al. 2018: the std of each feature over a group of samples, averaged over the
    features: one number per group, appended to every sample of the group.  (n, ...) -> (n, 1)."""

    out_dim = 1
    reference = 0        # beside(): the batch's first rows are a reference batch

    def __init__(self, group_size: int = 4, eps: float = 1e-8):
        super().__init__()
        self.group_size, self.eps = group_size, eps

    def _group(self, n: int) -> int:
        g = min(self.group_size, n) if self.group_size > 0 else n
        return n if n % g else g                    # a ragged batch: one group

    def _std(self, h: Tensor) -> Tensor:
        """(groups, g, features) -> (groups,)"""
        return (h.var(1, unbiased=False) + self.eps).sqrt().mean(1)

    def forward(self, h: Tensor) -> Tensor:
        r = self.reference
        if r:
            return torch.cat([self._batch(h[:r]), self._beside(h[:r], h[r:])])
        return self._batch(h)

    def _batch(self, h: Tensor) -> Tensor:
        n = len(h)
        g = self._group(n)
        return self._std(h.reshape(n // g, g, -1)).repeat_interleave(g)[:, None]

    def _beside(self, ref: Tensor, x: Tensor, chunk: int = 256) -> Tensor:
        """Each row of x as the last member of a batch of len(ref) + 1: its group is the
        last g - 1 reference rows and itself."""
        g = self._group(len(ref) + 1)
        mates = ref.reshape(len(ref), -1)[len(ref) - (g - 1):][None]
        x = x.reshape(len(x), 1, -1)
        return torch.cat([self._std(torch.cat([mates.expand(len(p), -1, -1), p], 1))
                          for p in x.split(chunk)] or [x.new_zeros(0)])[:, None]


class MinibatchDiscrimination(nn.Module):
    """Salimans et al. 2016: M_i = h_i T (B x C); o_b(x_i) = sum_{j != i} exp(-||M_i,b - M_j,b||_1)
    (Salimans et al. sum over every j: 1 more per kernel, which the read-out's bias absorbs).
    (n, features) -> (n, B): how close each sample is to the others of its batch.  Batches
    larger than ``chunk`` compare within chunks of that size; D scored over a plot grid is
    scored ``beside`` a reference batch instead (a grid's dense neighbours would read as a
    collapsed batch)."""

    spectral_norm_params = ("T",)      # h -> h T is a linear layer of D (apply_spectral_norm)
    reference = 0        # beside(): the batch's first rows are a reference batch

    def __init__(self, in_dim: int, kernels: int = 16, kernel_dim: int = 8, chunk: int = 1024):
        super().__init__()
        self.B, self.C, self.chunk = kernels, kernel_dim, chunk
        self.T = nn.Parameter(torch.randn(in_dim, kernels * kernel_dim) * 0.1)
        self.out_dim = kernels

    def _block(self, h: Tensor) -> Tensor:
        Mt = (self.T.t() @ h.t()).view(self.B, self.C, len(h))          # M_i = h_i T, as (B, C, n)
        return closeness_bcn(Mt).T

    def forward(self, h: Tensor) -> Tensor:
        h = h.reshape(len(h), -1)
        r = self.reference
        if r:
            return torch.cat([self._block(h[:r]), self._beside(h[:r], h[r:])])
        if len(h) <= self.chunk:
            return self._block(h)
        return torch.cat([self._block(h[i:i + self.chunk]) for i in range(0, len(h), self.chunk)])

    def _beside(self, ref: Tensor, x: Tensor, chunk: int = 2048) -> Tensor:
        """Each row of x as one more member of the reference batch: its closeness to every
        reference row (the reference rows' own closeness is not changed by it).  Forward only
        (plots): cdist's slow backward is not in play here."""
        Mr = (self.T.t() @ ref.t()).view(self.B, self.C, len(ref)).transpose(1, 2)     # (B, r, C)
        return torch.cat([torch.exp(-torch.cdist((self.T.t() @ p.t()).view(self.B, self.C, len(p)).transpose(1, 2),
                                                 Mr, p=1)).sum(2).t()
                          for p in x.split(chunk)] or [x.new_zeros(0, self.B)])


def reads_batch(D: nn.Module) -> bool:
    """D's output for a sample depends on the other samples of its batch (minibatch features)."""
    return any(isinstance(m, (MinibatchStd, MinibatchDiscrimination)) for m in D.modules())


@contextmanager
def beside(D: nn.Module, n_ref: int):
    """Within it, D's batch-level features read a batch as n_ref reference rows, then rows to
    score: each row to score gets the features it would have as one more sample of the
    reference batch, whatever the other rows to score (a plot grid's points, scored together,
    would otherwise be each other's batch)."""
    layers = [m for m in D.modules() if isinstance(m, (MinibatchStd, MinibatchDiscrimination))]
    for m in layers:
        m.reference = n_ref
    try:
        yield
    finally:
        for m in layers:
            m.reference = 0


class MinibatchHead(nn.Module):
    """D's head plus a linear read-out of batch statistics of the features it sees:
    head(h) + W stats(h), which equals head applied to [h, stats(h)] for a linear head.
    Both start as the plain head (W = 0).

    ``joint``: one linear layer on [h, stats(h)], initialised from the head's weights, for
    a spectrally normalised D: normalising head and W apart would bound the read-out by
    sqrt 2 instead of 1, and a zero W has no singular value (a single statistic's 1 x 1 W
    would be fixed at +-1)."""

    def __init__(self, head: nn.Module, stats: nn.Module, joint: bool = False):
        super().__init__()
        self.stats, self.is_joint = stats, joint
        self.out_features = getattr(head, "out_features", 1)
        if joint:
            if not isinstance(head, nn.Linear):
                raise ValueError(f"a joint minibatch read-out needs a linear head, not {type(head).__name__}")
            self.joint = nn.Linear(head.in_features + stats.out_dim, head.out_features,
                                   bias=head.bias is not None)
            with torch.no_grad():
                self.joint.weight.zero_()
                self.joint.weight[:, :head.in_features] = head.weight
                if head.bias is not None:
                    self.joint.bias.copy_(head.bias)
            return
        self.head = head
        self.read = nn.Linear(stats.out_dim, self.out_features, bias=False)
        nn.init.zeros_(self.read.weight)

    def forward(self, h: Tensor) -> Tensor:
        if self.is_joint:
            return self.joint(torch.cat([h, self.stats(h)], -1))
        return self.head(h) + self.read(self.stats(h))


# ------------------------------------------------------------------ averages of weights

class EMA:
    """theta_ema <- beta theta_ema + (1 - beta) theta after each G step from ``start`` on (a
    copy of theta before it); buffers (batch-norm statistics) are copied."""

    def __init__(self, module: nn.Module, beta: float, start: int = 0):
        self.module, self.beta, self.start = module, beta, start
        self.shadow = copy.deepcopy(module).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, step: int):
        beta = self.beta if step >= self.start else 0.0
        for e, p in zip(self.shadow.parameters(), self.module.parameters()):
            e.lerp_(p, 1.0 - beta)                     # e + (1 - beta)(p - e)
        for e, b in zip(self.shadow.buffers(), self.module.buffers()):
            e.copy_(b)

    @torch.no_grad()
    def start_fresh(self):
        """The shadow becomes a copy of the module's current weights (EMA switched on at resume:
        the average starts from the resumed G, not from its initial weights)."""
        for e, p in zip(self.shadow.parameters(), self.module.parameters()):
            e.copy_(p)
        for e, b in zip(self.shadow.buffers(), self.module.buffers()):
            e.copy_(b)

    def state_dict(self) -> dict:
        return self.shadow.state_dict()

    def load_state_dict(self, state: dict):
        self.shadow.load_state_dict(state)


class HistoricalAverage:
    """Salimans et al. 2016: lam * ||theta - (1/t) sum_i theta_i||^2 over past parameters."""

    def __init__(self, params, lam: float):
        self.params = [p for p in params]
        self.lam = lam
        self.avg = [p.detach().clone() for p in self.params]
        self.count = torch.zeros((), dtype=torch.long)

    def penalty(self) -> Tensor:
        return self.lam * sum(((p - a) ** 2).sum() for p, a in zip(self.params, self.avg))

    @torch.no_grad()
    def update(self, step: int):
        self.count += 1
        w = 1.0 / float(self.count + 1)            # the initial weights count as the first
        for a, p in zip(self.avg, self.params):
            a.lerp_(p, w)

    @torch.no_grad()
    def start_fresh(self):
        """The average restarts at the current weights (switched on at resume)."""
        for a, p in zip(self.avg, self.params):
            a.copy_(p)
        self.count.zero_()

    def state_dict(self) -> dict:
        return {"avg": [a.clone() for a in self.avg], "count": self.count.clone()}

    def load_state_dict(self, state: dict):
        for a, s in zip(self.avg, state["avg"]):
            a.copy_(s)
        self.count.copy_(state["count"])


# ------------------------------------------------------------------ n_critic schedules

def critic_schedule(k: int, boost: int = 0, first: int = 25, every: int = 500) -> Callable[[int], int]:
    """D steps at G iteration t: ``boost`` when t < first or t % every == 0 (WGAN: 100, 25,
    500), else k.  boost = 0: always k."""
    if boost <= 0:
        return lambda step: k
    return lambda step: boost if (step < first or (every > 0 and step % every == 0)) else k



# ------------------------------------------------------------------ learning-rate decay

def lr_factor(step: int, total: int, start: float, final: float) -> float:
    """1 until ``start`` * total steps, then linear down to ``final`` at ``total``."""
    t0 = start * total
    if step <= t0 or total <= t0:
        return 1.0
    return 1.0 + (final - 1.0) * min(1.0, (step - t0) / (total - t0))


def feature_matching(real_features: Tensor, fake_features: Tensor) -> Tensor:
    """Feature matching (Salimans et al. 2016): ||E f(x) - E f(G(z))||^2, f(x) held fixed.

    The means are over the global batch: in a data-parallel run each process holds its
    share of the samples, and the loss of the whole batch is not the mean of the shares'
    losses.  The gradient still reaches this process's fake samples (sum_over_ranks)."""
    fr = real_features.detach().float().reshape(len(real_features), -1)
    ff = fake_features.float().reshape(len(fake_features), -1)
    d = fr.shape[1]
    sums = sum_over_ranks(torch.cat([fr.sum(0), ff.sum(0), ff.new_tensor([len(fr), len(ff)])]))
    return ((sums[:d] / sums[-2] - sums[d:2 * d] / sums[-1]) ** 2).sum()
