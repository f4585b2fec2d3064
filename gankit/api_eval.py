"""What api.evaluate says and refuses around its measurement: the metrics a strict evaluation
skipped (and the eval.n_samples they ask for), a Run opened before its folder was trained
further, an evaluation's numbers in one line, its record as TensorBoard's curves take it, and the
settings that open a run where it is read (the data's new place, G's temperature)."""
from __future__ import annotations

import contextlib
import warnings
from pathlib import Path


@contextlib.contextmanager
def _warnings_seen(seen: list[str]):
    """Warnings shown meanwhile, shown as ever and kept in ``seen`` as text."""
    show = warnings.showwarning

    def keep(message, *args, **kwargs):
        seen.append(str(message))
        return show(message, *args, **kwargs)
    warnings.showwarning = keep
    try:
        yield
    finally:
        warnings.showwarning = show


def _why_skipped(shown: list[str], n: int) -> str:
    """The metrics skipped (their "metric 'x' skipped: ..." warnings) and the eval.n_samples they ask for,
    in the caller's words as the warnings are (gankit.wording.callers_words)."""
    import re

    from gankit.wording import callers_words
    # the warning's advice: --set eval.n_samples=N (the gankit command) or overrides=["eval.n_samples=N"]
    skips = [re.match(r"metric '([^']+)' skipped:.*?(?:(?:--set |overrides=\[\")eval\.n_samples=(\d+)\"?\]?\))?$",
                      w, re.S) for w in shown]
    skips = [m.groups() for m in skips if m]
    if not skips:
        return "the warnings above say why, if any"
    said = f"{', '.join(m for m, _ in skips)} skipped with eval.n_samples = {n} (the warnings above say why)"
    if all(need for _, need in skips):     # each asked for more samples: the most lets all of them run
        said += (f"; {callers_words(f'--set eval.n_samples={max(int(k) for _, k in skips)}')} lets "
                 f"{'it' if len(skips) == 1 else 'them all'} run")
    return said


NO_RECORD = "gankit eval --no-record (api.evaluate(..., record=False))"


def _refuse_stale(run):
    """A Run object opened before its folder was trained further (a notebook keeps ``run`` from
    an earlier cell, another cell resumes the folder): its evaluation would be recorded after
    the newer step's, as if it were the run's newest."""
    from gankit.io import intact
    from gankit.runfolder import WRITTEN_HERE
    from gankit.train.run_state import RunError
    seen = getattr(run, "checkpoints_seen", set())     # there when it was opened: skipped as unreadable
    here = str(run.folder.path.resolve())       # a training in another process is no stale Run here
    newer = [s for s, p in run.folder.checkpoints() if s > run.step and s not in seen
             and (here, s) in WRITTEN_HERE and intact(p)]
    if newer:
        raise RunError(f"{run.dir} holds a checkpoint of step {max(newer)}, past this Run's step {run.step} "
                       "(another Run object trained it since this one was opened); open the run again "
                       f"(api.open_run) to evaluate step {max(newer)}, or measure these weights without "
                       "recording (api.evaluate(..., record=False))")


def _numbers(result: dict) -> str:
    """An evaluation's numbers in one line (lists such as mode counts left out)."""
    return ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in result.items()
                     if not isinstance(v, (list, tuple, dict))) or "none"


def _tensorboard_view(run, rec: dict, temperature: float | None) -> dict:
    """The record as TensorBoard's eval/* curves take it: at another temperature than the run's
    own (config.toml's) its keys get a suffix, and measured with other eval settings than
    config.toml's one naming those that change the key's number (``modes_covered@n_samples=20``):
    TensorBoard keeps every value of a step, so the point would read as a second result of that
    step on the run's curve."""
    from gankit.report.metricinfo import META_KEYS, own_temperature
    if not run.cfg.train.tensorboard:
        return rec
    try:
        config = run.folder.read_config()
    except Exception:      # damaged since the Run was opened: the record is in, TensorBoard only a view of it
        config = {}
    apart = _settings_apart(rec, config.get("eval"))
    at = f"_at_T{temperature:g}" if temperature is not None \
        and temperature != own_temperature(config.get("generator")) else ""
    if not at and not apart:
        return rec
    return {k if k in META_KEYS else f"{k}{at}{apart.get(k, '')}": v for k, v in rec.items()}


def _settings_apart(rec: dict, own) -> dict:
    """{key: "@jsd_bins=30,n_samples=20"}: for each number of ``rec``, its eval settings that differ from
    ``own`` (config.toml's [eval], resolved: a setting left at a default of None is in no TOML file)
    and change that number (report.metricinfo.Measuring: jsd never reads eval.n_samples)."""
    import json

    from gankit.identity import with_current_defaults
    from gankit.report.metricinfo import NOT_MEASURING, Measuring
    settings = rec.get("settings")
    own = with_current_defaults({"eval": own}).get("eval") if isinstance(own, dict) else None
    if not isinstance(settings, dict) or not isinstance(own, dict):
        return {}
    differ = {k: v for k, v in settings.items() if k in own and k not in NOT_MEASURING and own[k] != v}
    if not differ:
        return {}
    # short and stable: sorted names, 0.5 not 0.5000, [1,2] not [1, 2]
    short = {k: f"{v:g}" if isinstance(v, float) else v if isinstance(v, str)
             else json.dumps(v, separators=(",", ":")) for k, v in differ.items()}
    m = Measuring()
    said = {k: sorted(n for n in differ if m.counts(k, n)) for k in rec}
    return {k: "@" + ",".join(f"{n}={short[n]}" for n in names) for k, names in said.items() if names}


def _opening_sets(overrides: list[str], sampling: bool) -> list[str]:
    """The items of ``overrides`` that say where the run's data are now (data.path, data.root)
    and, with ``sampling``, how G samples (generator.temperature): a reader opens the run with them."""
    from gankit.identity import DATA_LOCATION_KEYS, SAMPLING_KEYS
    keys = {f"data.{k}" for k in DATA_LOCATION_KEYS} | {f"generator.{k}" for k in SAMPLING_KEYS if sampling}
    return [o for o in overrides if isinstance(o, str) and o.split("=", 1)[0].strip() in keys]


def _as_opened(run, item: str) -> str:
    """A data-location item as the Run resolved it (absolute: the same place after a notebook's %cd)."""
    key = item.split("=", 1)[0].strip()
    value = getattr(run.cfg.data, "params", {}).get(key.split(".", 1)[1])
    return f"{key}={value}" if isinstance(value, str) and Path(value).is_absolute() else item
