"""How far a run got, as the report and `gankit compare` state it: the step ``--resume``
continues from and the training time up to it.  Records are written at log steps; a run
stopped between two (Ctrl-C) has its newest checkpoint further on, and that is its step."""
from __future__ import annotations

from dataclasses import dataclass

from gankit.report.metricinfo import is_number
from gankit.runfolder import RunFolder


@dataclass
class Progress:
    step: int
    seconds: float | None    # training seconds up to ``step``; None when nothing recorded one
    at_least: bool           # ``seconds`` is that of an earlier step (the checkpoint's was unreadable)
    checkpoint: int | None   # the step of the newest intact checkpoint; None: nothing to resume from
    damaged: bool = False    # the folder holds checkpoint files, none of them intact


def newest_intact_checkpoint(folder: RunFolder):
    """(step, path) of the newest checkpoint whose file is whole (its step from its name,
    as --resume takes it; no tensor is read), or None."""
    from gankit.io import intact
    for step, path in reversed(folder.checkpoints()):
        if intact(path):
            return step, path
    return None


def _checkpoint_seconds(path) -> float | None:
    """The training time a checkpoint holds (``train_time``), read with the tensors memory-mapped,
    not loaded; None when the file does not give one."""
    try:
        import torch
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:        # damaged since intact() looked, or not a gankit checkpoint: say "at least"
        return None
    t = state.get("train_time") if isinstance(state, dict) else None
    return float(t) if is_number(t) else None


def run_progress(folder: RunFolder, records: list[dict], snapshot_steps=()) -> Progress:
    """The run's step: the newest of its records, snapshots and intact checkpoints; its training
    time: the newest train record's, or the checkpoint's where the checkpoint is further on."""
    step = max([int(s) for s in snapshot_steps] + [r.get("step", 0) for r in records], default=0)
    seconds = max([r["time"] for r in records if r.get("kind") == "train" and is_number(r.get("time"))],
                  default=None)
    at_least = False
    newest = newest_intact_checkpoint(folder)
    if newest is not None and newest[0] > step:
        step = newest[0]
        held = _checkpoint_seconds(newest[1])
        if held is not None:
            seconds = round(held, 3)    # as the train records write it
        else:
            at_least = seconds is not None
    if newest is None:
        return Progress(step, seconds, at_least, None, bool(folder.checkpoints() or folder.damaged()))
    return Progress(step, seconds, at_least, newest[0])


def stopped_note(p: Progress, total: int, checkpoint_every: int) -> str:
    """The badge of a run stopped before train.steps: how to go on, honest about what is there."""
    where = f"stopped at step {p.step} of {total}"
    if p.checkpoint is not None:
        again = (f" (from its checkpoint of step {p.checkpoint}: steps {p.checkpoint + 1}-{p.step} are "
                 "trained again)") if p.checkpoint < p.step else ""
        return f"{where}: continue with gankit train --resume{again}"
    if not p.damaged and p.step < min(checkpoint_every, total):
        return (f"{where}, before its first checkpoint: nothing to resume; start it again "
                "(if it failed, with the fix its error named)")
    return f"{where}, with no intact checkpoint left in checkpoints/: nothing to resume from"
