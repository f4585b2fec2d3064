"""The run report: one self-contained HTML page built from the run folder alone
(gankit.runfolder.RunFolder), through the Jinja2 templates in gankit/report/templates."""
from __future__ import annotations

import time
from pathlib import Path

from gankit.io import shown_name
from gankit.report.inputs import newest_checkpoint, run_config, warn_left_out
from gankit.report.points import mode_section, point_sections
from gankit.report.snapshots import Snapshots
from gankit.runfolder import RunFolder, RunFolderError

LIVE_REFRESH_S = 15      # the live page reloads itself this often while the run trains
STALE_AFTER_S = 600      # a live page older than this (or than 3 of its intervals) says no update came


def read_metrics(run_dir: str | Path) -> list[dict]:
    """The records of RUN_DIR/metrics.jsonl, in order, as the caller's own copies: the folder's
    records are shared within the process (RunFolder.records), and an edit made here must not
    reach the report, compare or the final evaluation's reuse."""
    import copy
    return [copy.deepcopy(r) if any(isinstance(v, (dict, list)) for v in r.values()) else dict(r)
            for r in RunFolder(run_dir).records()]


def _drawn(what: str, folder, draw, *args) -> list:
    """``draw(*args)``'s sections; where the snapshots hold arrays of shapes or values no run
    writes (a damaged or edited file: RunFolder.snapshot checks only that it unpacks and has a step),
    a section saying so instead of a traceback that loses the whole page."""
    from gankit.report.page import Section
    try:
        return draw(*args)
    except (ValueError, IndexError, TypeError, KeyError) as e:
        import warnings
        why = f"{type(e).__name__}: {' '.join(str(e).split())[:160]}"
        note = (f"The {what} could not be drawn from {shown_name(folder.samples_dir)} ({why}): a snapshot there holds "
                "arrays this run does not write (damaged or edited); move the odd file out and build the "
                "report again.")
        warnings.warn(note, stacklevel=3)
        return [Section(what.capitalize(), [note], anchor="samples")]


def _temperature_section(evals: list[dict], own: float, infos):
    """Evaluations at sampling temperatures other than the run's own: one row per temperature
    and step (its records merged in order, as for the run's own evaluation)."""
    from gankit.report import metricinfo as MI
    from gankit.report.page import Section
    points: dict[tuple, dict] = {}
    for r in evals:
        points.setdefault((MI.record_temperature(r), r.get("step")), {}).update(r)
    keys = MI.eval_keys(evals, infos)
    rows = [[f"{t:g}", step, *(MI.fmt_value(rec[k], MI.info(k, infos).fmt) if MI.is_measured(rec.get(k)) else ""
                               for k in keys)]
            for (t, step), rec in sorted(points.items(), key=lambda kv: kv[0][0])]
    return Section("Evaluations at other sampling temperatures",
                   [f"Measured with G sampling at another temperature (gankit eval --set "
                    f"generator.temperature=T). This run samples at {own:g} (generator.temperature in "
                    f"config.toml): these points are not its result above."],
                   header=["temperature", "step", *keys], rows=rows, anchor="other-temperatures")


def _measuring(settings, key: str, measuring=None) -> dict | None:
    """The eval settings of a record that change number ``key``: those its metric reads (not
    which metrics were asked, nor threads; gankit.report.metricinfo.Measuring)."""
    from gankit.report.metricinfo import Measuring
    return (measuring or Measuring()).of(key, settings)


def mixed_settings_note(sources: dict[str, dict], infos=None) -> str:
    """A sentence when the final evaluation's numbers were measured with different values of an
    eval setting that they read (a later ``gankit eval --metrics X --set eval.n_samples=N``
    re-measured some): which settings differ and which numbers each value holds; "" when they
    agree.  A setting a number's metric never reads (jsd and eval.n_samples) is no difference."""
    import json

    from gankit.report.metricinfo import META_KEYS, Measuring, is_measured
    measuring = Measuring(infos)
    mine: dict[str, dict] = {}          # key -> the settings that change it, as recorded with it
    for key, rec in sources.items():
        if key not in META_KEYS and is_measured(rec.get(key)):
            mine[key] = _measuring(rec.get("settings"), key, measuring) or {}
            # the code of a user's metric is each number's own (metricinfo.Measuring), not a
            # setting shared by the numbers of one evaluation
            mine[key].pop("user_code", None)
    names = sorted({n for m in mine.values() for n in m})

    def shown(key, n):
        return json.dumps(mine[key].get(n), sort_keys=True, default=str)
    # a setting differs when two numbers that read it were measured at different values of it
    names = [n for n in names if len({shown(k, n) for k in mine if measuring.counts(k, n)}) > 1]
    if not names:
        return ""
    by: dict[str, list[str]] = {}
    kept: dict[str, dict] = {}
    for key in mine:
        read = {n: mine[key].get(n, "unrecorded") for n in names if measuring.counts(key, n)}
        if read:                         # a number that reads none of them is right at any of them
            tag = json.dumps(read, sort_keys=True, default=str)
            by.setdefault(tag, []).append(key)
            kept[tag] = read
    parts = [", ".join(f"{n} {v}" for n, v in kept[tag].items()) + f" ({', '.join(keys)})"
             for tag, keys in by.items()]
    return "These numbers were measured with different eval settings: " + "; ".join(parts) + "."


def _matching_reference(sources: dict[str, dict], refs: list[dict], infos=None) -> dict | None:
    """The real-data reference of each number of the final evaluation: the newest reference
    record with the eval settings that change that number, as recorded with it (after a partial
    ``gankit eval --set eval.n_samples=N`` the other metrics keep theirs); any reference for a
    record without settings (older records)."""
    if not refs:
        return None
    from gankit.report.metricinfo import META_KEYS, Measuring
    measuring = Measuring(infos)
    out, used = {}, []
    def apart(settings):
        """A reference's settings and an evaluation's, compared without what real data lack: the
        sampler (DRS keeps G's samples only) and the user's code (the reference record keeps
        its own beside its settings)."""
        return None if settings is None else {k: v for k, v in settings.items() if k not in ("sampler", "user_code")}

    for key, rec in sources.items():
        if key in META_KEYS:
            continue
        mine = _measuring(rec.get("settings"), key, measuring)
        code = (mine or {}).get("user_code") or {}
        ref = next((r for r in reversed(refs)
                    if key in r and (mine is None or apart(_measuring(r.get("settings"), key, measuring)) == apart(mine))
                    and all((r.get("user_code") if isinstance(r.get("user_code"), dict) else {}).get(n) == h
                            for n, h in code.items())), None)
        if ref is not None:
            out[key] = ref[key]
            used.append(ref)
    newest = next((r for r in reversed(refs) if any(r is u for u in used)), refs[-1])
    # a metric without a real counterpart has none at any settings
    skipped = sorted({m for r in refs if isinstance(r.get("skipped"), list)
                      for m in r["skipped"] if isinstance(m, str)})
    return {**{k: v for k, v in newest.items() if k in META_KEYS or k == "source"}, "skipped": skipped, **out}


def report_context(run_dir: str | Path, dataset=None, live: bool = False, overrides: list[str] | None = None) -> dict:
    """Everything the report template shows, from the folder alone (``dataset``: the run's,
    when the caller holds it already, else built from config.toml and ``overrides``, e.g.
    the data's new place)."""
    t0 = time.perf_counter()
    from gankit import config as C
    from gankit.report import metricinfo as MI
    from gankit.report import plots
    from gankit.report.page import Section, command_word, duration, page_stamp, png
    from gankit.report.progress import newest_intact_checkpoint

    folder = RunFolder(run_dir)
    # the newest checkpoint read once, for the run's progress and its config as trained (read
    # twice before, the loads most of a small page's time); newest_checkpoint reads the files
    # again only where it would pick another (a newer one that loads but fails the checks)
    intact = newest_intact_checkpoint(folder)
    cfg = run_config(folder, overrides, newest_checkpoint(folder, intact))
    snaps = Snapshots(folder)      # read only those drawn
    data_note = split_note = gone = None
    built = dataset is None
    if built:
        from gankit.data import build_run_dataset, data_changed, data_named
        try:       # warns of a points file changed since training
            dataset = build_run_dataset(cfg, run_dir, training=False, overrides=overrides)
        except C.ConfigError:
            from gankit.report.data_gone import gone_place, without_data
            gone = gone_place(cfg, overrides)     # data there but unreadable or changed: refused as before
            if gone is None:
                raise
            dataset, data_note = without_data(folder, cfg, gone, snaps)
            split_note = f"data.{gone[0]} = {gone[1]!r} is missing"     # what the text section says
    if built and gone is None:
        if getattr(dataset, "data_digest", None) is not None:
            data_note = data_changed(run_dir, dataset, data_named(cfg))
            now = ("any real images drawn here are the data's" if getattr(dataset, "kind", None) == "image"
                   else "the real data drawn here are the file's points")
            data_note = data_note and f"{data_note}: {now} now"
        from gankit.metrics.user_code import CodeChanged, changed_since_training, code_changed_line
        changed = changed_since_training(run_dir, C.to_dict(cfg))
        if changed:         # a notebook cell or --import file edited since: the page draws the code now
            import warnings
            code_note = code_changed_line(changed, write=False)
            warnings.warn(CodeChanged(code_note), stacklevel=2)
            data_note = f"{data_note}; {code_note}" if data_note else code_note
        text = getattr(dataset, "kind", None) == "text"
        state = None
        if (text or getattr(dataset, "condition_kind", "none") != "none") and folder.checkpoints():
            try:
                state = folder.load_checkpoint()[0]
            except RunFolderError:      # none readable: the page comes from the records alone
                pass
        if state is not None:
            if text:                    # snapshots decode with it
                from gankit.data.text import check_vocabulary
                from gankit.report.text import split_changed
                check_vocabulary(state.get("objective", {}).get("vocab"), dataset.vocab)
                # other lines held out: the snapshots still decode, but the held-out lines and the
                # copy marks the file gives would not be the run's (sample and eval refuse it)
                split_note = split_changed(state, dataset, data_named(cfg))
                if split_note:
                    import warnings

                    from gankit.data import DataChanged
                    data_note = (f"{split_note}; the report leaves out the held-out lines and the marks of "
                                 "samples that copy a training line")
                    warnings.warn(data_note, DataChanged, stacklevel=2)
            from gankit.data.class_names import OtherClasses, refuse_other_classes   # class k's grid is class k
            try:
                refuse_other_classes(state, dataset, data_named(cfg))
            except OtherClasses as e:        # a folder renamed since: the checkpoint's names, no real data
                from gankit.report.data_gone import classes_changed
                dataset, data_note = classes_changed(folder, cfg, snaps, e, overrides)
    records = folder.records()
    train = [r for r in records if r.get("kind") == "train"]
    # the run's result comes from evaluations at its own sampling temperature; the others apart
    own = MI.own_temperature(cfg.generator.params)
    evals, elsewhere = MI.by_temperature([r for r in records if r.get("kind") == "eval"], own)
    refs = [r for r in records if r.get("kind") == "reference"]
    infos = MI.key_infos()

    op = cfg.objective.params if isinstance(cfg.objective.params, dict) else {}
    pack = op.get("pack", 1) if isinstance(op.get("pack", 1), int) else 1
    kind = getattr(dataset, "kind", None)
    sections = []
    if kind not in ("image", "text"):   # 1-D and 2-D: panels over training; more: the newest
        sections += _drawn("samples", folder, point_sections, dataset,
                           snaps.spread(6) if getattr(dataset, "dim", None) in (1, 2) else snaps.last(), pack,
                           cfg.objective.name == "ebm")
    if kind == "image":   # grids, z interpolation, nearest neighbours
        from gankit.report.images import image_sections
        sections += _drawn("image grids", folder, image_sections,
                           snaps.newest_with("neighbours") + snaps.newest_with("interpolation"), snaps.spread(6))
    if kind == "text" and gone and not hasattr(dataset, "decode"):    # no checkpoint holds the vocabulary
        sections.append(Section("Samples", [f"{data_note}."], anchor="samples"))
    elif kind == "text":
        from gankit.report.text import text_sections
        sections += _drawn("text samples", folder, text_sections, dataset, snaps.ends(), 20, split_note)
    # a points run's panels draw the real points of each class (none where the data are gone or changed)
    if (gone is None and not getattr(dataset, "gone", False)) or kind == "image":
        from gankit.report.conditional import condition_sections
        sections += _drawn("per-condition samples", folder, condition_sections, dataset, snaps.last())
    if not any(s.anchor == "samples" for s in sections):    # the reader is told why, the nav's link kept
        sections.insert(0, Section("Samples", [snaps.none_note(live)], anchor="samples"))

    last = MI.final_eval(evals)
    sources = MI.final_sources(evals)
    warn_left_out(folder, records, last, infos)
    reference = _matching_reference(sources, refs)
    mixed = mixed_settings_note(sources)
    groups = MI.groups(last, reference, infos) if last else []
    scored = [dict(row, metric=g["metric"]) for g in groups for row in g["rows"] if row["better"]]
    # the key results first (modes and HQ on mixtures, FCD, conditional accuracy, NLL_oracle...),
    # then the other scored numbers in their order
    headline = sorted(scored, key=lambda row: not MI.info(row["key"], infos).headline)[:6]
    curves = [_temperature_section(elsewhere, own, infos)] if elsewhere else []
    fig = plots.figure_curves(train)
    if fig is not None:
        curves.append(Section("Training curves", ["Every number the loop logged, averaged over each "
                                                  "log interval (losses) or at the log step."],
                              png(fig, "training curves"), anchor="curves"))
    keys = MI.eval_keys(evals, infos)
    # over training: at least two steps (evaluations of one step, e.g. a later `gankit eval`, are no curve)
    steps = {r.get("step") for r in evals}
    fig = plots.figure_eval(evals, keys, infos, reference, refs) if len(steps) >= 2 else None
    if fig is not None:     # steps, not records: a step re-measured (gankit eval) or measured in parts is one
        curves.append(Section("Evaluation metrics over training", [
            f"{len(steps)} evaluated steps; every recorded metric, with its direction; dashed: the same "
            "metric measured on real data. Numbers measured with other eval settings (gankit eval --set "
            "eval.n_samples=N) are lines of their own, named by them."],
            png(fig, "evaluation metrics over steps"), anchor="eval-curves"))
    fig = plots.figure_lr(train)
    if fig is not None:
        final = op.get("lr_decay_final", 1.0)
        own = (f" In force instead: the objective's own decay, linear to {final:g} of each rate from "
               f"{op.get('lr_decay_start', 0.5):g} of training on (objective.lr_decay_final, "
               f"objective.lr_decay_start).") if isinstance(final, (int, float)) and final < 1 else ""
        curves.append(Section("Learning rate", [f"Schedule: {cfg.train.lr_schedule}"
                                                f" (train.lr_schedule; objectives may declare their own).{own}"],
                              png(fig, "learning rate", wide=False), anchor="lr"))
    counts = (last or {}).get("mode_counts")
    if isinstance(counts, list) and counts and all(MI.is_number(c) for c in counts):   # a damaged record: no table
        if (table := mode_section(last, dataset, shown_name(folder.records_path))) is not None:
            curves.append(table)

    from gankit.report.progress import divergence, run_progress, stopped_note
    counted = snaps.whole_steps()      # a damaged file is no step reached, nor a snapshot
    done = run_progress(folder, records, counted, intact)
    diverged = divergence(records)
    step = done.step
    from gankit.report.page import local_time
    from gankit.report.provenance import sessions as session_rows
    sessions = session_rows(records, str(folder.records_path))
    now = time.time()
    # a live page whose process was killed is never rewritten: its script compares ``built_epoch``
    # with the browser's clock and says so past ``stale_after`` seconds (numbers only reach it)
    stamp = page_stamp(folder.report_path)
    from gankit.report.progress import live_interval
    interval = live_interval(records, cfg.train.sample_every, stamp and stamp[1] / 1e9,
                             time.perf_counter() - t0, now, cfg.train.steps - step) if live else 0.0
    return {
        "title": shown_name(folder.path.name), "live": live, "refresh": LIVE_REFRESH_S, "step": step,
        "total": cfg.train.steps, "progress": min(100.0, 100.0 * step / max(cfg.train.steps, 1)),
        "stopped": stopped_note(done, cfg.train.steps, cfg.train.checkpoint_every, diverged),
        "diverged": diverged is not None and not live,
        # trained to the end, but no evaluation of the last step (stopped during the final one)
        "unevaluated": (f"trained; the final evaluation was not recorded: gankit eval {command_word(folder.path)} "
                        "measures it"
                        if step >= cfg.train.steps and not live
                        and not any(r.get("step") == step for r in evals) else ""),
        "train_time": ("at least " if done.at_least else "") + duration(done.seconds or 0.0),
        "built": local_time(now), "built_epoch": int(now), "interval": duration(interval),
        "stale_after": int(max(STALE_AFTER_S, 3 * interval)), "evaluates": bool(cfg.train.eval_every),
        "rebuild": f"gankit report {command_word(folder.path)}",
        "facts": [("data", cfg.data.name), *_read_parts(cfg), ("objective", cfg.objective.name), ("seed", str(cfg.seed)),
                  ("batch", str(cfg.train.batch_size)), ("snapshots", str(len(counted))),
                  ("device", cfg.train.device)],
        "headline": headline, "eval_step": last["step"] if last else None, "groups": groups, "mixed": mixed,
        "data_note": data_note,
        "reference": reference, "sections": sections, "curves": curves, "sessions": sessions,
        "config": C.dumps_toml(cfg),
    }


def _read_parts(cfg) -> list[tuple[str, str]]:
    """G, D and the loss as the page's facts, but those the objective never reads (the energy
    model's G, an auto-encoder's loss: ``unread`` of its registry entry; none for an objective
    not registered in this process)."""
    from gankit.registry import OBJECTIVES
    try:
        unread = getattr(OBJECTIVES.get(cfg.objective.name, "objective.name").factory, "unread", None)
        skip = unread(cfg) if unread else {}
    except Exception:       # a user's objective this process did not import: all are shown
        skip = {}
    return [(label, getattr(cfg, section).name) for label, section in
            (("G", "generator"), ("D", "discriminator"), ("loss", "loss")) if section not in skip]


def write_report(run_dir: str | Path, dataset=None, live: bool = False, overrides: list[str] | None = None) -> Path:
    """Build RUN_DIR/report.html; ``live``: the page reloads itself (the run is training).  A run
    another process is training gets the live page whoever builds it: a finished page would
    stop the reloads of a browser watching it."""
    from gankit.io import lock_holder
    from gankit.report.page import page_stamp, render
    folder = RunFolder(run_dir)
    theirs = lock_holder(folder.lock_path) is not None
    before = page_stamp(folder.report_path)
    context = report_context(run_dir, dataset, live or theirs, overrides)
    if theirs and not live and context["step"] >= context["total"] and any(
            r.get("source") == "final" and r.get("step") == context["step"] for r in folder.records("eval")):
        context["live"] = False       # trained and evaluated: the holder is `gankit drs`, not training
    page = render("report.html.j2", **context)
    if theirs and page_stamp(folder.report_path) != before:
        # the training process wrote the page while this one was built (its final page when
        # training ended meanwhile): it is at least as fresh, and a live page over a final
        # one would reload forever
        return folder.report_path
    return folder.write_report(page)
