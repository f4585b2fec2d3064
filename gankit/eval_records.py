"""Which evaluation already recorded a new one may stand on: the final evaluation of a run whose
training ended at a step measured before (train.eval_every, or a finished run resumed), and the
real-data reference of eval settings the asked metrics do not read.  Read from the run folder's
records alone; gankit/api.py (and api_reference.py, the reference row) measures whatever is not found here."""
from __future__ import annotations


def _sampling_config(config: dict) -> dict:
    """What draws a run's samples: every config section but train and eval, and the precision;
    not where the data lie (a run's data moved: --set data.path=NEW)."""
    from gankit.identity import DATA_LOCATION_KEYS
    train = config.get("train") if isinstance(config.get("train"), dict) else {}
    out = {k: v for k, v in config.items() if k not in ("train", "eval")}
    if isinstance(out.get("data"), dict):
        out["data"] = {k: v for k, v in out["data"].items() if k not in DATA_LOCATION_KEYS}
    return {**out, "precision": train.get("precision")}


def _config_after(config: dict | None, changed) -> dict | None:
    """The config of a resumed session: the one before it with the session record's changes
    ({dotted key: [old, new]}) applied; None when either is unknown."""
    import copy
    if config is None or not isinstance(changed, dict):
        return None
    out = copy.deepcopy(config)
    for key, pair in changed.items():
        if not (isinstance(pair, list) and len(pair) == 2):
            return None
        *path, last = key.split(".")
        node = out
        for part in path:
            node = node.setdefault(part, {}) if isinstance(node, dict) else None
            if node is None:
                return None
        node[last] = pair[1]
    return out


def _resolved(config: dict) -> dict:
    """A session record's config with today's defaults for options added since it was written
    (an older run's record lacks them, and would never match); as recorded if it no longer loads."""
    from gankit import trusted_imports
    from gankit.identity import with_current_defaults
    imports = config.get("imports") if isinstance(config, dict) else None
    if isinstance(imports, list) and all(isinstance(m, str) for m in imports):   # read from disk: never run
        trusted_imports.leave_out(imports, "a session record in metrics.jsonl")
    return with_current_defaults(config)


def reusable_eval(run, names, settings: dict) -> dict | None:
    """The evaluation of this very step that train.eval_every recorded, or the final one of an
    earlier session (a --resume of a finished run trains nothing), when it measured what a
    final evaluation would measure now: the same eval settings (threads aside; they hold the
    metrics code that measured it, protocols: an older gankit's record is measured again), no
    rejection-sampler fit after it (gankit drs, or the fit a resume makes), and the same
    settings that draw the samples in force when it was written (a resume may switch DRS or
    EMA off).  A `gankit eval` record is never the final one: it may hold some metrics only.
    ``settings``: the eval settings a final evaluation would record now (eval_settings)."""
    from gankit import config as C
    want = {k: v for k, v in settings.items() if k != "threads"}
    now = _sampling_config(C.to_dict(run.cfg))
    found, config = None, None
    for r in run.folder.records():
        kind = r.get("kind")
        if kind == "session":
            # a run's first session records its config; a resumed one what it changed
            config = (_resolved(r["config"]) if isinstance(r.get("config"), dict)
                      else _config_after(config, r.get("changed")) if r.get("resume") else None)
        elif r.get("step") != run.step:
            continue
        elif kind == "eval" and r.get("source") in ("final", "train.eval_every") \
                and isinstance(r.get("settings"), dict) \
                and {k: v for k, v in r["settings"].items() if k != "threads"} == want:
            found = r if config is not None and _sampling_config(config) == now else None
        elif kind == "drs":
            found = None
    fault = _record_fault(found) if found is not None else None
    if fault:
        import warnings

        from gankit.data.text import printable
        warnings.warn(printable(f"the evaluation of step {run.step} in {run.folder.records_path} {fault}; "
                                "not reused, measuring it again"), stacklevel=2)
        return None
    return found


def _record_fault(record: dict) -> str | None:
    """Why an eval record's numbers are not what its metrics write (an edited or damaged file:
    a dict where a count belongs, text where a number does), or None.  The same check as a
    cached reference row's: reused, such a value would be printed and returned as the result."""
    import math

    from gankit.metrics.reference import _value_fault
    for k, v in record.items():
        if k in ("step", "kind", "source", "settings") or (isinstance(v, float) and math.isnan(v)):
            continue       # a NaN written as NaN, not null, still reads as the NaN measured
        fault = _value_fault(k, v)
        if fault:
            return fault
    return None


def settings_read(names: list[str] | None) -> frozenset[str] | None:
    """The eval settings that change the numbers of the metrics ``names`` (their declared
    reads); None, every setting, for all metrics or one that declares none (a plug-in)."""
    if not names:
        return None
    from gankit.registry import METRICS
    read: set[str] = set()
    for n in names:
        try:
            reads = METRICS.build(n, where="eval.metrics").reads
        except Exception:        # an unknown name: the evaluation itself says so
            return None
        if reads is None:
            return None
        read.update(reads)
    return frozenset(read)


def same_where_read(recorded, settings: dict, read: frozenset[str] | None) -> bool:
    """A recorded reference's settings agree with ``settings`` on those the metrics read (a
    jsd re-measured at another eval.n_samples reuses the reference: jsd never reads it); the
    settings that change no number (report.metricinfo.NOT_MEASURING: threads...) aside."""
    if not isinstance(recorded, dict):
        return False
    from gankit.metrics.base import declared_settings
    from gankit.report.metricinfo import NOT_MEASURING
    declared = declared_settings()
    # every setting for all metrics; else those read, and one no metric declares (a newer
    # gankit's) counts, as in the report
    keys = {k for k in set(recorded) | set(settings) if k not in NOT_MEASURING
            and (read is None or k in read or k not in declared)}
    return all(recorded.get(k) == settings.get(k) for k in keys)


def eval_settings(run, names: list[str] | None) -> dict:
    """An eval record's settings: the eval config, the metrics asked this time, and the sampling
    temperature where G has one (G's samples and nll_test depend on it: the report tells the
    run's own apart)."""
    from gankit import config as C
    settings = C.to_dict(run.cfg.eval) | protocols(run) | {"metrics": list(names or [])}
    temperature = sampling_temperature(run)
    if temperature is not None:
        settings["temperature"] = temperature
    if run.objective.rejection_sampler() is not None:    # samples kept by DRS, not G's own
        settings["sampler"] = "drs"
    from gankit.metrics.user_code import user_code
    user = user_code(names, run.cfg.data.name)      # a user's metric edited since: not the same numbers
    if user:
        settings["user_code"] = user
    return settings


def protocols(run) -> dict:
    """How the metrics are defined: the hash of gankit's code that measures them and, for text,
    the protocol.  A number measured another way differs in its settings, so compare does not
    rank it against a new one, a final evaluation is not reused and the reference is measured again."""
    from gankit.metrics.reference import metrics_code
    from gankit.metrics.text import TEXT_PROTOCOL
    text = getattr(run.dataset, "kind", None) == "text"
    return {"metrics_code": metrics_code(), **({"text_protocol": TEXT_PROTOCOL} if text else {})}


def sampling_temperature(run) -> float | None:
    """The temperature the evaluation's samples were drawn at: the sampling net's own (set from
    ``generator.temperature``, e.g. by ``gankit eval --set generator.temperature=T``, or on the
    net itself), or None for a G without one."""
    t = getattr(run.modules.get(run.objective.sample_module), "temperature", None)
    return float(t) if isinstance(t, (int, float)) and not isinstance(t, bool) else None
