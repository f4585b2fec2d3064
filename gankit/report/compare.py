"""`gankit compare RUN...`: runs side by side, from their run folders alone.

Overlaid curves (losses, D's outputs, every eval metric over steps), the final metrics with
the better value marked per metric direction (the metrics' declared ``Output.better``), and
the config keys whose values differ between the runs.  The same data as text or JSON for
scripts.
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

from gankit.io import shown_name
from gankit.report import metricinfo as MI
# the page's panels and what it draws of each run (_panels: CMP._panels for the tests)
from gankit.report.compare_curves import TRAIN_PANELS, curves_note, drawn_records, panels as _panels  # noqa: F401
# whether two runs' numbers of a metric were measured alike (eval settings, metrics code, units)
from gankit.report.compare_settings import _settings_apart, _settings_note
# compare's text and JSON forms (CMP.to_text, CMP.to_json) and its words for a run's state
from gankit.report.compare_text import (STATE_WORDS, edited_note, measured_only, step_shown, to_json,  # noqa: F401
                                        to_text, unfinished_note)
from gankit.report.inputs import checkpoint_differences, newest_checkpoint
from gankit.report.page import local_time
from gankit.report.progress import newest_intact_checkpoint, run_progress
from gankit.report.snapshots import Snapshots
from gankit.runfolder import RunFolder


def _names(folders: list[RunFolder]) -> list[str]:
    """The runs' names as shown (plots, pages, text): a folder name's undecodable bytes
    replaced and its bidirectional controls written out (shown_name: U+202E would reverse the
    rest of a sentence naming it); the runs' "path" keeps them, for scripts to find the folder.
    Where folder names repeat (a sweep's lr_0.001/seed_1, lr_0.01/seed_1), as many of each
    path's last parts as tell them all apart, the same number for every run."""
    parts = [f.path.parts for f in folders]
    for n in range(1, max(map(len, parts)) + 1):
        names = [shown_name(Path(*p[-n:])) for p in parts]
        if len(set(names)) == len(names):
            return names
    return [shown_name(f.path) for f in folders]


def _load_imports(folders: list[RunFolder]) -> set[int]:
    """The runs' own component modules (config.toml's imports), so their metrics' labels and
    directions are known; one that cannot be imported any more is a warning, not a failure.
    The indices of the runs whose imports did not all load (their values cannot be checked)."""
    import warnings
    from gankit import trusted_imports
    from gankit.builtins import import_modules
    from gankit.config import ConfigError
    unloaded = set()
    for i, f in enumerate(folders):
        imports = [m for m in f.read_config().get("imports") or [] if isinstance(m, str)]
        if any(m in trusted_imports.LEFT_OUT for m in imports):
            unloaded.add(i)
        try:
            import_modules(imports)
        except ConfigError as e:
            unloaded.add(i)
            warnings.warn(f"{f.path}: {e}; its own metrics are shown without label or direction", stacklevel=3)
    return unloaded


_UNKNOWN_PART = re.compile(r": unknown (dataset|generator|discriminator|loss|metric|objective)")


def _checked(folder: RunFolder, raw: dict, unchecked: bool):
    """The run's config as this gankit reads it (its steps and checkpoints for the run's state),
    or None where it cannot be checked (its own components not loaded here: compared from its
    records as they are).  A value of a wrong type (``std = "0.01"``, edited by hand) is refused
    naming the file: compare would otherwise call it a difference between the runs."""
    import warnings

    from gankit import config as C
    if unchecked:
        return None
    try:
        with warnings.catch_warnings():       # the notes on --set values: none was given
            warnings.simplefilter("ignore")
            return C.load(raw, [])
    except C.ConfigError as e:
        if _UNKNOWN_PART.search(str(e)):
            return None
        raise C.ConfigError(f"{folder.config_path} holds an invalid value: {e}; "
                            "correct it in that file (report, eval and --resume refuse it too)") from None


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


def compare_data(run_dirs: list[str | Path], curves: bool = True) -> dict:
    """Everything the comparison shows, as plain data (to_json makes it JSON); ``curves``: with
    what the page draws of each run ("_records", thinned: compare_curves), which --text and
    --json do without (a run's records are let go once read either way)."""
    if len(run_dirs) < 1:
        raise ValueError("compare needs at least one run folder")
    from gankit import config as C
    folders = _distinct(run_dirs)
    unloaded = _load_imports(folders)
    infos = MI.key_infos()
    names = _names(folders)
    from gankit.data import trained_on
    runs, records, configs, finals, sources, edited, seen = [], [], [], [], [], [], []
    for i, (name, f) in enumerate(zip(names, folders)):
        recs = f.records()
        raw = f.read_config()
        cfg = _checked(f, raw, i in unloaded)
        # the run's checkpoint read once for its progress, its config as trained and the data it
        # trained on (read thrice, the loads were most of compare's time): the file each would read
        intact = newest_intact_checkpoint(f)
        found = newest_checkpoint(f, intact)
        seen.append(trained_on(f, found))
        # config.toml edited since training: its values are not those the numbers were measured with
        edited.append(None if cfg is None else checkpoint_differences(f, C.to_dict(cfg), found))
        # a run's numbers are those at its own sampling temperature; points measured at another
        # (gankit eval --set generator.temperature=T) are left out of its table and curves
        own = MI.own_temperature(raw.get("generator"))
        evals, elsewhere = MI.by_temperature([r for r in recs if r.get("kind") == "eval"], own)
        # as the report states it: the newest of records, whole snapshots and checkpoints
        done = run_progress(f, recs, Snapshots(f).newest_whole(), intact)
        runs.append({"name": name, "path": str(f.path), "step": done.step,
                     **_state(f, cfg.train if cfg is not None else raw.get("train"), done, recs, evals),
                     "train_time_s": done.seconds, "train_time_at_least": done.at_least,
                     "eval_step": MI.final_step(evals) if evals else None,
                     "temperature": own,
                     "other_temperatures": sorted({MI.record_temperature(r) for r in elsewhere})})
        records.append(drawn_records(recs, evals) if curves else None)
        del recs
        configs.append(_current(raw))
        finals.append(measured_only(shown_name(f.records_path), MI.final_eval(evals) or {}, infos))
        sources.append(MI.final_sources(evals))
    keys = MI.eval_keys([e for e in finals if e], infos)
    trusted = [i for i, e in enumerate(edited) if e is None]
    apart = _not_comparable([configs[i] for i in trusted], [seen[i] for i in trusted]) + _data_apart(seen, names)
    measuring = MI.Measuring(infos)
    metrics = []
    for k in keys:
        ki = MI.info(k, infos)
        values = [e.get(k) for e in finals]
        ranked = [v if i in trusted else None for i, v in enumerate(values)]
        differ = [] if apart else _settings_apart(k, ranked, sources, configs, measuring)
        metrics.append({"key": k, "label": ki.label, "metric": ki.metric, "better": ki.better,
                        "values": values, "shown": [MI.fmt_value(v, ki.fmt) if v is not None else "" for v in values],
                        "best": [] if apart or differ else MI.better_of(_rankable(ranked, runs), ki.better),
                        "settings_differ": [name for name, _ in differ], "_differ": differ})
    all_keys = sorted(set().union(*configs))
    diff = [{"key": k, "values": [c.get(k) for c in configs]} for k in all_keys if _differs(k, configs)]
    note = (f"no value is marked better: the runs differ in {', '.join(apart)}, so their numbers measure "
            "different things" if apart else _settings_note(metrics))
    edits = edited_note(names, [f.path for f in folders], edited)
    note = "; ".join(n for n in (note, unfinished_note(runs, finals), edits) if n)
    for m in metrics:
        del m["_differ"]
    return {"runs": runs, "metrics": metrics, "config_diff": diff, "note": note,
            **({"_records": records} if curves else {})}


def _current(raw: dict) -> dict:
    """config.toml flattened, its values as this gankit resolves them, with the options added
    since an older gankit wrote it at today's defaults, which is how it ran
    (gankit.identity.ADDED_OPTIONS): no difference to a newer run's, nor a reason to refuse."""
    from gankit.identity import ADDED_OPTIONS, flat_config, with_current_defaults
    given = flat_config(raw)
    added = {f"{section}.{key}" if section else key for section, key in ADDED_OPTIONS}
    return {k: v for k, v in flat_config(with_current_defaults(raw)).items() if k in given or k in added}


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


def _not_comparable(configs: list[dict], seen: list[dict]) -> list[str]:
    """The config keys that differ between the runs and change what every metric measures
    (the data, the conditions); empty when comparable.  Where the data lie (data.path, moved and
    recorded with --resume --set data.path=NEW) is no difference where every run's checkpoint
    recorded the points or images it trained on (``seen``: trained_on; _data_apart compares them);
    a text file records only counts and lines held out, and runs saved before the record nothing,
    so there the place still counts."""
    from gankit.identity import DATA_LOCATION_KEYS
    known = all("data_digest" in s for s in seen)
    left = set(TRAINING_CHOICES) | ({f"data.{k}" for k in DATA_LOCATION_KEYS} if known else set())
    keys = sorted({k for c in configs for k in c if k.startswith(SAME_FOR_METRICS) and k not in left})
    return [k for k in keys if _differs(k, configs)]


def _data_apart(seen: list[dict], names: list[str]) -> list[str]:
    """What differs in the data the runs trained on though their data.* keys agree, as their
    checkpoints recorded it (gankit.data.trained_on; a class folder or images added under one
    data.path, a text file's lines reordered, a points file replaced): class k, chance level, the
    held-out lines and the metrics mean other things.  ``seen``: each run's trained_on."""
    texts = {bool(s.get("text")) for s in seen if "data_cut" in s}
    items = "the data's distinct lines" if texts == {True} else "the data's images" if texts == {False} else "the data"

    def cut(v, s):
        return f"{v[0]} {'distinct lines' if s.get('text') else 'images'} ({v[1]} held out)"
    from gankit.data.digest import digest_amount
    digests = [s["data_digest"] for s in seen if isinstance(s.get("data_digest"), dict)]
    pictures = bool(digests) and all("images" in d for d in digests)
    out = []
    for key, what, show in (("class_names", "class folders", lambda v, s: ", ".join(map(shown_name, v))),
                            ("data_cut", items, cut),
                            ("data_split", "the held-out lines (the file's order decides them)", lambda v, s: str(v)),
                            ("data_digest", "the images (pixels, order or labels)" if pictures else
                             "the points in the file", lambda v, s: (
                                f"{digest_amount(v)}, digest {str(v.get('sha256'))[:8]}" if isinstance(v, dict)
                                else shown_name(v)))):
        have = [(n, s[key], s) for n, s in zip(names, seen) if key in s]
        if len({json.dumps(v, ensure_ascii=False, sort_keys=True) for _, v, _ in have}) > 1:
            out.append(f"{what} ({'; '.join(f'{n}: {show(v, s)}' for n, v, s in have)})")
    return out


def _state(folder: RunFolder, train, done, records: list[dict], evals: list[dict]) -> dict:
    """The run's state as its report's badge gives it (gankit.report.progress; the lock's holder
    trains it unless it is trained and evaluated to the end, as gankit drs holds it): training,
    stopped, diverged, unevaluated (its final evaluation not recorded), finished, or unknown (no
    train.steps to read); the steps it trains to; stopped or diverged, the report's sentence on it.
    ``train``: the checked config's [train], or config.toml's as written (its components unknown here)."""
    from gankit.config.schema import TrainConfig
    from gankit.io import lock_holder
    from gankit.report.progress import divergence, stopped_note
    read = train if isinstance(train, dict) else vars(train) if train is not None else {}
    total, every, step = read.get("steps"), read.get("checkpoint_every", TrainConfig().checkpoint_every), done.step
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in (total, every)):
        return {"state": "unknown", "total_steps": None}
    final = step >= total and any(r.get("source") == "final" and r.get("step") == step for r in records
                                  if r.get("kind") == "eval")
    diverged = divergence(records)
    if lock_holder(folder.lock_path) is not None and not final:
        state = "training"
    elif step < total or diverged is not None:
        state = "diverged" if diverged is not None else "stopped"
        return {"state": state, "total_steps": total,
                "state_note": stopped_note(done, total, every, diverged)}
    else:
        state = "finished" if any(r.get("step") == step for r in evals) else "unevaluated"
    return {"state": state, "total_steps": total}


def _rankable(values: list, runs: list[dict]) -> list:
    """``values`` as better_of may rank them: a value of an unfinished run (training, stopped,
    diverged, or its last evaluation older than its last step) is never marked against a finished
    run's; runs none of which finished are ranked only where evaluated at the same step."""
    have = [i for i, v in enumerate(values) if v is not None]
    final = [i for i in have if runs[i]["state"] not in STATE_WORDS]
    if final:
        return [v if i in final else None for i, v in enumerate(values)]
    return values if len({runs[i]["eval_step"] for i in have}) <= 1 else [None] * len(values)


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


def write_compare(run_dirs: list[str | Path], out: str | Path = "compare.html", data: dict | None = None) -> Path:
    """The comparison as an HTML page at ``out``; ``data``: compare_data of these runs already
    built (with its curves), so --text --out reads every log once."""
    from gankit.io import write_text_atomic
    from gankit.report.axes import run_style
    from gankit.report.compare_figure import figure_compare
    from gankit.report.page import png, render
    check_out(out, run_dirs)
    if data is None or "_records" not in data:
        data = compare_data(run_dirs)
    names = [r["name"] for r in data["runs"]]
    fig = figure_compare(list(zip(names, data["_records"])), _panels(data["_records"], data["metrics"], data["config_diff"]))
    figure = png(fig, "runs overlaid") if fig is not None else None
    styles = [run_style(i) for i in range(len(names))]
    # the page's step column: how far of how many, and the state where not finished; its folder
    # as read (bidirectional controls written out), where --json gives the path as it is
    runs = [{**r, "step": step_shown(r) + (f", {STATE_WORDS[r['state']]}" if r["state"] in STATE_WORDS else ""),
             "path": shown_name(r["path"])} for r in data["runs"]]
    page = render("compare.html.j2", runs=runs, metrics=data["metrics"], diff=data["config_diff"],
                  note=data["note"], shared=curves_note(names, data["_records"], data["config_diff"]) if figure else "",
                  figure=figure, styles=styles, built=local_time(time.time()),
                  live=False, refresh=0,
                  fmt=lambda v: "\u2014" if v is None else shown_name(json.dumps(v, ensure_ascii=False)))
    return write_text_atomic(Path(out), page)
