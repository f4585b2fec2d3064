"""What an objective is, and the narrow context it is built from.

Declare, then wrap.  An objective's constructor gets an ``ObjectiveContext`` (the config,
the data, the loss, net builders and batch/noise samplers: not the Run) and declares

    modules     {name: nn.Module}            every net it trains or samples with
    optimizers  {name: OptimizerSpec}        which modules' parameters, with which settings

Then the Run moves the modules to the device, wraps them (mixed-precision hooks; data
parallel synchronisation), builds the optimizers, and calls ``setup(optimizers)``, where
the objective makes its phases (the loop's work), its extra state (EMA weights, a
baseline...) and callbacks.  The Run checkpoints every declared module and optimizer and
the state; nothing replaces a module after it was wrapped.

A batch is a typed record: ``Batch(x, c, y)`` with the condition fed to the nets and the
class, where there are any.
"""
from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

from gankit.config import ConfigError
from gankit.train.loop import Phase


class UnfittedState(UserWarning):
    """A state switched on at resume that cannot start from the resumed weights (e.g. a
    rejection sampler, fitted only by `gankit drs` or at the last step)."""


@dataclass
class Batch:
    x: Tensor
    c: Tensor | None = None    # the condition the nets see (a label, or a caption's token ids)
    y: Tensor | None = None    # the class of each sample (for captions: the class they name)


@dataclass
class OptimizerSpec:
    modules: list[str]         # the declared modules whose parameters it updates
    config: object             # an OptimConfig (name, lr, betas, ...)


@dataclass
class ObjectiveContext:
    """What an objective may use to declare its parts."""
    cfg: object                                   # the RunConfig
    dataset: object
    loss: object                                  # the adversarial LossPair
    device: torch.device
    build_nets: Callable[..., tuple[nn.Module, nn.Module]]   # (data=None) -> (G, D), conditional-wrapped
    build_discriminator: Callable[..., nn.Module]            # (data=None) -> D, conditional-wrapped
    build_net: Callable[..., nn.Module]           # (registry name, component) -> a module
    sample_batch: Callable[[int], Batch]          # n real samples on the device
    sample_z: Callable[[int], Tensor]             # n noise vectors on the device
    cond_gen: torch.Generator                     # draws of mismatched conditions
    log: Callable[[dict], None] = print           # append a record to the run folder
    # data units -> what the nets see (data.standardize); samples_batch is already mapped
    to_model: Callable[[Tensor], Tensor] = lambda x: x
    # sum over coordinates of log(data.standardize's scale): log p(x) = log p_model(to_model(x)) - it
    data_log_scale: Callable[[], float] = lambda: 0.0
    # data.standardize's scale per coordinate (None: the nets see the data's own units)
    data_scale: Callable[[], Tensor | None] = lambda: None
    # processes sharing the run (torchrun): cfg.train.batch_size is this one's share of the global batch
    world_size: int = 1


class Objective(ABC):
    """Base class: subclasses fill ``modules`` and ``optimizers`` in their constructor and
    build ``phases`` in ``setup``."""

    sample_module = "G"          # the declared module that generates (objectives may override)
    supports_bf16 = False        # can its step run under bf16 autocast (nets' plain forwards)?
    lr_schedule = None           # a gankit.train.schedule.Schedule of its own (set in setup), or None
    nan_hint = ""                # what to try when its losses turn NaN (empty: the GAN advice)
    # set by a callback that changed the objective's state when training started (not in a
    # step): the Run's checkpointer writes it then
    unsaved_state = False
    # why the objective has no trained generator (the SS-GAN's labels-only baseline), or None:
    # where set, the Run's evaluations refuse every metric of G's samples and of its inversion
    no_generator: str | None = None
    classes_named = True         # classify()'s index i is class i (False: an unsupervised code, InfoGAN's)
    # state names whose rank 0 copy alone counts (checkpoints keep no other rank's): DRS's sampler
    rank0_state: tuple[str, ...] = ()

    def __init__(self):
        self.modules: dict[str, nn.Module] = {}
        self.optimizers: dict[str, OptimizerSpec] = {}
        self.phases: list[Phase] = []
        self.state: dict[str, object] = {}   # name -> object with state_dict()/load_state_dict()
        self.callbacks: list = []

    @abstractmethod
    def setup(self, optimizers: dict[str, torch.optim.Optimizer]) -> None:
        """Build ``phases`` (and ``state``, ``callbacks``) on the wrapped modules."""

    # ---------------------------------------------------------------- sampling
    def generate(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        """Samples for evaluation and snapshots (eval mode is set by the caller)."""
        G = self.modules[self.sample_module]
        return G(z) if c is None else G(z, c)

    def d_score(self, x: Tensor, c: Tensor | None = None) -> Tensor | None:
        """D's logit on single samples (plots of D over the plane); None when the objective
        has no such score (the report then draws samples without D's heat map)."""
        return None

    score_name = None            # what d_score is where it is not D's logit under the loss (the EBM's -E(x))

    def score_is_logit(self, loss) -> bool:
        """Whether d_score is the logit of a probability (the report draws its sigmoid)."""
        return self.score_name is None and loss.probabilistic

    def inversion_starts(self, z0: Tensor) -> list[tuple[Tensor, Tensor | None]]:
        """Starts for latent inversion from codes z0: (start, mask of the coordinates
        optimised, None for all).  An objective whose code has discrete parts (InfoGAN's
        category: no gradient reaches it) gives one start per value, those parts held."""
        return [(z0, None)]

    def classify(self, x: Tensor) -> Tensor | None:
        """Class logits of x where the objective learns a classifier (the ``classify``
        metric); None by default."""
        return None

    def rejection_sampler(self):
        """A fitted rejection sampler when the objective has one, else None."""
        return None

    # ---------------------------------------------------------------- state
    def state_dict(self) -> dict:
        return {k: v.state_dict() for k, v in self.state.items()}

    def load_state_dict(self, state: dict):
        """Loads each state the checkpoint holds; called after the modules were loaded.

        A state the checkpoint lacks is an option switched on at resume (objective options
        are not part of the model identity): one with ``start_fresh()`` starts from the
        resumed weights (or says, in the string it returns, how it starts); any other is refused."""
        absent = [k for k in self.state if k not in state]
        missing = [k for k in absent if not hasattr(self.state[k], "start_fresh")]
        if missing:
            raise KeyError(f"checkpoint lacks objective state {sorted(missing)}")
        for k, v in self.state.items():
            if k in state:
                v.load_state_dict(state[k])
        generic = []
        for k in absent:
            note = self.state[k].start_fresh()
            if note:
                warnings.warn(UnfittedState(note), stacklevel=2)
            else:
                generic.append(k)
        if generic:
            warnings.warn(f"the checkpoint holds no objective state {', '.join(generic)} (an option switched "
                          f"on at resume): it starts from the resumed weights", stacklevel=2)


def absolute_loss(loss, objective: str):
    """``loss``, refused when it is relativistic: the objective's G step scores fakes alone."""
    if getattr(loss, "relativistic", False):
        raise ConfigError(f"objective {objective}: loss {loss.name} compares fakes with real samples in "
                          f"G's step, which this objective does not do; use loss.name='nonsaturating' "
                          f"(the gan and seqgan objectives take {loss.name})")
    return loss


def warn_unconstrained_critic(obj: "Objective", loss, objective: str):
    """A Wasserstein loss in an objective with no Lipschitz constraint to set: warned at
    training start (the gan objective's own check also knows its penalties)."""
    if getattr(loss, "wasserstein", False):
        obj.callbacks.append(WarnAtTrainStart(
            f"loss.name={loss.name} with no Lipschitz constraint on the critic: objective {objective} "
            f"has none to set (objective.gp, clip and spectral_norm are the gan objective's), so nothing "
            f"bounds E f(x) - E f(G(z)) and the critic diverges; use loss.name='nonsaturating', "
            f"'hinge' or 'lsgan'"))


def d_repeat(cfg) -> Callable[[int], int]:
    """The D phase's repeats at each iteration: train.d_steps (k D steps per G step)."""
    k = cfg.train.d_steps
    return lambda step: k


def no_d_steps(cfg, objective: str):
    """Refuse train.d_steps != 1 for an objective with no D-then-G iteration to repeat D in."""
    if cfg.train.d_steps != 1:
        raise ConfigError(f"objective {objective}: train.d_steps={cfg.train.d_steps} has no meaning here "
                          f"(there is no G step to take D steps before); leave train.d_steps=1 and "
                          f"set train.steps for more updates")


def no_text(dataset, objective: str):
    """Refuse text data (token sequences) for an objective whose nets read and write vectors of
    numbers: checked before any net is built, which would otherwise fail deep inside them."""
    if getattr(dataset, "kind", None) == "text":
        raise ConfigError(f"objective {objective} models images or points, not text (token sequences); "
                          f"train text data with objective.name=seqgan (see docs/sequence.md)")


class RefuseAtTrainStart:
    """Callback: a ConfigError when training starts or resumes, for settings a run cannot train
    with but may still be opened with to evaluate or sample (e.g. one trained before the check)."""

    def __init__(self, message: str):
        self.message = message

    def on_train_start(self, trainer):
        raise ConfigError(self.message)


class WarnAtTrainStart:
    """Callback: a warning each time training starts or resumes (not when the run is only
    opened to evaluate or sample)."""

    def __init__(self, message: str):
        self.message = message

    def on_train_start(self, trainer):
        warnings.warn(self.message, stacklevel=2)


def _unread_keys(cfg, section: str) -> dict:
    """The settings of config section ``section`` that differ from gankit's defaults (a
    component's options against its registry entry's defaults: those of the entry named
    by the default where the name is the default's, else of the entry named)."""
    from gankit.config.core import component_sections, to_dict
    from gankit.config.schema import RunConfig
    default = getattr(RunConfig(), section)
    now, base = to_dict(getattr(cfg, section)), to_dict(default)
    if section in component_sections(RunConfig):
        from gankit.registry import REGISTRIES
        registry = {"loss": "losses", "generator": "generators", "discriminator": "discriminators"}[section]
        params = REGISTRIES[registry].params_of(now["name"], {}, section)
        base = {"name": default.name, **(to_dict(params) if params is not None else {})}
    return {k: v for k, v in now.items() if base.get(k) != v}


def warn_unread(obj: "Objective", cfg, objective: str, sections: dict[str, str]):
    """Warn at training start about settings ``objective`` never reads: in each named section
    (section -> what the objective does instead), those that differ from gankit's defaults.
    A warning, not a refusal: a preset made for another objective sets them too."""
    parts = []
    for section, instead in sections.items():
        changed = _unread_keys(cfg, section)
        if changed:
            parts.append(", ".join(f"{section}.{k}={v!r}" for k, v in changed.items()) + f" ({instead})")
    if parts:
        obj.callbacks.append(WarnAtTrainStart(
            f"objective {objective} does not read " + "; ".join(parts) + ": these settings change "
            "nothing in this run; remove them, or train an objective that uses them"))


def optimizer_params(spec: OptimizerSpec, modules: dict[str, nn.Module]) -> list[nn.Parameter]:
    """The parameters ``spec`` updates (its module names were checked by check_objective)."""
    return [p for m in spec.modules for p in modules[m].parameters()]


def check_objective(obj, name: str, optimizers: dict | None = None):
    """A ConfigError naming the objective and the part it declares wrongly: checked when it is
    built (modules, optimizers, sample_module) and, given the built ``optimizers``, after its
    setup (phases).  Unchecked, a user's objective (--import) declared wrongly failed later with
    torch's or Python's words, naming neither (no phases: only at the first record)."""
    from gankit.registry import OBJECTIVES, is_gankit
    module = OBJECTIVES.get(name, "objective.name").module
    named = f"objective {name!r}" + ("" if is_gankit(module) else f" ({module})")
    if not isinstance(obj, Objective):
        got = "None" if obj is None else f"a {type(obj).__name__}"
        raise ConfigError(f"{named}: its factory returned {got}, not an Objective; return "
                          f"the object it builds (a subclass of gankit.train.objective.Objective)")
    if optimizers is not None:
        _check_phases(obj.phases, named, optimizers)
        return
    modules, specs = obj.modules, obj.optimizers
    if not _by_name(modules) or not modules:
        raise ConfigError(f"{named} declares no modules{_given(modules)}; its constructor sets self.modules = "
                          f"{{name: nn.Module}} (e.g. {{'G': G, 'D': D}} from ctx.build_nets(), or an nn.ModuleDict)")
    for k, m in modules.items():
        if not isinstance(m, nn.Module):
            raise ConfigError(f"{named}: modules[{k!r}] is a {type(m).__name__}, not a torch.nn.Module; declare "
                              f"only modules there (a tensor goes in a module as a buffer or parameter)")
    if obj.sample_module not in modules:
        raise ConfigError(f"{named}: sample_module = {obj.sample_module!r}, the module that generates, is not "
                          f"among its modules {sorted(modules)}; declare it under that name, or set "
                          f"sample_module to the name it has")
    if not _by_name(specs) or not specs:
        raise ConfigError(f"{named} declares no optimizers{_given(specs)}, so nothing trains; its constructor sets "
                          f"self.optimizers = {{name: OptimizerSpec([module names], cfg.optim_g)}}")
    for k, spec in specs.items():
        if not isinstance(spec, OptimizerSpec) or isinstance(spec.modules, str):
            got = (f"names its modules by a string ({spec.modules!r})" if isinstance(spec, OptimizerSpec)
                   else f"is a {type(spec).__name__}, not an OptimizerSpec")
            raise ConfigError(f"{named}: optimizers[{k!r}] {got}; give OptimizerSpec([module names], "
                              f"cfg.optim_g or cfg.optim_d)")
        missing = [m for m in spec.modules if m not in modules]
        if missing:
            raise ConfigError(f"{named}: optimizers[{k!r}] updates module(s) {missing} it does not declare "
                              f"(its modules: {sorted(modules)}); name modules of self.modules")


def _by_name(declared) -> bool:
    """A mapping of names to parts: a dict or any Mapping, and nn.ModuleDict, which is none (it is
    an nn.Module with keys/items/__getitem__): a user's objective declares modules with either."""
    return isinstance(declared, (Mapping, nn.ModuleDict))


def _given(declared) -> str:
    """What was declared instead of a mapping, said in the refusal (an empty one: nothing)."""
    if _by_name(declared):
        return ""
    return f" (it gives {'None' if declared is None else 'a ' + type(declared).__name__}, not a mapping of names)"


def _check_phases(phases, named: str, optimizers: dict):
    if not isinstance(phases, (list, tuple)) or not phases:
        raise ConfigError(f"{named}: setup(optimizers) made no phases, so nothing trains; it sets "
                          f"self.phases = [Phase(name, optimizers[name], loss_fn), ...]")
    built = {id(o) for o in optimizers.values()}
    for i, phase in enumerate(phases):
        if not isinstance(phase, Phase):
            raise ConfigError(f"{named}: phases[{i}] is a {type(phase).__name__}, not a "
                              f"gankit.train.loop.Phase")
        if id(phase.optimizer) not in built:    # its state would be in no checkpoint: a resume restarts it
            raise ConfigError(f"{named}: phase {phase.name!r} steps an optimizer of its own; give it one of "
                              f"those setup(optimizers) receives ({', '.join(optimizers)}), built from "
                              f"self.optimizers, which checkpoints keep")

