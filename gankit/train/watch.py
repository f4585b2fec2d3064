"""Watching a run while it trains: the session record, TensorBoard events, the live report.

Watchers hang on the Run (``run.watchers``): ``on_record(record)`` sees every record the run
appends (train records at log cadence, eval records), ``on_snapshot(step, arrays)`` every
snapshot, ``close()`` the end of training.  They work on host values the loop has already
synced, so they add no host sync to the training step.
"""
from __future__ import annotations

import errno
import platform
import shlex
import subprocess
import sys
import threading
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

import gankit
from gankit.config import ConfigError
from gankit.io import DISK_FULL, displayable, os_error_cause, write_failure


# ---------------------------------------------------------------- provenance

def git_revision() -> str | None:
    """The commit of the gankit checkout this code runs from (+ "-dirty" with local edits);
    None for an installed copy (a wheel in site-packages) or without git."""
    pkg = Path(gankit.__file__).resolve().parent
    try:
        top = subprocess.run(["git", "-C", str(pkg), "rev-parse", "--show-toplevel"], capture_output=True,
                             text=True, timeout=5)
        if top.returncode or Path(top.stdout.strip()).resolve() != pkg.parent:
            return None      # not a checkout of gankit itself (e.g. a venv inside some repository)
        rev = subprocess.run(["git", "-C", str(pkg), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(pkg), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return (rev + ("-dirty" if dirty else "")) or None
    except (OSError, subprocess.SubprocessError):
        return None


def command_line() -> str:
    """The command as the user typed it; an argument read under an ASCII locale (a folder
    named cé: Python holds its bytes as lone surrogates, which no JSON reader takes) as the
    text its bytes encode (cé; U+FFFD where they are not UTF-8)."""
    argv = [displayable(w) for w in sys.argv]
    if argv and (Path(argv[0]).name in ("gankit", "__main__.py")):
        argv[0] = "gankit"
    return shlex.join(argv)


def session_record(run, schedule_note: str = "") -> dict:
    """One record per training session: what ran, with what, and what a resume changed."""
    import torch

    from gankit import config as C
    rec = {"step": run.step, "kind": "session", "resume": run.step > 0,
           "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": command_line(),
           "overrides": list(run.overrides), "gankit": gankit.__version__, "torch": torch.__version__,
           "python": platform.python_version(), "git": git_revision(), "device": str(run.device),
           "train_time": round(run.elapsed(), 3)}
    if run.step > 0:
        rec["changed"] = dict(run.config_changes)
    else:
        rec["config"] = C.to_dict(run.cfg)
    if schedule_note:
        rec["schedule"] = schedule_note
    return rec


# ---------------------------------------------------------------- TensorBoard
# TensorBoard is only a view of the records: a write it cannot make (a full disk, a folder made
# read-only) warns once and turns it off for the rest of the command; training, evaluation and
# the run's own records go on.

def _summary_writer():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError("train.tensorboard = true needs the tensorboard package: "
                          "pip install 'gankit[tensorboard]' (or pip install tensorboard), "
                          "or --set train.tensorboard=false") from None
    _quiet_writer_threads()
    return SummaryWriter


def require_tensorboard(cfg):
    """A run that asks for TensorBoard without the package: refused (a ConfigError) before its
    folder is written, not when training starts in it."""
    if cfg.train.tensorboard:
        _summary_writer()


_THREADS_QUIETED = False


def _quiet_writer_threads():
    """TensorBoard's writer thread keeps a write error for the writer's next call (which
    reports it, once, below), then re-raises it: printed by threading's hook, a traceback."""
    global _THREADS_QUIETED
    if _THREADS_QUIETED:
        return
    _THREADS_QUIETED = True
    previous = threading.excepthook

    def hook(args):
        if not (type(args.thread).__name__ == "_AsyncWriterThread" and issubclass(args.exc_type, OSError)):
            previous(args)
    threading.excepthook = hook


def tensorboard_off(run) -> bool:
    """Whether TensorBoard is off for ``run``: not asked for, or a write of it failed."""
    return not run.cfg.train.tensorboard or getattr(run, "_tensorboard_failed", False)


def _event_files(folder: Path) -> set[Path]:
    try:
        return set(folder.glob("events.out.tfevents.*"))
    except OSError:
        return set()


def _drop(files, every: bool = False):
    """Remove the event files a failed writer left: the empty ones (or ``every`` one)."""
    for f in files:
        try:
            if every or f.stat().st_size == 0:
                f.unlink()
        except OSError:
            pass


def _writing_failed(run, e: Exception, new_files, every: bool = False):
    """``e`` from a TensorBoard write: warn once and turn TensorBoard off for this run (the
    command's); anything but a refused write is raised."""
    cause = os_error_cause(e)
    if cause is None:
        raise e
    _drop(new_files, every)
    if getattr(run, "_tensorboard_failed", False):
        return
    run._tensorboard_failed = True      # the Run is the command's: the next command tries again
    if cause.errno in DISK_FULL:
        fix = "free some space"
    elif cause.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = "make it writable"
    else:
        fix = "fix that"
    warnings.warn(f"TensorBoard off for the rest of this command: cannot write {run.folder.tensorboard_dir}: "
                  f"{write_failure(cause, 'the folder')}; training, evaluation and the run's records go on ({fix} "
                  "to have TensorBoard again from the next command, or --set train.tensorboard=false)", stacklevel=3)


def tensorboard_writer(run):
    return TensorBoardWriter(run) if run.cfg.train.tensorboard else None


def _add_scalars(w, record: dict):
    kind, step = record.get("kind"), record.get("step")
    if kind not in ("train", "eval") or step is None:
        return
    for k, v in record.items():
        if k not in ("step", "kind") and isinstance(v, (int, float)) and not isinstance(v, bool):
            w.add_scalar(f"{kind}/{k}", v, step)


def tensorboard_record(run, record: dict):
    """One record written after training closed its writer (the final evaluation, `gankit eval`)."""
    if tensorboard_off(run):
        return
    try:
        SummaryWriter = _summary_writer()
    except ConfigError:
        # `gankit eval` reads a run trained where the package was: the record is in and the
        # reference row still to come, so the missing view is a warning, not a failed command
        run._tensorboard_failed = True
        from gankit.streams import pasteable
        warnings.warn("TensorBoard curves not written: the tensorboard package is not installed here; the "
                      "evaluation is recorded (pip install 'gankit[tensorboard]' to have them, or gankit train "
                      f"--resume --out {pasteable(run.dir)} --set train.tensorboard=false turns them off)",
                      stacklevel=3)
        return
    folder = run.folder.tensorboard_dir
    before = _event_files(folder)
    try:
        w = SummaryWriter(log_dir=str(folder))
        try:
            _add_scalars(w, record)
        finally:
            w.close()
    except Exception as e:     # this file holds this record alone: a failed one is removed whole
        _writing_failed(run, e, _event_files(folder) - before, every=True)


# Samples at a snapshot cost up to 0.4 s (a matplotlib figure of points; a 2000-step ring run at
# sample_every=20 took 65.8 s with them, 26.5 s without): they are drawn while the time spent on
# them, the coming one included, stays under SAMPLES_SHARE of the wall clock since training began
# or under SAMPLES_FREE_S in all, so a short run shows every snapshot; the last step's always.
# Scalars are always written.
SAMPLES_SHARE = 0.1
SAMPLES_FREE_S = 5.0


class TensorBoardWriter:
    """Scalars (train/*, eval/*), sample images and the config into RUN_DIR/tensorboard."""

    def __init__(self, run):
        from gankit import config as C
        self.run, self.w = run, None
        self.t0, self.spent, self.expected = time.perf_counter(), 0.0, 0.0   # seconds on samples
        if tensorboard_off(run):
            return
        SummaryWriter = _summary_writer()      # a missing package stays an error
        self.before = _event_files(run.folder.tensorboard_dir)
        with self._guard():
            # purge_step: a resumed run replaces the events written after its checkpoint; those of the
            # checkpoint's own step stay (TensorBoard drops events at steps >= purge_step).  At step 0
            # every older event goes: a run started again in the folder (its records cleared) would
            # show the old run's curves under the new one's
            self.w = SummaryWriter(log_dir=str(run.folder.tensorboard_dir),
                                   purge_step=run.step + 1 if run.step > 0 else 0)
            text = C.dumps_toml(run.cfg)
            self.w.add_text("config", "    " + text.replace("\n", "\n    "), run.step)   # markdown code block

    @contextmanager
    def _guard(self):
        try:
            yield
        except Exception as e:
            w, self.w = self.w, None
            if w is not None:
                try:
                    w.close()
                except Exception:   # the same error again: the writer is dropped either way
                    pass
            _writing_failed(self.run, e, _event_files(self.run.folder.tensorboard_dir) - self.before)

    def on_record(self, record: dict):
        if self.w is not None:
            with self._guard():
                _add_scalars(self.w, record)

    def on_snapshot(self, step: int, arrays: dict):
        if self.w is None:
            return
        t = time.perf_counter()
        if (self.spent + self.expected > max(SAMPLES_FREE_S, SAMPLES_SHARE * (t - self.t0))
                and step < self.run.cfg.train.steps):     # the last step's samples are always shown
            return
        with self._guard():
            self._snapshot(step, arrays)
        self.expected = time.perf_counter() - t
        self.spent += self.expected

    def _snapshot(self, step: int, arrays: dict):
        ds = self.run.dataset
        x = arrays["samples"]
        if x.ndim == 4:                                  # images (n, C, H, W) in [-1, 1]
            from gankit.report.images import tile
            n = min(64, len(x))
            self.w.add_image("samples", tile(x[:n], int(np.ceil(np.sqrt(n)))), step, dataformats="HWC")
        elif getattr(ds, "kind", None) == "text":
            import torch
            lines = ds.decode(torch.as_tensor(x[:20]))
            from gankit.data.text import printable
            self.w.add_text("samples", "\n".join(f"    {printable(s)}" for s in lines), step)
        elif x.ndim == 2:    # points: scatter (2-D; more: the first two coordinates, as the report), histogram (1-D)
            import torch

            from gankit.report import plots
            real = ds.sample(1000, torch.Generator().manual_seed(0)).numpy()
            snap = {"step": step, **arrays}
            tag = "samples"
            if x.shape[1] > 2:
                snap, real, tag = {"step": step, "samples": x[:, :2]}, real[:, :2], "samples/first_two_coordinates"
            if x.shape[1] >= 2:
                fig = plots.figure_2d([snap], real)
            else:
                grid = arrays["grid"][:, 0] if "grid" in arrays else np.linspace(real.min(), real.max(), 400)
                fig = plots.figure_1d([snap], grid, None, real[:, 0])
            self.w.add_figure(tag, fig, step)       # closes the figure

    def close(self):
        if self.w is not None:
            with self._guard():
                self.w.close()
            self.w = None


# ---------------------------------------------------------------- live report

def live_report(run, final: bool = True):
    return LiveReport(run, final=final) if run.cfg.train.live_report else None


# A rebuild parses the whole of metrics.jsonl: about 0.4 s a megabyte on one loaded core (a
# 200,000-record log, 79 MB: 31.6 s; 7.9 MB: 6.6 s), and about a second for the page however small
# the folder.  Before the first rebuild of a session the folder's log size is all there is to go by.
REBUILD_SECONDS_PER_MB = 0.4
REBUILD_SECONDS_MIN = 1.0


def rebuild_estimate(records_path: Path) -> float:
    """Seconds the first rebuild of a page over ``records_path`` is expected to take."""
    try:
        size = records_path.stat().st_size
    except OSError:      # no log yet (a new run)
        size = 0
    return max(REBUILD_SECONDS_MIN, size / 1e6 * REBUILD_SECONDS_PER_MB)


class LiveReport:
    """Rebuilds report.html at snapshots and eval records while the run trains, keeping the time
    spent on it under ``share`` of the time since training began, the coming rebuild included (it is
    expected to cost what the last one did; before the first, what the folder's log size
    suggests: a resumed long run waits until the session has run long enough to afford it):
    a rebuild that would exceed the budget is skipped, so a short run pays nothing.  The page
    reloads itself while live; at the end of training it is rewritten without the reload
    (unless ``final`` is False: the caller writes the final page after its evaluation)."""

    def __init__(self, run, share: float = 0.1, final: bool = True):
        self.run, self.share, self.final = run, share, final
        self.t0 = time.perf_counter()
        self.spent = 0.0
        self.expected = rebuild_estimate(run.folder.records_path)   # updated by each rebuild
        self.written = False
        self.due = False         # the last step's snapshot left the page to close()
        self.failed = False

    def _write(self, live: bool):
        from gankit.report import write_report
        t = time.perf_counter()
        try:
            write_report(self.run.dir, dataset=self.run.dataset, live=live)
            self.written = True
        except Exception as e:   # a report that fails must not stop the training
            self.failed = True
            warnings.warn(f"live report disabled: {type(e).__name__}: {e}", stacklevel=2)
        self.expected = time.perf_counter() - t
        self.spent += self.expected

    def on_snapshot(self, step: int, arrays: dict):
        self._rebuild(step)

    def on_record(self, record: dict):
        # an evaluation is news the page shows, and a run whose train.sample_every >= train.steps
        # has no snapshot while it trains: rebuilt after it too, under the same budget
        if record.get("kind") == "eval" and isinstance(record.get("step"), int):
            self._rebuild(record["step"])

    def _rebuild(self, step: int):
        if self.failed or self.spent + self.expected > self.share * (time.perf_counter() - self.t0):
            return
        if self.final and step >= self.run.cfg.train.steps:
            self.due = True       # close() writes the final page next: one rebuild, not two
            return
        self._write(live=True)

    def close(self):
        if (self.written or self.due) and self.final and not self.failed:
            self._write(live=False)


def config_changes(old: dict, new: dict) -> dict:
    """{dotted key: [old, new]} for every value that differs between two config dicts; ``old``
    (a checkpoint's, perhaps an older gankit's) resolved as this gankit reads it, so the options
    added since, which ran at today's defaults, are no change (gankit.identity.ADDED_OPTIONS)."""
    from gankit.identity import with_current_defaults
    return _changes(with_current_defaults(old) if old else old, new, "")


def _changes(old: dict, new: dict, prefix: str) -> dict:
    out = {}
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        key = f"{prefix}{k}"
        if isinstance(a, dict) and isinstance(b, dict):
            out.update(_changes(a, b, key + "."))
        elif a != b:
            out[key] = [a, b]
    return out
