"""A Run's training session: ``Run.train`` up to train.steps, and what one session sets up and
leaves behind (the folder locked and what came after the checkpoint set aside, threads, the lr
schedule, watchers, the loop's callbacks; a checkpoint on SIGINT/SIGTERM; a divergence recorded;
a run stopped inside a step marked torn).

A mixin of the Run (it reads the run's objective, modules, optimizers, folder and world), kept
apart so the Run's file holds how a run is built, opened and written; run_state.py holds what a
checkpoint carries, run_checks.py what is refused before training.
"""
from __future__ import annotations

import signal
import time
import warnings

import torch

from gankit.metrics.context import NonFiniteSamples
from gankit.process_state import trainable
from gankit.runfolder.records import RecordNotWritten
from gankit.streams import pasteable
from gankit.train import distributed, rng_state, threads
from gankit.train.callbacks import (Checkpointer, FiniteSamples, MetricsLogger, PeriodicEval, Progress,
                                     SaveStartState, Snapshots)
from gankit.train.loop import NonFiniteLoss, Trainer
from gankit.train.run_checks import refuse_moved_on, refuse_torn, sole_writer_in_process
from gankit.train.signals import StopOnSignal, TrainingInterrupted


class RunTraining:
    def _record_divergence(self, message: str):
        """A record saying training diverged, so the report's badge can say so (not only
        "stopped"); a folder that cannot take it leaves the error as the only word."""
        try:
            self.log({"step": self.step, "kind": "stop", "reason": "diverged", "message": message})
        except Exception as e:      # the divergence is the error to show, not this
            warnings.warn(f"could not record the divergence in {self.folder.records_path}: {e}")

    def _nan_hint(self) -> str:
        """What to try when training diverges: the objective's advice, after the data's scale
        where float32 cannot train the points as they are (no learning rate helps then) or they
        lie far from the unit scale the recipes were tuned at."""
        from gankit.train.loop import GAN_NAN_HINT
        hint = self.objective.nan_hint or GAN_NAN_HINT
        scale = getattr(self.dataset, "scale_problem", "") or getattr(self.dataset, "off_scale", "")
        if scale and getattr(self.dataset, "standardize", "none") == "none":
            return f"The data hold {scale}: set --set data.standardize=global first. {hint}"
        return hint

    @trainable
    def train(self, progress: bool | None = None, final_report: bool = True) -> "Run":
        """Train up to train.steps.  ``final_report``: with train.live_report, rewrite
        report.html at the end (False when the caller writes it after an evaluation)."""
        refuse_torn(self)
        with sole_writer_in_process(self):
            return self._train(progress, final_report)

    def _train(self, progress: bool | None, final_report: bool) -> "Run":
        from gankit.train.schedule import LRSchedules, resume_schedule, schedule_for
        from gankit.train.watch import live_report, session_record, tensorboard_writer
        cfg = self.cfg.train
        world = self.world
        if self.is_main:
            self.folder.lock()    # one writer: another process training this folder stops here
            refuse_moved_on(self)
        if self.step > 0 and self.is_main:
            # a trajectory past the checkpoint resumed from (an older one: a kill between checkpoints,
            # the newest set aside as damaged; train.steps below the step is refused before this,
            # run_checks.refuse_going_back): set aside, never deleted, and said
            said = _set_aside(self.step, self.folder.truncate_records(self.step),
                              self.folder.truncate_snapshots(self.step))
            if said:
                warnings.warn(said, stacklevel=2)
        show = (cfg.progress if progress is None else progress) and self.is_main
        if cfg.precision == "bf16" and self.dataset.kind == "points" and self.is_main:
            from gankit.train.precision import bf16_merge_note    # drawn by its own generator: no stream moves
            note = bf16_merge_note(self._to_model(self.dataset.sample(2048, torch.Generator().manual_seed(0))))
            if note:
                warnings.warn(note, stacklevel=2)
        n_threads = threads.resolve(cfg.threads, self.dataset.kind, world.local_size)
        load_follower = threads.follower(cfg.threads, self.modules.values(), world.local_size,
                                          cfg.batch_size // max(1, world.size))
        if load_follower is not None:
            n_threads = load_follower.initial()
        elif self.step > 0 and self.is_main and self.device.type == "cpu":
            said = threads.resumed_count_note(self.folder.records("session"), n_threads, world.size,
                                              self.modules.values(), cfg.batch_size // max(1, world.size))
            if said:
                warnings.warn(said, stacklevel=2)
        before = threads.apply(n_threads)
        distributed.broadcast_modules(world, self.modules.values())   # same weights everywhere
        schedule = schedule_for(self.cfg, self.objective)
        note = resume_schedule(self, schedule)
        # written once a step trained (or none was left to train): a session refused or failed
        # before its first step leaves no record of a session that never was
        session = [{**session_record(self, note), "world_size": world.size, "backend": world.backend or "none",
                    "device": str(self.device), "threads": n_threads, "threads_follow_load": bool(load_follower)}]

        def log_session():
            if session:
                self.log(session.pop())
        watchers = ([w for w in (tensorboard_writer(self), live_report(self, final_report)) if w is not None]
                    if self.is_main else [])
        self.watchers += watchers
        lrs = LRSchedules(self.optimizers, {k: s.config.lr for k, s in self.objective.optimizers.items()},
                          schedule, *self.schedule_span)

        class _Sync:  # keeps run.step in step with the loop, before any callback reads it
            def on_log(_, t, record):
                log_session()        # first in the file: before the first step's own record

            def on_step_end(_, t):
                log_session()        # with the session's first step (when it logs no record)
                self.step = t.step
                self._record_config()     # a step trained under the overrides: they are the run's
        # objective callbacks (e.g. DRS fitted at the last step) run before the snapshot,
        # evaluation and checkpoint of the same step
        # the schedule steps before the checkpoint, so a checkpoint holds the next iteration's rates
        # the checkpoint before the step's snapshot and evaluation: one of them failing (out of
        # memory drawing a grid of large images) lost the steps since the last checkpoint
        # G's samples are checked before anything uses or saves the step's state
        callbacks = [_Sync(), _StopOnRecordRefused(MetricsLogger(self)), Progress(cfg.steps, show),
                     FiniteSamples(self, [cfg.checkpoint_every, cfg.sample_every, cfg.eval_every], cfg.steps),
                     *self.objective.callbacks,
                     lrs, Checkpointer(self, cfg.checkpoint_every, cfg.steps),
                     Snapshots(self, cfg.sample_every, cfg.steps), PeriodicEval(self, cfg.eval_every, log_session),
                     SaveStartState(self)] + ([load_follower] if load_follower else [])
        trainer = Trainer(self.objective.phases, callbacks, cfg.log_every, self.autocast,
                          grad_sync=distributed.GradSync(world) if world.parallel else None,
                          reduce_logs=distributed.mean_over_ranks(world) if world.parallel else None,
                          agree_stop=distributed.max_over_ranks(world) if world.parallel else None,
                          nan_hint=self._nan_hint())
        trainer.step = self.step
        last = getattr(self, "_trainer", None)     # trained before in this process: its sums go on
        sums, count = (last.loss_sums, last.loss_count) if last is not None else self.loss_window
        trainer.loss_sums, trainer.loss_count = dict(sums), count
        self._trainer = trainer
        self._clock = time.perf_counter()
        at_a_step = True         # False while inside the loop: memory may be half a step's
        try:
            # the run's own RNG streams; the checkpoints listed for a second signal's words
            with rng_state.forked(self.device), StopOnSignal(trainer, self.folder.checkpoints):
                torch.set_rng_state(self.torch_rng)
                rng_state.set_device_state(self.device, self.device_rng)
                self.refuse_unloadable_state()
                at_a_step = False
                trainer.fit(cfg.steps)
                at_a_step = True
                if trainer.stop is None:
                    log_session()    # when no step was left to train
                if isinstance(trainer.stop, RecordNotWritten):     # one process: the step is kept
                    raise self._kept_after(trainer.stop)
                if trainer.stop is not None:      # SIGINT/SIGTERM: keep every finished step
                    path = self._stop_checkpoint()
                    name = signal.Signals(trainer.stop).name
                    if not self.is_main:    # rank 0 wrote the checkpoint and says so
                        raise TrainingInterrupted(trainer.stop, f"{name}: rank {world.rank} stopped after "
                                                  f"step {self.step}")
                    raise TrainingInterrupted(trainer.stop, f"{name} received: stopped after step {self.step} "
                                              f"of {cfg.steps}, checkpoint {path} written; continue with "
                                              f"gankit train --resume --out {pasteable(self.dir)}"
                                              + _resume_suffix())
                self.torch_rng = torch.get_rng_state()
                self.device_rng = rng_state.device_state(self.device)
            self._record_config()    # also when there was no step left to train
        except (NonFiniteLoss, NonFiniteSamples) as e:    # the latter: a periodic evaluation's draw
            kept = bool(self.folder.checkpoints())
            said = str(e) if kept else str(e).replace("the last good checkpoint is kept",
                                                      "it failed before its first checkpoint")
            self._record_divergence(said)
            if kept and isinstance(e, NonFiniteLoss):
                raise
            raise NonFiniteLoss(said) from None
        finally:
            if not at_a_step:    # a second Ctrl-C, a divergence or an error inside a step: D may hold the
                self._torn = f"after step {self.step}"    # step's update and G not; train() refuses it
            torch.set_num_threads(before)
            self.train_time, self._clock = self.elapsed(), None
            for w in watchers:
                getattr(w, "close", lambda: None)()
                self.watchers.remove(w)
        return self

    def _stop_checkpoint(self):
        """The checkpoint of the step training stopped after: the one written at it, else a new
        one (collective: every rank calls this).  Its path on rank 0."""
        saved = self.folder.checkpoints()
        # rank 0's view for every rank: another rank may read the folder before rank 0's
        # write ends, or see another folder, and saving is collective
        have = distributed.agree(self.world, bool(saved and saved[-1][0] == self.step))
        return saved[-1][1] if have and self.is_main else self.save_checkpoint() if not have else None

    def _kept_after(self, refused: RecordNotWritten) -> RecordNotWritten:
        """The error of a record the storage refused, once training stopped after its step: that
        step checkpointed, or (the checkpoint refused too: a full disk) the error as it was."""
        try:
            path = self._stop_checkpoint()
        except Exception:
            return refused
        return RecordNotWritten(f"{refused.said}; training stopped after step {self.step} of "
                                f"{self.cfg.train.steps} and kept it: checkpoint {path} written (the "
                                f"record of step {self.step} is not in {self.folder.records_path.name})",
                                refused.then)


class _StopOnRecordRefused:
    """The train records' writer (MetricsLogger), where a record the storage refuses (a file-size
    limit, a full disk) stops training after this step, as a signal does, so the Run checkpoints
    it (else every step since the last checkpoint was lost).  Several processes, or a signal
    already stopping training: the error ends it at once, as before (a stop needs every rank's
    agreement; the signal's own stop and exit code stand)."""

    def __init__(self, logger):
        self.logger = logger

    def on_log(self, trainer, record):
        try:
            self.logger.on_log(trainer, record)
        except RecordNotWritten as e:
            if trainer.agree_stop is not None or trainer.stop is not None:
                raise
            trainer.stop = e


def _resume_suffix() -> str:
    """What follows ``gankit train --resume --out RUN`` for a run on several processes."""
    from gankit.train.launch import resume_nproc, resume_words
    words, after = resume_words(resume_nproc())
    return "".join(f" {w}" for w in words) + after


def _set_aside(step: int, records: int, snapshots: int) -> str:
    """The one line saying what a resume moved aside (RunFolder.truncate_records and
    truncate_snapshots), or "" where nothing was past ``step``."""
    snaps = f"{snapshots} snapshot{'s' * (snapshots != 1)}"
    moved = (f"records and {snaps}" if records and snapshots else "records" if records else snaps if snapshots
             else "")
    where = " and ".join(w for w, n in (("metrics.discarded.jsonl", records), ("samples/discarded/", snapshots)) if n)
    return moved and (f"{moved} past step {step} moved to {where} (they came after the checkpoint "
                      "resumed from)")
