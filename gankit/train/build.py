"""From a RunConfig to the parts an objective declares: nets, loss, optimizers."""
from __future__ import annotations

import torch

from gankit.config import Component, ConfigError, OptimConfig, RunConfig
from gankit.registry import DISCRIMINATORS, GENERATORS, LOSSES, OBJECTIVES, REGISTRIES, is_gankit
from gankit.train.conditional import noise_dim_for, wrap_nets
from gankit.train.objective import check_objective


def build_nets(cfg: RunConfig, data, only: str | None = None):
    """G and D (conditional-wrapped when the run is conditional); each factory gets the noise
    dimension and the dataset (its shape, vocabulary, classes: whatever the net needs to
    know).  ``only="D"``: just D (e.g. a packed D built for a view of the data)."""
    G = None
    if only != "D":
        G = GENERATORS.build(cfg.generator.name, cfg.generator.params, where="generator",
                             noise_dim=noise_dim_for(cfg), data=data)
    D = DISCRIMINATORS.build(cfg.discriminator.name, cfg.discriminator.params,
                             where="discriminator", data=data)
    if cfg.condition.kind != "none":
        if G is None:
            raise ConfigError("a conditional D is built with its G")
        G, D = wrap_nets(cfg, data, G, D)
    elif G is not None and getattr(data, "kind", "points") != "text":
        _probe_user_nets(cfg, data, G, D)
    return D if only == "D" else (G, D)


def _probe_user_nets(cfg: RunConfig, data, G, D):
    """A user's net (--import) against the contract, on 2 samples before any training: G maps
    (n, noise.dim) to (n, *data.shape), D gives one score a sample; caught here, not in the
    report after training."""
    g_entry, d_entry = GENERATORS.get(cfg.generator.name), DISCRIMINATORS.get(cfg.discriminator.name)
    if is_gankit(g_entry.module) and is_gankit(d_entry.module):
        return
    modes = (G.training, D.training)
    G.eval(), D.eval()
    try:
        with torch.no_grad():
            x = G(torch.randn(2, noise_dim_for(cfg), generator=torch.Generator().manual_seed(0)))   # not the init stream
            want = (2, *tuple(data.shape))
            g_named = f"generator {cfg.generator.name!r} ({g_entry.module})"
            if not isinstance(x, torch.Tensor) or tuple(x.shape) != want:
                got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
                raise ConfigError(f"{g_named} returns {got} for 2 noise vectors; the data's samples are {want}")
            # bf16 training casts half-precision outputs back to float32 (gankit/train/precision.py)
            ok = (torch.float32,) + ((torch.bfloat16, torch.float16) if cfg.train.precision == "bf16" else ())
            if x.dtype not in ok:
                raise ConfigError(f"{g_named} returns {_dtype(x)} (train.precision = {cfg.train.precision}); "
                                  f"return float32 (x.float(), or build its layers in float32)")
            if not bool(torch.isfinite(x).all()):
                raise ConfigError(f"{g_named} returns non-finite values (NaN or inf) for 2 noise vectors before "
                                  "any training: look at its forward and its initialisation")
            if int((cfg.objective.params or {}).get("pack", 1) or 1) == 1:
                out = D(x)
                d_named = f"discriminator {cfg.discriminator.name!r} ({d_entry.module})"
                if not isinstance(out, torch.Tensor) or out.numel() != 2:
                    got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                    raise ConfigError(f"{d_named} returns {got} for 2 samples; it must give one score a "
                                      "sample: (2,) or (2, 1)")
                if not bool(torch.isfinite(out).all()):
                    raise ConfigError(f"{d_named} returns non-finite scores (NaN or inf) for 2 samples before "
                                      "any training: look at its forward and its initialisation")
    finally:
        G.train(modes[0]), D.train(modes[1])


def build_net(registry: str, component: Component | dict, data, **kw):
    """Any registered net from a config component: ``registry`` is a key of REGISTRIES, e.g.
    "generators", or "nets" for the other modules an objective declares (an encoder
    registered with NETS.register)."""
    if registry not in REGISTRIES:
        raise ConfigError(f"build_net({registry!r}, ...): no registry {registry!r}; give one of "
                          f"{', '.join(map(repr, REGISTRIES))} ('nets' holds NETS.register's)")
    comp = component if isinstance(component, Component) else Component(component["name"], {
        k: v for k, v in component.items() if k != "name"})
    return REGISTRIES[registry].build(comp.name, comp.params, where=registry, data=data, **kw)


def build_objective(cfg: RunConfig, ctx):
    """The objective ``cfg`` names, built from ``ctx`` and checked against what the Run needs
    of it (its phases are checked after its setup: check_objective)."""
    obj = OBJECTIVES.build(cfg.objective.name, cfg.objective.params, where="objective", ctx=ctx)
    check_objective(obj, cfg.objective.name)
    bounded = _bounded_output(cfg, ctx.dataset) if "G" in obj.modules else None
    if bounded is not None:
        obj.callbacks.append(_PointsOutsideOutput(ctx, *bounded))
    return obj


# the range of a bounded output of gankit's generators (generator.output), in the units G sees
BOUNDED_OUTPUTS = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}


def _bounded_output(cfg: RunConfig, data) -> tuple[str, float, float] | None:
    """(output, low, high) where gankit's G ends in a bounded activation and trains on points
    (images are in [-1, 1] by construction), else None."""
    if getattr(data, "kind", "points") != "points" or not is_gankit(GENERATORS.get(cfg.generator.name).module):
        return None
    out = getattr(GENERATORS.params_of(cfg.generator.name, cfg.generator.params, "generator"), "output", None)
    return (out, *BOUNDED_OUTPUTS[out]) if out in BOUNDED_OUTPUTS else None


class _PointsOutsideOutput:
    """Callback: a warning when a new run starts training (not on resume, eval or sample) where
    points lie outside G's bounded output: standardised points spread over about +-3, so tanh
    caps every sample at one std from the mean and drops the tails without a word."""

    def __init__(self, ctx, output: str, low: float, high: float):
        self.ctx, self.output, self.low, self.high = ctx, output, low, high

    def share_outside(self, standardised: bool = True) -> float:
        """Share of the training points (in the units G sees: after data.standardize; with
        ``standardised`` False, as the data give them) with a coordinate outside [low, high]: a
        file's every row, else a fixed-seed draw."""
        from gankit.data.scaling import STATS_DRAWS, STATS_SEED
        ds = self.ctx.dataset
        x = getattr(ds, "x", None)
        if not isinstance(x, torch.Tensor) or x.ndim != 2:
            x = ds.sample(STATS_DRAWS, torch.Generator().manual_seed(STATS_SEED))
        x = (self.ctx.to_model(x.float()) if standardised else x.float()).reshape(len(x), -1)
        return float(((x < self.low) | (x > self.high)).any(1).double().mean())

    def on_train_start(self, trainer):
        if trainer.step > 0:
            return
        share = self.share_outside()
        if share > 0:
            import warnings
            mode = getattr(self.ctx.dataset, "standardize", "none")
            seen = f" (as G sees them, standardised: data.standardize = {mode})" if mode != "none" else ""
            unbounded = "--set generator.output=none (unbounded)"
            fix = f"set {unbounded}"
            # standardising is what put them outside (points in [0, 1] under sigmoid): training on
            # the raw points keeps the output the user chose
            if mode != "none" and self.share_outside(standardised=False) == 0:
                fix = (f"the raw points all lie inside [{self.low:g}, {self.high:g}]: set --set data.standardize=none "
                       f"(keeps generator.output={self.output}), or {unbounded}")
            warnings.warn(f"generator.output={self.output} bounds G's samples to [{self.low:g}, {self.high:g}], "
                          f"and {_share(share)} of the training points lie outside that{seen}: G can never draw "
                          f"them; {fix}", stacklevel=2)


def _share(p: float) -> str:
    """A share as a percentage, never rounded to 0% or 100% (a few points still warn)."""
    pct = 100 * p
    return f"{pct:.2g}%" if pct < 1 else f"{pct:.0f}%" if pct <= 99 else "over 99%"


def _dtype(x: torch.Tensor) -> str:
    return str(x.dtype).replace("torch.", "")


def build_loss(cfg: RunConfig):
    loss = LOSSES.build(cfg.loss.name, cfg.loss.params, where="loss")
    entry = LOSSES.get(cfg.loss.name)
    if not is_gankit(entry.module):
        _probe_user_loss(loss, f"loss {cfg.loss.name!r} ({entry.module})")
    return loss


def _probe_user_loss(loss, named: str):
    """A user's loss (--import) on made-up D outputs for 4 samples, (4, 1) as D gives them:
    each of d_loss and g_loss must return a scalar, or backward fails in the first step with
    torch's words, which name no loss."""
    g = torch.Generator().manual_seed(0)
    real, fake = torch.randn(4, 1, generator=g), torch.randn(4, 1, generator=g)
    calls = (("d_loss", lambda: loss.d_loss(real, fake)),
             ("g_loss", lambda: loss.g_loss(fake, real)))
    for name, call in calls:
        try:
            with torch.no_grad():
                out = call()
        except Exception:   # noqa: BLE001 -- made-up inputs it may not take; the first step shows its own error
            continue
        if not isinstance(out, torch.Tensor) or out.numel() != 1:
            got = f"shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else type(out).__name__
            raise ConfigError(f"{named}: {name} returned {got} for D outputs of shape (4, 1); it must "
                              f"return a scalar tensor (reduce it, e.g. with .mean())")


def build_optimizer(params, oc: OptimConfig) -> torch.optim.Optimizer:
    params = list(params)
    if oc.name == "adam":
        return torch.optim.Adam(params, lr=oc.lr, betas=tuple(oc.betas), weight_decay=oc.weight_decay)
    if oc.name == "sgd":
        return torch.optim.SGD(params, lr=oc.lr, momentum=oc.momentum, weight_decay=oc.weight_decay)
    if oc.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=oc.lr, momentum=oc.momentum, weight_decay=oc.weight_decay)
    raise ConfigError(f"optimizer {oc.name!r}: valid choices: adam, sgd, rmsprop")


def load_optimizer_state(opt: torch.optim.Optimizer, saved: dict):
    """A checkpoint's moments and step counts under this optimizer's own hyperparameters: torch's
    load_state_dict would also put back the saved betas, momentum, weight decay, eps, so a
    config changed on --resume would be recorded but not used.  (lr is the schedule's.)"""
    own = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    # torch's words for other parameters ("a parameter group that doesn't match the size of
    # optimizer's group") name neither count; the run's refusal quotes these
    was, now = ([len(g["params"]) for g in groups] for groups in (saved.get("param_groups", []), opt.param_groups))
    if was != now:
        raise ValueError(f"the checkpoint's optimizer updates {sum(was)} parameter tensors, this run's "
                         f"{sum(now)}" if sum(was) != sum(now) else
                         f"the checkpoint's optimizer groups its parameter tensors {was}, this run's {now}")
    opt.load_state_dict(saved)
    for group, hyper in zip(opt.param_groups, own):
        group.update(hyper)
    for group in opt.param_groups:    # torch checks the groups' sizes, not the moments' shapes
        for p in group["params"]:
            for k, v in opt.state.get(p, {}).items():
                if isinstance(v, torch.Tensor) and v.dim() > 0 and v.shape != p.shape:
                    raise ValueError(f"the optimizer state's {k} has shape {list(v.shape)}, its parameter "
                                     f"{list(p.shape)}")
    if isinstance(opt, torch.optim.RMSprop):
        # momentum switched on: torch makes its buffer only for a parameter without state
        for group in opt.param_groups:
            for p in group["params"] if group["momentum"] > 0 else []:
                state = opt.state.get(p)
                if state and "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)
