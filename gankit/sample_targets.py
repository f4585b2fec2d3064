"""Where ``gankit sample --out`` may write: not onto what the run reads (its data file, a file its
dataset would read in its data folder, the run folder's own files; hard links and other names of
them included), and in a format the run's data take; both known before the run is opened."""
from __future__ import annotations

import os
import stat
import warnings
from pathlib import Path

from gankit.config import ConfigError

SAMPLE_SUFFIXES = (".npy", ".csv", ".png", ".pdf", ".svg", ".txt")
TEXT_SUFFIXES = (".txt", ".npy", ".csv")

# what a built-in dataset reads at its data.path / data.root (gankit/data/images.py, image_files.py,
# idx_files.py, points.py, text.py): any other file there is not its data; a user's dataset may read anything
FILE_DATA = {"points", "textfile", "words"}
IDX_DATA = {"mnist", "fashion-mnist", "stacked-mnist"}
# load_idx_dir's files in data.root, as idx_files._find_idx spells them
IDX_NAMES = {name + gz for split in ("train", "t10k") for part in ("images-idx3-ubyte", "labels-idx1-ubyte")
             for name in (f"{split}-{part}", f"{split}-{part}".replace("-idx", ".idx")) for gz in (".gz", "")}


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
    command without the --set reads config.toml's), a file its dataset would read in its data folder
    (an IDX root's train-* / t10k-* files, an image folder's images: read as data next time), or the
    run folder's own files; os.replace would put the samples in their place.  Hard links to them
    and other names of them (a bind mount, a case-insensitive drive) count; a symbolic link to them
    does not: os.replace replaces the link, the file it named is kept.  A config that does not load
    is left to Run.open to refuse."""
    from gankit import config as C
    from gankit.cli_args import data_location_sets
    from gankit.runfolder import RunFolder
    try:
        folder = RunFolder(a.run_dir)
        raw = folder.read_config()
        with warnings.catch_warnings():     # Run.open says them, once
            warnings.simplefilter("ignore")
            now = C.load(raw, data_location_sets(a.set)[0]).data
    except Exception:       # noqa: BLE001 - Run.open refuses it in its own words
        return
    places = _places(raw, now, folder)
    hit = _hit(target, places)
    if hit is None:
        return
    how, (named, place, kind) = hit
    why = ("gankit reads and writes the run's files there" if kind == "run" else
           "training, eval and sample would read the samples as data" if how == "lies inside" else
           "the samples would take its place")
    sfx = target.suffix.lower() if target.suffix.lower() in SAMPLE_SUFFIXES else ".npy"
    raise ConfigError(f"sample --out {a.out} {how} {named}: {why}; write the samples elsewhere, e.g. "
                      f"--out {_elsewhere(sfx, place, places)}")


def _places(raw: dict, now, folder) -> list[tuple[str, Path, str]]:
    """(how messages name it, its place resolved, what is read there) for the run's data and its
    own files; what is read: "file" (the place), "idx" (IDX_NAMES in it), "images" (the image
    files under it), "any" (anything under it: a user's dataset), "run" (the run's own)."""
    from gankit.identity import DATA_LOCATION_KEYS
    from gankit.runfolder.ownership import RUN_ENTRIES
    params = now.params if isinstance(now.params, dict) else {}
    found = set()
    for d in (raw.get("data"), params):
        if not isinstance(d, dict):
            continue
        for k, v in d.items():
            if k not in DATA_LOCATION_KEYS or not isinstance(v, str) or not v:
                continue
            if now.name == "stacked-mnist" and params.get("source") != "mnist":
                continue        # its root is read only for source = mnist
            place = Path(os.path.abspath(os.path.expanduser(v))).resolve()
            kind = ("file" if now.name in FILE_DATA else "idx" if now.name in IDX_DATA
                    else "images" if now.name == "image-folder" else "any")
            if (kind == "file" and place.is_dir()) or (kind in ("idx", "images") and place.is_file()):
                kind = "any"        # not what the dataset takes (Run.open refuses it): all of it kept
            found.add((f"the run's data (data.{k} = {v!r})", place, kind))
    run = folder.path.resolve()
    own = sorted(RUN_ENTRIES | {"tensorboard"})
    return sorted(found) + [(f"the run folder's own {n}", run / n, "run") for n in own]


def _reads(path: Path, place: Path, kind: str) -> bool:
    """Whether what reads ``place`` reads ``path`` (both absolute, their folders resolved)."""
    from gankit.data.image_files import IMAGE_SUFFIXES
    if kind == "file":
        return path == place
    if kind == "idx":
        return path.parent == place and path.name in IDX_NAMES
    if kind == "images":        # load_image_folder skips hidden files and folders; a new folder is a class
        return (place in path.parents and path.suffix.lower() in IMAGE_SUFFIXES
                and not any(p.startswith(".") for p in path.relative_to(place).parts))
    return path == place or place in path.parents


def _hit(target: Path, places) -> tuple[str, tuple] | None:
    """How ``target`` meets the first of ``places`` it would overwrite or add to ("is", "lies
    inside", "is a hard link to", ...) and that place; None where it meets none."""
    # the entry os.replace replaces: a symbolic link named here, not the file it names
    out = target.parent.resolve() / target.name
    try:
        entry = os.lstat(out)
    except OSError:
        entry = None
    if entry is not None and stat.S_ISLNK(entry.st_mode):
        entry = None
    for item in places:
        _, place, kind = item
        if _reads(out, place, kind):
            return ("is a file read from" if kind == "idx" else "is" if out == place else "lies inside"), item
        there = _aliased(out, place)
        if there is not None and _reads(there, place, kind):
            return ("lies inside" if there != place else "is another name for"), item
        if entry is not None and _same_file(entry, place, kind):
            # a hard link is another entry; a folder reached otherwise shows the data's own entry
            own = place.is_file() and _aliased(out, place.parent) == place
            link = "is a hard link to" if entry.st_nlink > 1 and not own else "is another name for"
            return link + ("" if place.is_file() else " a file in"), item
    return None


def _aliased(out: Path, place: Path) -> Path | None:
    """``out`` spelt inside ``place`` where one of its folders is ``place`` under another name
    (a bind mount, a case-insensitive drive: os.path.samefile of the folders); None elsewhere."""
    try:
        home = os.stat(place)
    except OSError:
        return None
    for folder in out.parents:
        try:
            if os.path.samestat(os.stat(folder), home):
                return place / out.relative_to(folder)
        except OSError:
            continue
    return None


def _same_file(entry: os.stat_result, place: Path, kind: str) -> bool:
    """Whether ``entry`` (an existing file's lstat) is a file read at ``place`` (os.path.samefile:
    a hard link, or the same file under another name).  In a folder, a file with one link is found
    by its folder (_aliased); the folder is searched only for a file with several links."""
    def same(p) -> bool:
        try:
            return os.path.samestat(os.stat(p), entry)
        except OSError:     # a broken link, a file gone meanwhile: not this one
            return False
    if not place.is_dir():
        return same(place)
    if kind == "idx":
        return any(same(place / n) for n in IDX_NAMES)
    if entry.st_nlink < 2:
        return False
    return any(same(Path(d) / f) for d, _, fs in os.walk(place) for f in fs
               if kind != "images" or _reads(Path(d) / f, place, kind))


def _elsewhere(sfx: str, place: Path, places) -> str:
    """A file for the samples that meets none of ``places``: samples.SUFFIX here, else beside
    ``place``."""
    from gankit.streams import pasteable
    for there in (Path(f"samples{sfx}"), place.parent / f"samples{sfx}", place.parent / f"gankit_samples{sfx}"):
        if _hit(there, places) is None:
            return pasteable(there)
    return f"OTHER{sfx}"
