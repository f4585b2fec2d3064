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
    """The metrics skipped (their "metric 'x' skipped: ..." warnings) and the eval.n_samples they ask for."""
    import re
    skips = [re.match(r"metric '([^']+)' skipped:.*?(?:--set eval\.n_samples=(\d+)\))?$", w, re.S) for w in shown]
    skips = [m.groups() for m in skips if m]
    if not skips:
        return "the warnings above say why, if any"
    said = f"{', '.join(m for m, _ in skips)} skipped with eval.n_samples = {n} (the warnings above say why)"
    if all(need for _, need in skips):     # each asked for more samples: the most lets all of them run
        said += f"; --set eval.n_samples={max(int(k) for _, k in skips)} lets {'it' if len(skips) == 1 else 'them all'} run"
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
    own (config.toml's) its keys get a suffix, so the point is no step of the run's curve."""
    from gankit.report.metricinfo import META_KEYS, own_temperature
    if not run.cfg.train.tensorboard or temperature is None \
            or temperature == own_temperature(run.folder.read_config().get("generator")):
        return rec
    return {k if k in META_KEYS else f"{k}_at_T{temperature:g}": v for k, v in rec.items()}


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
