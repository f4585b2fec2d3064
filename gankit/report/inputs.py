"""What the report reads from a run folder that a user may have edited: its config.toml (a value
of the wrong type named with its file) and records the page would otherwise leave out silently."""
from __future__ import annotations

from gankit.io import shown_name
from gankit.runfolder import RunFolder


def run_config(folder: RunFolder, overrides: list[str] | None = None):
    """The run's config: its config.toml, then ``overrides`` (the data's new place).  A value of
    the wrong type in the file (a hand edit: std = "0.01") is named with the file, as a damaged
    file is, and the config every checkpoint holds is written beside it (config.toml.recovered)."""
    from gankit import config as C
    try:
        return C.load(folder.read_config(), overrides or [])
    except C.ConfigError as e:
        fault = e
        if overrides:
            try:                # the file alone loads: the overrides are wrong, as the message says
                C.load(folder.read_config())
            except C.ConfigError as alone:
                fault = alone
            else:
                raise
    if str(fault).startswith("imports:") or unregistered(fault):   # code missing here, not a bad file:
        raise fault         # the checkpoints name the same parts, and gankit eval says the same
    from gankit.runfolder.config_file import recovery_advice
    raise C.ConfigError(f"{shown_name(folder.config_path)}: {fault}; correct it "
                        f"there{recovery_advice(folder)}") from None


def unregistered(e: Exception) -> bool:
    """Whether ``e`` names a part that is not registered in this process ("data.name: unknown
    dataset 'mine'"): one a notebook or script registered when it made the run."""
    import re

    from gankit.registry import NETS, REGISTRIES
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
