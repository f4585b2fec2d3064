"""Warnings for run options that do nothing in the chosen combination (the objective's own
sub-options warn in gankit/train/gan_checks.py): a user who asks for a decay to half the rate
under a constant schedule, or Adam's betas for RMSprop, should hear that nothing changed.
A warning, not a refusal: presets and sweeps may set an option for every variant."""
from __future__ import annotations

import dataclasses
import warnings

from gankit.config.schema import ConditionConfig, OptimConfig, TrainConfig


def _defaults(cls) -> dict:
    return {f.name: getattr(cls(), f.name) for f in dataclasses.fields(cls)}


def _show(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v).lower() if isinstance(v, bool) else str(v)


def idle_options(cfg) -> list[str]:
    """One line for each option set away from its default that the run will not use."""
    said = []
    opt_default = _defaults(OptimConfig)
    for sec in ("optim_d", "optim_g"):
        oc = getattr(cfg, sec)
        if oc.name != "adam" and list(oc.betas) != list(opt_default["betas"]):
            said.append(f"{sec}.betas={_show(list(oc.betas))} has no effect: betas are Adam's and {sec}.name is "
                        f"{oc.name}; its momentum is {sec}.momentum")
        if oc.name == "adam" and oc.momentum != opt_default["momentum"]:
            said.append(f"{sec}.momentum={_show(oc.momentum)} has no effect: {sec}.name is adam, whose momentum "
                        f"is {sec}.betas[0] (now {_show(oc.betas[0])})")
    t, t_default = cfg.train, _defaults(TrainConfig)
    if t.lr_schedule == "constant":
        for k in ("lr_final", "lr_decay_start"):
            if getattr(t, k) != t_default[k]:
                said.append(f"train.{k}={_show(getattr(t, k))} has no effect: train.lr_schedule is constant; "
                            "decay with --set train.lr_schedule=linear (or cosine)")
    c, c_default = getattr(cfg, "condition", None), _defaults(ConditionConfig)
    if c is not None and c.kind == "none":
        changed = [k for k in c_default if k != "kind" and getattr(c, k) != c_default[k]]
        if changed:
            said.append(f"{', '.join(f'condition.{k}' for k in changed)} {'has' if len(changed) == 1 else 'have'} "
                        "no effect: condition.kind is none; condition on labels with --set condition.kind=label")
    elif c is not None:
        if c.d_mode not in ("concat", "projection") and c.mismatch_weight != c_default["mismatch_weight"]:
            said.append(f"condition.mismatch_weight={_show(c.mismatch_weight)} has no effect: the matching-aware "
                        f"term needs a D that reads c (condition.d_mode concat or projection), not {c.d_mode}")
        text_only = [k for k in ("text_encoder", "max_words", "attribute_mismatch")
                     if c.kind != "text" and getattr(c, k) != c_default[k]]
        if text_only:
            said.append(f"{', '.join(f'condition.{k}' for k in text_only)} {'has' if len(text_only) == 1 else 'have'} "
                        f"no effect: {'it applies' if len(text_only) == 1 else 'they apply'} to captions and "
                        f"condition.kind is {c.kind}")
        if c.d_mode != "acgan" and c.aux_weight != c_default["aux_weight"]:
            said.append(f"condition.aux_weight={_show(c.aux_weight)} has no effect: it weighs AC-GAN's class loss "
                        f"and condition.d_mode is {c.d_mode}")
    return said


def warn_idle_options(cfg, before=None) -> None:
    """``before``: the config the run had (a resume): only the lines this one adds."""
    known = set(idle_options(before)) if before is not None else set()
    for line in idle_options(cfg):
        if line not in known:
            warnings.warn(line, stacklevel=3)
