"""``gankit sample`` and ``gankit drs``: samples of a trained G, into a file or the terminal,
and the rejection sampler that refines them (the logic is gankit/train/rejection.py and the
Run's sampling; this parses, checks the target, writes files atomically)."""
from __future__ import annotations

import warnings
from pathlib import Path

from gankit.config import ConfigError


def _cmd_drs(a):
    """Rejection sampling for a finished run: fit the sampler on its G, keep it in the run."""
    from gankit import config as C
    from gankit.runfolder import RunFolder, RunFolderError
    from gankit.runfolder.lock import FolderInUse
    from gankit.train.objective import UnfittedState
    from gankit.train.rejection import FitFailed, fit_objective, retry_advice
    from gankit.train.run import Run
    from gankit.report.inputs import loaded_config
    folder = RunFolder(a.run_dir)
    cfg = loaded_config(folder, [])      # a wrong value named with its file, as every command that opens a run says
    if (missing := folder.missing_checkpoints()) is not None:     # not a run stopped before its first one
        raise RunFolderError(f"drs: {missing[0]}; there is no trained G to fit a sampler to: {missing[1]}")
    if not folder.checkpoints() and not folder.damaged():   # opened for writing, it would start from step 0
        raise ConfigError(f"drs: {a.run_dir} has no checkpoint yet (stopped before its first one), so there "
                          f"is no trained G to fit a sampler to; train it first: gankit train --resume "
                          f"--out {a.run_dir}")
    if "drs" not in cfg.objective.params:       # refused before the run is opened for writing
        raise ConfigError(f"drs: the {cfg.objective.name!r} objective has no rejection sampler; "
                          "discriminator rejection sampling needs a GAN objective (gan) with its D")
    # the objective's own refusals name objective.drs, which this command sets: said here instead
    if cfg.condition.kind != "none":
        raise ConfigError(f"drs: rejection sampling is for unconditional runs; {a.run_dir} is conditional "
                          f"(condition.kind = {cfg.condition.kind!r})")
    if cfg.objective.params.get("minibatch", "none") != "none":
        raise ConfigError(f"drs: a D with minibatch features (objective.minibatch = "
                          f"{cfg.objective.params['minibatch']!r}) scores batches, not samples; rejection "
                          "sampling needs one score per sample")
    from gankit.cli_args import data_location_sets
    where, _ = data_location_sets(a.set, sampling=False)      # D is fitted to G as it trained
    options = _drs_options(a, folder.read_config())
    over = where + ["objective.drs=true"] + [f"{key}={value!r}" for key, (_, value) in options.items()]
    try:
        with warnings.catch_warnings():      # the checkpoint has no sampler yet: this command fits it
            warnings.simplefilter("ignore", UnfittedState)
            run = Run.open(a.run_dir, over, write=True)
    except FolderInUse as e:    # its advice is training's: --resume would train on, not fit
        raise RunFolderError(e.busy(f"run gankit drs {a.run_dir} again")) from None
    run.folder.again = f"run gankit drs {a.run_dir} again"     # a failed write: drs, not training, is redone
    try:
        if getattr(run.objective, "rejection", None) is None:
            raise ConfigError(f"drs: the {run.cfg.objective.name!r} objective has no rejection sampler")
        _refuse_skipped_newer(run, a.run_dir)
        fitted = []
        try:
            sampler = fit_objective(run.objective, run.step, fitted.append)
        except FitFailed as e:     # a diverged G or fine-tuning: one line, and what can mend it
            raise ConfigError(f"drs: rejection sampler not fitted, the run is left as it was: {e}"
                              f"{retry_advice(e.cause, a.run_dir, run.objective.rejection.lr)}") from None
        # the checkpoint holding the sampler first, straight to the folder (Run.save_checkpoint
        # writes config.toml before it), then config.toml, then the record: a kill or a failure
        # on the way leaves the run as it was, not a config saying drs = true over a checkpoint
        # without a sampler (sample and eval would use G alone)
        state = run.state_dict()
        from gankit.train.callbacks import nonfinite_tensors
        from gankit.train.run_state import unloadable
        odd = unloadable(state)         # training checks every checkpoint it writes; so does this one
        if odd:
            raise ConfigError(run._unloadable_message(*odd, "by gankit drs: the run is left as it was"))
        # nor one holding NaN or inf (readers would skip it for an older step without a sampler)
        if bad := nonfinite_tensors(state):
            from gankit.streams import listed
            raise ConfigError(f"drs: rejection sampler not fitted, the run is left as it was: the fine-tuning "
                              f"diverged (NaN or inf in {listed(bad, 3)}){retry_advice('lr', a.run_dir, sampler.lr)}")
        run.folder.save_checkpoint(state, run.step, run.cfg.train.keep_checkpoints)
        run.folder.write_config(C.dumps_toml(run.cfg))
        for record in fitted:
            run.log(record)
    finally:
        run.close()
    from gankit.cli_args import shown_path
    print(f"rejection sampler fitted at step {run.step}: acceptance {float(sampler.acceptance):.3f}; "
          f"samples, eval and report of {shown_path(a.run_dir)} now use it (objective.drs = true in its config.toml)")


def _drs_options(a, raw: dict) -> dict[str, tuple[str, object]]:
    """drs's options given, as {config key: (option, value)}, checked by the config's schema
    before the run is opened for writing; a refusal names the option, not the key it sets."""
    from gankit import config as C
    given = {"objective.drs_steps": ("--steps", a.steps), "objective.drs_quantile": ("--quantile", a.quantile),
             "objective.drs_lr": ("--lr", a.lr)}
    given = {key: said for key, said in given.items() if said[1] is not None}
    if not given:
        return given
    try:
        C.load(raw, [f"{key}={value!r}" for key, (_, value) in given.items()])
    except ConfigError as e:
        key = next((k for k in given if str(e).startswith(f"{k}:")), None)
        if key is None:
            raise
        option, value = given[key]
        raise ConfigError(f"drs {option} {value!r}: {_as_fix(str(e)[len(key) + 1:].strip())}") from None
    return given


BOUND_WORDS = {">=": "{} or more", ">": "more than {}", "<=": "{} or less", "<": "less than {}"}


def _as_fix(said: str) -> str:
    """The schema's "must be >= 0, got -1" as what to give ("give 0 or more"): the value is named
    already; any other refusal as it is."""
    import re
    if not (m := re.fullmatch(r"must be (.+), got .*", said)):
        return said
    bound = re.fullmatch(r"(>=|>|<=|<) (\S+)", m[1])
    return f"give {BOUND_WORDS[bound[1]].format(bound[2]) if bound else m[1]}"


def _refuse_skipped_newer(run, run_dir):
    """A newer checkpoint the run was opened past (unreadable: damaged, or holding NaN or inf, as
    an older gankit drs could write): fitting now would rewrite the older step's file, and readers
    would go on skipping to it without a word about the sampler."""
    newer = [p for s, p in run.folder.checkpoints() if s > run.step]
    if not newer:
        return
    from gankit.runfolder.checkpoint_check import checkpoint_fault
    from gankit.streams import pasteable
    try:
        why = checkpoint_fault(run.folder.load_file(newer[-1])) or "it does not load"
    except Exception as e:      # noqa: BLE001 - whatever stops the load is the reason
        why = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
    from gankit.runfolder.checkpoint_read import damaged_name
    bad, aside = pasteable(newer[-1]), pasteable(damaged_name(newer[-1]))
    raise ConfigError(f"drs: the newest checkpoint {newer[-1].name} is unreadable ({why}); drs would fit at "
                      f"step {run.step} and rewrite that older checkpoint: move it aside (mv {bad} {aside}: "
                      f"gankit keeps such files and reads none), then run gankit drs {run_dir} again")


def _cmd_sample(a):
    from gankit.cli_args import data_location_sets, output_file
    from gankit.sample_targets import SAMPLE_SUFFIXES, formats_of, refuse_run_files
    from gankit.cli_args import shown_path
    from gankit.streams import shown

    from gankit.io import write_atomic, write_text_atomic
    from gankit.train.run import Run
    if a.n < 1:
        raise ConfigError(f"sample -n {a.n}: ask for at least 1 sample")
    if a.out is not None:   # check the target before any work
        formats = formats_of(a.run_dir)     # a text run's first is .txt: its samples as text
        target = output_file("sample", a.out, "samples" + formats[0])
        if target.suffix.lower() not in SAMPLE_SUFFIXES:
            raise ConfigError(f"--out {a.out}: unknown format {target.suffix!r}; use {', '.join(formats)}")
        refuse_run_files(a, target)
    suffix = Path(a.out).suffix.lower() if a.out is not None else None     # x.NPY is x.npy
    run = Run.open(a.run_dir, data_location_sets(a.set)[0])
    if run.dataset.kind == "text" and suffix in {".png", ".pdf", ".svg"}:
        raise ConfigError(f"sample --out {a.out}: text samples are written as .txt (or their token ids "
                          f"as .npy / .csv), not as a plot")
    if run.dataset.kind != "text" and suffix == ".txt":
        raise ConfigError(f"--out {a.out}: .txt is for text data; use .npy, .csv, .png, .pdf or .svg")
    cond = _condition_args(run, a)
    if suffix in (".png", ".pdf", ".svg") and run.dataset.kind == "image" and a.n > MAX_GRID:
        side = int(MAX_GRID ** 0.5)
        raise ConfigError(f"sample -n {a.n} --out {a.out}: a plot tiles at most {MAX_GRID} images ({side} x {side}; "
                          f"more would be too small to see); ask for -n {MAX_GRID} or fewer, or write them all to "
                          ".npy or .csv")
    streamed = suffix in (".npy", ".csv")      # written piece by piece: memory holds one chunk
    _refuse_beyond_memory(a.n, a.n * run.cfg.noise.dim * 4, "the noise")
    chunks, classes = run.sample_chunks(a.n, seed=a.seed, **cond)
    drew = _class_drawn(run, cond)
    said = _classes_drawn(run, classes, a.seed) if not drew else ""
    if streamed:
        out = Path(a.out)
        # written to a temp file beside it, then renamed: a failure or a kill keeps the old file whole
        write = _write_npy if suffix == ".npy" else _write_csv
        write_atomic(out, lambda f: write(f, chunks, a.n, run))
        print(f"wrote {_count(a.n)}{drew} to {shown_path(out)}{said}")
        return
    x = _gathered(chunks, a.n, run.step).numpy()
    if run.dataset.kind == "text" and (a.out is None or suffix == ".txt"):
        lines = run.dataset.decode(x)
        if a.out is None:     # a terminal would act on control characters in the samples: escaped
            from gankit.data.text import printable
            print(shown("".join(printable(line) + "\n" for line in lines)), end="")
            return
        text = "".join(line + "\n" for line in lines)   # one sample per line, exactly as decoded
        write_text_atomic(a.out, text)
        print(f"wrote {_count(len(x))}{drew} to {shown_path(a.out)}{said}")
        return
    if a.out is None:
        raise ConfigError("sample: --out FILE is needed for this data (.npy, .csv, .png, .pdf or .svg); "
                          "only text data prints its samples")
    out = Path(a.out)
    if suffix in (".png", ".pdf", ".svg"):
        from gankit.report.plots import plot_samples_file
        # written to a temp file beside it, then renamed: a failure or a kill keeps the old file whole
        write_atomic(out, lambda tmp: plot_samples_file(run.dataset, x, tmp), by_name=True)
    else:
        raise ConfigError(f"--out {out}: {out.suffix!r} is for text data; use .npy, .csv, .png, .pdf or .svg")
    print(f"wrote {_count(len(x))}{drew} to {shown_path(out)}{said}")


MAX_GRID = 10000        # images a plot tiles: 100 x 100
def _refuse_beyond_memory(n: int, need: int, what: str):
    """A refusal up front, naming the size, rather than a kill by the kernel's OOM killer
    (exit 137, no word) minutes in; no check where MemAvailable cannot be read."""
    have = _mem_available()
    if have is not None and need > have:
        raise ConfigError(f"sample -n {n}: {what} would take about {need / 1e9:.1f} GB of memory, "
                          f"{have / 1e9:.1f} GB is available; ask for fewer samples (or write .npy or .csv, "
                          "written piece by piece)")


def _mem_available() -> int | None:
    """Linux's MemAvailable in bytes (what can be allocated without swapping), or None."""
    try:
        with open("/proc/meminfo") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration, ValueError, IndexError):
        return None


def _nonfinite_rows(x) -> int:
    return int((~x.reshape(len(x), -1).isfinite()).any(1).sum()) if x.is_floating_point() else 0


def _checked(chunks, step: int):
    """The chunks, each checked as it comes: a diverged G's NaN rows end the file's writing,
    counted among the samples drawn so far."""
    from gankit.metrics.context import NonFiniteSamples
    seen = bad = 0
    for x in chunks:
        seen, bad = seen + len(x), bad + _nonfinite_rows(x)
        if bad:
            raise NonFiniteSamples(step, bad, seen)
        yield x


def _gathered(chunks, n: int, step: int):
    """All n samples in memory (plots, text), checked against the memory available once the
    first chunk gives a sample's size, and for NaN or inf."""
    import torch
    from gankit.metrics.context import NonFiniteSamples
    parts = []
    for x in chunks:
        if not parts:
            _refuse_beyond_memory(n, 2 * n * x[0].numel() * x.element_size(), "the samples")
        parts.append(x)
    x = torch.cat(parts)
    if bad := _nonfinite_rows(x):    # G diverged: no file of NaN rows
        raise NonFiniteSamples(step, bad, len(x))
    return x


def _write_npy(f, chunks, n: int, run):
    """np.save's bytes, written chunk by chunk: its header for the whole array, then the rows."""
    import numpy as np
    for i, x in enumerate(_checked(chunks, run.step)):
        x = np.ascontiguousarray(x.numpy())
        if i == 0:
            head = np.lib.format.header_data_from_array_1_0(x)
            np.lib.format.write_array_header_1_0(f, {**head, "shape": (n, *x.shape[1:])})
        f.write(x.tobytes())


def _write_csv(f, chunks, n: int, run):
    """One sample a row; an image's C x H x W values flattened; the header on the first chunk."""
    import numpy as np
    for i, x in enumerate(_checked(chunks, run.step)):
        x = x.numpy()
        header = f"one image a row: {' x '.join(map(str, x.shape[1:]))} (C x H x W) values" if x.ndim > 2 else ""
        # a points file's own header, as its first line (no "# "), so the samples read as the data do
        names = getattr(run.dataset, "column_names", None)
        named = x.ndim == 2 and bool(names) and len(names) == x.shape[1]
        np.savetxt(f, x.reshape(len(x), -1), delimiter=",", fmt="%.9g",
                   header=(",".join(names) if named else header) if i == 0 else "",
                   comments="" if named else "# ")


def _count(n: int) -> str:
    return f"{n} sample" + ("s" if n != 1 else "")


def _condition_args(run, a) -> dict:
    """--label / --text for a conditional run -> generate()'s y or c.  --label N is class number N;
    any other word is a class name (an image folder's sub-folder)."""
    from gankit.api import condition_args     # a string of digits is a class number there
    return condition_args(run, a.n, a.label, a.text, ("--label", "--text"))


def _class_drawn(run, cond: dict) -> str:
    """' of class 2 ('10')' for --label: class numbers are places in sorted folder-name order, so
    the number asked may not be the folder of that name."""
    if "y" not in cond:
        return ""
    k = int(cond["y"][0])
    names = getattr(run.dataset, "folder_names", None) or getattr(run.dataset, "class_names", None)
    return f" of class {k} ({names[k]!r})" if names and k < len(names) else f" of class {k}"


def _classes_drawn(run, classes, seed) -> str:
    """For a conditional run sampled without --label (the samples' files do not hold their
    classes), a line after the file's: 'classes in turn (sample i is class i mod K)' for the run's fixed noise, or
    the classes drawn at random (--seed), by count."""
    if classes is None or len(classes) == 0:
        return ""
    names = getattr(run.dataset, "folder_names", None) or getattr(run.dataset, "class_names", None)

    def name(k: int) -> str:
        return f"{k} ({names[k]!r})" if names and 0 <= k < len(names) else str(k)
    ks = [int(k) for k in run.dataset.classes]
    if seed is None:
        listed = ", ".join(name(k) for k in ks[:6]) + (f", ... ({len(ks)} classes)" if len(ks) > 6 else "")
        return (f"\n  classes in turn: sample i is the (i mod {len(ks)})-th of {listed}; "
                "--label draws one class")
    counts = {k: n for k, n in zip(*(t.tolist() for t in classes.unique(return_counts=True)))}
    drawn = ", ".join(f"{name(k)} x{n}" for k, n in sorted(counts.items())[:6])
    more = f", ... ({len(counts)} classes)" if len(counts) > 6 else ""
    return f"\n  classes drawn at the data's frequencies: {drawn}{more}; --label draws one class"


def add_parser(sub, data_set_help: str):
    d = sub.add_parser("drs", help="discriminator rejection sampling for a trained run: fine-tune a "
                                   "copy of D on its G, then sample through it")
    d.add_argument("run_dir")
    d.add_argument("--steps", type=int, default=None, help="fine-tuning steps (objective.drs_steps)")
    d.add_argument("--quantile", type=float, default=None, help="objective.drs_quantile")
    d.add_argument("--lr", type=float, default=None, help="Adam learning rate of the fine-tuning "
                   "(objective.drs_lr); lower it when the fit gives non-finite logits")
    from gankit.cli_args import DATA_MOVED_HELP
    d.add_argument("--set", action="append", default=[], metavar="data.KEY=VALUE", help=DATA_MOVED_HELP)
    d.set_defaults(fn=_cmd_drs)
    s = sub.add_parser("sample", help="draw samples from a trained G")
    s.add_argument("run_dir")
    s.add_argument("-n", type=int, default=1000, help="how many samples (default 1000)")
    s.add_argument("--out", help="FILE: .npy, .csv, or a plot (.png/.pdf/.svg); text data: .txt (the "
                   "exact text), or no --out to print one sample per line (control characters "
                   "escaped, e.g. \\x1b)")
    s.add_argument("--seed", type=int, default=None, help="noise seed (default: the run's fixed noise)")
    s.add_argument("--label", default=None, help="conditional runs: the class to generate, by number or by "
                   "name (an image folder's sub-folder)")
    s.add_argument("--text", default=None, help='caption-conditioned runs: e.g. "a thin large trouser"')
    s.add_argument("--set", action="append", default=[], metavar="data.KEY=VALUE", help=data_set_help)
    s.set_defaults(fn=_cmd_sample)
