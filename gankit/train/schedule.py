"""Learning-rate schedules: each optimizer's rate set from the step once per iteration.

The factor multiplying each optimizer's base rate (optim_*.lr) at iteration ``step`` of a
schedule segment [begin, end) of n = end - begin steps, with i = step - begin:

    warmup   i < W = round(warmup * n):      (i + 1) / W
    decay    t0 = max(decay_start * n, W);  i <= t0:  1
             linear:  1 + (final - 1) * min(1, (i - t0) / (n - t0))
             cosine:  final + (1 - final) * (1 + cos(pi * min(1, (i - t0) / (n - t0)))) / 2

``final`` is reached at i = n, the end of training: the last iteration (i = n - 1) runs one
step of the decay above it (e.g. linear, no delay: final + (1 - final) / n).

With begin = 0, no warmup and the linear kind this is exactly the GAN objective's
``lr_decay_final`` / ``lr_decay_start`` decay (``gankit.train.remedies.lr_factor``), which
the objective declares as its schedule.

The segment is part of the run's state (checkpointed).  A ``--resume`` that changes
train.steps either keeps it (``train.lr_on_resume = continue``: past its end the rates
stay at their final value) or starts a new segment from the resume step to the new
train.steps (``restart``).  A schedule switched on at a resume (the checkpoint's was
constant) always starts a new segment there.  The rate is a pure function of the step, so a
resumed run continues exactly.
"""
from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass

from gankit.config import ConfigError


@dataclass
class Schedule:
    kind: str = "constant"       # constant | linear | cosine
    warmup: float = 0.0
    decay_start: float = 0.0
    final: float = 1.0

    def factor(self, step: int, begin: int, end: int) -> float:
        n, i = end - begin, step - begin
        warm = round(self.warmup * n)
        if i < warm:
            return (i + 1) / warm
        if self.kind == "constant":
            return 1.0
        t0 = max(self.decay_start * n, warm)     # decay begins after the warmup
        if i <= t0 or n <= t0:
            return 1.0
        frac = min(1.0, (i - t0) / (n - t0))
        if self.kind == "linear":
            return 1.0 + (self.final - 1.0) * frac
        return self.final + (1.0 - self.final) * (1.0 + math.cos(math.pi * frac)) / 2.0

    @property
    def is_constant(self) -> bool:
        return self.kind == "constant" and self.warmup == 0.0


def schedule_for(cfg, objective) -> Schedule:
    """The run's schedule: train.lr_schedule, or the one the objective declares (e.g. the
    GAN objective's lr_decay_final); both at once is a config error."""
    t = cfg.train
    own = Schedule(t.lr_schedule, t.lr_warmup, t.lr_decay_start, t.lr_final)
    if getattr(objective, "sets_own_lr", False) and not own.is_constant:
        raise ConfigError(f"train.lr_schedule / train.lr_warmup: the {cfg.objective.name!r} objective sets "
                          "its learning rates itself in each phase; use train.lr_schedule=constant")
    declared = getattr(objective, "lr_schedule", None)
    if declared is None:
        return own
    if not own.is_constant:
        raise ConfigError(f"train.lr_schedule = {t.lr_schedule!r} (or train.lr_warmup) and the "
                          f"{cfg.objective.name!r} objective's own learning-rate decay are both set; "
                          "keep one (e.g. --set objective.lr_decay_final=1.0)")
    return declared


class LRSchedules:
    """A callback: every optimizer's rate = its base rate x the schedule's factor at the step,
    over the segment [begin, end), set at the start of training and after each iteration.
    (Assigned directly, as torch's LambdaLR would with the same function: its step() cost
    ~0.13 ms an iteration, 2% of a ring step; the rate is a pure function of the step, so
    there is no scheduler state to checkpoint.)"""

    def __init__(self, optimizers: dict, base_lrs: dict, schedule: Schedule, begin: int, end: int):
        self.optimizers, self.base_lrs = optimizers, base_lrs
        self.schedule, self.begin, self.end = schedule, begin, end

    def lr_at(self, step: int) -> float:
        return self.schedule.factor(step, self.begin, self.end)

    def _set(self, factor: float):
        for name, opt in self.optimizers.items():
            lr = self.base_lrs[name] * factor
            for g in opt.param_groups:
                g["lr"] = lr

    def on_train_start(self, trainer):
        # the config's rates, whatever the checkpoint held (a --set optim_*.lr on resume holds)
        self._set(1.0 if self.schedule.is_constant else self.lr_at(trainer.step))

    def on_step_end(self, trainer):
        if not self.schedule.is_constant:      # constant rates: nothing to do in the hot loop
            self._set(self.lr_at(trainer.step))


def resume_schedule(run, schedule) -> str:
    """Where the lr schedule goes at the start of a session (a resume may change train.steps or
    switch a schedule on); a line saying so, or "" when nothing needs saying."""
    begin, end = run.schedule_span
    steps = run.cfg.train.steps
    if 0 < steps <= run.step:    # nothing left to train: a note would change nothing (said again on each resume)
        return ""
    before = getattr(run, "schedule_in_force", None)   # the checkpoint's (None: older, unknown)
    run.schedule_in_force = dataclasses.asdict(schedule)
    if run.step == 0:
        run.schedule_span = (0, steps)
        return ""
    if schedule.is_constant:
        run.schedule_span = (begin, steps)
        return ""
    if before is not None and Schedule(**before).is_constant:
        # the stored span was never a schedule's plan: the new one runs over what is left
        run.schedule_span = (run.step, steps)
        note = (f"learning-rate schedule switched on at step {run.step} (the rates were constant "
                f"before): it runs over steps {run.step}..{steps}")
    elif end == steps:
        return ""
    elif run.cfg.train.lr_on_resume == "restart":
        run.schedule_span = (run.step, steps)
        note = (f"learning-rate schedule restarted: steps {run.step}..{steps} "
                f"(train.lr_on_resume = restart)")
    elif steps > end and schedule.factor(end, begin, end) == 0.0:
        # a decay to 0 (train.lr_final = 0, its default): the steps past its end would train at
        # rate 0, which the plain note below hid (its "final value" read as a working rate)
        note = (f"learning-rate schedule continued as planned for steps {begin}..{end}; the rates stay "
                f"at their final value, 0, after step {end}: the {steps - end} steps from {end} to "
                f"{steps} change no weight ({_restart_option()} starts the schedule anew over them)")
    else:
        note = (f"learning-rate schedule continued as planned for steps {begin}..{end}; "
                + (f"the rates stay at their final value after step {end}" if steps > end else
                   f"training stops at step {steps}, before its end")
                + f" ({_restart_option()} starts it anew over the remaining steps)")
    if getattr(run, "is_main", True):     # one line for the run, not one per process
        # a caller of the API silences it as any warning, and sees it at its own call (api.train)
        warnings.warn(note, stacklevel=_outside_gankit())
    return note


def _restart_option() -> str:
    """The way to ask for a restart, in the words of whoever resumed: the command line's, or gankit.api's."""
    from gankit.wording import COMMAND_LINE
    return "--set train.lr_on_resume=restart" if COMMAND_LINE.get() else 'overrides=["train.lr_on_resume=restart"]'


def _outside_gankit() -> int:
    """The stacklevel, for a warnings.warn in the function calling this, of the first frame outside
    gankit (what Python 3.12's skip_file_prefixes does; gankit runs on 3.11)."""
    import os
    import sys
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level
