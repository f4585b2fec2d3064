"""The identity of a run: a short hash of its resolved config.

Two runs with the same identity train the same thing (same data, nets, objective, optimizers,
steps and seed), however their config was written: a preset, a TOML file, or another preset plus
``--set`` overrides.  Sweeps (gankit.sweep, benchmarks/pacgan_table.py) store it with every
result so that ``--resume`` reuses a finished run instead of training it again.

identity = first 16 hex digits of sha1(JSON of ``gankit.config.to_dict(cfg)``, keys sorted).

Adding a config option changes every resolved config (the new key appears with its default), so
it would change every identity and orphan the runs already recorded.  ADDED_OPTIONS lists the
options added after runs were recorded, with their defaults: a run that leaves such an option at
its default hashes as it did before the option existed; a run that sets it hashes differently.

HOW TO ADD AN OPTION: when you add a field to the config (a section's dataclass in
gankit/config/schema.py, or the parameters of a component such as an objective or a loss), add
``("section", "key"): default`` below, with exactly the default the config resolves to (as
``to_dict`` writes it: a list, not a tuple).  tests/test_sweep.py checks stored identities
still match.  A key of ``cfg[section]``, or of the config itself when the section is "".
An entry added after runs were recorded with the option in (a release that forgot it) also goes
in LATE_ENTRIES, so the identities those runs hold still match (run_identities).
"""
from __future__ import annotations

import hashlib
import json

# (section, key) -> default; options added to the config after runs were recorded
ADDED_OPTIONS: dict[tuple[str, str], object] = {
    ("eval", "metrics"): [],
    ("objective", "unroll"): 0,
    ("objective", "unroll_lr"): 0.0,
    ("train", "precision"): "fp32",
    ("", "imports"): [],
    ("data", "standardize"): "none",
    ("eval", "jsd_cells"): "exact",
    ("eval", "pr_k"): 3,
    ("eval", "dc_k"): 5,
    ("eval", "parzen_centres"): 10000,
    ("train", "threads"): 0,
    ("train", "parallel_draws"): "per_rank",
    ("eval", "threads"): 0,
    ("train", "lr_schedule"): "constant",
    ("train", "lr_warmup"): 0.0,
    ("train", "lr_decay_start"): 0.0,
    ("train", "lr_final"): 0.0,
    ("train", "lr_on_resume"): "continue",
    ("train", "tensorboard"): False,
    ("train", "live_report"): True,
    ("train", "compile"): False,
    ("objective", "hidden_noise"): 0.0,
    ("objective", "weight_norm"): False,
    ("condition", "attribute_mismatch"): 0.0,
    ("generator", "fc"): 0,
    ("discriminator", "fc"): 0,
    ("generator", "slots"): 1,
    ("generator", "heads"): 2,
    ("optim_d", "grad_clip"): 0.0,
    ("optim_g", "grad_clip"): 0.0,
    ("discriminator", "reps"): 1,
    ("objective", "q_batchnorm"): False,
    ("objective", "gumbel_hard"): True,
}


# entries of ADDED_OPTIONS made after runs were recorded with the option at its default in their
# identity (between the option's commit and its entry): sweeps match those records too
LATE_ENTRIES: tuple[tuple[str, str], ...] = (("discriminator", "reps"), ("objective", "q_batchnorm"),
                                             ("objective", "gumbel_hard"))


# (section, key) -> the old default, for options whose default became None ("follow the data"):
# a run that leaves them unset hashes as it did with the old default written out
NONE_DEFAULTS: dict[tuple[str, str], object] = {
    ("eval", "hq_std"): 3.0,
}


# The parts of a config that say which networks a checkpoint holds and what they learn:
# the data, the nets, their noise and conditioning, the loss, which objective, the seed.
# Left out, because a run may change them and stay the same run: train.* (``--resume --set
# train.steps=N``, device, precision, logging), eval.*, the optimizers (a lower lr to fine-tune)
# and the objective's options (``gankit drs`` turns objective.drs on for a finished run).
MODEL_KEYS = ("seed", "data", "generator", "discriminator", "noise", "condition", "loss")
# Where the data lie is not what the model is: a run whose data moved is the same run, opened with
# ``--set data.path=NEW`` (or its config.toml edited).  Checkpoints written before this rule
# hashed these keys too; RunFolder accepts those as well (``model_identity(..., legacy=True)``).
DATA_LOCATION_KEYS = ("path", "root")
# how G samples, not what it is: changed for `sample` / `eval` (and on --resume) of the same nets
SAMPLING_KEYS = ("temperature",)


def as_written_then(config: dict) -> dict:
    """A stored config (config.toml, a checkpoint's, a session record's) with the default it ran
    with where that default has changed since: a points file (``data.name = points``) whose config
    has no ``data.standardize`` was written before the option existed and trained on the raw
    points; a points file's default is now ``global``."""
    data = config.get("data") if isinstance(config, dict) else None
    if isinstance(data, dict) and data.get("name") == "points" and "standardize" not in data:
        return {**config, "data": {**data, "standardize": "none"}}
    return config


def with_current_defaults(config: dict) -> dict:
    """A config dict as a gankit of any version wrote it (config.toml, a checkpoint's, a session
    record's) resolved by this one: the options added since take today's defaults, which is how
    the older gankit ran (ADDED_OPTIONS), so they are no difference; as given where it no longer
    loads (a component renamed, a module left out).  Callers leave out imports they do not trust."""
    import warnings

    from gankit import config as C
    config = as_written_then(config)
    try:
        with warnings.catch_warnings():      # notes about the config are said where it is run
            warnings.simplefilter("ignore")
            return C.to_dict(C.load(config, []))
    except Exception:
        return config


def hashed_form(cfg, keep=()) -> dict:
    """The config as identities hash it; ``keep``: entries of ADDED_OPTIONS left in at their default."""
    from gankit import config as C
    d = C.to_dict(cfg)   # a fresh copy either way: the pops below leave the caller's dict alone
    for (section, key), old in NONE_DEFAULTS.items():
        node = d if section == "" else d.get(section)
        if isinstance(node, dict) and node.get(key) is None:
            node[key] = old
    for (section, key), default in ADDED_OPTIONS.items():
        node = d if section == "" else d.get(section)
        # isinstance: a section may be a scalar in some configs; == keeps 0 == 0.0 as before
        if isinstance(node, dict) and node.get(key, default) == default and (section, key) not in keep:
            node.pop(key, None)
    return d


def json_hash(d) -> str:
    return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def run_identity(cfg) -> str:
    """16 hex digits identifying a run; ``cfg`` is a RunConfig or its resolved ``to_dict`` form."""
    return json_hash(hashed_form(cfg))


def run_identities(cfg) -> list[str]:
    """run_identity, then every other identity a recorded run of this config may hold: hashed with
    some of the LATE_ENTRIES options it holds left in (recorded before their entries were made)."""
    from itertools import combinations
    d = hashed_form(cfg, keep=LATE_ENTRIES)
    held = [(s, k) for s, k in LATE_ENTRIES if isinstance(d if s == "" else d.get(s), dict)
            and k in (d if s == "" else d[s])]
    out = [run_identity(d)]
    for n in range(1, len(held) + 1):
        for keep in combinations(held, n):
            out.append(json_hash(hashed_form(d, keep=keep)))
    return list(dict.fromkeys(out))


def model_part(cfg, legacy: bool = False, sampling: bool = False) -> dict:
    """The MODEL_KEYS of a config (plus the objective's name), as hashed by model_identity;
    the data's location (DATA_LOCATION_KEYS) left out unless ``legacy``, G's sampling settings
    (SAMPLING_KEYS) unless ``legacy`` or ``sampling``."""
    d = hashed_form(cfg)
    part = {k: d[k] for k in MODEL_KEYS if k in d}
    if not legacy and isinstance(part.get("data"), dict):
        part["data"] = {k: v for k, v in part["data"].items() if k not in DATA_LOCATION_KEYS}
    if not (legacy or sampling) and isinstance(part.get("generator"), dict):
        part["generator"] = {k: v for k, v in part["generator"].items() if k not in SAMPLING_KEYS}
    obj = d.get("objective")
    part["objective"] = obj.get("name") if isinstance(obj, dict) else obj
    return part


def model_identity(cfg, legacy: bool = False) -> str:
    """16 hex digits naming what a checkpoint's networks are (MODEL_KEYS and the objective's
    name); stored in every checkpoint, so a checkpoint of another run is refused on loading.
    ``legacy``: as older checkpoints hashed it (the data's location in)."""
    return json_hash(model_part(cfg, legacy))


def model_identities(cfg) -> set[str]:
    """Every hash a checkpoint of these nets may carry: model_identity's, and those of older
    checkpoints (with the data's location; with G's sampling settings, 2026-12-04)."""
    return {model_identity(cfg), model_identity(cfg, legacy=True), json_hash(model_part(cfg, sampling=True))}


def flat_config(d: dict, prefix: str = "") -> dict:
    """A nested config dict as dotted keys -> values (``data.path``), for messages."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flat_config(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def model_differences(a, b) -> list[str]:
    """Dotted keys where the model parts of configs ``a`` and ``b`` differ (for error messages)."""
    fa, fb = (_as_typed(flat_config(model_part(c))) for c in (a, b))
    return sorted(k for k in fa.keys() | fb.keys() if fa.get(k) != fb.get(k))


def _as_typed(flat: dict) -> dict:
    """model_part holds the objective as its bare name (so identities hash as they always did);
    a message names the key a user types: objective.name."""
    if "objective" in flat:
        flat["objective.name"] = flat.pop("objective")
    return flat


def agrees(state: dict, config: dict) -> bool:
    """Whether the checkpoint ``state`` is that of the run ``config`` (its resolved config)
    defines, as far as its identity tells: written before identities, or its identity one of the
    config's, or the run's own under an older hash with its data since moved (data.path/root)."""
    stored = state.get("identity")
    if stored is None or stored in model_identities(config):
        return True
    own = state.get("config")
    return isinstance(own, dict) and stored in model_identities(own) and model_identity(own) == model_identity(config)


def checkpoint_mismatch(state: dict, path, config: dict, without_overrides: dict | None = None) -> str | None:
    """Why the checkpoint ``state`` (read from ``path``) is not this run's (``config``: its
    resolved config; ``without_overrides``: the same without this session's --set), or None."""
    if agrees(state, config):
        return None
    stored, own = state["identity"], state.get("config")
    if without_overrides is not None and stored in model_identities(without_overrides):
        diff = model_differences(without_overrides, config)
        if diff:      # the run's own checkpoint: the overrides change what defines the run
            return _redefined(diff)
    diff = model_differences(own, config) if isinstance(own, dict) else []
    shown = ", ".join(diff[:6]) + (", ..." if len(diff) > 6 else "")
    if isinstance(own, dict) and stored in model_identities(own) \
            and (edited := _edited_config(path, own, stored, state.get("step"), shown)) is not None:
        return edited
    return (f"{path} belongs to another run (model identity {stored}, this run's is {model_identity(config)}"
            + (f"; they differ in {shown}" if shown else "")
            + "); move it out of this folder, or open the run it came from")


def defines_run(key: str) -> bool:
    """Whether the dotted ``key`` (as a --set names it) is part of the model identity (model_part)."""
    top, _, rest = key.strip().partition(".")
    sub = rest.split(".")[0]
    return top == "objective" and sub in ("", "name") or top in MODEL_KEYS and not (
        top == "data" and sub in DATA_LOCATION_KEYS or top == "generator" and sub in SAMPLING_KEYS)


def _redefined(diff: list[str], opened: bool = False) -> str:
    """``opened``: the run is opened to be read (api.open_run, gankit sample), not resumed."""
    shown = ", ".join(diff[:6]) + (", ..." if len(diff) > 6 else "")
    if opened:
        return (f"--set {shown}: these define the run (its model identity), so a trained run cannot be opened "
                f"with them changed; drop them, or train a new run with them (--out NEW)")
    return (f"--set {shown}: these define the run (its model identity), so they cannot change on "
            f"--resume; drop them, or start a new run with them (--out NEW)")


def overrides_redefine(folder, config: dict, without_overrides: dict, opened: bool = False) -> str | None:
    """checkpoint_mismatch's refusal of overrides that change what defines the run, said before
    its data are built (Run.open): data built under them may fail first, with advice that leads
    to this refusal (--set data.size=4 on 8x8 images: "choose a resize policy with --set
    data.resize=..."), or a net may refuse the new shape.  None where the overrides change no key
    of the model identity, the run has no checkpoint yet (it starts again from step 0, where they
    may change), or its newest checkpoint is not this config's without them (an edited config.toml
    the overrides may put back; another run's file): the load proper says those in its own words."""
    diff = model_differences(without_overrides, config)
    found = folder.checkpoints() if diff else []
    if not found:
        return None
    try:
        state = folder.load_file(found[-1][1])
    except Exception:      # noqa: BLE001 - damaged or pruned: the load proper skips it, with a warning
        return None
    if not isinstance(state, dict) or agrees(state, config) \
            or state.get("identity") not in model_identities(without_overrides):
        return None
    return _redefined(diff, opened)


def _edited_config(path, own: dict, stored: str, step, shown: str) -> str | None:
    """Why the run's own checkpoint (``path``, whose config ``own`` has the identity ``stored``)
    differs from config.toml: config.toml was edited, as the run's records say (the config its
    last session up to ``step`` trained has the checkpoint's identity).  The checkpoint's config
    is written to config.toml.recovered, for the user to put back.  None where the records do
    not agree, or hold no config: a checkpoint of another run, as far as gankit can tell."""
    import warnings
    from pathlib import Path

    from gankit.runfolder import RECOVERED_CONFIG, RunFolder
    from gankit.streams import pasteable
    folder = RunFolder(Path(path).parent.parent)
    with warnings.catch_warnings():        # a damaged record is warned of by the command's own read
        warnings.simplefilter("ignore")
        sessions = [r for r in folder.records("session") if isinstance(r.get("config"), dict)
                    and not (isinstance(step, int) and r["step"] > step)]
    if not sessions or stored not in model_identities(sessions[-1]["config"]):
        return None
    config, target = folder.config_path, folder.path / RECOVERED_CONFIG
    try:      # as for a damaged config.toml: never written over, it may hold edits worth keeping
        from gankit.runfolder.config_file import write_recovered
        target = write_recovered(folder, own)     # another name where the user's copy differs
        fix = f"{Path(path).name}'s config is now in {target}: put it back (mv {pasteable(target)} {pasteable(config)})"
    except Exception:       # a read-only folder, or a config TOML cannot hold
        fix = "restore it from a backup"
    return (f"{config} differs from the run's checkpoints in {shown or 'what defines the run'} (edited by hand?); "
            f"{fix}, or train a new run with it (gankit train {pasteable(config)} --out NEW)")
