"""What a Run saves and restores: its checkpoint state (weights, optimizers, the objective's
state, the random streams of every rank, the training clock) and the checks on the way in
and out (no checkpoint holding NaN or inf is ever written, nor one RunFolder cannot read back;
a checkpoint of other nets is refused).

A mixin of the Run (it reads the run's config, modules, optimizers, objective, streams and
world), kept apart so the Run's file holds its life cycle.
"""
from __future__ import annotations

import dataclasses
import warnings
from collections import Counter, OrderedDict
from pathlib import Path

import torch

from gankit import config as C
from gankit import seeds
from gankit.data import data_named, refuse_changed_data
from gankit.data.class_names import class_names_record, refuse_other_classes
from gankit.data.scaling import PointScaler
from gankit.runfolder import RunFolderError
from gankit.streams import listed, pasteable
from gankit.train import distributed, rng_state
from gankit.train.build import load_optimizer_state
from gankit.train.callbacks import nonfinite_tensors
from gankit.train.loop import NonFiniteLoss
from gankit.train.watch import config_changes


class RunError(RunFolderError):
    pass


# what torch.load(weights_only=True), RunFolder's loader, rebuilds: exact types (a subclass such
# as a namedtuple, a defaultdict or a tensor subclass pickles by its own class, which it refuses)
_LOADABLE = (dict, OrderedDict, Counter, list, tuple, set, str, bytes, bytearray, int, float, bool,
             complex, type(None), torch.Tensor, torch.nn.Parameter, torch.Size, torch.device,
             torch.dtype, torch.layout)


def unloadable(state, path: str = "") -> tuple[str, str, str] | None:
    """(key path such as "objective/baseline/value", its type's name, what to store instead) of
    the first value in ``state`` that torch.load(weights_only=True) cannot read back (a numpy
    number or array, an enum, an object), or None.  Types only, never a tensor's contents:
    microseconds for a DCGAN's state."""
    extra = tuple(t for t in torch.serialization.get_safe_globals() if isinstance(t, type))
    stack = [(state, path)]
    while stack:
        o, where = stack.pop()
        t = type(o)
        if t not in _LOADABLE and t not in extra:
            return where or "(the state itself)", _type_name(t), _store_instead(t)
        if t in (dict, OrderedDict, Counter):
            for k, v in o.items():
                if type(k) not in _LOADABLE:
                    return (f"{where}/{k!r} (a key)" if where else f"{k!r} (a key)", _type_name(type(k)),
                            _store_instead(type(k)))
                stack.append((v, f"{where}/{k}" if where else str(k)))
        elif t in (list, tuple, set):
            stack.extend((v, f"{where}/{i}" if where else str(i)) for i, v in enumerate(o))
    return None


def _type_name(t: type) -> str:
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _store_instead(t: type) -> str:
    if t.__module__ == "numpy" and t.__name__ == "ndarray":
        return "store a tensor (torch.from_numpy(x))"
    if t.__module__ == "numpy":
        return "store a float or a tensor (float(x), int(x) or torch.as_tensor(x))"
    return "store only numbers, strings, tensors and lists or dicts of them"


class RunState:
    def refuse_unloadable_state(self):
        """Before a session's first step: a run whose checkpoints could never be read back trains
        no step (each save checks again: state may change type while training, e.g. a float
        baseline updated with a numpy number)."""
        found = unloadable(self._trained_state())
        if found:
            raise C.ConfigError(self._unloadable_message(*found, "before training: no step was trained"))

    def _unloadable_message(self, path: str, tname: str, fix: str, when: str) -> str:
        parts = path.split("/")
        held = (getattr(self.objective, "state", None) or {}).get(parts[1]) if len(parts) > 1 else None
        whose = (f" in the state_dict() of objective.state[{parts[1]!r}] ({type(held).__module__})"
                 if parts[0] == "objective" and held is not None else "")
        return (f"checkpoint state {path}: {tname} cannot be read back (gankit loads checkpoints with "
                f"torch.load(weights_only=True)); {fix}{whose}. Refused {when}")

    def _rng_state(self) -> dict:
        """This rank's streams, and its loss sums since the last record (per rank, as the draws)."""
        t = getattr(self, "_trainer", None)
        sums, count = (t.loss_sums, t.loss_count) if t is not None else self.loss_window
        return {"torch": self.torch_rng, **rng_state.saved(self.device, getattr(self, "device_rng", None)),
                "data": self.data_gen.get_state(),
                "noise": self.noise_gen.get_state(), "noise_device": self.device.type,
                "cond": self.cond_gen.get_state(),
                "losses": {"sums": {k: torch.as_tensor(v).detach().cpu() for k, v in sums.items()},
                           "count": int(count)}}

    def _trained_state(self) -> dict:
        """What training changes: weights and buffers, optimizer state, the objective's state."""
        return {"models": {k: m.state_dict() for k, m in self.modules.items()},
                "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                "objective": self.objective.state_dict()}

    def _divergence_message(self, bad: list[str]) -> str:
        """NonFiniteLoss's words for non-finite state found at a checkpoint: the steps since
        the last checkpoint (known finite), as the state is checked only there."""
        good = max([s for s, _ in self.folder.checkpoints() if s < self.step], default=0)
        when = f"at step {self.step}" if good + 1 >= self.step else f"between steps {good + 1} and {self.step}"
        names = listed(bad)
        trainer = getattr(self, "_trainer", None)
        hint = trainer.nan_hint if trainer is not None else ""
        return (f"non-finite values {when} in {names}. Training stopped; the last good checkpoint is "
                f"kept. {hint}").rstrip()

    def state_dict(self) -> dict:
        return {
            "step": self.step,
            "config": C.to_dict(self.cfg),
            **self._trained_state(),
            **({"data_scale": self.scaler.state_dict()} if self.scaler is not None else {}),
            "schedule_span": list(self.schedule_span),
            # the schedule the span belongs to: a resume can tell whether one was in force
            **({"schedule": self.schedule_in_force} if getattr(self, "schedule_in_force", None) else {}),
            "train_time": self.elapsed(),
            "rng": self._rng_state(),         # rank 0's streams: a one-process run's own
            "world_size": self.world.size,
            **({"data_cut": list(self._data_cut())} if self._data_cut() else {}),
            **({"data_split": self.dataset.split_digest} if getattr(self.dataset, "split_digest", None) else {}),
            **({"data_digest": self.dataset.data_digest} if getattr(self.dataset, "data_digest", None) else {}),
            **class_names_record(self.dataset),    # what each class number meant when trained
        }

    def _data_cut(self) -> tuple[int, int] | None:
        """(images, held out) of a dataset whose held-out split is cut from its images by a fixed
        permutation of their number (an image folder, IDX files without test files; a text file's
        distinct lines), else None."""
        cut = getattr(self.dataset, "cut", None)
        return tuple(int(v) for v in cut) if isinstance(cut, tuple) else None

    def _refuse_other_cut(self, state: dict):
        """Images added to or removed from the data since the checkpoint: the permutation that
        cuts the held-out split now takes other images, some of them trained on, so held-out
        measures (classify, recon_error, memorisation, Parzen, NLL_test) would score training data.
        Likewise class folders renamed or reordered since (a conditional run's class numbers would
        mean other classes), a points file replaced by other points, other text lines held out."""
        refuse_changed_data(state, self.dataset, data_named(self.cfg), vocabulary=False)

    def _misfit(self, e: Exception, state: dict) -> str:
        """Why a checkpoint's tensors do not fit: the first shapes that differ, the config keys
        that differ from the checkpoint's, else the data (a class folder added, other images)."""
        import re
        shapes = re.findall(r"size mismatch for (\S+): copying a param with shape torch\.Size\((\[.*?\])\) "
                            r"from checkpoint, the shape in current model is torch\.Size\((\[.*?\])\)", text := str(e))
        if shapes:
            detail = "; ".join(f"{k} is {a} in the checkpoint, {b} here" for k, a, b in shapes[:3])
        else:
            detail = " ".join(line.strip() for line in text.strip().splitlines()[:2])
            if len(detail) > 300:     # cut at a word: the key names of a short message stay whole
                detail = detail[:300].rsplit(" ", 1)[0] + " ..."
        why = self._changed_options(state)
        if not why:
            n = getattr(self.dataset, "n_classes", None)
            shape = getattr(self.dataset, "shape", None)
            now = ([f"samples of shape {' x '.join(map(str, shape))}"] if shape else []) \
                + ([f"{n} classes"] if n else [])
            code = list(self.cfg.imports or [])
            own = self._user_components()
            why = ("the config is the checkpoint's, so the data changed since it was written"
                   + (f" (they hold {' in '.join(now)} now)" if now else "")
                   + (f", or the code of the imported module(s) {code} changed" if code else "")
                   + (f", or the code of {own} changed since the run was trained (register it as it was)"
                      if own else "")
                   + ", or the file is damaged; restore them as they were, or train a new run")
        return f"the checkpoint does not fit this run's networks: {detail}; {why}"

    def _changed_options(self, state: dict) -> str:
        """The options (train.*, eval.* and where the data lie aside) changed since the checkpoint
        was written, as a clause saying so and what to do; "" when none changed."""
        skip = ("train.", "eval.", "data.path", "data.root")
        changed = {k: v for k, v in config_changes(state.get("config") or {}, C.to_dict(self.cfg)).items()
                   if not k.startswith(skip)}
        return ("options changed since it was written: " + ", ".join(
            f"{k} ({a!r} -> {b!r})" for k, (a, b) in list(changed.items())[:5])
            + f"; drop {'it' if len(changed) == 1 else 'them'}, or train a new run (--out NEW)") if changed else ""

    def _user_components(self) -> str:
        """The run's components registered outside gankit ("generator 'my-g' (__main__)"): a
        notebook cell edited and run again changes a net under the same name."""
        from gankit.registry import DISCRIMINATORS, GENERATORS, OBJECTIVES, is_gankit
        found = []
        for reg, name in ((GENERATORS, self.cfg.generator.name), (DISCRIMINATORS, self.cfg.discriminator.name),
                          (OBJECTIVES, self.cfg.objective.name)):
            try:
                entry = reg.get(name)
            except Exception:     # not registered here: the build said so already
                continue
            if not is_gankit(entry.module):
                found.append(f"{reg.kind} {name!r} ({entry.module or 'unknown module'})")
        return ", ".join(found)

    def load_state_dict(self, state: dict):
        from gankit.runfolder.checkpoint_check import checkpoint_fault
        fault = checkpoint_fault(state)
        if fault:
            raise RunError(f"the checkpoint is damaged: {fault}; put back a good one, or train anew "
                           "into another folder (--out NEW)")
        missing = [k for k in self.modules if k not in state["models"]]
        missing += [k for k in self.optimizers if k not in state.get("optimizers", {})]
        if missing:
            from gankit.registry import OBJECTIVES, is_gankit
            name = self.cfg.objective.name
            was = ((state.get("config") or {}).get("objective") or {}).get("name", name)
            module = OBJECTIVES.get(name).module
            changed = self._changed_options(state)
            if changed:    # an option (objective.decoder) decides the modules declared: name it, as _misfit does
                raise RunError(f"the checkpoint does not fit this run's networks: it lacks {missing}; {changed}")
            why = (f"it was written by objective {was!r}, not {name!r}" if was != name else
                   f"the code of objective {name!r} ({module}) changed since the run was trained (it declares "
                   f"them now); register it as it was, or train a new run" if not is_gankit(module) else
                   f"objective {name!r} did not declare them when it was written (with other objective "
                   f"options, or another gankit version); train a new run")
            raise RunError(f"the checkpoint lacks {missing}: {why}")
        fresh = self._changed_optimizers(state)
        try:
            for k, m in self.modules.items():
                m.load_state_dict(state["models"][k])
            for k, o in self.optimizers.items():
                if k not in fresh:
                    load_optimizer_state(o, state["optimizers"][k])
        except C.ConfigError:       # a net's own clear message (e.g. the data's vocabulary changed)
            raise
        except (RuntimeError, ValueError, KeyError) as e:   # other shapes: another run's nets
            was, now = state.get("class_names"), class_names_record(self.dataset).get("class_names")
            if was and now and len(was) != len(now):    # a class folder added or removed: its names say which
                try:
                    refuse_other_classes(state, self.dataset, data_named(self.cfg))
                except C.ConfigError as named:
                    raise named from None
            raise RunError(self._misfit(e, state)) from None
        self._refuse_other_cut(state)      # after the nets: a changed vocabulary or shape says more
        own_objective = state.get("objective", {})
        if self.world.rank > 0:     # this rank's own, where the checkpoint has it (the world grew: rank 0's)
            saved = state.get("objective_ranks") or []
            if self.world.rank < len(saved) and saved[self.world.rank] is not None:
                own_objective = {**own_objective, **saved[self.world.rank]}
        try:
            self.objective.load_state_dict(own_objective)
        except C.ConfigError:       # its own clear message (the data's vocabulary changed)
            raise
        except (RuntimeError, ValueError, TypeError) as e:     # the objective's parts, damaged
            raise RunError(f"the checkpoint is damaged: its objective state does not load "
                           f"({' '.join(str(e).split())[:200]}); put back a good one, or train anew "
                           "into another folder (--out NEW)") from None
        if "data_scale" in state:     # the statistics the nets were trained with, whatever the code now says
            self.scaler = PointScaler.from_state(state["data_scale"])
        self.step = int(state["step"])
        self.schedule_span = tuple(state.get("schedule_span") or (0, state["config"]["train"]["steps"]))
        self.schedule_in_force = state.get("schedule") or _constant_before(state.get("config") or {})
        self.train_time = float(state.get("train_time", 0.0))
        old = state.get("config")
        if old:
            self.config_changes = config_changes(old, C.to_dict(self.cfg))
        # data and noise: the run's (rank 0's) with global draws; torch and cond: always the rank's own
        own = state["rng"]
        if self.world.rank > 0:
            saved = state.get("rng_ranks") or []
            own = saved[self.world.rank] if self.world.rank < len(saved) else None
        if own is None:      # the world grew: this rank starts fresh streams of its own
            self._reseed_rank(self.step)
        else:
            self.torch_rng = own["torch"]
            fresh = seeds.rank_seed(self.cfg.seed, self.world.rank, self.step)   # not the first session's draws
            self.device_rng = rng_state.restored(own, self.device, fresh)
            if "cond" in own:
                self.cond_gen.set_state(own["cond"])
            losses = own.get("losses") or {}      # older checkpoints: the first record averages fewer steps
            self.loss_window = (dict(losses.get("sums") or {}), int(losses.get("count") or 0))
        if int(state.get("world_size", 1)) != self.world.size:
            self.loss_window = rng_state.global_window(state)
            if self.is_main and self.folder.locked:     # opened to train on (a reader loses nothing)
                self._note_ranks_gone(state)
        shared = state["rng"] if self.global_draws else own
        if shared is not None:
            self.data_gen.set_state(shared["data"])
            if shared.get("noise_device", "cpu") == self.device.type:
                self.noise_gen.set_state(shared["noise"])
            # else: a run moved between CPU and GPU (their generators differ): training noise starts afresh

    def _note_ranks_gone(self, state: dict):
        """A resume on fewer processes: the objective state of the ranks gone (an energy model's
        replay buffer holds each rank's own chains) has no rank to continue it; say so (merging
        a gone rank's chains into rank 0's buffer would change its configured size)."""
        was = int(state.get("world_size", 1))
        gone = {r: o for r, o in enumerate(state.get("objective_ranks") or []) if r >= self.world.size and o}
        if not gone:
            return
        names = listed(sorted({k for o in gone.values() for k in o}))
        whose = f"rank {listed(gone)}'s" if len(gone) == 1 else f"ranks {listed(gone)}'"
        warnings.warn(f"trained on {was} processes before, {self.world.size} now: {whose} objective state "
                      f"({names}) is not carried over, rank 0's continues; resume on {was} processes to "
                      f"continue each rank's own", stacklevel=4)

    def _changed_optimizers(self, state: dict) -> set[str]:
        """The optimizers whose kind changed since the checkpoint (e.g. adam -> sgd): one kind's
        state (Adam's moments) means nothing to another, so these start fresh, with a note."""
        old = state.get("config") or {}
        fresh = set()
        for k, spec in self.objective.optimizers.items():
            where = next((f.name for f in dataclasses.fields(self.cfg)
                          if getattr(self.cfg, f.name) is spec.config), None)
            was = (old.get(where) or {}).get("name") if where else None
            if was is not None and was != spec.config.name:
                fresh.add(k)
                if self.is_main:
                    warnings.warn(f"{where}.name is {spec.config.name!r} now, {was!r} in the checkpoint: "
                                  f"{spec.config.name} starts with fresh state ({was}'s state does not carry over)",
                                  stacklevel=4)
        return fresh

    def _reseed_rank(self, step: int):
        """Fresh streams for a rank the checkpoint has none for (data and noise only if they are its own)."""
        s = seeds.rank_seed(self.cfg.seed, self.world.rank, step)
        own = ("cond",) if self.global_draws else ("data", "noise", "cond")
        for gen, name in ((self.data_gen, "data"), (self.noise_gen, "noise"), (self.cond_gen, "cond")):
            if name in own:
                gen.manual_seed(seeds.stream_seed(s, name))
        self.torch_rng = torch.Generator().manual_seed(s).get_state()
        self.device_rng = rng_state.fresh_device_state(self.device, s)

    def save_checkpoint(self) -> Path:
        """Write this step's checkpoint; never one holding NaN or inf (a resume from it would
        diverge again at once): that stops training with NonFiniteLoss, the previous one kept."""
        self.torch_rng, self.device_rng = torch.get_rng_state(), rng_state.device_state(self.device)
        rng = self._rng_state()
        # each rank's own tensors (batch-norm statistics may differ between ranks)
        trained = self._trained_state()
        bad = nonfinite_tensors({**trained, "losses": rng["losses"]})
        odd = unloadable({**trained, "rng": rng})
        if self.world.parallel:
            # every rank's streams, so a resume with the same world continues each exactly; the
            # findings ride along, so every rank stops together (one alone would leave the others
            # waiting in a collective)
            # and every rank's objective state (an energy model's replay buffer holds each rank's
            # own chains; rank 0's travels as "objective")
            # on the CPU: a CUDA tensor unpickled on rank 0 is rebuilt on the sending rank's device index
            mine = {k: rng_state.on_cpu(v) for k, v in trained["objective"].items()
                    if k not in self.objective.rank0_state}
            both = distributed.gather(self.world, (rng, None if self.is_main else mine, bad, odd))
            ranks = [r for r, _, _, _ in both]
            objectives = [o for _, o, _, _ in both]
            bad = next((b for _, _, b, _ in both if b), [])
            odd = next((o for _, _, _, o in both if o), None)
        else:
            ranks = None
        if odd is None and self.is_main:
            state = self.state_dict()     # the rest of it too (the data's scale, the schedule)
            odd = unloadable({k: v for k, v in state.items() if k not in trained and k != "rng"})
        if odd:
            prev = [p.name for s, p in self.folder.checkpoints() if s < self.step]
            kept = (f"the previous checkpoint {prev[-1]} is kept (once fixed, continue with gankit train "
                    f"--resume --out {pasteable(self.folder.path)})" if prev else "no checkpoint was written")
            raise C.ConfigError(self._unloadable_message(
                *odd, f"at step {self.step}: training stopped; {kept}"))
        if bad:
            raise NonFiniteLoss(self._divergence_message(bad))
        if not self.is_main:
            return None
        if ranks is not None:
            state["rng_ranks"] = ranks
            # only what differs from rank 0's (EMA and averaged states are the same on every rank)
            state["objective_ranks"] = [None if o is None else
                                        {k: v for k, v in o.items() if not _same(v, state["objective"].get(k))}
                                        for o in objectives]
        return self.folder.save_checkpoint(state, self.step, self.cfg.train.keep_checkpoints)


def _same(a, b) -> bool:
    """Whether two pieces of state hold the same values (tensors, numbers, nested dicts/lists)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape
                and a.dtype == b.dtype and bool(torch.equal(a.cpu(), b.cpu())))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(v, b[k]) for k, v in a.items())
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _constant_before(old: dict) -> dict | None:
    """For a checkpoint written before checkpoints named their schedule: a constant one when its
    config had none (no train.lr_schedule, no warmup, no objective.lr_decay_final below 1), so
    a schedule switched on at this resume runs over the steps left; else None (unknown: an
    older schedule continues its span)."""
    from gankit.train.schedule import Schedule
    t, o = old.get("train") or {}, old.get("objective") or {}
    if not t:
        return None
    if (t.get("lr_schedule", "constant") == "constant" and float(t.get("lr_warmup", 0.0)) == 0.0
            and float(o.get("lr_decay_final", 1.0)) >= 1.0):
        return dataclasses.asdict(Schedule())
    return None
