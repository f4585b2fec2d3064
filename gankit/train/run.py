"""A run: a config bound to a run folder, with the objective's declared parts built,
wrapped and checkpointed.

    cfg -> dataset, loss -> objective declares modules + optimizer specs
        -> Run moves and wraps the modules, builds the optimizers
        -> objective.setup(optimizers) makes the phases -> the loop -> the run folder

The run folder itself is read and written only through gankit.runfolder.RunFolder; what a
checkpoint holds, and how it is restored, is gankit.train.run_state; what a Run checks of the
folder before training into it, gankit.train.run_checks; a training session (``Run.train``),
gankit.train.run_training.

Under torchrun every process builds the same Run; gankit.train.distributed gives it its
rank, and the Run wraps for data parallelism (SyncBatchNorm, the loop's gradient and log
averaging hooks).  Only rank 0 (``is_main``) writes the folder.
"""
from __future__ import annotations

import time
import warnings
from types import SimpleNamespace
from contextlib import contextmanager
from pathlib import Path

import torch

from gankit import config as C
from gankit import seeds
from gankit.config import RunConfig
from gankit.data import absolute_data_location, build_dataset, build_run_dataset
from gankit.data.scaling import point_scaler
from gankit.identity import run_identity
from gankit.rank_agreement import (code_details, code_digest, data_fingerprint, ranks_config_mismatch,
                                    ranks_data_mismatch, ranks_parts_mismatch)
from gankit.ops import sample_noise
from gankit.process_state import trainable
from gankit.registry import OBJECTIVES
from gankit.runfolder import RunFolder, RunFolderError
from gankit.train.build import build_loss, build_net, build_nets, build_objective, build_optimizer
from gankit.train.device import missing, resolve_device
from gankit.train.idle_options import warn_idle_options
from gankit.train import distributed, rng_state
from gankit.metrics.user_code import code_record
from gankit.train.code_check import check_trained_code
from gankit.train.objective import Batch, ObjectiveContext, check_objective, optimizer_params
from gankit.train.parts import refuse_batch_norm_on_one_sample
from gankit.train.precision import autocast_for
from gankit.train.run_checks import refuse_going_back, refuse_trained, writer_decides
from gankit.train.run_eval import RunEvaluation
from gankit.train.run_state import RunError, RunState  # noqa: F401 (RunError: what a Run raises)
from gankit.train.run_training import RunTraining
from gankit.train.sampling import RunSampling


class Run(RunTraining, RunSampling, RunEvaluation, RunState):
    @trainable     # parameters built as ordinary tensors, from the run's own seed, in float32
    def __init__(self, cfg: RunConfig, run_dir: str | Path, device: str | None = None, dataset=None):
        self.cfg = cfg
        self.folder = RunFolder(run_dir)
        self.world = distributed.setup(resolve_device(device or cfg.train.device))
        self.device = self.world.device
        if self.world.parallel:    # before the data: a relative data.path may be missing on some machine
            _refuse_disagreeing_ranks(self.world, "the run's identity (config hash) and gankit code",
                                      (run_identity(cfg), code_digest()),
                                      lambda: (C.to_dict(cfg), code_details()), ranks_config_mismatch)
        local_cfg = distributed.local_config(cfg, self.world)   # the rank's share of the batch
        if dataset is None:
            from gankit.train.budget import check_data_memory
            check_data_memory(cfg, self.device)     # a mixture's modes, counted before they are built
        self.dataset = build_dataset(cfg, self.world.size) if dataset is None else dataset
        if self.world.parallel:    # each machine reads its own copy of the files
            held = data_fingerprint(self.dataset)
            _refuse_disagreeing_ranks(self.world, "the data", held, lambda: held,
                                      lambda seen: ranks_data_mismatch(seen, cfg))
        self.conditional = cfg.condition.kind != "none"
        # an objective's refusals of the data, before the memory check builds nets that would refuse first
        refuse_data = getattr(OBJECTIVES.get(cfg.objective.name, "objective.name").factory, "refuse_data", None)
        if refuse_data is not None:
            refuse_data(cfg, self.dataset)
        from gankit.train.budget import check_memory
        check_memory(cfg, self.dataset, self.device)   # before anything big is allocated
        # points the nets see standardised (data.standardize); every sample handed out is in data space
        self.scaler = point_scaler(self.dataset, getattr(self.dataset, "standardize", "none"))
        self.loss = build_loss(cfg)
        # data and noise: per_rank, each rank its own streams; global, all draw the world's batch
        # from the run's streams and keep their rows.  Every other draw (mismatched conditions,
        # torch's stream: dropout, instance noise, penalty interpolation) is the rank's own in both
        # modes, or the ranks would repeat each other's draws.  Rank 0's own are the run's.
        self.global_draws = self.world.parallel and cfg.train.parallel_draws == "global"
        own = seeds.rank_seed(cfg.seed, self.world.rank)
        shared = cfg.seed if self.global_draws else own
        self.data_gen = seeds.generator(shared, "data")
        self.noise_gen = seeds.generator(shared, "noise", self.device)
        self.cond_gen = seeds.generator(own, "cond")        # mismatched conditions
        ctx = ObjectiveContext(
            cfg=local_cfg, dataset=self.dataset, loss=self.loss, device=self.device,
            build_nets=lambda data=None: build_nets(cfg, data or self.dataset),
            build_discriminator=lambda data=None: build_nets(cfg, data or self.dataset, only="D"),
            build_net=lambda registry, component, **kw: build_net(registry, component, data=self.dataset, **kw),
            sample_batch=self.sample_batch, sample_z=self.sample_z, cond_gen=self.cond_gen,
            log=self.log, to_model=self._to_model,
            data_log_scale=lambda: 0.0 if self.scaler is None else float(self.scaler.scale.log().sum()),
            data_scale=lambda: None if self.scaler is None else self.scaler.scale,
            world_size=self.world.size)
        with rng_state.forked(self.device):   # init from the seed; the caller's RNG untouched
            rng_state.seed(self.device, cfg.seed)
            self.objective = build_objective(cfg, ctx)
            self.modules = dict(self.objective.modules)
            refuse_batch_norm_on_one_sample(self.modules, cfg.train.batch_size, cfg.objective.name,
                                            getattr(self.objective, "batchnorm_off", None),
                                            data_size=getattr(self.dataset, "size", None),
                                            packed=getattr(self.objective, "packed", None))
            for m in self.modules.values():
                m.to(self.device)
                if self.world.parallel:   # batch statistics of the global batch
                    from gankit.train.syncbn import convert_sync_batchnorm
                    convert_sync_batchnorm(m, self.device)
            self.autocast = autocast_for(cfg.train.precision, self.device, list(self.modules.values()),
                                         self.objective.supports_bf16, cfg.objective.name)
            if cfg.train.compile:      # in place: state_dict keys stay plain (checkpoints unchanged)
                for m in self.modules.values():
                    m.compile()
            self.optimizers = {name: build_optimizer(optimizer_params(spec, self.modules), spec.config)
                               for name, spec in self.objective.optimizers.items()}
            self.objective.setup(self.optimizers)
            check_objective(self.objective, cfg.objective.name, self.optimizers)
            clip = {id(self.optimizers[n]): spec.config.grad_clip for n, spec in self.objective.optimizers.items()}
            for phase in self.objective.phases:
                phase.grad_clip = clip.get(id(phase.optimizer), 0.0)
            self.torch_rng = torch.get_rng_state()
            self.device_rng = rng_state.device_state(self.device)    # None on the CPU
        if own != cfg.seed:   # a rank > 0: its own stream of dropout and other torch draws
            self.torch_rng = torch.Generator().manual_seed(own).get_state()
            self.device_rng = rng_state.fresh_device_state(self.device, own)
        self.step = 0
        self.schedule_span = (0, cfg.train.steps)   # the lr schedule's segment (checkpointed)
        self.loss_window = ({}, 0)       # the trainer's loss sums since its last record (checkpointed)
        self.train_time = 0.0                        # training seconds over every session
        self._clock: float | None = None             # when the clock last started; None: stopped
        self.overrides: list[str] = []               # the --set of this session (recorded)
        self._config_written = False                 # config.toml already holds those overrides
        self.config_changes: dict = {}               # key -> [old, new] against the checkpoint's config
        self.watchers: list = []                     # objects with on_record / on_snapshot (TensorBoard, live report)
        # the user's own parts as built now (each checkpoint records it: code_check); hashed once
        # here, not at each checkpoint, as state they change while training is no other code; after
        # the build, so a factory's lazy `import helpers` is followed
        self.code_record = code_record(C.to_dict(cfg))
        if self.world.parallel:    # each process imports its own machine's copy of an --import file
            # warned, not refused: the record holds the plain values a part's code reads too, and
            # a part may read one that is the rank's own on purpose (RANK, its device)
            records = distributed.gather(self.world, self.code_record)
            if self.is_main and any(r != records[0] for r in records):
                warnings.warn(ranks_parts_mismatch(records), stacklevel=2)

    # ---------------------------------------------------------------- conveniences
    @property
    def dir(self) -> Path:
        return self.folder.path

    @property
    def is_main(self) -> bool:
        """Whether this process writes the run folder (rank 0, or the only process)."""
        return self.world.is_main

    @property
    def G(self):
        return self.modules.get("G")

    @property
    def D(self):
        return self.modules.get("D")

    # ---------------------------------------------------------------- sampling
    def _share(self, n: int) -> tuple[int, slice]:
        """How many to draw for n of this rank's samples, and which of them are its own: with
        global draws every rank draws the world's batch and keeps its rank's rows."""
        if not self.global_draws:
            return n, slice(None)
        r = self.world.rank
        return n * self.world.size, slice(r * n, (r + 1) * n)

    def sample_batch(self, n: int) -> Batch:
        """n training samples on the device (with their conditions and classes when conditional)."""
        k, mine = self._share(n)
        if self.conditional:
            x, c, y = self.dataset.sample_conditional(k, self.data_gen)
            return Batch(self._to_model(x[mine].to(self.device, non_blocking=True)), c[mine].to(self.device),
                         y[mine].to(self.device))
        return Batch(self._to_model(self.dataset.sample(k, self.data_gen)[mine].to(self.device, non_blocking=True)))

    def _to_model(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.scaler is None else self.scaler.to_model(x)

    def _to_data(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.scaler is None else self.scaler.to_data(x)

    def sample_z(self, n: int) -> torch.Tensor:
        k, mine = self._share(n)
        return sample_noise(k, self.cfg.noise.dim, self.cfg.noise.dist, self.noise_gen, self.device)[mine]

    # ---------------------------------------------------------------- folder
    def log(self, record: dict):
        if not self.is_main:
            return
        with self.off_the_clock():     # watchers (TensorBoard) included
            self.folder.append(record)
            for w in self.watchers:
                getattr(w, "on_record", lambda r: None)(record)

    def save_snapshot(self, step: int):
        if not self.is_main:    # eval-mode forwards only: no collective is skipped
            return
        from gankit.train.snapshot import snapshot_arrays
        with self.off_the_clock():     # the live report's rebuilds included
            arrays = snapshot_arrays(self)
            self.folder.save_snapshot(step, arrays)
            for w in self.watchers:
                getattr(w, "on_snapshot", lambda s, a: None)(step, arrays)

    def save_checkpoint(self) -> Path:
        with self.off_the_clock():
            self._record_config()      # first: a resume from this checkpoint reads config.toml
            return super().save_checkpoint()

    def state_dict(self) -> dict:
        return {**super().state_dict(), **self.code_record}    # the user's own parts' code (code_check)

    def elapsed(self) -> float:
        """Training seconds so far, over every session of the run."""
        if self._clock is None:
            return self.train_time
        return self.train_time + time.perf_counter() - self._clock

    @contextmanager
    def off_the_clock(self):
        """The block's time (records, snapshots, checkpoints, evaluations, watchers) is not
        training time: the report, compare and benchmarks read that as the cost of training."""
        if self._clock is None:        # stopped, or paused by an enclosing block
            yield
            return
        if self.device.type == "cuda":   # queued training work is training time
            torch.cuda.synchronize(self.device)
        self.train_time, self._clock = self.elapsed(), None
        try:
            yield
        finally:
            self._clock = time.perf_counter()

    def train(self, progress: bool | None = None, final_report: bool = True) -> "Run":
        self._modes_for_training()     # a Run opened to read trains in the modes built for training
        return super().train(progress, final_report)

    def close(self):
        """Let go of the run folder's lock (also done when the Run is garbage collected)."""
        self.folder.unlock()

    # ---------------------------------------------------------------- life cycle
    @classmethod
    @trainable
    def create(cls, cfg: RunConfig, run_dir: str | Path) -> "Run":
        folder = RunFolder(run_dir)
        refuse_trained(folder, run_dir)
        folder.check_new()              # a file, or the user's own folder: refuse before building
        absolute_data_location(cfg)    # recorded absolute: the run opens from any folder later
        run = cls(cfg, run_dir)
        try:
            run._refuse_unmeasurable()      # found now, not when training is over
            from gankit.metrics.images import check_feature_net
            from gankit.train.objective import RefuseAtTrainStart
            check_feature_net(run.dataset, cfg.eval, cfg.eval.metrics)
            for c in run.objective.callbacks:    # a new run: refused before its folder is written
                if isinstance(c, RefuseAtTrainStart):
                    raise C.ConfigError(c.message)
            # what training's start would refuse, refused before the folder holds a run stopped at step 0
            from gankit.train.schedule import schedule_for
            from gankit.train.watch import require_tensorboard
            schedule_for(cfg, run.objective)
            require_tensorboard(cfg)
        except C.ConfigError:
            run.close()
            raise
        if run.is_main:
            warn_idle_options(cfg)
            ds = run.dataset
            notes = getattr(ds, "creation_notes", None) or getattr(getattr(ds, "base", None), "creation_notes", ())
            for note in notes:         # about the data: once, when the run is made
                warnings.warn(note, stacklevel=3)    # the caller's line, past the @trainable wrapper
        if run.world.parallel:   # rank 0's folder (a default name has the clock in it)
            run.folder = folder = RunFolder(distributed.agree(run.world, str(run_dir)))
            refuse_trained(folder, folder.path)
        if run.is_main:
            run.folder.claim_new()          # locked from here until the run is closed
            run.folder.write_config(C.dumps_toml(cfg))
            run._config_written = True      # the overrides are in cfg
        return run

    @classmethod
    @trainable    # a checkpoint loaded under the caller's inference_mode would be no training state
    def open(cls, run_dir: str | Path, overrides: list[str] | None = None,
             load: bool = True, write: bool = False) -> "Run":
        """Reopen a run folder from its config.toml (+ overrides) and latest checkpoint.

        ``write``: this process will write the folder (resume, drs): it takes the lock first,
        and a run killed before its first checkpoint starts again from step 0."""
        folder = RunFolder(run_dir)
        raw = folder.read_config()
        # a wrong value in config.toml named with the file (and the checkpoints' config offered),
        # in the report's words; a --set's own fault is said as the --set's
        from gankit.report.inputs import loaded_config
        cfg = loaded_config(folder, overrides, raw)
        from gankit.data import refuse_relative_recorded
        refuse_relative_recorded(cfg, run_dir, overrides or [])    # not read against this folder
        absolute_data_location(cfg, overrides or [])    # a new place given relative (--set data.path=p.npy)
        if load and overrides:      # before the data: data built under such overrides may fail first
            from gankit.identity import overrides_redefine
            problem = overrides_redefine(folder, C.to_dict(cfg), C.to_dict(loaded_config(folder, [], raw)),
                                         opened=not write)    # read (open_run, sample), not resumed
            if problem:
                raise RunFolderError(problem)
        device = None
        # the fallback is for the device config.toml holds; one asked for now (even the same) is
        # checked as a new run's
        asked = any(k.strip() == "train.device" or (k.strip() == "train" and "device" in v)
                    for k, _, v in (o.partition("=") for o in overrides or []))
        lacking = None if asked else _lacking(cfg.train.device)
        if lacking:
            # a run trained on a device this machine lacks (a GPU, another GPU's index, a Mac's mps):
            # evaluate and sample on the CPU; a resume trains there
            then = (f", and training continues on the CPU (if that is not meant, stop it with Ctrl-C and "
                    f"resume on a machine with {cfg.train.device}: its checkpoints are kept)" if write else "")
            warnings.warn(f"{run_dir} was trained on {cfg.train.device}; {lacking}, so it is opened on the "
                          f"CPU{then}", stacklevel=3)
            device = "cpu"
        # built here: data missing from where config.toml says, the error says how to give their new place
        world = distributed.setup(resolve_device(device or cfg.train.device))   # the Run's own (idempotent)
        dataset = build_run_dataset(cfg, run_dir, world.size, check_batch=write)   # sampling draws no batch
        run = cls(cfg, run_dir, device=device, dataset=dataset)
        try:
            run._open(load, write, overrides)
        except BaseException:
            run.close()      # a refused checkpoint: the folder is not kept locked
            raise
        return run

    def _open(self, load: bool, write: bool, overrides):
        # the checkpoints there when this Run read the folder: one written after them is another
        # Run's progress (run_checks.refuse_moved_on); one there already, newer than the step loaded,
        # was skipped as unreadable
        self.checkpoints_seen = {s for s, _ in self.folder.checkpoints()}
        decided = writer_decides(self, load, write)
        if decided == "load":
            stored = C.to_dict(C.load(self.folder.read_config(), [])) if overrides else None
            state, _ = self.folder.load_checkpoint(C.to_dict(self.cfg), stored)   # on the CPU; load_state_dict moves
            check_trained_code(self, state, write)     # before the nets: a changed part says it first
            self.load_state_dict(state)
            from gankit.train.rejection import unfitted_note
            note = None if write else unfitted_note(self.objective, self.step, self.cfg.train.steps, self.folder.path)
            if note:
                from gankit.train.objective import UnfittedState
                warnings.warn(UnfittedState(note), stacklevel=4)
        if write:
            refuse_going_back(self)         # every rank loaded the same step: the same answer
            # a new list given now is checked before training; one config.toml holds already was
            # accepted when the run was made (a metric left out then is left out again)
            # (and on a run started again from step 0, whose data or objective the overrides may change)
            if any(o.partition("=")[0].strip() in ("eval", "eval.metrics") for o in overrides or []) or \
                    (overrides and decided == "again"):
                self._refuse_unmeasurable()
            if overrides and self.is_main:    # what this session's settings add, not config.toml's own
                warn_idle_options(self.cfg, C.load(self.folder.read_config(), []))
        self.overrides = list(overrides or [])     # config.toml takes them once they train (_record_config)
        if not write:
            self._open_for_reading()   # eval mode: a user's run.G(z) moves no BatchNorm statistics

    def _refuse_unmeasurable(self):
        """eval.metrics that cannot measure this run (its data, its objective): refused before
        training, not after it (a resume's new list would also be saved with the run)."""
        from gankit.metrics import unmeasurable
        from gankit.train.inversion import run_inverter    # the built objective's has_latent, a user's too
        ctx = SimpleNamespace(**self.measured_parts(), settings=self.cfg.eval, dataset=self.dataset,
                              invert=run_inverter(self))
        why = unmeasurable(self.cfg.eval.metrics, self.dataset, ctx, self.cfg.objective.name)
        if why:
            raise C.ConfigError(why)

    def _record_config(self):
        """config.toml: the config of the sessions that trained it (session records keep the
        history), written once a step trained or before a checkpoint (drs trains none): new
        settings that fail before the first step leave it, so a plain --resume works again.
        A reader's overrides (an evaluation, sampling) are its own, not the run's."""
        if self.overrides and not self._config_written and self.is_main:
            self.folder.write_config(C.dumps_toml(self.cfg))
            self._config_written = True


def _refuse_disagreeing_ranks(world, what: str, value, details, explain):
    """Refuses to train when the ranks' ``value`` differ: check_same's one collective; on a
    difference (the same on every rank) each rank gathers ``details()`` and raises
    ``explain(every rank's details)``, which names the ranks and what differs."""
    try:
        distributed.check_same(world, what, value, "")
    except distributed.DistributedError:
        raise distributed.DistributedError(explain(distributed.gather(world, details()))) from None


def _lacking(name: str) -> str | None:
    """Why this machine lacks the device config.toml names, or None (present, or no device at
    all: resolve_device says so)."""
    try:
        return None if name == "auto" else missing(torch.device(name))
    except RuntimeError:
        return None
