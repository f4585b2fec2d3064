"""The one training loop.  It knows phases and callbacks, not losses or nets.

A phase is data: which optimizer, how many repeats this iteration, a function
returning (loss, logs).  Algorithm 1 is [D phase x k, G phase x 1]; lazy
regularisation, n_critic schedules or policy-gradient steps are other phase lists.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import contextlib
import math
from typing import Callable, ContextManager

import torch
from torch import Tensor


@dataclass
class Phase:
    name: str
    optimizer: torch.optim.Optimizer
    loss: Callable[["StepContext"], tuple[Tensor, dict[str, Tensor]]]
    repeat: Callable[[int], int] = lambda step: 1    # repeats at iteration `step`
    after_step: list[Callable[[int], None]] = field(default_factory=list)  # e.g. weight clipping
    params: list[torch.nn.Parameter] | None = None   # for gradient-norm logging
    grad_clip: float = 0.0     # max global gradient norm (0: off); the Run sets it from the optimizer's config

    def __post_init__(self):
        if self.params is None:
            self.params = [p for g in self.optimizer.param_groups for p in g["params"]]


@dataclass
class StepContext:
    """What a phase's loss may use: the iteration, whether to log, scratch space."""
    step: int
    logging: bool
    scratch: dict = field(default_factory=dict)  # shared between phases of one iteration


STOP_EVERY = 10    # steps between the processes' agreements on stopping (one scalar all-reduce)


class NonFiniteLoss(RuntimeError):
    pass


def _losses_on_cpu(logs: dict[str, Tensor]) -> bool:
    return all(v.device.type == "cpu" for k, v in logs.items() if k.startswith("loss_"))


def _finite(v: Tensor) -> bool:
    # a scalar through .item(): ~1 us, where torch.isfinite(v).all() takes ~10
    return math.isfinite(v.item()) if v.numel() == 1 else bool(torch.isfinite(v).all())


def _phase_result(phase: Phase, out, step: int) -> tuple[Tensor, dict]:
    """(loss, logs) of a phase's function, refused where backward or the unpacking would fail with
    torch's or Python's words, which name no phase: checked each call (attributes only: no sync)."""
    from gankit.config import ConfigError

    def named() -> str:     # only when refused: nothing is formatted on the training step's path
        return f"phase {phase.name!r} ({_function_name(phase.loss)})"
    pair = isinstance(out, (tuple, list))
    if not pair or len(out) != 2 or not isinstance(out[1], dict):
        got = (f"a {type(out).__name__}" if not pair else f"a {type(out).__name__} of {len(out)}" if len(out) != 2
               else f"({type(out[0]).__name__}, {type(out[1]).__name__})")
        raise ConfigError(f"{named()} returned {got} at step {step + 1}; a phase's function returns "
                          f"(loss, logs): a scalar tensor and a dict of tensors to log ({{}} for none)")
    loss = out[0]
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        # a loss left unreduced: backward would say "grad can be implicitly created only for scalar outputs"
        got = f"shape {tuple(loss.shape)}" if isinstance(loss, Tensor) else type(loss).__name__
        raise ConfigError(f"phase {phase.name!r} returned a loss of {got} at step {step + 1}; a phase's loss "
                          f"must be a scalar tensor: reduce it (e.g. .mean()) in the loss or objective that "
                          f"computes it")
    if not loss.requires_grad:
        raise ConfigError(f"{named()} returned a loss without a gradient at step {step + 1} (computed under "
                          f"torch.no_grad(), detached, or from no parameter): compute it from the modules "
                          f"its optimizer updates")
    return out


def _function_name(fn) -> str:
    """Where a phase's function is written ("mymod.LSQ.setup.<locals>.g_step"): the user's code."""
    return f"{getattr(fn, '__module__', None) or '?'}.{getattr(fn, '__qualname__', type(fn).__name__)}"


GAN_NAN_HINT = ("Try a lower learning rate (--set optim_d.lr=... --set optim_g.lr=...), a gradient penalty, "
                "or a bounded loss.")


class Trainer:
    """Runs phases for ``steps`` iterations; callbacks see logs at log steps.

    Logs stay on the device as tensors and are summed; the host syncs once per
    log interval (no ``.item()`` in the hot step; on the CPU, where reading a loss is no sync,
    each step's losses are checked for NaN and inf).

    Data parallelism enters through two hooks the Run sets, unseen by the objective:
    ``grad_sync(phase)`` between a phase's backward and its optimizer step (averages the
    gradients across processes), and ``reduce_logs(values)`` on the vector of logged
    values at a log step (averages them across processes).
    """

    def __init__(self, phases: list[Phase], callbacks: list = (), log_every: int = 50,
                 autocast: Callable[[], ContextManager] = contextlib.nullcontext,
                 grad_sync: Callable[[Phase], None] | None = None,
                 reduce_logs: Callable[[Tensor], Tensor] | None = None,
                 agree_stop: Callable[[int], int] | None = None,
                 nan_hint: str = ""):
        self.nan_hint = nan_hint or GAN_NAN_HINT   # the objective's own advice (a VAE has no D to penalise)
        self.phases = phases
        self.autocast = autocast       # the forward passes' context (mixed precision)
        self.grad_sync = grad_sync
        self.reduce_logs = reduce_logs
        # several processes: a signal reaches them at different steps, and one that stopped alone
        # would leave the others waiting in a collective; every STOP_EVERY steps they agree
        # (the max over ranks of each one's stop signal, 0 = none) and stop together
        self.agree_stop = agree_stop
        self.callbacks = list(callbacks)
        self.log_every = log_every
        self.step = 0
        # set to stop after the current step: a signal number, or another reason (the Run's error
        # for a record the storage refused: gankit/train/run_training.py)
        self.stop = None
        # a stop that cut short work of the last step (the DRS fit): the run ends stopped, so
        # --resume completes it, even where the last step would otherwise clear the stop
        self.keep_stop = False
        # running sums of the losses since the last log step (a checkpoint keeps them: a record
        # after a resume averages the same steps as one of a run never stopped)
        self.loss_sums: dict[str, Tensor] = {}
        self.loss_count = 0

    def _grad_norm(self, params) -> Tensor:
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return torch.zeros(())
        return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))

    def run_iteration(self, step: int, logging: bool) -> dict[str, Tensor]:
        ctx = StepContext(step, logging)
        logs: dict[str, Tensor] = {}
        for phase in self.phases:
            n = phase.repeat(step)
            for _ in range(n):
                with self.autocast():          # forward under autocast, backward outside
                    loss, plogs = _phase_result(phase, phase.loss(ctx), step)
                phase.optimizer.zero_grad(set_to_none=True)
                # only the gradients this phase's optimizer steps: the G step skips D's weight
                # gradients (D's input gradient still flows back to G), the textbook loop does not
                torch.autograd.backward(loss, inputs=[p for g in phase.optimizer.param_groups
                                                      for p in g["params"] if p.requires_grad] or None)
                if self.grad_sync is not None:
                    self.grad_sync(phase)
                if phase.grad_clip > 0:      # the norm before clipping is the one logged
                    norm = torch.nn.utils.clip_grad_norm_(phase.params, phase.grad_clip)
                    if logging:
                        logs[f"grad_norm_{phase.name}"] = norm.detach()
                elif logging:
                    logs[f"grad_norm_{phase.name}"] = self._grad_norm(phase.params)
                phase.optimizer.step()
                for hook in phase.after_step:
                    hook(step)
            if n:
                logs[f"loss_{phase.name}"] = loss.detach()
                logs.update(plogs)
        return logs

    def _diverged(self, bad: list[str], first: int) -> NonFiniteLoss:
        """The error for non-finite ``bad`` values that arose in steps ``first``..self.step."""
        when = f"at step {self.step}" if first >= self.step else f"between steps {first} and {self.step}"
        return NonFiniteLoss(f"non-finite values {when}: {', '.join(bad)}. Training stopped; "
                             f"the last good checkpoint is kept. {self.nan_hint}")

    def stopping_after_this_step(self) -> bool:
        """Whether a signal received will end training after the current step: at once in one
        process; with several, only at a step where they agree on stopping (every STOP_EVERY),
        and not at the last (a signal in the last steps stops nothing more)."""
        if self.stop is None:
            return False
        if self.agree_stop is None:
            return True
        return self.step % STOP_EVERY == 0 and self.step < getattr(self, "steps", self.step + 1)

    def fit(self, steps: int):
        """Train up to ``steps``: callbacks' on_train_start, then per step on_log and on_step_end,
        and on_train_end at the end or a stop; on any other way out (a divergence, an error, a
        second Ctrl-C) on_train_abort instead, so what a callback holds open (a progress bar) is
        closed, and the error raised."""
        try:
            self._fit(steps)
        except BaseException:
            for cb in self.callbacks:
                getattr(cb, "on_train_abort", lambda t: None)(self)
            raise

    def _fit(self, steps: int):
        self.steps = steps
        for cb in self.callbacks:
            getattr(cb, "on_train_start", lambda t: None)(self)
        sums, count = self.loss_sums, self.loss_count
        while self.step < steps:
            step = self.step
            logging = (step + 1) % self.log_every == 0 or step + 1 == steps
            logs = self.run_iteration(step, logging)
            # running sums of the losses between log steps; NaN propagates into them
            for k, v in logs.items():
                if k.startswith("loss_"):
                    sums[k] = sums.get(k, 0.0) + v
            count += 1
            self.loss_sums, self.loss_count = sums, count
            self.step = step + 1
            # each step's losses are checked where that is free: on the CPU (~2 us a step against
            # a ring step's ~7 ms) and in one process (ranks stopping at different steps would
            # leave the others waiting in a collective); elsewhere (a host sync every step) the
            # log steps check the loss means, and name the steps since the last record
            every_step = self.agree_stop is None and _losses_on_cpu(logs)
            if every_step:
                bad = [k for k, v in logs.items() if k.startswith("loss_") and not _finite(v)]
                if bad:
                    raise self._diverged(bad, self.step)
            if logging:
                out = {k: v for k, v in logs.items() if not k.startswith("loss_")}
                out.update({k: v / count for k, v in sums.items()})
                keys = list(out)
                values = torch.stack([torch.as_tensor(out[k], dtype=torch.float32).reshape(())
                                      .to("cpu") for k in keys])   # one host sync
                if self.reduce_logs is not None:
                    values = self.reduce_logs(values)
                values = values.tolist()
                record = dict(zip(keys, values))
                n_mean = count
                if self.step % self.log_every == 0:
                    sums, count = {}, 0
                # else the last step's own record: its sums go on, so a resume that raises
                # train.steps averages its next record over the same steps as an unbroken run
                self.loss_sums, self.loss_count = sums, count
                bad = [k for k, v in record.items() if not math.isfinite(v)]
                if bad:
                    # a mean loss covers the steps since the last record (unless checked every
                    # step, on the CPU); the other values are this step's own
                    window = any(k.startswith("loss_") for k in bad) and not every_step
                    raise self._diverged(bad, self.step - n_mean + 1 if window else self.step)
                for cb in self.callbacks:
                    getattr(cb, "on_log", lambda t, r: None)(self, record)
            for cb in self.callbacks:
                getattr(cb, "on_step_end", lambda t: None)(self)
            if self.agree_stop is None:
                if self.stop is not None:
                    break
            elif self.step % STOP_EVERY == 0 and self.step < steps:
                agreed = self.agree_stop(int(self.stop or 0))
                if agreed:
                    self.stop = self.stop or agreed
                    break
        if self.agree_stop is not None and self.step >= steps and not self.keep_stop:
            self.stop = None    # finished: a signal one rank got in the last steps stops nothing more
        for cb in self.callbacks:
            getattr(cb, "on_train_end", lambda t: None)(self)
