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

import argparse
import json
import math
import multiprocessing
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from gankit import config as C
from gankit.config import ConfigError
from gankit.identity import run_identity
from gankit.io import INF_STRINGS

# bookkeeping numbers of a record that are not measurements
_NOT_METRICS = {"seed", "steps", "wall_s"}


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

    def config(self, extra: list[str] = ()):
        """The resolved RunConfig; ConfigError for a bad source or override."""
        return C.load(self.raw if self.raw is not None else self.source,
                      [*self.overrides, f"seed={self.seed}", *extra])

    @property
    def identity(self) -> str:
        # of the config as given, before run_job's fixed cadences (as recorded runs were hashed)
        return run_identity(self.config())


def parse_variant(text: str) -> tuple[str, str, list[str]]:
    """``[LABEL=]SOURCE[@KEY=VALUE...]`` -> (label, source, overrides); the label defaults to text."""
    head, *overrides = text.split("@")
    label, source = head.split("=", 1) if "=" in head else (text, head)
    if not label or not source:
        raise ConfigError(f"variant {text!r}: expected [LABEL=]SOURCE[@KEY=VALUE...], "
                          "e.g. fast=ring@train.steps=2000")
    for o in overrides:
        C.parse_override(o)   # ConfigError now rather than in a worker
    return label, source, overrides


def run_job(job: Job, metrics: list[str] | None = None, g_alone: bool = True) -> dict:
    """Train and evaluate one job here, on one thread; ``metrics`` None: all that apply.

    With ``g_alone``, a run with rejection sampling (objective.drs) is also evaluated on G's own
    samples, so a table can show what rejection adds."""
    import torch
    torch.set_num_threads(1)   # parallel runs, not parallel matmuls: small nets scale badly
    from gankit.builtins import import_modules, load_builtins
    load_builtins()
    import_modules(job.imports)
    from gankit.io import jsonable
    from gankit.train.run import Run
    steps = job.config().train.steps
    # one snapshot and checkpoint at the end, no periodic evaluation (we evaluate once below),
    # about 20 log lines: the run folder is thrown away, only its numbers are kept
    cfg = job.config(["train.progress=false", f"train.sample_every={steps}",
                      f"train.checkpoint_every={steps}", "train.eval_every=0", "train.n_fixed=500",
                      f"train.log_every={max(50, steps // 20)}"])
    extra = {}
    with tempfile.TemporaryDirectory(prefix="gankit-sweep-") as tmp:
        w0 = time.perf_counter()
        run = Run.create(cfg, Path(tmp) / "run")
        # training's CPU only: building the run (data, nets, the memory check, whose first meta
        # forward imports torch._dynamo once per worker) would bias each worker's first job
        t0 = time.process_time()
        run.train(progress=False)
        cpu = time.process_time() - t0
        m = jsonable(run.evaluate(metrics))
        if g_alone and C.to_dict(cfg).get("objective", {}).get("drs", False):
            extra["g_alone"] = jsonable(run.evaluate(metrics, rejection=False))
    return {"label": job.label, "source": job.source, "overrides": list(job.overrides), **job.tags,
            "seed": job.seed, "config_hash": job.identity, "steps": steps, **m,
            "metrics_asked": list(metrics) if metrics else "all", "cpu_s": cpu,
            "wall_s": time.perf_counter() - w0, **extra}


def read_results(path: str | Path, log: Callable[[str], None] = _stderr) -> list[dict]:
    """The records of a JSONL results file ([] if none); damaged lines are skipped with a warning
    (a sweep killed while writing leaves a torn last line; bytes that are not UTF-8 or nesting
    too deep to parse are damage too, as in gankit.io.read_jsonl)."""
    path = Path(path)
    if not path.exists():
        return []
    from gankit.io import jsonl_lines
    out = []
    for n, line, r in jsonl_lines(path):
        if isinstance(r, dict) and isinstance(r.get("config_hash"), (str, type(None))):
            out.append(r)
        else:
            log(f"warning: {path}:{n}: damaged record skipped: {line[:60]!r}")
    return out


def _append(path: Path, record: dict) -> None:
    with open(path, "a+b") as fh:
        fh.seek(0, os.SEEK_END)
        if fh.tell():   # after a torn last line, start a new line so this record stays whole
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                fh.write(b"\n")
        fh.write((json.dumps(record) + "\n").encode())


ANY_METRICS = object()      # reuse's default: a record counts whatever metrics it measured


def _covers(record: dict, metrics) -> bool:
    """Whether a record measured the metrics asked now (None: all that apply); a record from
    before ``metrics_asked`` was kept counts as all."""
    if metrics is ANY_METRICS:
        return True
    asked = record.get("metrics_asked", "all")
    return asked == "all" or (metrics is not None and isinstance(asked, list)
                              and set(metrics) <= {m for m in asked if isinstance(m, str)})


def reuse(jobs: list[Job], results_path: str | Path, identify: Callable[[dict], str] | None = None,
          log: Callable[[str], None] = _stderr, metrics=ANY_METRICS) -> tuple[list[dict], list[Job]]:
    """(records already in results_path for these jobs, relabelled as the job; jobs still to run).

    A record is matched by its config_hash, or ``identify(record)`` for records written before
    hashes were stored; the last record of an identity wins.  One that did not measure every
    metric asked now (``metrics``) is run again."""
    done = {}
    for r in read_results(results_path, log):
        h = r.get("config_hash")
        if not h and identify is not None:
            try:
                h = identify(r)
            except (ConfigError, KeyError) as e:   # e.g. a preset renamed since: cannot match
                log(f"warning: record {r.get('label')!r} seed {r.get('seed')} not identified: {e}")
        if h and _covers(r, metrics):
            done[h] = r
    found, todo = [], []
    for j in jobs:
        h = j.identity
        if h in done:
            found.append({**done[h], "label": j.label})
        else:
            todo.append(j)
    return found, todo


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
    nums = ", ".join(f"{k} {v:.4g}" for k, v in r.items() if _is_num(v) and k not in _NOT_METRICS)
    return " ".join([job.label, *map(str, job.tags.values()), f"seed {job.seed}:", nums])


def run_sweep(jobs: list[Job], results_path: str | Path, workers: int = 2,
              metrics: list[str] | None = None, resume: bool = False,
              log: Callable[[str], None] = _stderr, identify: Callable[[dict], str] | None = None,
              record: Callable[[dict], dict] | None = None, failed: list | None = None) -> list[dict]:
    """Run ``jobs`` in ``workers`` processes; returns the records (reused ones first).

    Each record is appended to results_path as soon as its run ends; a failed run (an exception,
    e.g. a NaN loss) is logged and the sweep goes on.  ``record`` reshapes a record before it is
    stored (a benchmark keeping its own format); ``identify``: see reuse.  ``failed`` collects
    "label seed N: error" for each run that failed."""
    for j in jobs:
        j.identity   # a bad source or override fails here, before any training
    results, todo = reuse(jobs, results_path, identify, log, metrics) if resume else ([], list(jobs))
    log(f"{len(todo)} runs on {workers} workers" + (f", {len(results)} reused" if results else ""))
    if not todo:
        return results
    path = Path(results_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # spawned workers import torch afresh, so OMP_NUM_THREADS=1 holds from their start (a forked
    # child would inherit the parent's thread pools)
    with _env(OMP_NUM_THREADS="1"), ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futs = {pool.submit(run_job, j, metrics): j for j in todo}
        for f in as_completed(futs):
            j = futs[f]
            try:
                r = f.result()
            except Exception as e:   # one failed run is reported, not fatal
                log(f"FAILED {_describe(j, {})} {type(e).__name__}: {e}")
                if failed is not None:
                    failed.append(f"{j.label} seed {j.seed}: {type(e).__name__}")
                continue
            r = record(r) if record else r
            results.append(r)
            _append(path, r)
            log(_describe(j, r))
    return results


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def mean_se(xs: list[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (nan for one value)."""
    n = len(xs)
    mu = sum(xs) / n
    if n < 2:
        return mu, float("nan")
    return mu, math.sqrt(sum((x - mu) ** 2 for x in xs) / (n - 1) / n)


def pm(mu: float, se: float, digits: int) -> str:
    """``mean ± s.e.``, or just the mean when there is no s.e. (one value)."""
    return f"{mu:.{digits}f} ± {se:.{digits}f}" if se == se else f"{mu:.{digits}f}"


def fmt(xs: list[float], digits: int) -> str:
    return pm(*mean_se(xs), digits)


def summarise(results: list[dict], group_by=("label",), keys: list[str] | None = None) -> list[dict]:
    """One row per group (first seen first): its group_by values, n (runs) and, per key,
    (mean, standard error) over the runs where the key is a finite number.  keys None: every
    numeric top-level key of the records but bookkeeping (seed, steps, wall_s)."""
    if keys is None:
        keys = list(dict.fromkeys(k for r in results for k, v in r.items()
                                  if (_is_num(v) or v in _INFINITE) and k not in _NOT_METRICS))
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault(tuple(r.get(g) for g in group_by), []).append(r)
    rows = []
    for values, rs in groups.items():
        row = {**dict(zip(group_by, values)), "n": len(rs)}
        for k in keys:
            xs = [r[k] for r in rs if _is_num(r.get(k))]
            ends = {math.copysign(math.inf, 1 if r[k] in ("inf", math.inf) else -1) for r in rs
                    if r.get(k) in _INFINITE}
            if ends:     # a run at an infinite end (records write "inf"): the mean is there too
                row[k] = (ends.pop() if len(ends) == 1 else float("nan"), float("nan"))
            elif xs:
                row[k] = mean_se(xs)
        rows.append(row)
    return rows


# an infinite result as records write it ("inf") or as Python holds it
_INFINITE = (*INF_STRINGS, math.inf, -math.inf)


def _digits(mu: float) -> int:
    """Decimals: three below 1, more for small values, so 0.0027 is not 0.003 and 4e-4 not 0.000."""
    if not math.isfinite(mu) or abs(mu) >= 1 or mu == 0:
        return 0 if abs(mu) >= 100 else 1 if abs(mu) >= 10 else 2 if abs(mu) >= 1 else 3
    return min(6, max(3, 2 - math.floor(math.log10(abs(mu)))))


def _cell(v) -> str:
    """A table cell: a "|" in a label would start another column."""
    return str(v).replace("|", "\\|")


def markdown_table(rows: list[dict], group_by=("label",), keys: list[str] | None = None) -> str:
    """Markdown table of summarise's rows: group columns, runs, then mean ± s.e. per key."""
    keys = keys if keys is not None else list(dict.fromkeys(
        k for row in rows for k in row if k not in (*group_by, "n")))
    lines = ["| " + " | ".join(_cell(c) for c in [*group_by, "runs", *keys]) + " |",
             "|" + "---|" * (len(group_by) + 1 + len(keys))]
    for row in rows:
        cells = [_cell(row[g]) for g in group_by] + [str(row["n"])]
        cells += [pm(*row[k], _digits(row[k][0])) if k in row else "–" for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cmd_sweep(a) -> None:
    if a.seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {a.seeds}")
    if a.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {a.workers}")
    variants = [parse_variant(v) for v in a.variants]
    labels = [v[0] for v in variants]
    if len(set(labels)) < len(labels):
        raise ConfigError(f"two variants share a label ({', '.join(labels)}); name them LABEL=SOURCE")
    imports = list(getattr(a, "imports", None) or [])
    # each job's seed is its own (--first-seed, --seeds): one given here would be dropped
    for label, _, ov in variants:
        if any(o.split("=", 1)[0].strip() == "seed" for o in ov + a.set):
            raise ConfigError(f"variant {label}: seed is set per job; drop seed=... and use "
                              "--first-seed N --seeds K")
    # the variant's own @KEY=VALUE is the more specific: it comes last, so it wins over --set
    jobs = [Job(label, src, a.set + ov, s, imports=imports) for label, src, ov in variants
            for s in range(a.first_seed, a.first_seed + a.seeds)]
    for j in jobs[::a.seeds]:
        j.config()            # a bad variant fails here; the configs' own imports register their metrics
    metrics = [m for m in (a.metrics or "").split(",") if m] or None
    if metrics:
        from gankit.registry import METRICS
        unknown = [m for m in metrics if m not in METRICS.names()]
        if unknown:
            raise ConfigError(f"--metrics: unknown {', '.join(unknown)}; valid: {', '.join(METRICS.names())}")
    if Path(a.results).is_dir():
        raise ConfigError(f"--results {a.results} is a folder; name the JSONL file the runs' results go to, "
                          f"e.g. --results {Path(a.results) / 'sweep.jsonl'}")
    if a.table_only:   # tabulate what the results file holds for these jobs, train nothing
        if not Path(a.results).is_file():
            raise ConfigError(f"--table-only: no results file {a.results}; give the --results of the sweep "
                              "that ran these variants")
        results, missing = reuse(jobs, a.results)
        if missing:
            print(f"gankit: {len(missing)} of {len(jobs)} runs are not in {a.results} (e.g. {missing[0].label} "
                  f"seed {missing[0].seed}); the table holds the others", file=sys.stderr)
    failed: list[str] = []
    if not a.table_only:
        results = run_sweep(jobs, a.results, a.workers, metrics, a.resume, failed=failed)
    ordered = []   # variants in command-line order; a DRS run also gets a row of G's own samples
    for label in labels:
        rs = [r for r in results if r["label"] == label]
        ordered += rs + [{**r, **r["g_alone"], "label": f"{label}: G alone, no rejection"}
                         for r in rs if isinstance(r.get("g_alone"), dict)]
    md = ("Mean ± standard error over seeds; cpu_s: CPU seconds of training on 1 thread.\n\n"
          + markdown_table(summarise(ordered)))
    print(md)
    if a.out:
        from gankit.io import write_text_atomic
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(a.out, md)    # a failed write keeps an older table whole
    if failed:     # the table holds the runs that finished; the sweep itself did not
        print(f"gankit: {len(failed)} of {len(jobs)} runs failed ({'; '.join(failed)}); their errors are "
              "above", file=sys.stderr)
        return 1


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``sweep`` sub-command to an argparse subparsers object."""
    p = subparsers.add_parser(
        "sweep", help="train variants x seeds in parallel; table of mean ± standard error",
        description="Train every VARIANT for every seed (one process and thread per run), append "
                    "each result to --results, print a markdown table of mean ± standard error.",
        epilog="VARIANT: [LABEL=]SOURCE[@KEY=VALUE@...], SOURCE a preset or .toml file, e.g. "
               "gankit sweep ring-vanilla fast=ring@train.steps=2000 --seeds 5")
    p.add_argument("variants", nargs="+", metavar="VARIANT", help="[LABEL=]SOURCE[@KEY=VALUE...]")
    p.add_argument("--seeds", type=int, default=3, help="seeds per variant (default 3)")
    p.add_argument("--first-seed", type=int, default=0, help="seeds run from this one up")
    p.add_argument("--workers", type=int, default=2, help="parallel worker processes, 1 thread each")
    p.add_argument("--metrics", default=None, help="comma separated, e.g. modes,jsd (default: all that "
                   "apply)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override for every variant (repeatable); a variant's own @KEY=VALUE wins")
    p.add_argument("--results", default="runs/sweep.jsonl", help="JSONL of finished runs (appended)")
    p.add_argument("--resume", action="store_true",
                   help="reuse runs of the same resolved config already in --results (any label)")
    p.add_argument("--table-only", action="store_true",
                   help="only tabulate the runs already in --results, train none")
    p.add_argument("--out", default=None, help="also write the markdown table here")
    p.set_defaults(fn=_cmd_sweep)
    return p
