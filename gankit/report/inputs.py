"""What the report reads from a run folder that a user may have edited: its config.toml (a value
of the wrong type named with its file; one that no longer describes the run's checkpoints refused,
as eval refuses it) and records the page would otherwise leave out silently."""
from __future__ import annotations

from pathlib import Path

from gankit.io import shown_name
from gankit.runfolder import RunFolder

UNREAD = object()     # a reader's ``found`` where the caller did not read the checkpoint


def run_config(folder: RunFolder, overrides: list[str] | None = None, found=UNREAD):
    """The run's config: its config.toml, then ``overrides`` (the data's new place).  A value of
    the wrong type in the file (a hand edit: std = "0.01") is named with the file, as a damaged
    file is, and the config every checkpoint holds is written beside it (config.toml.recovered).
    A file whose values differ from the newest checkpoint's in what defines the run (data.radius
    edited after training) is refused in eval's words: the page would state a seed the run never
    had and draw its samples over other data.  ``found``: newest_checkpoint(folder), where the
    caller read it already (the report hands on the one it reads for the run's progress)."""
    from gankit import config as C
    cfg = loaded_config(folder, overrides)
    if found is UNREAD:         # read once: the differences and the refusal name the same file
        found = newest_checkpoint(folder)
    if checkpoint_differences(folder, C.to_dict(cfg), found) is not None:
        from gankit.identity import checkpoint_mismatch
        from gankit.runfolder import RunFolderError
        state, path = found
        # no config without overrides: the report takes only the data's place, which no identity holds
        if (problem := checkpoint_mismatch(state, path, C.to_dict(cfg))) is not None:
            raise RunFolderError(problem)
    return cfg


def newest_checkpoint(folder: RunFolder, intact=None) -> tuple[dict, Path] | None:
    """(state, path) of the newest checkpoint that loads, memory-mapped (its tensors are not
    read); None where none does.  A damaged one is skipped quietly: the page needs none.
    ``intact``: newest_intact_checkpoint's (step, path, state), read already; its state is taken
    only where its file is the newest one listed (the file this reads first), else the files are
    read: an intact older one is not what this picks where a newer file loads but fails its checks."""
    from gankit.runfolder.checkpoint_read import load_mapped
    listed = folder.checkpoints()
    if intact is not None and listed and listed[-1][1] == intact[1] and isinstance(intact[2], dict):
        return intact[2], intact[1]
    for _, path in reversed(listed):
        try:
            state = load_mapped(path)
        except Exception:       # damaged or being written: the one before
            continue
        return (state, path) if isinstance(state, dict) else None
    return None


def checkpoint_differences(folder: RunFolder, config: dict, found=UNREAD) -> list[str] | None:
    """The keys of what defines the run (gankit.identity.MODEL_KEYS) in which ``config`` (the
    resolved config.toml) differs from its newest checkpoint's config ([] where that checkpoint
    holds none to name them); None where they agree, or no checkpoint says (none loads, or one
    written before identities).  The test checkpoint loading makes (identity.checkpoint_mismatch),
    without its writes: compare only reads the runs.  ``found``: newest_checkpoint(folder), where
    the caller read it already."""
    from gankit.identity import agrees, model_differences
    if found is UNREAD:
        found = newest_checkpoint(folder)
    if not found or agrees(found[0], config):
        return None
    own = found[0].get("config")
    return model_differences(own, config) if isinstance(own, dict) else []


def loaded_config(folder: RunFolder, overrides: list[str] | None, raw: dict | None = None):
    """config.toml (``raw``, where the caller read it already) with ``overrides`` as this gankit
    reads it; a wrong value named with its file, with the config the checkpoints hold offered
    beside it.  The one wording of the report and of every command that opens a run (Run.open:
    eval, sample, --resume).  A fault of the overrides alone (a --set of the user's) is theirs,
    said as it was: the file is not blamed for it."""
    from gankit import config as C
    if raw is None:
        raw = folder.read_config()
    try:
        return C.load(raw, overrides or [])
    except C.ConfigError as e:
        fault = e
        if overrides:
            try:                # the file alone loads: the overrides are wrong, as the message says
                C.load(raw)
            except C.ConfigError as alone:
                fault = alone
            else:
                raise
    if str(fault).startswith("imports:") or unregistered(fault):   # code missing here, not a bad file:
        raise fault         # the checkpoints name the same parts, and gankit eval says the same
    if _as_trained(folder):     # a config recovered from the checkpoints would be this very file
        raise C.ConfigError(f"{shown_name(folder.config_path)}: {fault}; the file holds the config the run "
                            "trained with (its checkpoints hold the same), so the code that reads it changed "
                            "since (a module of yours, or gankit)") from None
    from gankit.runfolder.config_file import recovery_advice
    raise C.ConfigError(f"{shown_name(folder.config_path)}: {fault}; correct it "
                        f"there{recovery_advice(folder)}") from None


def _as_trained(folder: RunFolder) -> bool:
    """Whether config.toml holds what its newest checkpoint holds (as config.toml writes it)."""
    from gankit.config import ConfigError
    from gankit.config.files import without_none
    found = newest_checkpoint(folder)
    own = found[0].get("config") if found else None
    try:
        return isinstance(own, dict) and without_none(own) == folder.read_config()
    except ConfigError:         # a None in a list: no config.toml holds it
        return False


def unregistered(e: Exception) -> bool:
    """Whether ``e`` names a part that is not registered in this process ("data.name: unknown
    dataset 'mine'"): one a notebook or script registered when it made the run; or an option
    a user's registered part does not take (their module, since edited, says so)."""
    import re

    from gankit.config.core import UserOptionError
    from gankit.registry import NETS, REGISTRIES
    if isinstance(e, UserOptionError):
        return True
    kinds = {r.kind for r in (*REGISTRIES.values(), NETS)}
    m = re.match(r"[\w.\[\]]+: unknown (\w+)", str(e))     # "metric(s)" too: eval.metrics
    return bool(m) and m.group(1) in kinds


def warn_left_out(folder: RunFolder, records: list[dict], last: dict | None, infos):
    """A warning for what the page would leave out without a word: records without a "kind"
    (nothing says whether one is an evaluation), and values of the final evaluation that are no
    number (precision = "high", recall = [1, 2]: an edited file)."""
    import json
    import warnings

    from gankit.report.metricinfo import META_KEYS, is_measured

    from gankit.streams import listed
    where = shown_name(folder.records_path)
    kindless = [str(r["step"]) for r in records if not isinstance(r.get("kind"), str)]
    if kindless:
        warnings.warn(f"{where}: {len(kindless)} record(s) without a \"kind\" (\"train\", \"eval\", ...), "
                      f"at step(s) {listed(kindless)}, left out of the report", stacklevel=3)
    odd = [f"{k} = {json.dumps(v, default=str)[:40]}" for k, v in (last or {}).items()
           if k not in META_KEYS and k in infos and infos[k].fmt != "s" and v is not None and not is_measured(v)]
    if odd:
        warnings.warn(f"{where}: the evaluation of step {last['step']} holds {listed(odd)}: no number, left out "
                      "of the report (an edited record?)", stacklevel=3)
