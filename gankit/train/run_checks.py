"""What a Run checks of its run folder before training into it, so that no session
overwrites training it does not know of:

- a new run refuses a folder that already holds a trained run;
- a run opened to train with no checkpoint starts again from step 0 when it was stopped
  before its first checkpoint, and is refused when its records go past that step (the
  checkpoints went missing: starting again would erase them); with several processes
  rank 0 decides, and the others follow it;
- a run does not go back: train.steps below its step is refused;
- a Run refuses to train a folder another Run object (in this process) trained since it
  was opened, or is training now (a thread: the folder lock is counted per process);
- a Run whose training stopped inside a step (a second Ctrl-C, a divergence, an error) refuses
  to train again from memory that matches no checkpoint.
"""
from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

from gankit.runfolder import RunFolder
from gankit.streams import pasteable
from gankit.train import distributed
from gankit.train.run_state import RunError


def refuse_trained(folder: RunFolder, where: str | Path):
    """A new run into ``folder``: refused when it holds checkpoints (as "in use", naming the PID,
    where another process trains it: its --resume would be refused too)."""
    if folder.checkpoints():
        # probed only here, where a refusal comes anyway: on the other ranks, rank 0 (another
        # process) may have locked the folder by now for this very run
        folder.refuse_in_use()
        raise RunError(f"{where} already holds a trained run; continue it with --resume "
                       "or choose another --out folder")


def writer_decides(run, load: bool, write: bool) -> str:
    """"load" the latest checkpoint, train "again" from step 0 (a run killed before its first
    checkpoint, its records cleared), or "none" (not loading).  Rank 0, the one writer, claims
    the folder and decides; the other ranks follow it, and share its refusal, rather than each
    judging a folder that rank 0 is changing or refused (a busy one, a start again)."""
    decision, refusal = ("load" if load else "none"), None
    if write and run.is_main:
        try:
            refuse_training_now(run)       # another Run of this process (a thread) is training it
            run.folder.claim_existing()
            if load and not run.folder.checkpoints() and not run.folder.damaged() and run.folder.is_gankit_run():
                start_again_or_refuse(run)
                decision = "again"
        except Exception as e:
            refusal = e
    if write and run.world.parallel:
        said = None if refusal is None else " ".join(str(refusal).split()) or type(refusal).__name__
        decision, said = distributed.agree(run.world, (decision, said))
        if refusal is None and said is not None:   # rank 0's words: the command line prints them once
            raise RunError(said)
    if refusal is not None:
        raise refusal
    return decision


def start_again_or_refuse(run):
    """A folder opened to train that holds no checkpoint: killed before its first one, its
    records and snapshots are cleared and training starts again from step 0."""
    # records past the first checkpoint's step: not a kill before it, the checkpoints went missing.
    # That step is the trained config's (config.toml), not this session's --set train.steps=...
    from gankit import config as C
    trained_with = C.load(run.folder.read_config(), []).train
    missing = run.folder.missing_checkpoints(min(trained_with.checkpoint_every, trained_with.steps))
    if missing is not None:      # the same check as a new run's into the folder (RunFolder.check_new)
        raise RunError(f"{missing[0]}; starting again would erase its records and snapshots: {missing[1]}")
    warnings.warn(f"{run.dir} has no checkpoint yet (stopped before its first one); "
                  "training starts again from step 0", stacklevel=3)
    run.folder.clear_records()
    run.folder.clear_snapshots()


def refuse_going_back(run):
    """A run opened to train past its train.steps: refused (a run does not go back)."""
    if run.step > run.cfg.train.steps:
        raise RunError(f"{run.dir} is at step {run.step}, past train.steps={run.cfg.train.steps}; a run "
                       f"does not go back: give train.steps above {run.step} to train on, or evaluate "
                       f"an earlier state with a new run")


def refuse_moved_on(run):
    """The folder's lock is per process: another Run of this folder in this process may have
    trained it since ``run`` loaded its state; going on would cut its records and checkpoints."""
    from gankit.io import intact     # a damaged newer file is no one's progress
    seen = getattr(run, "checkpoints_seen", set())     # there when it was opened: skipped as unreadable
    newest = max((s for s, p in run.folder.checkpoints() if s not in seen and intact(p)), default=0)
    if newest > run.step:
        raise RunError(f"{run.dir} holds a checkpoint of step {newest}, past this Run's step "
                       f"{run.step} (another Run object trained it since this one was opened); "
                       "open the run again (api.open_run / Run.open) to continue from there")


_TRAINING: set[str] = set()      # folders a Run of this process is training now


def refuse_training_now(run):
    if str(run.folder.path.resolve()) in _TRAINING:
        raise RunError(f"{run.dir}: another Run in this process is training this folder (a thread?); "
                       "one writer at a time: wait for it, or train into another folder")


@contextlib.contextmanager
def sole_writer_in_process(run):
    refuse_training_now(run)
    key = str(run.folder.path.resolve())
    _TRAINING.add(key)
    try:
        yield
    finally:
        _TRAINING.discard(key)


def refuse_torn(run):
    """Run.train marks a Run whose loop ended inside a step (D may hold the step's update, G not)."""
    torn = getattr(run, "_torn", None)
    if torn:
        raise RunError(f"{run.dir}: training stopped inside a step ({torn}), so this Run's weights match no "
                       "checkpoint; open the run again to continue from its last checkpoint: "
                       "gankit.api.train(resume=True, out=...) or Run.open(folder, write=True) in Python, "
                       f"gankit train --resume --out {pasteable(run.dir)} on the command line")
