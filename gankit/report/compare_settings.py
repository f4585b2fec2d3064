"""Whether two runs' numbers of one metric were measured alike (compare marks the better only
then): the eval settings each number was measured with, of those its metric reads (its record's,
else config.toml's eval.*), the metrics code that measured it, and the run options setting its
units (OPTIONS_READ); _settings_apart lists those that differ, _settings_note words them for
compare's note."""
from __future__ import annotations

import json

from gankit.metrics.inference import OPTIONS_READ
from gankit.report import metricinfo as MI


def _eval_settings(record: dict, config: dict, key: str, measuring: MI.Measuring) -> dict:
    """The eval settings number ``key`` was measured with, of those that change it: its record's,
    and for what that does not hold (records an older gankit wrote during training have no
    settings) config.toml's eval.*, which that evaluation used. Its user_code only for the code
    that measured ``key`` (Measuring.of): another user metric asked beside it changes no number of it."""
    recorded = measuring.of(key, record.get("settings")) or {}
    names = set(recorded) | {k[len("eval."):] for k in config if k.startswith("eval.")}
    return {k: recorded[k] if k in recorded else config.get(f"eval.{k}") for k in names
            if measuring.counts(key, k)}


def _settings_apart(key: str, values: list, sources: list[dict], configs: list[dict],
                    measuring: MI.Measuring | None = None) -> list[tuple]:
    """The eval settings (name, distinct values) that differ between the records that supplied
    ``key``'s values: two values of a metric are comparable only if every eval setting it reads
    is equal between them (a partial ``gankit eval --set eval.n_samples=N`` gives one metric of a
    run other settings than the rest; eval.jsd_samples changes no number but jsd's)."""
    measuring = measuring or MI.Measuring()
    options = OPTIONS_READ.get(MI.info(key, measuring.infos).metric, ())    # and the options setting its units
    seen = [_eval_settings(src.get(key, {}), cfg, key, measuring) | {k: cfg.get(k) for k in options}
            for v, src, cfg in zip(values, sources, configs) if v is not None]
    from dataclasses import fields

    from gankit.config.schema import EvalConfig
    keys, out = {f.name for f in fields(EvalConfig)}, []
    for name in sorted(set().union(*seen)) if len(seen) > 1 else []:
        if name == CODE:
            shown = list(dict.fromkeys(_code_shown(s.get(name)) for s in seen))
        elif name == "sampler":       # recorded for a run whose samples DRS keeps (eval_records.eval_settings)
            shown = list(dict.fromkeys(SAMPLERS.get(v, v) if isinstance(v := s.get(name), (str, type(None)))
                                       else json.dumps(v, sort_keys=True) for s in seen))
        else:
            shown = list(dict.fromkeys("unset" if s.get(name) is None else
                                       json.dumps(s.get(name), sort_keys=True, ensure_ascii=False) for s in seen))
        if len(shown) > 1:      # the eval.* keys by their config name; the rest as the records name them
            out.append((f"eval.{name}" if name in keys else name, shown))
    return out


# what draws the samples measured, as an eval record's "sampler" says it (none: G alone)
SAMPLERS = {"drs": "DRS (objective.drs)", None: "G alone"}


# the setting every eval record holds: the hash of the gankit code that measured it (gankit/eval_records.py protocols)
CODE = "metrics_code"


def _code_shown(code) -> str:
    return code[:8] if isinstance(code, str) and code else "unrecorded: an older gankit"


def _settings_note(metrics: list[dict]) -> str:
    """One clause per set of differing settings, naming the metrics left unmarked: measured by
    another version of gankit's metrics code (their definitions may differ), with other eval
    settings, or in other units (a run option of OPTIONS_READ: objective.decoder for the elbo)."""
    def listed(differ: list[tuple]) -> str:
        return ", ".join(f"{name}{' ' if '.' in name else ': '}{' / '.join(vals)}" for name, vals in differ)
    options, groups = {k for keys in OPTIONS_READ.values() for k in keys}, {}
    for m in metrics:
        if m["_differ"] and m["better"]:           # a descriptive number is never marked anyway
            code = [vals for name, vals in m["_differ"] if name == CODE]
            units = listed([(name, vals) for name, vals in m["_differ"] if name in options])
            rest = listed([(name, vals) for name, vals in m["_differ"] if name != CODE and name not in options])
            what = " and ".join(([f"by different versions of gankit's metrics code ({' / '.join(code[0])})"]
                                 if code else []) + ([f"with different eval settings ({rest})"] if rest else [])
                                + ([f"in other units ({units})"] if units else []))
            groups.setdefault(what, []).append(m["key"])
    note = "; ".join(f"{', '.join(keys)}: not marked, measured {what}" for what, keys in groups.items())
    if any(what.startswith("by different versions") for what in groups):
        note += " (gankit eval RUN measures a run again with this version)"
    return note
