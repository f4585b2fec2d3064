"""Callbacks that turn a training run into a run folder: logs, snapshots, checkpoints.

What they do besides training (records, snapshots, checkpoints, evaluations) is off the run's
training clock (Run.off_the_clock), so a record's ``time`` is the training alone."""
from __future__ import annotations

import functools
import sys
import time
import warnings

import torch


class MetricsLogger:
    """Appends one JSON object per log step to metrics.jsonl: the loop's logs, the training
    time over every session of the run, and each optimizer's learning rate (a Python float
    held by the optimizer: no host sync)."""

    def __init__(self, run):
        self.run = run

    def on_log(self, trainer, record):
        lrs = {f"lr_{k}": o.param_groups[0]["lr"] for k, o in self.run.optimizers.items()}
        self.run.log({"step": trainer.step, "kind": "train", "time": round(self.run.elapsed(), 3),
                      **record, **lrs})


class Progress:
    """Training's progress on stderr.  On a terminal, a tqdm bar with rate and ETA; otherwise
    (a log file, a pipe) a plain line once training has run ``AFTER`` seconds, then one every
    ``EVERY`` seconds, and one at the end if any came before: a log gets lines, not a bar's
    carriage-return frames, and a short run prints nothing, as an evaluation's progress
    (gankit.metrics.progress).  Inside its ``silenced`` (a caller of the API that asked for no
    messages) nothing; a stderr that cannot be written turns it off, never the training."""

    AFTER = 3.0       # seconds before the first plain line (an evaluation's own AFTER)
    EVERY = 30.0      # seconds between plain lines
    SHOWN = ("loss_d", "loss_g", "d_real", "d_fake")     # a log record's numbers, as the bar's postfix

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled, self.bar, self.stream = total, enabled, None, None
        self.plain, self.said, self.last, self.losses = False, 0, None, {}

    def on_train_start(self, trainer):
        from gankit.metrics import progress
        from gankit.streams import QuietStream
        self.stream = QuietStream(sys.stderr)
        if not self.enabled or self.stream.failed or progress._SILENCED > 0:
            return
        if progress._isatty(self.stream):
            self.bar = _training_bar()(total=self.total, initial=trainer.step, unit="step", dynamic_ncols=True,
                                       file=self.stream)
            self._check()
        else:
            self.plain, self.first, self.start = True, trainer.step, time.perf_counter()
            self.next_at = self.start + self.AFTER

    def _check(self) -> bool:
        """Whether the bar is still on: one whose stream failed is closed (its last writes dropped)."""
        if self.bar is not None and self.stream.failed:
            self.bar.close()
            self.bar = None
        return self.bar is not None

    def on_log(self, trainer, record):
        self.losses = {k: f"{record[k]:.3f}" for k in self.SHOWN if k in record}
        if self._check():
            self.bar.values = {k: f"{record[k]:.3g}" for k in self.SHOWN if k in record}

    def on_step_end(self, trainer):
        if self._check():
            self.bar.update(1)
        elif self.plain and time.perf_counter() >= self.next_at:
            self._say(trainer.step)
            self.next_at = time.perf_counter() + self.EVERY

    def _say(self, step: int):
        from tqdm import tqdm
        if self.stream.failed:
            self.plain = False
            return
        elapsed = time.perf_counter() - self.start
        rate = (step - self.first) / elapsed if elapsed > 0 else 0.0
        parts = [f"step {step}/{self.total}",
                 (f"{rate:.1f} step/s" if rate >= 1 else f"{1 / rate:.1f} s/step") if rate > 0 else "",
                 f"{tqdm.format_interval(elapsed)} elapsed",
                 f"{tqdm.format_interval((self.total - step) / rate)} left" if rate > 0 and step < self.total else ""]
        losses = ", ".join(f"{k}={v}" for k, v in self.losses.items())
        print(f"training: {', '.join(p for p in parts if p)}" + (f"; {losses}" if losses else ""),
              file=self.stream, flush=True)
        self.said, self.last = self.said + 1, step

    def on_train_end(self, trainer):
        if self.plain and self.said and self.last != trainer.step:
            self._say(trainer.step)      # where a log that had lines ends: finished or stopped
        self.on_train_abort(trainer)

    # a bar left open (training diverged or failed) would push every later bar of this process
    # a line lower, and print its frozen last state when collected; the error says where it stopped
    def on_train_abort(self, trainer):
        self.plain = False
        if self.bar is not None:
            self.bar.close()
            self.bar = None


# the training bar's frames, richest first: the first that leaves the bar BAR columns of the
# terminal is drawn (at 80 columns tqdm's own left it one, and cut the values off)
BAR = 8
LAYOUTS = (("| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{values}]", ", ", False),
           ("| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}]{values}", " ", True),
           ("| {n_fmt}/{total_fmt} [{elapsed}<{remaining}]{values}", " ", True),
           ("| {n_fmt}/{total_fmt} [<{remaining}]{values}", " ", True))
PAIRS = (("loss_d", "loss_g", "loss_d/g"), ("d_real", "d_fake", "d_real/fake"))


def _values(values: dict[str, str], paired: bool) -> str:
    """``loss_d=1.33, loss_g=0.836, ...``; ``paired``: a pair under one name (``loss_d/g=1.33/0.836``),
    still the records' names."""
    if not paired:
        return ", ".join(f"{k}={v}" for k, v in values.items())
    left, said = dict(values), []
    for a, b, both in PAIRS:
        if a in left and b in left:
            said.append(f"{both}={left.pop(a)}/{left.pop(b)}")
    return " ".join(said + [f"{k}={v}" for k, v in left.items()])


def _frame(values: dict[str, str], ncols=None, bar_format=None, postfix=None, **meter) -> str:
    from tqdm import tqdm
    from tqdm.utils import disp_len
    for layout, sep, paired in LAYOUTS:
        if meter["n"] >= meter["total"]:    # the frame left on screen: the time it took, not 00:00 left
            layout = layout.replace("[<{remaining}]", "[{elapsed}]")
        text = _values(values, paired)
        fmt = "{l_bar}{bar}" + layout.replace("{values}", sep + text if text else "")
        # no room for the bar once the rest is drawn: the next layout, or the last one as it is
        rest = tqdm.format_meter(ncols=None, bar_format=fmt.replace("{bar}", ""), **meter)
        if not ncols or ncols - disp_len(rest) >= BAR:
            break
    return tqdm.format_meter(ncols=ncols, bar_format=fmt, **meter)


@functools.cache
def _training_bar():
    """The training bar's tqdm class: a frame that shows ``values`` (the last record's, by name)
    in the layout that fits the terminal, chosen at each frame (a terminal resized): _frame."""
    from gankit.metrics.progress import bar_class

    class TrainingBar(bar_class()):
        values: dict[str, str] = {}

        def __str__(self):
            return _frame(self.values, **self.format_dict)
    return TrainingBar


class Snapshots:
    """Fixed-noise samples (and what the report draws from the model) every ``every`` steps
    and at the last step."""

    def __init__(self, run, every: int, total: int):
        self.run, self.every, self.total = run, every, total

    def on_train_start(self, trainer):
        if trainer.step == 0:
            self.run.save_snapshot(0)
        elif (getattr(self.run.objective, "rejection", None) is not None
              and (trainer.step < self.total or getattr(self.run.objective, "unsaved_state", False))
              and self.run.folder.has_snapshot(trainer.step)):
            # a DRS run's sampler changed when training started (FitAtEnd, before this callback):
            # a --resume that raises train.steps dropped the one fitted at the old last step (an
            # unbroken run drew that snapshot from G alone), or a resume fitted the one a signal
            # stopped (an unbroken run drew the last snapshot through it): draw it again
            self.run.save_snapshot(trainer.step)
        elif ((trainer.step % self.every == 0 or trainer.step == self.total)
              and not self.run.folder.has_snapshot(trainer.step)):
            # the process died drawing it, after the step's checkpoint: the same fixed noise again
            self.run.save_snapshot(trainer.step)

    def on_step_end(self, trainer):
        if trainer.step % self.every == 0 or trainer.step == self.total:
            self.run.save_snapshot(trainer.step)


OVERFLOWS = 1.8e19      # sqrt of float32's largest value


class FiniteSamples:
    """Stops training when G's samples are not finite after a step whose state something uses:
    a checkpoint, snapshot or evaluation step, and the last step.  The loop checks a step's
    losses, computed before its update; an update that leaves G's weights finite but its
    outputs NaN or 1e38 would otherwise be saved as the "last good" checkpoint, or evaluated
    and reported as finished.  The fixed noise (the snapshots' first ``n``) draws no stream."""

    def __init__(self, run, every: list[int], total: int, n: int = 64):
        self.run, self.every, self.total, self.n = run, [e for e in every if e], total, n

    def on_step_end(self, trainer):
        step = trainer.step
        if self.run.dataset.kind == "text" or not (step == self.total or any(step % e == 0 for e in self.every)):
            return      # token ids are integers
        with self.run.off_the_clock():
            # in the nets' units: data of 1e20, standardised, are G's outputs of about 1
            x = self.run._to_model(self.run.sample(self.n, rejection=False)[0])
        # past sqrt(float32 max) squares overflow: every distance-based metric would read inf
        bad = int((~(x.reshape(len(x), -1).abs() < OVERFLOWS).all(1)).sum()) if x.is_floating_point() else 0
        if self.run.world.parallel:     # every rank stops at the same step (batch-norm statistics differ)
            from gankit.train import distributed
            bad = max(distributed.gather(self.run.world, bad))
        if bad:
            raise trainer._diverged([f"G's samples after its update ({bad} of {self.n} from the fixed "
                                     f"noise NaN, inf or beyond {OVERFLOWS:.1e})"], step)


class Checkpointer:
    """Writes checkpoints every ``every`` steps and at the end; never a non-finite one."""

    def __init__(self, run, every: int, total: int):
        self.run, self.every, self.total = run, every, total

    def on_step_end(self, trainer):
        if trainer.step % self.every == 0 or trainer.step == self.total:
            self.run.save_checkpoint()


class SaveStartState:
    """A checkpoint when training starts with state the last one lacks (a DRS sampler a resume
    fitted): after the objective's own callbacks and after Snapshots, which reads the flag."""

    def __init__(self, run):
        self.run = run

    def on_train_start(self, trainer):
        objective = self.run.objective
        if getattr(objective, "unsaved_state", False):
            self.run.save_checkpoint()
            objective.unsaved_state = False


class PeriodicEval:
    """The config's metrics every ``every`` steps (rank 0 alone: eval-mode sampling needs no
    other rank; docs/scaling.md, metrics).  A signal that will end training after this step
    stops it between metrics, so the stop checkpoint comes in time (torchrun kills a process
    still busy 30 s after its SIGTERM); a resume measures a step whose evaluation is missing
    (stopped so, or the process killed during it, after the step's checkpoint)."""

    SOURCE = "train.eval_every"

    def __init__(self, run, every: int, log_session=lambda: None):
        self.run, self.every, self.log_session = run, every, log_session

    def on_train_start(self, trainer):
        step = trainer.step
        if self.every and step > 0 and step % self.every == 0 and self.run.is_main and not any(
                r["step"] == step and r.get("source") in (self.SOURCE, "final")
                for r in self.run.folder.records("eval")):
            # to its end: the loop trains a step before it looks at a signal, so one stopped here
            # would be measured by no later resume
            self._evaluate(trainer, stop=None)

    def on_step_end(self, trainer):
        if self.every and trainer.step % self.every == 0 and self.run.is_main:
            self._evaluate(trainer, stop=trainer.stopping_after_this_step)

    def _evaluate(self, trainer, stop):
        from gankit.eval_records import eval_settings
        from gankit.metrics import EvaluationStopped
        names = list(self.run.cfg.eval.metrics)
        with self.run.off_the_clock():
            try:
                # a user's metric that fails is left out with a warning: training goes on
                out = self.run.evaluate(names or None, named=False, stop=stop)
            except EvaluationStopped:
                warnings.warn(f"the evaluation of step {trainer.step} was stopped by the signal; "
                              "gankit train --resume measures it", stacklevel=2)
                return
            # the session measuring it first: its record holds the settings this one was measured with
            self.log_session()
            # source and settings as every other eval record: compare checks them (same sample count)
            self.run.log({"step": trainer.step, "kind": "eval", "source": self.SOURCE,
                          "settings": eval_settings(self.run, names), **out})


def nonfinite_tensors(state) -> list[str]:
    """The paths ("optimizers/d/state/0/exp_avg_sq") of the floating tensors in a nested
    dict/list ``state`` that hold NaN or inf: weights, buffers (batch-norm statistics),
    optimizer moments, EMA copies.  One host sync per device, not one per tensor."""
    found: list[tuple[str, torch.Tensor]] = []

    def walk(o, path):
        if isinstance(o, torch.Tensor):
            if o.is_floating_point() or o.is_complex():
                found.append((path, o))
        elif isinstance(o, dict):
            for k, v in o.items():
                walk(v, f"{path}/{k}" if path else str(k))
        elif isinstance(o, (list, tuple)):
            for i, v in enumerate(o):
                walk(v, f"{path}/{i}" if path else str(i))
    walk(state, "")
    ok: dict[str, bool] = {}
    for device in {t.device for _, t in found}:    # Adam's step counts stay on the CPU
        here = [(p, t) for p, t in found if t.device == device]
        flags = torch.stack([torch.isfinite(t).all() for _, t in here]).tolist()
        ok.update(zip((p for p, _ in here), flags))
    return [p for p, _ in found if not ok[p]]
