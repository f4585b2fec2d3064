"""Sweeps: train and evaluate variants x seeds, tabulate mean ± standard error over seeds.

One seed says little about a GAN recipe (mode collapse is partly luck), so comparing recipes
takes many short runs, in parallel on a CPU, whose results must survive an interruption.  This is
the part that benchmarks (benchmarks/pacgan_table.py) and ``gankit sweep`` share.  A Job is one
run (a preset, .toml or raw config dict, overrides, a seed, tags such as the dataset); run_job
trains and evaluates it in this process; run_sweep runs jobs in worker processes, appending each
record to a JSONL file as soon as it is measured and, with resume, reusing records of the same
identity (gankit.identity: the resolved config, whatever the label); summarise and
markdown_table give mean ± standard error over seeds.  A variant on the command line is
``[LABEL=]SOURCE[@KEY=VALUE@KEY=VALUE...]``, its @ overrides its own, applied after the
common ``--set`` (so a variant's own value of a key wins).

A record: label, source, overrides, the job's tags, seed, config_hash (the identity), steps, the
metrics as Run.evaluate returns them, cpu_s (CPU seconds of training), wall_s (training and
evaluation) and, for runs with rejection sampling (objective.drs), g_alone: G's own samples.
"""
from __future__ import annotations

import gc
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable

from gankit import config as C
from gankit.config import ConfigError
from gankit.identity import run_identity
from gankit.sweep_failures import (blame as _blame, refuse_stdin, refuse_uninvertible, refuse_unseen_parts,
                                   tmp_full)
from gankit.sweep_orphans import make_folder, worker_start
from gankit.wording import COMMAND_LINE, command_line as cli_words
from gankit.sweep_table import (ANY_METRICS, NOT_METRICS as _NOT_METRICS, _append, _is_num, fmt,  # noqa: F401
                                markdown_table, mean_se, only_asked, pm, read_results, results_refused, reuse,
                                summarise)


class SweepInterrupted(Exception):
    """SIGINT stopped a sweep; the runs that had finished are in the results file."""

    def __init__(self, recorded: int, remaining: int, results_path, exit_code: int = 130):
        super().__init__(f"sweep interrupted: {recorded} runs recorded in {results_path}; rerun with "
                         f"--resume to run the other {remaining} (interrupted runs start over)")
        self.exit_code = exit_code      # 128 + the signal: 130 for SIGINT, 143 for SIGTERM


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class Job:
    """One run: ``raw`` (or the config SOURCE names) + overrides + seed; tags go into its record."""
    label: str
    source: str                      # preset name or .toml path; recorded even when raw is given
    overrides: list[str] = field(default_factory=list)
    seed: int = 0
    raw: dict | None = None          # the config itself, e.g. SOURCE with its [data] swapped
    tags: dict = field(default_factory=dict)
    imports: list[str] = field(default_factory=list)   # `gankit --import` modules: a spawned worker imports them
    # the config as resolve() found it (seed and overrides applied): a worker trains this, not
    # what the source file says by the time the job starts
    resolved: dict | None = field(default=None, repr=False)

    def config(self, extra: list[str] = ()):
        """The resolved RunConfig; ConfigError for a bad source or override."""
        if self.resolved is not None:
            return C.load(self.resolved, list(extra))
        return C.load(self.raw if self.raw is not None else self.source,
                      [*self.overrides, f"seed={self.seed}", *extra])

    def resolve(self) -> "Job":
        """Fix the config now (a TOML edited while the sweep runs does not change this job)."""
        if self.resolved is None:
            self.resolved = C.to_dict(self.config())
        return self

    @property
    def identity(self) -> str:
        # of the config as given, before run_job's fixed cadences (as recorded runs were hashed)
        return run_identity(self.resolved if self.resolved is not None else self.config())

    def user_code(self, metrics: list[str] | None) -> dict[str, str]:
        """The code of the user's own parts this job trains and measures with (nets, losses, an
        objective, the dataset, metrics: gankit.metrics.user_code), as registered in this
        process: an edited --import module gives other numbers from the same config."""
        from gankit.metrics.user_code import trained_code, user_code
        cfg = self.resolved if self.resolved is not None else C.to_dict(self.config())
        return {**trained_code(cfg), **user_code(metrics or None, (cfg.get("data") or {}).get("name"))}


def parse_variant(text: str) -> tuple[str, str, list[str]]:
    """``[LABEL=]SOURCE[@KEY=VALUE...]`` -> (label, source, overrides); the label defaults to text.
    Every "@" starts an override and the first "=" ends the label; neither has an escape."""
    head, *overrides = text.split("@")
    label, source = head.split("=", 1) if "=" in head else (text, head)
    if not label or not source:
        raise ConfigError(f"variant {text!r}: expected [LABEL=]SOURCE[@KEY=VALUE...], e.g. fast=ring@train.steps=2000")
    setting = ("=" in head and "=" not in source and not source.endswith(".toml") and "." in label  # train.steps=30
               and label.split(".")[0] in {f.name for f in fields(C.RunConfig)})   # but not lr1.5=ring-vanila
    if ("=" in source or setting) and source not in C.preset_names() and not Path(source).exists():
        raise ConfigError(f"variant {text!r}: " + (f"a setting without a source; overrides attach to a source with "
                          f"@: SOURCE@{head}, or use --set {head}" if setting else f"label {label!r}, then source "
                          f"{source!r}, which no preset or file is named; a label cannot contain '=' (write e.g. "
                          "lr1e-4=ring-vanilla)"))
    if any(c in label for c in "\r\n"):
        raise ConfigError(f"variant {text!r}: a label cannot hold a line break (it would break the table's row)")
    for o in overrides:
        try:
            C.parse_override(o)   # ConfigError now rather than in a worker
        except ConfigError as e:
            raise ConfigError(f"variant {label}: override {o!r}: {str(e).split(': ', 1)[-1]} ('@' starts each "
                              "override and has no escape: a value holding '@' can only be given with "
                              "--set KEY=VALUE, for every variant)") from None
    return label, source, overrides


def run_job(job: Job, metrics: list[str] | None = None, g_alone: bool = True, tmp_root=None) -> dict:
    """Train and evaluate one job here, on one thread; ``metrics`` None: all that apply.

    With ``g_alone``, a run with rejection sampling (objective.drs) is also evaluated on G's own
    samples, so a table can show what rejection adds."""
    import torch
    torch.set_num_threads(1)   # parallel runs, not parallel matmuls: small nets scale badly
    from gankit.builtins import import_modules, load_builtins
    load_builtins()
    import_modules(job.imports)
    from gankit.io import jsonable
    from gankit.metrics.reference import metrics_code     # here: it imports torch, which --help need not wait for
    from gankit.train.run import Run
    steps = job.config().train.steps
    # one snapshot and checkpoint at the end, no periodic evaluation (we evaluate once below),
    # about 20 log lines: the run folder is thrown away, only its numbers are kept
    cfg = job.config(["train.progress=false", f"train.sample_every={steps}",
                      f"train.checkpoint_every={steps}", "train.eval_every=0", "train.n_fixed=500",
                      f"train.log_every={max(50, steps // 20)}"])
    extra = {}
    with tempfile.TemporaryDirectory(prefix="gankit-sweep-", dir=tmp_root) as tmp:
        w0 = time.perf_counter()
        run = Run.create(cfg, Path(tmp) / "run")
        try:
            # training's CPU only: building the run (data, nets, the memory check, whose first meta
            # forward imports torch._dynamo once per worker) would bias each worker's first job
            t0 = time.process_time()
            run.train(progress=False)
            cpu = time.process_time() - t0
            m = jsonable(run.evaluate(metrics))
            if g_alone and C.to_dict(cfg).get("objective", {}).get("drs", False):
                extra["g_alone"] = jsonable(run.evaluate(metrics, rejection=False))
        finally:
            run.close()     # the lock's descriptor now, before its folder is deleted
    out = {"label": job.label, "source": job.source, "overrides": list(job.overrides), **job.tags,
           "seed": job.seed, "config_hash": job.identity, "steps": steps, **m,
           "metrics_asked": list(metrics) if metrics else "all", "metrics_code": metrics_code(),
           "user_code": job.user_code(metrics), "cpu_s": cpu,
           "wall_s": time.perf_counter() - w0, **extra}
    # a Run sits in reference cycles (its trainer's callbacks, its objective's hooks): without a
    # collection each finished job's nets and data would stay until Python's next full one
    del run
    gc.collect()
    return out


@contextmanager
def _env(**values):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():   # leave the caller's environment as it was
            os.environ.pop(k) if v is None else os.environ.update({k: v})


def _describe(job: Job, r: dict) -> str:
    from gankit.io import INF_STRINGS
    # records write an infinite result as a string ("inf"): shown as the table shows it
    nums = ", ".join(f"{k} {v:.4g}" if _is_num(v) else f"{k} {v}" for k, v in r.items()
                     if (_is_num(v) or isinstance(v, str) and v in INF_STRINGS) and k not in _NOT_METRICS)
    return " ".join([job.label, *map(str, job.tags.values()), f"seed {job.seed}:", nums]).rstrip()


def _work(job: Job, metrics, tmp_root: str, i: int, command_line: bool = False):
    """run_job in a worker: ("ok", record) or ("error", type name, message) -- an exception object
    that cannot be unpickled in the main process would break the whole pool.  The marker files
    tell the main process which run a worker that died held.  ``command_line``: the sweep is the
    gankit command's, so a job's advice speaks its words (--set, which `gankit sweep` takes), not
    a program's overrides=[...] (gankit.wording: a worker runs outside the command's context)."""
    marks = Path(tmp_root)
    (marks / f"started-{i}").write_text(str(os.getpid()))
    try:
        with cli_words() if command_line else nullcontext():
            return ("ok", run_job(job, metrics, tmp_root=tmp_root))
    except Exception as e:
        return ("error", type(e).__name__, tmp_full(e, tmp_root) or " ".join(str(e).split()) or repr(e))
    finally:
        (marks / f"ended-{i}").touch()
        # what outlived a job (modules, torch's state) is set aside from collection: run_job's
        # gc.collect then scans the next job's objects alone (under 1 ms, not ~0.2 s over torch's)
        gc.collect()
        gc.freeze()


def run_sweep(jobs: list[Job], results_path: str | Path, workers: int = 2,
              metrics: list[str] | None = None, resume: bool = False,
              log: Callable[[str], None] = _stderr, identify: Callable[[dict], str] | None = None,
              record: Callable[[dict], dict] | None = None, failed: list | None = None,
              failures: dict | None = None, unrecorded: list | None = None) -> list[dict]:
    """Run ``jobs`` in ``workers`` processes; returns the records (reused ones first).

    Each record is appended to results_path as soon as its run ends; a failed run (an exception,
    e.g. a NaN loss, or its worker process dying) is logged and the sweep goes on.  ``record``
    reshapes a record before it is stored (a benchmark keeping its own format); ``identify``:
    see reuse.  ``failed`` collects "label seed N: error" for each run that failed, ``failures``
    maps (label, seed) to the error's type.  A record that cannot be appended (a full disk) is
    logged with its numbers and kept in the returned records, and ``unrecorded`` collects its
    "label seed N".  A results file that cannot be written is refused before any training.  SIGINT
    raises SweepInterrupted."""
    refuse_stdin()     # before anything else: every run would be lost
    for j in jobs:     # a bad source or override fails here, before any training; one config per job
        try:
            j.resolve()
        except ConfigError:
            if not j.imports:
                raise
            # a notebook that named its modules without importing them: they register the job's
            # parts here only then (a module that fails to import is reported run by run)
            from gankit.builtins import import_modules, load_builtins
            load_builtins()
            import_modules(j.imports)
            j.resolve()
    refuse_unseen_parts(jobs, metrics)
    refuse_uninvertible(jobs, metrics)     # a run would refuse it once built or trained
    path = Path(results_path)
    from gankit.io import WriteError, check_writable, lock_file, release_lock
    lock = results_lock(path)
    try:      # refused now, not after a run trained for its record
        path.parent.mkdir(parents=True, exist_ok=True)
        check_writable(path, "; make it writable or give --results another file, then rerun the same command")
        # two sweeps on one file would both find the same runs missing and train them twice
        key, holder = lock_file(lock)
    except OSError as e:
        if isinstance(e, WriteError):
            raise
        raise results_refused(e, lock if path.parent.is_dir() else path.parent, "rerun the same command") from None
    if key is None:
        raise ConfigError(f"--results {path} is in use by another sweep (PID {holder}); give this one its own "
                          "--results file, or wait for that one and rerun with --resume")
    try:
        return _run_locked(jobs, path, workers, metrics, resume, log, identify, record, failed, failures,
                           unrecorded)
    finally:
        release_lock(key)


def results_lock(results) -> Path:
    """The lock a sweep holds on its results file while it runs (read by --table-only too)."""
    return Path(results).with_name(Path(results).name + ".lock")


def _run_locked(jobs, path, workers, metrics, resume, log, identify, record, failed, failures, unrecorded):
    results, todo = reuse(jobs, path, identify, log, metrics, lambda j: j.user_code(metrics)) \
        if resume else ([], list(jobs))
    results = [only_asked(r, metrics) for r in results]
    # the pool starts no more workers than runs
    log(f"{len(todo)} runs" + (f" on {min(workers, len(todo))} workers" if todo else "")
        + (f", {len(results)} reused" if results else ""))
    if not todo:
        return results
    try:
        tmp_root = make_folder()     # run folders and markers; removed at the end (or by the next sweep)
    except OSError as e:
        from gankit.io import WriteError, write_failure
        raise WriteError(e.errno, f"{write_failure(e, 'the folder')}: the sweep trains its runs there; free some "
                         "space there or point TMPDIR at a writable drive with room (TMPDIR=DIR gankit sweep ...)",
                         e.filename or tempfile.gettempdir()) from None

    def fail(j, kind, msg):
        log(f"FAILED {_describe(j, {})} {kind}: {msg}")
        if failed is not None:
            failed.append(f"{j.label} seed {j.seed}: {kind}")
        if failures is not None:
            failures[(j.label, j.seed)] = kind

    def take(j, out):
        if out[0] != "ok":
            return fail(j, out[1], out[2])
        r = record(out[1]) if record else out[1]
        results.append(r)
        log(_describe(j, r))     # first: the numbers are shown whatever becomes of the file
        try:
            _append(path, r)
        except OSError as e:
            log(f"{j.label} seed {j.seed}: measured, not recorded: " + str(results_refused(
                e, path, f"rerun the same command with --resume (runs recorded in {path.name} are reused)")))
            if unrecorded is not None:
                unrecorded.append(f"{j.label} seed {j.seed}")

    pending = dict(enumerate(todo))
    _start_tracker()
    try:
        # spawned workers import torch afresh, so OMP_NUM_THREADS=1 holds from their start (a
        # forked child would inherit the parent's thread pools)
        with _env(OMP_NUM_THREADS="1"):
            while pending:     # a worker that died breaks the pool: a new one runs the rest
                # the workers end with this process, also when it is killed outright (SIGKILL)
                pool = ProcessPoolExecutor(min(workers, len(pending)), initializer=worker_start,
                                           initargs=(os.getpid(),), mp_context=multiprocessing.get_context("spawn"))
                futs, procs, broken = {}, {}, False
                try:
                    for i, j in pending.items():
                        futs[pool.submit(_work, j, metrics, tmp_root, i, COMMAND_LINE.get())] = i
                        procs.update(pool._processes or {})   # to tell how a worker ended
                    for f in as_completed(futs):
                        try:
                            out = f.result()
                        except BrokenProcessPool:
                            broken = True
                            continue
                        take(pending.pop(futs[f]), out)
                except KeyboardInterrupt as stop:    # Ctrl-C; SIGTERM (the CLI's handler) carries its code
                    with _shielded():
                        procs.update(pool._processes or {})
                        for f, i in futs.items():   # finished while we were stopped: keep them
                            if i in pending and f.done() and not f.cancelled() and f.exception() is None:
                                take(pending.pop(i), f.result())
                        pool.shutdown(wait=False, cancel_futures=True)
                        for p in procs.values():
                            p.kill()
                        for p in procs.values():
                            p.join(5)
                        shutil.rmtree(tmp_root, ignore_errors=True)
                    raise SweepInterrupted(len(results), len(jobs) - len(results), path,
                                           getattr(stop, "exit_code", 130)) from None
                procs.update(pool._processes or {})
                pool.shutdown(wait=True)
                if broken:
                    _blame(pending, procs, tmp_root, fail)
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)
    return results


def _start_tracker():
    """Start multiprocessing's resource tracker (the pool's would) with SIGHUP blocked, which it
    keeps through its exec: it ignores only SIGINT and SIGTERM, so a closed terminal (SIGHUP to
    the group) killed it, and the pool's clean-up printed its relaunch and KeyError tracebacks.
    Blocked, not ignored: a SIGHUP meanwhile still reaches the sweep; the workers, spawned after
    the mask is restored, stop on SIGHUP as before.  A tracker running already is left as it is."""
    hup = getattr(signal, "SIGHUP", None)
    if hup is None or not hasattr(signal, "pthread_sigmask"):    # Windows: no SIGHUP, no tracker
        return
    from multiprocessing import resource_tracker
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {hup})
    try:
        resource_tracker.ensure_running()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextmanager
def _shielded():
    """SIGINT, SIGTERM and SIGHUP ignored while a stopped sweep kills its workers and removes its folders:
    a second Ctrl-C there would leave workers running and replace SweepInterrupted's counts."""
    main = threading.current_thread() is threading.main_thread()     # the only one that may set handlers
    from gankit.train.signals import STOP_SIGNALS
    old = {s: signal.getsignal(s) for s in STOP_SIGNALS} if main else {}
    old = {s: h for s, h in old.items() if h is not None}   # None: set outside Python, could not be put back
    for s in old:
        signal.signal(s, signal.SIG_IGN)
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def add_parser(subparsers):
    """Add the ``sweep`` sub-command (gankit.sweep_cli) to an argparse subparsers object."""
    from gankit.sweep_cli import add_parser as add
    return add(subparsers)
