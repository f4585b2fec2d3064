"""``gankit invert`` and ``gankit complete``: latent inversion of a trained G from the command
line (the logic is gankit/train/inversion.py, the images it reads gankit/train/inversion_inputs.py;
this parses and writes files)."""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from gankit.config import ConfigError
from gankit.train.inversion_specs import MASKS, is_split, several   # the images' reader imports torch: in the commands


def _grid(rows: list[np.ndarray], out: Path):
    from gankit.report.plots import figs

    from gankit.report.images import tile
    img = tile(np.concatenate(rows), len(rows[0]))
    figs.imsave(out, img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)


def _write(out: Path, x, inv, extra: dict, shown: list[np.ndarray], stem: str, files: list[str] | None = None):
    # the set is written under pending names, then each renamed into place: a write that fails
    # (a full disk) leaves the folder's earlier set whole, never new images beside old z and errors
    from gankit.io import write_atomic, write_text_atomic
    out.mkdir(parents=True, exist_ok=True)
    pending: list[tuple[Path, Path]] = []

    def stage(name: str) -> Path:
        path = out / f".pending.{name}"
        pending.append((path, out / name))
        return path
    try:
        summary = _write_set(stage, x, inv, extra, shown, stem, files, write_atomic, write_text_atomic)
    except BaseException:
        for path, _ in pending:
            path.unlink(missing_ok=True)
        raise
    for path, final in pending:
        os.replace(path, final)
    # the other command's images of an earlier set in this folder do not go with this z and errors
    for name in WRITTEN - {final.name for _, final in pending} - {"z.npy", "errors.csv", "summary.json"}:
        (out / name).unlink(missing_ok=True)
    return summary


def _write_set(stage, x, inv, extra, shown, stem, files, write_atomic, write_text_atomic) -> dict:
    write_atomic(stage(f"{stem}.npy"), lambda f: np.save(f, shown[-1]))
    write_atomic(stage("z.npy"), lambda f: np.save(f, inv.z.numpy()))
    if files:        # the row of each file: unreadable files in a folder were skipped
        import csv
        import io
        table = io.StringIO()
        rows = csv.writer(table, lineterminator="\n")
        rows.writerow(["index", "file", "mse"])
        rows.writerows([i, f, f"{e:.6g}"] for i, (f, e) in enumerate(zip(files, inv.error.tolist())))
        write_text_atomic(stage("errors.csv"), table.getvalue())
    else:
        write_text_atomic(stage("errors.csv"), "index,mse\n" + "".join(
            f"{i},{e:.6g}\n" for i, e in enumerate(inv.error.tolist())))
    summary = {"n": len(x), "mse_mean": float(inv.error.mean()), "mse_median": float(inv.error.double().quantile(0.5)),
               **extra}
    write_text_atomic(stage("summary.json"), json.dumps(summary, indent=1) + "\n")
    if x.dim() == 4:
        write_atomic(stage(f"{stem}.png"), lambda tmp: _grid([s[:16] for s in shown], tmp), by_name=True)
    return summary


# what invert and complete write into their folder: an existing --out holding anything else is
# someone's folder (the images read, say), whose same-named files they would replace
WRITTEN = {f"{stem}.{ext}" for stem in ("reconstructions", "completions") for ext in ("npy", "png")} | {
    "z.npy", "errors.csv", "summary.json"}


def _out_folder(a, default: str, stem: str) -> Path:
    """The folder to write to, checked before any work: a file there cannot become one, and the
    images' own folder (or one holding other files) is not written into."""
    command = getattr(a, "command", "invert")
    out = Path(a.out).expanduser() if a.out else Path(a.run_dir) / default
    spec = _spec(a)
    images = Path(spec).expanduser() if not several(spec) else None
    if images is not None and not is_split(spec) and images.is_dir() and (
            out.resolve() == images.resolve() or images.resolve() in out.resolve().parents):
        given = f"{command} --out {a.out}" if a.out else f"{command}: {out}, the default output folder,"
        raise ConfigError(f"{given} is {'inside ' * (out.resolve() != images.resolve())}the --images folder, "
                          "whose files it could replace and would read as images next time; give --out a "
                          "folder outside it")
    if not a.out:
        if out.exists() and not out.is_dir():
            raise ConfigError(f"{command}: {out}, the default output folder, is a file; give --out FOLDER "
                              "(a new or existing folder)")
        return out
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{command} --out {a.out} is a file; --out must be a folder (new or existing) for "
                          f"{stem}.npy, z.npy, errors.csv and summary.json")
    if any(p.exists() and not p.is_dir() for p in out.parents):
        raise ConfigError(f"{command} --out {a.out}: a part of this path is a file; --out must be a folder")
    theirs = sorted(p.name for p in out.iterdir() if p.name not in WRITTEN
                    and not p.name.startswith(".")) if out.is_dir() else []
    if theirs:
        raise ConfigError(f"{command} --out {a.out} holds {len(theirs)} file(s) invert and complete do not "
                          f"write ({', '.join(theirs[:3])}{', ...' * (len(theirs) > 3)}): it is not their "
                          "output folder; give a new or empty folder, or one they wrote before")
    return out


def _spec(a):
    """--images as load_images takes it: one path (or pattern, or heldout[:N]), or the list of
    several paths (a pattern the shell expanded)."""
    given = getattr(a, "images", None) or ["heldout"]
    return given if isinstance(given, str) else given[0] if len(given) == 1 else list(given)


@contextmanager
def _output_folder(a, out: Path, stem: str):
    """``out`` (_out_folder's), made and found writable once the run is open, before any work (a
    folder that cannot be made was found out only after every image was inverted); what was made
    for it is removed again, if still empty, when the command then fails (images refused, Ctrl-C)."""
    made = _make(a, out, stem)
    try:
        yield
    except BaseException:
        _remove_empty(made)
        raise


def _make(a, out: Path, stem: str) -> list[Path]:
    """Make ``out``; the folders made, deepest first."""
    from gankit.io import WriteError, check_writable, write_failure
    command = getattr(a, "command", "invert")
    given, fix = (f"--out {a.out}", "give a writable folder") if a.out else (
        f"{out}, the default output folder", "give --out a writable folder")
    made = [p for p in (out, *out.parents) if not p.exists()]
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        _remove_empty(made)
        why = write_failure(e, f"the folder {Path(e.filename or out).parent}")
        if why == (e.strerror or str(e)):        # no words of its own: the system's, on its path
            why = f"{e.filename or out}: {why}"
        raise ConfigError(f"{command}: cannot create {given}: {why}; {fix}") from None
    try:
        check_writable(out / f".pending.{stem}.npy")         # the name its first file is written under
    except WriteError as e:
        _remove_empty(made)
        raise ConfigError(f"{command}: cannot write in {given}: {e.strerror}; {fix}") from None
    return made


def _remove_empty(folders: list[Path]):
    for p in folders:
        try:
            p.rmdir()
        except OSError:      # not made after all, or something was written there: kept
            pass


def _open(a):
    from gankit.cli_args import data_location_sets
    from gankit.train.run import Run
    # image runs only, whose G has no sampling settings (generator.temperature): the data's location alone
    return Run.open(a.run_dir, data_location_sets(a.set, sampling=False)[0])


def _images(n: int) -> str:
    return f"{n} image{'s' * (n != 1)}"


def _options(a) -> dict:
    return {"steps": a.steps, "lr": a.lr, "restarts": a.restarts, "use_encoder": not a.no_encoder,
            "seed": a.seed}


def _run_dir_given(a):
    """``gankit invert --images x.npy RUN``: --images takes several values (a pattern the shell
    expanded), so a run folder written after it lands among them; it is the last of them."""
    if a.run_dir is None:
        if len(a.images) < 2:
            raise ConfigError(f"{a.command}: give the run folder: gankit {a.command} RUN --images IMAGES ...")
        a.run_dir = a.images.pop()


def _cmd_invert(a):
    from gankit.train.inversion import invert_run
    from gankit.train.inversion_inputs import load_images
    _run_dir_given(a)
    out = _out_folder(a, "inversion", "reconstructions")
    run = _open(a)
    with _output_folder(a, out, "reconstructions"):
        files: list[str] = []
        x = load_images(_spec(a), run.dataset, files)
        inv = invert_run(run, x, **_options(a))
        s = _write(out, x, inv, {}, [x.numpy(), inv.recon.numpy()], "reconstructions", files)
    from gankit.cli_args import shown_path
    print(f"inverted {_images(s['n'])}: MSE per pixel mean {s['mse_mean']:.4f}, median "
          f"{s['mse_median']:.4f}; wrote {shown_path(out / 'reconstructions.npy')}, z.npy, errors.csv, summary.json "
          "and reconstructions.png (the first 16)")


def _cmd_complete(a):
    from gankit.train.inversion import complete
    from gankit.train.inversion_inputs import load_images, make_mask
    _run_dir_given(a)
    out = _out_folder(a, "completion", "completions")
    run = _open(a)
    with _output_folder(a, out, "completions"):
        files: list[str] = []
        x = load_images(_spec(a), run.dataset, files)
        missing = make_mask(a.mask, tuple(x.shape[1:]))
        filled, inv = complete(run, x, missing, **_options(a))
        hole = ((filled - x) ** 2 * missing).flatten(1).sum(1) / missing.flatten().sum().clamp_min(1)
        masked = x * (1 - missing)
        s = _write(out, x, inv, {"missing_mse_mean": float(hole.mean())},
                   [x.numpy(), masked.numpy(), filled.numpy()], "completions", files)
    from gankit.cli_args import shown_path
    named = f"the part {shown_path(a.mask)} marks" if Path(a.mask).suffix.lower() == ".npy" else shown_path(a.mask)
    print(f"completed {_images(s['n'])} ({named} missing): MSE per pixel on the filled part "
          f"{s['missing_mse_mean']:.4f}, on the known part {s['mse_mean']:.4f}; wrote {shown_path(out)}")


def add_parser(sub):
    for name, fn, help_ in (("invert", _cmd_invert, "fit G's code to images by optimisation: "
                             "reconstructions and their errors"),
                            ("complete", _cmd_complete, "fill a masked part of images from G fitted to "
                             "the rest")):
        p = sub.add_parser(name, help=help_)
        p.add_argument("run_dir", nargs="?")      # None: written after --images (_run_dir_given)
        # several values: a pattern the shell expanded (--images imgs/*.png), read as the quoted pattern is
        p.add_argument("--images", required=True, nargs="+", metavar="IMAGES",
                       help="FILE.npy, an image file (PNG, JPEG, ...), several, a glob pattern ('imgs/*.png'), "
                       "a folder of image files (sub-folders too), or heldout[:N]")
        if name == "complete":
            p.add_argument("--mask", required=True, help=f"the part to fill: {', '.join(MASKS)}, or "
                           "FILE.npy (1 = missing)")
        p.add_argument("--out", help=f"output folder (default RUN_DIR/{'inversion' if name == 'invert' else 'completion'})")
        p.add_argument("--steps", type=int, default=300, help="Adam steps on z (default 300)")
        p.add_argument("--lr", type=float, default=0.05, help="Adam's learning rate on z (default 0.05)")
        p.add_argument("--restarts", type=int, default=1, help="starts per image; the best is kept (default 1)")
        p.add_argument("--seed", type=int, default=0, help="seed of the starts drawn from the prior (default 0)")
        p.add_argument("--no-encoder", action="store_true",
                       help="start from the prior even when the run has an encoder")
        from gankit.cli_args import DATA_MOVED_HELP
        p.add_argument("--set", action="append", default=[], metavar="data.KEY=VALUE", help=DATA_MOVED_HELP)
        p.set_defaults(fn=fn)
