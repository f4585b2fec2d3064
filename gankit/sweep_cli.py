"""``gankit sweep``: variants x seeds from the command line, and their table.

Everything a user can get wrong is refused before any training (a bad variant, a metric that
does not apply to a variant's data, --out naming the results file); the table gives every
variant a row, ``done/asked`` runs where fewer ran, and a note naming failed or missing runs.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from gankit import sweep as S
from gankit.config import ConfigError
from gankit.sweep_table import html_text, markdown_table, summarise


# how to drop a metric that cannot measure a variant, by where it was named
_DROP = {"--metrics": "drop it from --metrics, or sweep that variant separately",
         "eval.metrics": "drop it from eval.metrics: --set 'eval.metrics=[...]', or the variant's own "
                         "@eval.metrics=[...] (it wins over --set)"}


def _check_metrics(variants, jobs, seeds: int, metrics) -> None:
    """Each metric named (--metrics, and each variant's eval.metrics, which its run would refuse
    only once a worker builds it) must apply to the variant's data, and a metric of a part of the
    run (gankit.metrics.RUN_PARTS: classify, code_nn, elbo) to a variant whose objective has the
    part (told from its name; a user's objective: by its run): found now, not after training."""
    from gankit.data import build_dataset
    from gankit.metrics import _applies, _needs, lacking_parts, lacking_said, parts_of
    from gankit.registry import METRICS
    METRICS.refuse_unknown(metrics, "--metrics")
    off, where_off = [], []
    for (label, _, _), j in zip(variants, jobs[::seeds]):
        cfg = j.config()
        if not metrics and not cfg.eval.metrics:
            continue        # nothing named: the data need not be built
        ds = build_dataset(cfg)
        for where, names in (("--metrics", metrics or []), ("eval.metrics", cfg.eval.metrics)):
            for name in names:
                m = METRICS.build(name, where=where)
                # --metrics: the sweep's strict test; eval.metrics: the one the run applies (Run.create)
                applies = (getattr(m.applies, "strict", None) or m.applies)(ds) if where == "--metrics" \
                    else _applies(m, ds)
                named = f"variant {label}: {'' if where == '--metrics' else 'eval.metrics: '}metric {name!r}"
                if not applies:
                    needs = _needs(m, ds)     # a function of the data for some (parzen, cas): said for this data
                    why = f"it needs {needs}" if needs else m.help
                    off.append(f"{named} does not apply to its data ({type(ds).__name__}; {why})")
                elif lacking_parts([name], parts_of(cfg.objective.name)):
                    off.append(f"{named} {lacking_said([name], cfg.objective.name, 'its')}")
                else:
                    continue
                where_off += [where] if where not in where_off else []
    if off:
        raise ConfigError("; ".join(off + [_DROP[w] for w in where_off]))


def _warn_file_seeds(variants, first: int, seeds: int) -> None:
    """A config file's own ``seed = N`` gives way to each job's seed (Job.config): said once per
    file where N is none of the sweep's seeds, not silently; a preset's seed is no choice of the user's,
    whether named or given by its path (configs/ring.toml: configs links to the shipped presets)."""
    from gankit import config as C
    said = set()
    for _, src, _ in variants:
        bare = src in C.preset_names() and Path(src).suffix != ".toml" and "/" not in src
        if src in said or bare or C.PRESET_DIR in Path(src).expanduser().resolve().parents:
            continue
        said.add(src)
        seed = C.resolve_source(src).get("seed")
        if seed is not None and seed not in range(first, first + seeds):
            which = f"seed {first}" if seeds == 1 else f"seeds {first} to {first + seeds - 1}"
            warnings.warn(f"{src} sets seed = {seed}, which this sweep does not use: its runs take {which} "
                          f"(--first-seed {first} --seeds {seeds}); to include {seed}, give --first-seed {seed}")


def _no_results_said(results) -> str:
    """Why --table-only finds no results file: a sweep on it still running, none of its runs
    finished yet (it holds the file's lock, gankit.sweep.run_sweep), or a name no sweep wrote."""
    from gankit.io import lock_holder
    holder = lock_holder(S.results_lock(results))
    if holder:
        return (f"--table-only: no run has finished yet in {results}: the sweep writing it is still running "
                f"(PID {holder}); rerun this once some of its runs are recorded")
    return f"--table-only: no results file {results}; give the --results of the sweep that ran these variants"


def _cmd_sweep(a) -> int | None:
    if a.seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {a.seeds}")
    if a.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {a.workers}")
    if a.out and Path(a.out).resolve() == Path(a.results).resolve():
        raise ConfigError(f"--out and --results name the same file ({a.results}); the table would replace "
                          "the recorded runs: give --out another file, e.g. table.md")
    variants = [S.parse_variant(v) for v in a.variants]
    labels = [v[0] for v in variants]
    if len(set(labels)) < len(labels):
        raise ConfigError(f"two variants share a label ({', '.join(labels)}); name them LABEL=SOURCE")
    imports = list(getattr(a, "imports", None) or [])
    # each job's seed is its own (--first-seed, --seeds): one given here would be dropped
    # blamed on where it was given: --set is no variant's
    for who, items in [("--set", a.set)] + [(f"variant {label}", ov) for label, _, ov in variants]:
        if any(o.split("=", 1)[0].strip() == "seed" for o in items):
            raise ConfigError(f"{who}: seed is set per job; drop seed=... and use --first-seed N --seeds K")
    # the variant's own @KEY=VALUE is the more specific: it comes last, so it wins over --set
    jobs = [S.Job(label, src, a.set + ov, s, imports=imports) for label, src, ov in variants
            for s in range(a.first_seed, a.first_seed + a.seeds)]
    for j in jobs[::a.seeds]:
        try:   # a bad variant fails here; the configs' own imports register their metrics
            j.config()
        except ConfigError as e:
            raise ConfigError(f"variant {j.label}: {e}") from None
    _warn_file_seeds(variants, a.first_seed, a.seeds)
    # "modes, jsd" as "modes,jsd"; a trailing comma's empty name is no metric
    metrics = [m.strip() for m in (a.metrics or "").split(",") if m.strip()] or None
    if Path(a.results).is_dir():
        raise ConfigError(f"--results {a.results} is a folder; name the JSONL file the runs' results go to, "
                          f"e.g. --results {Path(a.results) / 'sweep.jsonl'}")
    missing: list[S.Job] = []
    if a.table_only:   # tabulate what the results file holds for these jobs, train nothing
        if not Path(a.results).is_file():
            raise ConfigError(_no_results_said(a.results))
        results, missing = S.reuse(jobs, a.results)
        results = [S.only_asked(r, metrics) for r in results]
        if missing:
            print(f"gankit: {len(missing)} of {len(jobs)} runs are not in {a.results} (e.g. {missing[0].label} "
                  f"seed {missing[0].seed}); the table holds the others", file=sys.stderr)
    else:     # --metrics, and the variants' own eval.metrics
        _check_metrics(variants, jobs, a.seeds, metrics)
    failed: list[str] = []
    failures: dict = {}
    unrecorded: list[str] = []
    if not a.table_only:
        try:
            results = S.run_sweep(jobs, a.results, a.workers, metrics, a.resume, failed=failed,
                                  failures=failures, unrecorded=unrecorded)
        except S.SweepInterrupted as e:
            print(f"gankit: {e}", file=sys.stderr)
            return e.exit_code
    mixed = mixed_code_note(results, a.results)
    if mixed:
        print(f"gankit: {mixed}", file=sys.stderr)
    md = _table(labels, results, a.seeds, failures, missing, a.results)
    # a terminal renders no markdown: labels as typed there, not "&lt;"; a redirect (> table.md) may be rendered
    shown = _table(labels, results, a.seeds, failures, missing, a.results, html=False) if _on_terminal() else md
    try:
        if a.out:     # before printing: a standard output that fails does not cost the file
            from gankit.io import write_text_atomic
            Path(a.out).parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(a.out, md)    # a failed write keeps an older table whole
    finally:          # a failed write still shows the table, its error after it
        print(_for_stdout(shown))
    if unrecorded:   # in the table and on their lines above, but a --resume cannot reuse them
        print(f"gankit: {len(unrecorded)} of {len(jobs)} runs measured but not recorded in {a.results} "
              f"({'; '.join(unrecorded)}): their numbers are above and in the table; free some space (or fix "
              "what the lines above say), then rerun the same command with --resume: the runs recorded are "
              "reused, these run again", file=sys.stderr)
    if failed:     # the table holds the runs that finished; the sweep itself did not
        print(f"gankit: {len(failed)} of {len(jobs)} runs failed ({'; '.join(failed)}); their errors are "
              "above", file=sys.stderr)
    if failed or unrecorded:
        return 1
    if a.table_only and len(missing) == len(jobs):
        return 1


def _on_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError, OSError):     # replaced by an object without it, or closed
        return False


def _for_stdout(md: str) -> str:
    """The table with "+-" for "±" where standard output's encoding lacks it (an ASCII locale),
    not the stream's \\xb1; the file (--out) keeps "±", being UTF-8."""
    try:
        "\u00b1".encode(getattr(sys.stdout, "encoding", None) or "utf-8")
        return md
    except (UnicodeEncodeError, LookupError):
        return md.replace("\u00b1", "+-")


def mixed_code_note(results: list[dict], results_path) -> str:
    """A table whose records were measured by different versions of gankit's metrics code (a
    results file that outlived an upgrade: --resume reused its older lines) averages numbers
    whose definitions may differ; say so ("" when they agree)."""
    codes = {r.get("metrics_code") for r in results}
    # --resume runs again a record of other user code; one from before user_code was kept cannot tell
    untold = sum(1 for r in results if "user_code" not in r)
    yours = untold and any(r.get("user_code") for r in results)
    if len(codes) < 2 and not yours:
        return ""
    if len(codes) < 2:
        return (f"the table averages {untold} runs reused from records that did not keep which code of your own "
                f"dataset and metrics measured them (an older gankit): if you edited those since, delete the "
                f"older lines from {results_path} and rerun with --resume to measure them again")
    old = sum(1 for r in results if r.get("metrics_code") is None)
    return (f"the table averages runs measured by {len(codes)} versions of gankit's metrics code"
            + (f" ({old} by an older gankit that did not record it)" if old else "")
            + f": a metric whose definition changed between them mixes two definitions; delete the older "
            f"lines from {results_path} and rerun with --resume to measure them again with this version")


def _table(labels, results, seeds, failures, missing, results_path, html: bool = True) -> str:
    """The markdown table: a row per variant, even one with no run done (runs 0/N), and a
    note under it for each variant with failed or missing runs.  ``html``: labels with "<",
    ">" and "&" as entities (a file may be rendered: no label injects HTML); False for a terminal."""
    text = html_text if html else str
    ordered, rows, notes = [], [], []
    for label in labels:   # variants in command-line order; a DRS run also gets a row of G's own samples
        rs = [r for r in results if r["label"] == label]
        alone = [{**r, **r["g_alone"], "label": f"{label}: G alone, no rejection"}
                 for r in rs if isinstance(r.get("g_alone"), dict)]
        ordered.append((label, rs, alone))
    keys_rows = summarise([r for _, rs, alone in ordered for r in rs + alone])
    by = {row["label"]: row for row in keys_rows}
    for label, rs, alone in ordered:
        rows.append({**by.get(label, {"label": label, "n": 0}), "asked": seeds})
        if alone:
            rows.append({**by[alone[0]["label"]], "asked": seeds})
        bad = sorted({k for (lab, _), k in failures.items() if lab == label})
        n_failed = sum(lab == label for lab, _ in failures)
        n_missing = sum(j.label == label for j in missing)
        if n_failed or n_missing:
            why = [f"{n_failed} failed ({', '.join(bad)})"] if n_failed else []
            why += [f"{n_missing} not in {results_path}"] if n_missing else []
            notes.append(text(f"- {label}: {len(rs)}/{seeds} runs, {', '.join(why)}"))
    md = ("Mean ± standard error over seeds; cpu_s: CPU seconds of training on 1 thread.\n\n"
          + markdown_table(rows, html=html))
    return md + ("\n" + "\n".join(notes) + "\n" if notes else "")


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``sweep`` sub-command to an argparse subparsers object."""
    p = subparsers.add_parser(
        "sweep", help="train variants x seeds in parallel; table of mean +- standard error",
        description="Train every VARIANT for every seed (one process and thread per run), append "
                    "each result to --results, print a markdown table of mean +- standard error. "
                    "Runs train in temporary folders that are deleted when they end: only their numbers "
                    "are kept (to inspect one, train it with gankit train SOURCE --set seed=N).",
        epilog="VARIANT: [LABEL=]SOURCE[@KEY=VALUE@...], SOURCE a preset or .toml file, e.g. "
               "gankit sweep ring-vanilla fast=ring@train.steps=2000 --seeds 5. A LABEL cannot contain "
               "'=' and '@' has no escape: a value holding '@' can only be given with --set.")
    p.add_argument("variants", nargs="+", metavar="VARIANT", help="[LABEL=]SOURCE[@KEY=VALUE...]")
    p.add_argument("--seeds", type=int, default=3, help="seeds per variant (default 3)")
    p.add_argument("--first-seed", type=int, default=0, help="seeds run from this one up (default 0)")
    p.add_argument("--workers", type=int, default=2, help="parallel worker processes, 1 thread each (default 2)")
    p.add_argument("--metrics", default=None, help="comma separated, e.g. modes,jsd (default: all that "
                   "apply)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override for every variant (repeatable); a variant's own @KEY=VALUE wins")
    p.add_argument("--results", default="runs/sweep.jsonl",
                   help="JSONL of finished runs (default runs/sweep.jsonl; appended; one sweep at a time: FILE.lock is "
                        "held while it trains)")
    p.add_argument("--resume", action="store_true",
                   help="reuse runs of the same resolved config already in --results (any label)")
    p.add_argument("--table-only", action="store_true",
                   help="only tabulate the runs already in --results, train none")
    p.add_argument("--out", default=None, help="also write the markdown table here")
    p.set_defaults(fn=_cmd_sweep)
    return p
