"""`gankit compare RUN...`: runs side by side, from their run folders alone.

Overlaid curves (losses, D's outputs, every eval metric over steps), the final metrics with
the better value marked per metric direction (the metrics' declared ``Output.better``), and
the config keys whose values differ between the runs.  The same data as text or JSON for
scripts.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from gankit.io import displayable
from gankit.report import metricinfo as MI
from gankit.report.progress import run_progress
from gankit.runfolder import RunFolder

TRAIN_PANELS = [("loss_d", "D loss"), ("loss_g", "G loss"), ("d_real", "D(x) on real"),
                ("d_fake", "D(G(z))"), ("critic_real", "critic on real"), ("critic_fake", "critic on fake"),
                ("wasserstein_estimate", "Wasserstein estimate"), ("lr_g", "G learning rate")]


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _names(folders: list[RunFolder]) -> list[str]:
    """The runs' names as shown (plots, pages, text): a folder name's undecodable bytes
    replaced (displayable); the runs' "path" keeps them, for scripts to find the folder."""
    names = [displayable(f.path.name) for f in folders]
    if len(set(names)) < len(names):      # same names shown: show enough of the path to tell them apart
        names = [displayable(f.path) for f in folders]
    return names


def _load_imports(folders: list[RunFolder]):
    """The runs' own component modules (config.toml's imports), so their metrics' labels and
    directions are known; one that cannot be imported any more is a warning, not a failure."""
    import warnings
    from gankit.builtins import import_modules
    from gankit.config import ConfigError
    for f in folders:
        imports = f.read_config().get("imports") or []
        try:
            import_modules([m for m in imports if isinstance(m, str)])
        except ConfigError as e:
            warnings.warn(f"{f.path}: {e}; its own metrics are shown without label or direction", stacklevel=3)


def compare_data(run_dirs: list[str | Path]) -> dict:
    """Everything the comparison shows, as plain JSON-able data."""
    if len(run_dirs) < 1:
        raise ValueError("compare needs at least one run folder")
    folders = [RunFolder(d) for d in run_dirs]
    for f in folders:
        f.require_run()
    _load_imports(folders)
    infos = MI.key_infos()
    names = _names(folders)
    runs, records, configs, finals = [], [], [], []
    for name, f in zip(names, folders):
        recs = f.records()
        raw = f.read_config()
        # a run's numbers are those at its own sampling temperature; points measured at another
        # (gankit eval --set generator.temperature=T) are left out of its table and curves
        own = MI.own_temperature(raw.get("generator"))
        evals, elsewhere = MI.by_temperature([r for r in recs if r.get("kind") == "eval"], own)
        done = run_progress(f, recs)     # a run stopped between log steps: its checkpoint's step
        runs.append({"name": name, "path": str(f.path), "step": done.step,
                     "train_time_s": done.seconds, "train_time_at_least": done.at_least,
                     "eval_step": evals[-1]["step"] if evals else None,
                     "temperature": own,
                     "other_temperatures": sorted({MI.record_temperature(r) for r in elsewhere})})
        left_out = {id(r) for r in elsewhere}
        records.append([r for r in recs if id(r) not in left_out])
        configs.append(_flatten(raw))
        finals.append(MI.final_eval(evals) or {})
    keys = MI.eval_keys([e for e in finals if e], infos)
    apart = _not_comparable(configs, finals)
    metrics = []
    for k in keys:
        ki = MI.info(k, infos)
        values = [e.get(k) for e in finals]
        metrics.append({"key": k, "label": ki.label, "metric": ki.metric, "better": ki.better,
                        "values": values, "shown": [MI.fmt_value(v, ki.fmt) if v is not None else "" for v in values],
                        "best": [] if apart else MI.better_of(values, ki.better)})
    all_keys = sorted(set().union(*configs))
    diff = [{"key": k, "values": [c.get(k) for c in configs]} for k in all_keys
            if len({json.dumps(c.get(k), sort_keys=True) for c in configs}) > 1]
    note = (f"no value is marked better: the runs differ in {', '.join(apart)}, so their numbers measure "
            "different things" if apart else "")
    return {"runs": runs, "metrics": metrics, "config_diff": diff, "note": note, "_records": records}


# what must match for two runs' final numbers to measure the same thing
SAME_FOR_METRICS = ("data.", "condition.kind")
SAME_EVAL_SETTINGS = ("n_samples", "features", "pr_k", "dc_k")


def _not_comparable(configs: list[dict], finals: list[dict]) -> list[str]:
    """The config keys and eval settings that differ between the runs and change what the
    metrics measure (the data, the features, the sample count); empty when comparable."""
    keys = sorted({k for c in configs for k in c if k.startswith(SAME_FOR_METRICS)})
    out = [k for k in keys if len({json.dumps(c.get(k), sort_keys=True) for c in configs}) > 1]
    settings = [_eval_settings(e, c) for e, c in zip(finals, configs) if e]
    out += [f"eval.{k}" for k in SAME_EVAL_SETTINGS
            if len({json.dumps(s.get(k), sort_keys=True) for s in settings}) > 1 and f"eval.{k}" not in out]
    return out


def _eval_settings(final: dict, config: dict) -> dict:
    """The eval settings of a run's final evaluation: its record's, and for what that does not
    hold (records an older gankit wrote during training have no settings) config.toml's eval.*,
    which that evaluation used."""
    recorded = final.get("settings")
    recorded = recorded if isinstance(recorded, dict) else {}
    return {k: recorded[k] if k in recorded else config.get(f"eval.{k}") for k in SAME_EVAL_SETTINGS}


def to_json(data: dict) -> str:
    return json.dumps({k: v for k, v in data.items() if not k.startswith("_")}, indent=1)


def to_text(data: dict) -> str:
    names = [r["name"] for r in data["runs"]]
    keys = [m["key"] for m in data["metrics"]] + [d["key"] for d in data["config_diff"]]
    w = max([len("metric")] + [len(k) for k in keys])
    cw = [max(len(n), 12) for n in names]

    def row(first: str, cells: list[str], tail: str = "") -> str:
        return first.ljust(w) + "  " + "  ".join(c.rjust(n) for c, n in zip(cells, cw)) + tail

    lines = [row("run", names)]
    lines.append("-" * len(lines[0]))
    lines.append(row("step", [str(r["step"]) for r in data["runs"]]))
    for m in data["metrics"]:
        cells = [s + (" *" if i in m["best"] else "") for i, s in enumerate(m["shown"])]
        lines.append(row(m["key"], cells, {"higher": "  (higher is better)",
                                           "lower": "  (lower is better)"}.get(m["better"], "")))
    lines.append(f"* {data['note']}" if data.get("note") else
                 "* the better value (ties: each; none when all are equal)")
    for r in data["runs"]:
        if r.get("other_temperatures"):
            lines.append(f"{r['name']}: evaluations at generator.temperature "
                         f"{', '.join(f'{t:g}' for t in r['other_temperatures'])} left out (it samples at "
                         f"{r['temperature']:g}; its report shows them apart)")
    if data["config_diff"]:
        lines += ["", "config differences:"]
        lines += [row(d["key"], ["-" if v is None else json.dumps(v) for v in d["values"]])
                  for d in data["config_diff"]]
    else:
        lines.append("configs: identical")
    return "\n".join(lines)


def _panels(records: list[list[dict]], metrics: list[dict]) -> list[tuple[str, str, str]]:
    present = {k for recs in records for r in recs if r.get("kind") == "train" for k in r}
    panels = [(title, "train", k) for k, title in TRAIN_PANELS if k in present]
    arrows = {"higher": " \u2191", "lower": " \u2193"}
    return panels + [(m["label"] + arrows.get(m["better"], ""), "eval", m["key"]) for m in metrics]


def write_compare(run_dirs: list[str | Path], out: str | Path = "compare.html") -> Path:
    from gankit.io import write_text_atomic
    from gankit.report import plots
    from gankit.report.page import png, render
    data = compare_data(run_dirs)
    names = [r["name"] for r in data["runs"]]
    fig = plots.figure_compare(list(zip(names, data["_records"])), _panels(data["_records"], data["metrics"]))
    figure = png(fig, "runs overlaid") if fig is not None else None
    styles = [plots.run_style(i) for i in range(len(names))]
    page = render("compare.html.j2", runs=data["runs"], metrics=data["metrics"], diff=data["config_diff"],
                  note=data["note"],
                  figure=figure, styles=styles, built=time.strftime("%Y-%m-%d %H:%M:%S"),
                  live=False, refresh=0, fmt=lambda v: "\u2014" if v is None else json.dumps(v))
    return write_text_atomic(Path(out), page)
