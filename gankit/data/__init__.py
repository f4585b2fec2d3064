"""Datasets: low-dimensional mixtures with known modes, images, text, and the user's data.

Importing this package registers nothing; ``gankit.builtins.load_builtins()`` does.
"""
from __future__ import annotations

from gankit.data.probe import probe_samples  # noqa: F401  (build_dataset's; tests import it from here)


def build_dataset(cfg, world_size: int = 1, check_batch: bool = True):
    """The run's dataset from ``cfg.data`` (wrapped for ``cfg.condition`` when conditional);
    ``world_size``: the processes that split ``train.batch_size`` (for the advice on it);
    ``check_batch``: refuse a batch larger than the data (training's check, see refuse_batch)."""
    from gankit.config import ConfigError
    from gankit.data.conditional import make_conditional
    from gankit.registry import DATASETS, is_gankit
    ds = DATASETS.build(cfg.data.name, cfg.data.params, where="data")
    module = DATASETS.get(cfg.data.name).module
    named = f"dataset {cfg.data.name!r} ({module})"
    if ds.size == 0:
        raise ConfigError(f"{named} holds no samples")
    if not is_gankit(module):
        probe_samples(ds, named)
    if check_batch:
        refuse_batch(ds, cfg, world_size)
    return make_conditional(ds, cfg)


def refuse_batch(ds, cfg, world_size: int = 1):
    """A batch larger than the data: a check for training only (drawing a run needs no batch)."""
    from gankit.config import ConfigError
    if ds.size is not None and cfg.train.batch_size > ds.size:
        text = getattr(ds, "kind", "") == "text"
        raise ConfigError(_batch_advice(cfg.train.batch_size, ds.size, world_size,
                                        _text_words(ds, cfg) if text else "samples",
                                        None if text else _held_out(ds, cfg)))


def _text_words(ds, cfg) -> str:
    """What a text file's training sequences are, for the batch advice: each copy of a line is a
    sequence, while its held-out split counts distinct lines, so each number names its unit."""
    cut = getattr(ds, "cut", None)
    if not cut or not cut[1]:
        return "sequences"
    given, held = int(cut[0]), int(cut[1])
    copies = ("one per distinct line" if ds.size == given - held
              else f"the copies of {given - held} distinct lines")
    params = cfg.data.params if isinstance(cfg.data.params, dict) else {}
    by = "the dataset" if params.get("test_fraction") is None else f"data.test_fraction = {params['test_fraction']}"
    return (f"sequences, {copies}; {held} of the {given} distinct lines {'is' if held == 1 else 'are'} "
            f"held out of training by {by}")


def _held_out(ds, cfg) -> tuple[int, int, object, bool] | None:
    """(samples given, held out of them, data.holdout's value or None, whether the held-out ones
    were given apart) where the data set holds some samples out of training: an image folder's
    held-out split, cut from its images, or IDX data's t10k-* test files, given apart (their
    cut counts them with the training images: (n + m, m, HELDOUT_GIVEN)); else None."""
    cut = getattr(ds, "cut", None)
    if not cut or not cut[1]:
        return None
    params = cfg.data.params if isinstance(cfg.data.params, dict) else {}
    return int(cut[0]), int(cut[1]), params.get("holdout"), len(cut) > 2


def _batch_advice(batch: int, size: int, world_size: int, what: str, held=None) -> str:
    """A batch larger than the data: the largest that fits, and that the processes can split
    evenly; ``held``: _held_out's (given, held out, data.holdout[, given apart]) where the data
    hold some out."""
    head = f"train.batch_size: {batch} is larger than the data ({size} {what}"
    apart = bool(held) and len(held) > 3 and held[3]
    if apart:       # not taken from the training samples: no setting trains on them
        head += f"; the {held[1]} held-out images are read from the test files, t10k-*"
    elif held:
        by = "the dataset" if held[2] is None else f"data.holdout = {held[2]}"
        head += f": {held[1]} of the {held[0]} are held out of training by {by}"
    head += ")"
    # with no held-out split every sample trains: offered where the batch then fits
    keep = (f", or --set data.holdout=0 to train on all {held[0]} (memorisation and parzen, which "
            "compare with held-out samples, then do not apply)"
            if held and not apart and held[2] is not None and batch <= held[0] else "")
    if world_size <= 1:
        return f"{head}; use --set train.batch_size={size} or less{keep}"
    fits = size // world_size * world_size
    if fits == 0:
        fewer = "1 process" if size == 1 else f"{size} processes or fewer"
        # the batch must fit the data and divide among the processes: `size` of each at most
        return (f"{head}, fewer than the {world_size} processes that split each batch (one or more each); "
                f"train on {fewer} with a batch that fits (--nproc {size} --set train.batch_size={size}), "
                f"or on more data{keep}")
    return (f"{head}; use --set train.batch_size={fits}, or a smaller multiple of {world_size} (the "
            f"{world_size} processes split each batch evenly){keep}")


class DataChanged(UserWarning):
    """The points or images a run is drawn beside (gankit report) are not those it trained on."""


def build_run_dataset(cfg, run_dir, world_size: int = 1, training: bool = True, overrides: list[str] | None = None,
                      check_batch: bool = True):
    """``build_dataset`` for a run trained before: if its data are not where config.toml says,
    the error also says how to give their new place.  Warnings said when the run was made
    (lines left out of a text file, numbered class folders, image files skipped, colour read as
    grey) are not said again: the run's max_len, classes and data.channels cannot change now,
    nor its data.standardize (the points' scale); the image files left out are, with a refusal
    (or the report's warning) of data changed since training, to which they are often the key.
    ``training`` False: for a command that only draws the run (gankit report): no check that
    only training needs (a batch larger than the data), and points or images changed since training
    are said (a DataChanged warning), not refused as the run's checkpoints refuse them.
    ``check_batch`` False: no batch check either, for a command that opens the run to sample or
    evaluate it (its checkpoint, when loaded, refuses data changed since training)."""
    import warnings

    refuse_relative_recorded(cfg, run_dir, overrides)      # Run.open refuses with its overrides: for the others
    ds = _run_dataset(cfg, run_dir, world_size)
    where = data_named(cfg)
    if not training:
        if getattr(ds, "data_digest", None) is not None:
            changed = data_changed(run_dir, ds, where)
            if changed:
                say_files_skipped(ds)
                drawn = ("any real images the report draws are the data's now" if getattr(ds, "kind", None) == "image"
                         else "the report draws the points the file holds now beside the run's samples")
                warnings.warn(f"{changed}; {drawn}", DataChanged, stacklevel=2)
        return ds
    if not check_batch:
        return ds
    from gankit.config import ConfigError
    try:
        refuse_batch(ds, cfg, world_size)
    except ConfigError:
        # a file replaced by fewer samples: say that (checkpoints refuse it anyway), not the batch,
        # whose advice no other setting would get past
        refuse_changed_data(trained_on(run_dir), ds, where)
        raise
    return ds


def refuse_changed_data(seen: dict, ds, where: str, vocabulary: bool = True) -> None:
    """Refuses data other than a run trained on: class folders, the points of a points file or the
    images (their number, then their pixels, order and labels), a text file's number of distinct
    lines, its held-out lines and (``vocabulary``) its vocabulary.
    ``seen``: trained_on's records, or a checkpoint's state (what neither recorded is not
    checked; loading a checkpoint checks the vocabulary after the nets, whose shapes say more)."""
    from gankit.config import ConfigError
    try:
        _refuse_changed_data(seen, ds, where, vocabulary)
    except ConfigError:
        say_files_skipped(ds)
        raise


def say_files_skipped(ds) -> None:
    """The files reading the data left out now (build_run_dataset keeps them), said where their
    count or digest is found changed: a file damaged since training is named, not only counted."""
    import warnings

    from gankit.data.image_decode import FilesSkipped
    for line in getattr(ds, "files_skipped", None) or ():
        warnings.warn(line, FilesSkipped, stacklevel=3)


def _refuse_changed_data(seen: dict, ds, where: str, vocabulary: bool) -> None:
    from gankit.config import ConfigError
    from gankit.data.class_names import refuse_other_classes
    from gankit.data.digest import refuse_other_points
    from gankit.data.text import check_vocabulary, refuse_other_split
    # a conditional run's classes say most; an unconditional one's images, counted (a class folder
    # added or removed changes both)
    labelled = getattr(ds, "condition_kind", None) not in (None, "none")
    if labelled:
        refuse_other_classes(seen, ds, where)
    was, now = seen.get("data_cut"), getattr(ds, "cut", None)
    now = tuple(int(v) for v in now) if isinstance(now, tuple) else None
    text = getattr(ds, "kind", None) == "text"
    if was is not None and now is not None and tuple(was) != now:
        if (len(was) > 2) != (len(now) > 2):     # held out in test files (IDX t10k-*) then, cut now, or the reverse
            then, here = (("the test files", "cut from the training images") if len(was) > 2
                          else ("cut from the training images", "the test files"))
            raise ConfigError(f"{where}: this run's held-out images were {then}; now they would be {here}, so "
                              "held-out measures would score images the run trained on (and a resume would train "
                              "on its held-out ones): restore the data as they were, or train a new run on the data "
                              "as they are")
        what = "distinct lines" if text else "images"
        split = (f"its held-out split ({was[1]} {what}) is cut by their number, so it would now include"
                 if was[1] else "it trained on all of them (too few to hold any out), so a held-out split cut now "
                 "would hold")
        rule = (" (or this gankit counts them another way: since 2026-12-05 word-level lines that differ only in "
                "whitespace are one line, which the older split could put on both sides)"
                if text and getattr(ds, "level", None) == "word" else "")
        raise ConfigError(f"{where} holds {now[0]} {what} now, {was[0]} when this run was trained{rule}; "
                          f"{split} {what} the run trained on: restore the data as they were (or give a copy "
                          "of them with --set data.path=...), or train a new run on the data as they are")
    if not labelled:
        refuse_other_classes(seen, ds, where)
    # last: the digest of points or images says only that they changed, the checks above how
    refuse_other_points(seen, ds, where)
    vocab = seen.get("vocab") or (seen.get("objective") or {}).get("vocab")
    refuse_other_split({**seen, "objective": {"vocab": vocab}}, ds, where)
    if vocabulary and text and vocab:     # lines edited that the split does not hold: their tokens decode as others
        check_vocabulary(vocab, ds.vocab)


# what a checkpoint records of the data its run trained on (gankit/train/run_state.py state_dict)
TRAINED_ON = ("class_names", "data_cut", "data_split", "data_digest")


_UNREAD = object()     # trained_on's ``checkpoint`` where the caller did not read it


def trained_on(run_dir, checkpoint=_UNREAD) -> dict:
    """The TRAINED_ON records of the newest readable checkpoint of ``run_dir`` (a path or a
    RunFolder; memory-mapped: its tensors are not read), and for a run on text "text": True and
    "vocab" where its checkpoint holds the vocabulary; {} for a run whose checkpoints hold none
    (older ones).  ``checkpoint``: that checkpoint's (state, path), or None where none loads, as
    gankit.report.inputs.newest_checkpoint gives it, where the caller read it already."""
    if checkpoint is _UNREAD:
        from gankit.runfolder import RunFolder
        from gankit.runfolder.checkpoint_read import load_mapped
        folder = run_dir if isinstance(run_dir, RunFolder) else RunFolder(run_dir)
        for _, path in reversed(folder.checkpoints()):
            try:
                checkpoint = (load_mapped(path), path)
            except Exception:       # damaged or being written: the one before
                continue
            break
        else:
            checkpoint = None
    state = checkpoint[0] if checkpoint is not None else None
    if not isinstance(state, dict):
        return {}
    out = {k: state[k] for k in TRAINED_ON if state.get(k)}
    objective = state.get("objective")
    vocab = objective.get("vocab") if isinstance(objective, dict) else None
    if isinstance(vocab, list):
        out["vocab"] = vocab
    if "data_split" in out or isinstance(vocab, list):
        out["text"] = True
    return out


def data_changed(run_dir, ds, where: str = "the data") -> str | None:
    """How the points or images ``ds`` holds differ from those the run in ``run_dir`` trained on,
    in words (gankit.data.digest.points_changed); None when they agree, no checkpoint recorded
    them, or a conditional run's class folders changed (the report says that in its own words)."""
    from gankit.data.class_names import OtherClasses, refuse_other_classes
    from gankit.data.digest import points_changed
    seen = trained_on(run_dir)
    try:
        if getattr(ds, "condition_kind", None) not in (None, "none"):
            refuse_other_classes(seen, ds, where)
    except OtherClasses:
        return None
    return points_changed(seen.get("data_digest"), ds, where)


def _run_dataset(cfg, run_dir, world_size: int):
    """build_run_dataset's dataset, before the checks that depend on what the command does."""
    import warnings
    from pathlib import Path

    from gankit.config import ConfigError
    from gankit.data.image_decode import FilesSkipped
    from gankit.identity import DATA_LOCATION_KEYS
    try:
        # all said when the run was made, most with advice on settings that define it; data
        # changed since are refused by the checkpoint's records (refuse_changed_data), not told
        # here; the files left out are kept to be said with such a refusal (say_files_skipped)
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            ds = build_dataset(cfg, world_size, check_batch=False)
        skipped = [str(w.message) for w in said if issubclass(w.category, FilesSkipped)]
        if skipped:
            ds.files_skipped = skipped
        return ds
    except ConfigError as e:
        moved = [(k, v) for k, v in cfg.data.params.items()
                 if k in DATA_LOCATION_KEYS and isinstance(v, str) and v and not Path(v).expanduser().exists()]
        if not moved:
            raise
        k, v = moved[0]
        # v is config.toml's value or the reader's own --set: say nothing about which
        raise ConfigError(f"{e}. {run_dir}: nothing at data.{k} = {v!r}; if the data moved, give their "
                          f"new place with --set data.{k}=NEW (gankit eval, sample, report, invert, complete, drs, "
                          f"train --resume) or in {Path(run_dir) / 'config.toml'}") from None


def data_named(cfg) -> str:
    """How messages name a run's data: its location key and value, else "the data"."""
    from gankit.identity import DATA_LOCATION_KEYS
    params = cfg.data.params if isinstance(cfg.data.params, dict) else {}
    return next((f"data.{k} = {params[k]!r}" for k in DATA_LOCATION_KEYS if params.get(k)), "the data")


def absolute_data_location(cfg, overrides: list[str] | None = None):
    """data.path / data.root and eval.inception_weights as absolute paths, ~ expanded and ``..``
    folded (relative ones are to the current folder), so the run opens from any folder and under
    any HOME later, and one file has one name (compare, eval records).  ``overrides``: the --set
    items of a command reopening a run (None: a new run, all of whose settings are given now); a
    relative eval.inception_weights config.toml records (an older gankit) is then left as read."""
    given = None if overrides is None else _named(overrides)
    for table, key in [("data", k) for k in _location_keys()] + [("eval", "inception_weights")]:
        if table == "data":
            where = cfg.data.params.get(key)
        elif given is not None and f"eval.{key}" not in given:
            continue
        else:
            where = getattr(cfg.eval, key, None)
        full = _absolute(where, f"{table}.{key}")
        if full is None or full == where:
            continue
        if table == "data":
            cfg.data.params[key] = full
        else:
            setattr(cfg.eval, key, full)


def _location_keys() -> tuple[str, ...]:
    from gankit.identity import DATA_LOCATION_KEYS
    return DATA_LOCATION_KEYS


def _absolute(where, name: str) -> str | None:
    """``where`` absolute, ~ expanded, ``..`` folded (os.path.abspath, not resolve(): a symlinked
    folder stays as the user named it); None for no path."""
    import os
    from pathlib import Path

    from gankit.config import ConfigError
    from gankit.config.core import locale_message
    if not isinstance(where, str) or not where:
        return None
    try:
        os.fsencode(where)
    except UnicodeEncodeError:    # a UTF-8 name (config.toml) this locale cannot spell
        raise ConfigError(locale_message(where, name)) from None
    try:
        return os.path.abspath(Path(where).expanduser())
    except RuntimeError:          # ~ or ~user whose home folder is unknown
        raise ConfigError(f"{name}: {where!r}: the home folder its ~ names is unknown (no such user, "
                          "or HOME is not set); give the full path") from None


def _named(overrides) -> set[str]:
    """The dotted keys ``overrides`` (--set KEY=VALUE items) set, a table's keys given inline too
    ("data={path=...}" names data.path)."""
    named = set()
    for item in overrides or []:
        key, _, value = str(item).partition("=")
        key = key.strip()
        named.add(key)
        for table, k in [("data", k) for k in _location_keys()] + [("eval", "inception_weights")]:
            if key == table and k in value:
                named.add(f"{table}.{k}")
    return named


def refuse_relative_recorded(cfg, run_dir, overrides: list[str] | None = None):
    """Refuse a data location that a run's config.toml records relative: gankit before 2026-12-04
    recorded data.path / data.root as given, and read against the current folder a same-named
    file here would be taken without a word (and recorded by a resume for good).  A place given
    now is the user's, relative to here: one ``overrides`` names, or (``overrides`` None: the
    caller holds only the config) one that differs from config.toml's."""
    import os
    from pathlib import Path

    from gankit.config import ConfigError
    params = cfg.data.params if isinstance(cfg.data.params, dict) else {}
    relative = [k for k in _location_keys() if isinstance(params.get(k), str) and params[k]
                and not params[k].startswith("~") and not os.path.isabs(params[k])]
    if not relative:
        return
    if overrides is not None:
        given = _named(overrides)
        recorded = [k for k in relative if f"data.{k}" not in given]
    else:
        from gankit.runfolder import RunFolder
        data = RunFolder(run_dir).read_config().get("data")
        data = data if isinstance(data, dict) else {}
        recorded = [k for k in relative if data.get(k) == params[k]]
    if recorded:
        k = recorded[0]
        raise ConfigError(f"{Path(run_dir) / 'config.toml'} records data.{k} {params[k]!r} relative (an older "
                          f"gankit); give its place: --set data.{k}=ABSOLUTE (or edit config.toml)")
