"""`gankit compare RUN...`: runs side by side, from their run folders alone.

Overlaid curves (losses, D's outputs, every eval metric over steps), the final metrics with
the better value marked per metric direction (the metrics' declared ``Output.better``), and
the config keys whose values differ between the runs.  The same data as text or JSON for
scripts.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

from gankit.io import displayable
from gankit.report import metricinfo as MI
from gankit.report.compare_text import to_text  # noqa: F401  (compare's text form: CMP.to_text)
from gankit.report.page import local_time
from gankit.report.progress import run_progress
from gankit.report.snapshots import Snapshots
from gankit.runfolder import RunFolder

TRAIN_PANELS = [("loss_d", "D loss"), ("loss_g", "G loss"), ("d_real", "D(x) on real"),
                ("d_fake", "D(G(z))"), ("critic_real", "critic on real"), ("critic_fake", "critic on fake"),
                ("wasserstein_estimate", "Wasserstein estimate"),
                # a packed D's numbers bound the m-tuples' divergence: panels of their own
                ("wasserstein_packed_estimate", "W1 of m-packed samples"),
                ("jsd_estimate", "JSD estimate (D's bound)"),
                ("jsd_packed_estimate", "JSD of m-packed samples (D's bound)"), ("lr_g", "G learning rate")]


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


def _distinct(run_dirs: list[str | Path]) -> list[RunFolder]:
    """The run folders, each once: a folder given twice (``R2`` and ``./R2/``, or a link to
    it) would be compared with itself, its curves drawn over each other."""
    import warnings
    folders, seen = [], {}
    for d in run_dirs:
        f = RunFolder(d)
        f.require_run()
        where = f.path.resolve()
        if where in seen:
            warnings.warn(f"{d} is the same run folder as {seen[where]}; it is compared once", stacklevel=3)
            continue
        seen[where] = d
        folders.append(f)
    return folders


def compare_data(run_dirs: list[str | Path]) -> dict:
    """Everything the comparison shows, as plain data (to_json makes it JSON)."""
    if len(run_dirs) < 1:
        raise ValueError("compare needs at least one run folder")
    folders = _distinct(run_dirs)
    _load_imports(folders)
    infos = MI.key_infos()
    names = _names(folders)
    runs, records, configs, finals, sources = [], [], [], [], []
    for name, f in zip(names, folders):
        recs = f.records()
        raw = f.read_config()
        # a run's numbers are those at its own sampling temperature; points measured at another
        # (gankit eval --set generator.temperature=T) are left out of its table and curves
        own = MI.own_temperature(raw.get("generator"))
        evals, elsewhere = MI.by_temperature([r for r in recs if r.get("kind") == "eval"], own)
        # as the report states it: the newest of records, whole snapshots and checkpoints
        done = run_progress(f, recs, Snapshots(f).newest_whole())
        runs.append({"name": name, "path": str(f.path), "step": done.step,
                     "train_time_s": done.seconds, "train_time_at_least": done.at_least,
                     "eval_step": MI.final_step(evals) if evals else None,
                     "temperature": own,
                     "other_temperatures": sorted({MI.record_temperature(r) for r in elsewhere})})
        left_out = {id(r) for r in elsewhere}
        records.append([r for r in recs if id(r) not in left_out])
        configs.append(_current(raw))
        finals.append(MI.final_eval(evals) or {})
        sources.append(MI.final_sources(evals))
    keys = MI.eval_keys([e for e in finals if e], infos)
    apart = _not_comparable(configs) + _data_apart(folders, names)
    measuring = MI.Measuring(infos)
    metrics = []
    for k in keys:
        ki = MI.info(k, infos)
        values = [e.get(k) for e in finals]
        differ = [] if apart else _settings_apart(k, values, sources, configs, measuring)
        metrics.append({"key": k, "label": ki.label, "metric": ki.metric, "better": ki.better,
                        "values": values, "shown": [MI.fmt_value(v, ki.fmt) if v is not None else "" for v in values],
                        "best": [] if apart or differ else MI.better_of(values, ki.better),
                        "settings_differ": [name for name, _ in differ], "_differ": differ})
    all_keys = sorted(set().union(*configs))
    diff = [{"key": k, "values": [c.get(k) for c in configs]} for k in all_keys if _differs(k, configs)]
    note = (f"no value is marked better: the runs differ in {', '.join(apart)}, so their numbers measure "
            "different things" if apart else _settings_note(metrics))
    for m in metrics:
        del m["_differ"]
    return {"runs": runs, "metrics": metrics, "config_diff": diff, "note": note, "_records": records}


def _current(raw: dict) -> dict:
    """config.toml flattened, its values as this gankit resolves them, with the options added
    since an older gankit wrote it at today's defaults, which is how it ran
    (gankit.identity.ADDED_OPTIONS): no difference to a newer run's, nor a reason to refuse."""
    from gankit.identity import ADDED_OPTIONS, with_current_defaults
    given = _flatten(raw)
    added = {f"{section}.{key}" if section else key for section, key in ADDED_OPTIONS}
    return {k: v for k, v in _flatten(with_current_defaults(raw)).items() if k in given or k in added}


def _differs(key: str, configs: list[dict]) -> bool:
    """Whether the runs' values of ``key`` differ; an option whose default became None ("follow
    the data") left unset runs as its old default written out (gankit.identity.NONE_DEFAULTS)."""
    from gankit.identity import NONE_DEFAULTS
    section, _, name = key.rpartition(".")
    old = NONE_DEFAULTS.get((section, name))
    return len({json.dumps(old if old is not None and c.get(key) is None else c.get(key), sort_keys=True)
                for c in configs}) > 1


# what must match for two runs' final numbers to measure the same thing
SAME_FOR_METRICS = ("data.", "condition.kind")
# data keys that say how the nets see the data, not what the metrics measure (samples and metrics
# are in the data's own units whatever the standardisation): a training choice to compare
TRAINING_CHOICES = ("data.standardize",)


def _not_comparable(configs: list[dict]) -> list[str]:
    """The config keys that differ between the runs and change what every metric measures
    (the data, the conditions); empty when comparable."""
    keys = sorted({k for c in configs for k in c if k.startswith(SAME_FOR_METRICS) and k not in TRAINING_CHOICES})
    return [k for k in keys if _differs(k, configs)]


def _trained_on(folder: RunFolder) -> dict:
    """class_names, data_cut (images, held out) and data_split (a text file's held-out lines'
    digest) as the newest readable checkpoint recorded them
    (memory-mapped: its tensors are not read); {} for a run that recorded none (an older one)."""
    import torch
    for _, path in reversed(folder.checkpoints()):
        try:
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except Exception:       # damaged or being written: the one before
            continue
        return {k: state[k] for k in ("class_names", "data_cut", "data_split")
                if isinstance(state, dict) and state.get(k)}
    return {}


def _data_apart(folders: list[RunFolder], names: list[str]) -> list[str]:
    """What differs in the data the runs trained on though their data.* keys agree (a class folder
    or images added under one data.path, a text file's lines reordered): class k, chance level, the
    held-out lines and the metrics mean other things."""
    seen = [_trained_on(f) for f in folders]
    out = []
    for key, what, show in (("class_names", "class folders", ", ".join),
                            ("data_cut", "the data's images", lambda v: f"{v[0]} ({v[1]} held out)"),
                            ("data_split", "the held-out lines (the file's order decides them)", str)):
        have = [(n, s[key]) for n, s in zip(names, seen) if key in s]
        if len({json.dumps(v, ensure_ascii=False) for _, v in have}) > 1:
            out.append(f"{what} ({'; '.join(f'{n}: {show(v)}' for n, v in have)})")
    return out


def _eval_settings(record: dict, config: dict, key: str, measuring: MI.Measuring) -> dict:
    """The eval settings number ``key`` was measured with, of those that change it: its record's,
    and for what that does not hold (records an older gankit wrote during training have no
    settings) config.toml's eval.*, which that evaluation used."""
    recorded = record.get("settings")
    recorded = recorded if isinstance(recorded, dict) else {}
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
    seen = [_eval_settings(src.get(key, {}), cfg, key, measuring) for v, src, cfg in zip(values, sources, configs)
            if v is not None]
    out = []
    for name in sorted(set().union(*seen)) if len(seen) > 1 else []:
        if name == CODE:
            shown = list(dict.fromkeys(_code_shown(s.get(name)) for s in seen))
        else:
            shown = list(dict.fromkeys("unset" if s.get(name) is None else
                                       json.dumps(s.get(name), sort_keys=True, ensure_ascii=False) for s in seen))
        if len(shown) > 1:
            out.append((name if name == CODE else f"eval.{name}", shown))
    return out


# the setting every eval record holds: the hash of the gankit code that measured it (gankit/eval_records.py protocols)
CODE = "metrics_code"


def _code_shown(code) -> str:
    return code[:8] if isinstance(code, str) and code else "unrecorded: an older gankit"


def _settings_note(metrics: list[dict]) -> str:
    """One clause per set of differing settings, naming the metrics left unmarked: measured by
    another version of gankit's metrics code (their definitions may differ), or with other eval
    settings."""
    groups: dict[str, list[str]] = {}
    for m in metrics:
        if m["_differ"] and m["better"]:           # a descriptive number is never marked anyway
            code = [vals for name, vals in m["_differ"] if name == CODE]
            rest = [(name, vals) for name, vals in m["_differ"] if name != CODE]
            settings = ", ".join(f"{name} {' / '.join(vals)}" for name, vals in rest)
            what = " and ".join(([f"by different versions of gankit's metrics code ({' / '.join(code[0])})"]
                                 if code else []) + ([f"with different eval settings ({settings})"] if rest else []))
            groups.setdefault(what, []).append(m["key"])
    note = "; ".join(f"{', '.join(keys)}: not marked, measured {what}" for what, keys in groups.items())
    if any(what.startswith("by different versions") for what in groups):
        note += " (gankit eval RUN measures a run again with this version)"
    return note


def _plain(v):
    """Strict JSON: NaN as null, infinities as "inf" / "-inf" (as the records write them)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def to_json(data: dict) -> str:
    return json.dumps(_plain({k: v for k, v in data.items() if not k.startswith("_")}), indent=1,
                      allow_nan=False)


def _panels(records: list[list[dict]], metrics: list[dict]) -> list[tuple[str, str, str]]:
    """A GAN's losses and D's outputs, then what other objectives log as their own (a VAE's ELBO,
    SeqGAN's MLE loss); a GAN's diagnostics (gradient norms, regularisers) stay in each report."""
    from gankit.report.plots import CURVE_GROUPS
    train = [r for recs in records for r in recs if r.get("kind") == "train"]
    present = set(MI.numeric_keys(train))
    panels = [(title, "train", k) for k, title in TRAIN_PANELS if k in present]
    diagnostics = {k for _, keys in CURVE_GROUPS for k in keys} | {k for k, _ in TRAIN_PANELS}
    panels += [(k, "train", k) for k in MI.numeric_keys(train) if k not in diagnostics and not k.startswith("lr_")]
    arrows = {"higher": " \u2191", "lower": " \u2193"}
    return panels + [(m["label"] + arrows.get(m["better"], ""), "eval", m["key"]) for m in metrics]


PAGE_MARK = b"<title>gankit compare:"     # in the head of every page write_compare writes


def check_out(out: str | Path, run_dirs: list[str | Path]) -> Path:
    """Where the page may go, checked before any work: a name ending in .html, outside every run
    folder (a run holds only gankit's own entries; compare.html there would make it no run), and
    never over a file other than an earlier compare page (the user's notes, a run's config.toml)."""
    from gankit.config import ConfigError
    target = Path(out)
    if target.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"compare --out {out}: the page is HTML; give a name ending in .html, e.g. "
                          "compare.html")
    compared = {RunFolder(d).path.resolve() for d in run_dirs}
    for folder in target.resolve().parents:
        if folder in compared or _is_run(folder):
            raise ConfigError(f"compare --out {out} is inside the run folder {folder}, which holds only "
                              "gankit's own files; write the page outside it, e.g. compare.html")
    if target.is_file() and not _is_compare_page(target):
        raise ConfigError(f"compare --out {out}: this file exists and gankit compare did not write it; "
                          "give another name (or move the file away)")
    return target


def _is_run(folder: Path) -> bool:
    f = RunFolder(folder)
    try:
        return f.is_run() and f.is_gankit_run()
    except OSError:          # a folder we may pass through but not list
        return False


def _is_compare_page(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return PAGE_MARK in f.read(4096)
    except OSError:
        return False


def write_compare(run_dirs: list[str | Path], out: str | Path = "compare.html") -> Path:
    from gankit.io import write_text_atomic
    from gankit.report import plots
    from gankit.report.page import png, render
    check_out(out, run_dirs)
    data = compare_data(run_dirs)
    names = [r["name"] for r in data["runs"]]
    fig = plots.figure_compare(list(zip(names, data["_records"])), _panels(data["_records"], data["metrics"]))
    figure = png(fig, "runs overlaid") if fig is not None else None
    styles = [plots.run_style(i) for i in range(len(names))]
    page = render("compare.html.j2", runs=data["runs"], metrics=data["metrics"], diff=data["config_diff"],
                  note=data["note"],
                  figure=figure, styles=styles, built=local_time(time.time()),
                  live=False, refresh=0,
                  fmt=lambda v: "\u2014" if v is None else json.dumps(v, ensure_ascii=False))
    return write_text_atomic(Path(out), page)
