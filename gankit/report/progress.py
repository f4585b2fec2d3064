"""How far a run got, as the report and `gankit compare` state it: the step ``--resume``
continues from and the training time up to it.  Records are written at log steps; a run
stopped between two (Ctrl-C) has its newest checkpoint further on, and that is its step."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from gankit.report.metricinfo import is_number
from gankit.runfolder import RunFolder


@dataclass
class Progress:
    step: int
    seconds: float | None    # training seconds up to ``step``; None when nothing recorded one
    at_least: bool           # ``seconds`` is that of an earlier step (the checkpoint's was unreadable)
    checkpoint: int | None   # the step of the newest intact checkpoint; None: nothing to resume from
    damaged: bool = False    # the folder holds checkpoint files, none of them intact
    folder: Path | None = None   # the run folder, named in the command that resumes it


def newest_intact_checkpoint(folder: RunFolder):
    """(step, path, state) of the newest checkpoint that loads as gankit wrote it (its step from
    its name, as --resume takes it; tensors memory-mapped, not read in), or None.  Newer files that
    do not (bad checksums, no checkpoint, NaN weights) are what ``gankit eval`` and --resume skip:
    named in one warning as eval names them, so the page gives the step those commands continue
    from, not that of a file they refuse."""
    import warnings

    from gankit.io import checksum_failure, displayable
    from gankit.runfolder.checkpoint_check import checkpoint_fault
    from gankit.runfolder.checkpoint_read import load_mapped
    skipped = []
    for step, path in reversed(folder.checkpoints()):
        why, state = checksum_failure(path), None
        if why is None:
            try:
                state = load_mapped(path)
                why = checkpoint_fault(state)
            except Exception as e:       # truncated since, or a pickle weights_only refuses
                why = f"{type(e).__name__}: " + (str(e).strip().splitlines() or [""])[0].split(". ")[0][:160]
        if why is None:
            if skipped:
                warnings.warn(f"{displayable(str(folder.checkpoint_dir))}: skipped unreadable {'; '.join(skipped)}; "
                              f"using {path.name}", stacklevel=3)
            return step, path, state
        if path.exists():               # else pruned by the training writing the run: no damage
            skipped.append(f"{path.name} ({why})")
    if skipped:
        warnings.warn(f"{displayable(str(folder.checkpoint_dir))}: skipped unreadable {'; '.join(skipped)}; none is left "
                      "to resume from", stacklevel=3)
    return None


UNREAD = object()     # run_progress's ``newest`` where the caller did not read it


def _checkpoint_seconds(state) -> float | None:
    """The training time a loaded checkpoint holds (``train_time``); None where it gives none."""
    t = state.get("train_time") if isinstance(state, dict) else None
    return float(t) if is_number(t) else None


def run_progress(folder: RunFolder, records: list[dict], snapshot_steps=(), newest=UNREAD) -> Progress:
    """The run's step: the newest of its records, snapshots and intact checkpoints; its training
    time: the newest train record's, or the checkpoint's where the checkpoint is further on.
    ``newest``: newest_intact_checkpoint(folder) where the caller read it already (compare passes
    it on to what else reads the checkpoint: one load of each run's, not three)."""
    step = max([int(s) for s in snapshot_steps] + [r.get("step", 0) for r in records], default=0)
    seconds = max([r["time"] for r in records if r.get("kind") == "train" and is_number(r.get("time"))],
                  default=None)
    at_least = False
    if newest is UNREAD:
        newest = newest_intact_checkpoint(folder)
    if newest is not None and newest[0] > step:
        step = newest[0]
        held = _checkpoint_seconds(newest[2])
        if held is not None:
            seconds = round(held, 3)    # as the train records write it
        else:
            at_least = seconds is not None
    if newest is None:
        return Progress(step, seconds, at_least, None, bool(folder.checkpoints() or folder.damaged()), folder.path)
    return Progress(step, seconds, at_least, newest[0], folder=folder.path)


def divergence(records: list[dict]) -> str | None:
    """What the newest session's divergence said (gankit.train.run writes a ``stop`` record
    when training meets non-finite values), or None: it did not diverge, or a later session
    (a resume) started after it."""
    said = None
    for r in records:
        if r.get("kind") == "session":
            said = None
        elif r.get("kind") == "stop" and r.get("reason") == "diverged":
            message = r.get("message")
            said = message if isinstance(message, str) else "non-finite values"
    return said


def stopped_note(p: Progress, total: int, checkpoint_every: int, diverged: str | None = None) -> str:
    """The badge of a run stopped before train.steps: how to go on, honest about what is there.
    ``diverged``: the divergence's message (``divergence``), said first."""
    where = f"stopped at step {p.step} of {total}"
    if diverged is not None:
        return f"diverged: {diverged.strip()} ({where}; {_resume_note(p, total, checkpoint_every, True)})"
    return f"{where}: {_resume_note(p, total, checkpoint_every)}"


def _resume_note(p: Progress, total: int, checkpoint_every: int, diverged: bool = False) -> str:
    if p.checkpoint is not None:
        lost = f"step {p.step} is" if p.step == p.checkpoint + 1 else f"steps {p.checkpoint + 1}-{p.step} are"
        again = (f" (from its checkpoint of step {p.checkpoint}: {lost} trained again)"
                 if p.checkpoint < p.step else "")
        return (f"continue with {resume_command(p.folder)}" + (" and the fix" if diverged else "") + again)
    if not p.damaged and p.step < min(checkpoint_every, total):
        return ("before its first checkpoint: nothing to resume; start it again " +
                ("with the fix" if diverged else "(if it failed, with the fix its error named)"))
    return "no intact checkpoint left in checkpoints/: nothing to resume from"


def resume_command(folder: Path | None) -> str:
    """The command that continues the run in ``folder``, to paste (--resume alone is refused)."""
    from gankit.report.page import command_word
    return f"gankit train --resume --out {command_word(folder) if folder is not None else 'RUN'}"


def live_interval(records: list[dict], sample_every: int, previous_page: float | None, build_s: float,
                  now: float, steps_left: int | None = None) -> float:
    """Seconds expected between two pages of a run that trains: they are written at snapshots,
    some skipped to keep rebuilds under a tenth of the time (gankit.train.watch.LiveReport).  The
    longest of: ``sample_every`` steps (at most ``steps_left``, those to the last step, whose page
    comes after the final evaluation) at the newest session's rate on the training clock, ten
    times ``build_s`` (this page's cost), and the time since ``previous_page`` (its mtime) where
    that page was written in this session (it counts what the training clock leaves out:
    evaluations, checkpoints, the skipped snapshots)."""
    from datetime import datetime

    start = max((i for i, r in enumerate(records) if r.get("kind") == "session"), default=-1)
    train = [r for r in records[start + 1:] if r.get("kind") == "train" and is_number(r.get("time"))
             and is_number(r.get("step"))]
    steps = train[-1]["step"] - train[0]["step"] if len(train) > 1 else 0
    every = sample_every if steps_left is None else max(1, min(sample_every, steps_left))
    cadence = (train[-1]["time"] - train[0]["time"]) / steps * every if steps > 0 else 0.0
    expected = max(10 * build_s, cadence if math.isfinite(cadence) else 0.0)     # damaged times: not read
    try:
        started = datetime.strptime(records[start]["started"], "%Y-%m-%dT%H:%M:%S%z").timestamp() \
            if start >= 0 else None
    except (KeyError, TypeError, ValueError):
        started = None           # an older or damaged session record: the previous page may be another session's
    if previous_page is not None and started is not None and started <= previous_page <= now:
        expected = max(expected, now - previous_page)
    return expected
