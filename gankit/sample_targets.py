"""Where ``gankit sample --out`` may write: not onto what the run reads (its data file, a file in
its data folder, the run folder's own files, hard links to them included), and in a format the
run's data take; both known before the run is opened."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

from gankit.config import ConfigError

SAMPLE_SUFFIXES = (".npy", ".csv", ".png", ".pdf", ".svg", ".txt")
TEXT_SUFFIXES = (".txt", ".npy", ".csv")


def formats_of(run_dir) -> tuple[str, ...]:
    """The --out formats the run's data take, known before the run is opened (a text run's
    checkpoint holds its vocabulary); all of them where no checkpoint says."""
    from gankit.data import trained_on
    from gankit.runfolder import RunFolder
    try:
        folder = RunFolder(run_dir)
        if trained_on(folder).get("text"):
            return TEXT_SUFFIXES
        return tuple(s for s in SAMPLE_SUFFIXES if s != ".txt") if folder.checkpoints() else SAMPLE_SUFFIXES
    except Exception:       # noqa: BLE001 - opening the run says what is wrong with it
        return SAMPLE_SUFFIXES


def refuse_run_files(a, target: Path):
    """--out onto what the run reads: its data file (config.toml's, or one --set gives now: a later
    command without the --set reads config.toml's), a file inside its data folder (read as data
    next time), or the run folder's own files; os.replace would put the samples in their place.
    Hard links to them count; a config that does not load is left to Run.open to refuse."""
    from gankit import config as C
    from gankit.cli_args import data_location_sets
    from gankit.identity import DATA_LOCATION_KEYS
    from gankit.runfolder import RunFolder
    from gankit.runfolder.ownership import RUN_ENTRIES
    try:
        folder = RunFolder(a.run_dir)
        raw = folder.read_config()
        with warnings.catch_warnings():     # Run.open says them, once
            warnings.simplefilter("ignore")
            now = C.load(raw, data_location_sets(a.set)[0]).data.params
    except Exception:       # noqa: BLE001 - Run.open refuses it in its own words
        return
    places = sorted({(f"the run's data (data.{k} = {v!r})", Path(os.path.abspath(os.path.expanduser(v))).resolve())
                     for d in (raw.get("data"), now) if isinstance(d, dict)
                     for k, v in d.items() if k in DATA_LOCATION_KEYS and isinstance(v, str) and v})
    data = len(places)
    run = folder.path.resolve()
    places += [(f"the run folder's own {n}", run / n) for n in sorted(RUN_ENTRIES | {"tensorboard"})]
    out = target.resolve()
    linked = target.is_file() and target.stat().st_nlink > 1
    for i, (named, place) in enumerate(places):
        if out == place:
            how = "is"
        elif place in out.parents:
            how = "lies inside"
        elif linked and _linked_to(target, place):
            how = "is a hard link to" + ("" if place.is_file() else " a file in")
        else:
            continue
        why = ("gankit reads and writes the run's files there" if i >= data else "the samples would take its place"
               if how != "lies inside" else "training, eval and sample would read the samples as data")
        sfx = target.suffix.lower() if target.suffix.lower() in SAMPLE_SUFFIXES else ".npy"
        raise ConfigError(f"sample --out {a.out} {how} {named}: {why}; write the samples elsewhere, e.g. "
                          f"--out {_elsewhere(sfx, place, [p for _, p in places])}")


def _linked_to(target: Path, place: Path) -> bool:
    """Whether ``target`` is the same file as ``place`` or as a file under it (a hard link)."""
    me = target.stat()

    def same(p) -> bool:
        try:
            st = os.stat(p)
        except OSError:     # a broken link, a file gone meanwhile: not this one
            return False
        return (st.st_dev, st.st_ino) == (me.st_dev, me.st_ino)
    if not place.is_dir():
        return same(place)
    return any(same(os.path.join(d, f)) for d, _, fs in os.walk(place) for f in fs)


def _elsewhere(sfx: str, place: Path, taken: list[Path]) -> str:
    """A file for the samples outside ``taken``: samples.SUFFIX here, else beside ``place``."""
    from gankit.streams import pasteable
    for there in (Path(f"samples{sfx}"), place.parent / f"samples{sfx}", place.parent / f"gankit_samples{sfx}"):
        full = there.resolve()
        if not any(full == p or p in full.parents for p in taken):
            return pasteable(there)
    return f"OTHER{sfx}"
