"""PacGAN Table 1 protocol on the 2-D ring and grid, for any list of recipes.

    .venv/bin/python benchmarks/pacgan_table.py RECIPE [RECIPE ...] [--seeds 10] [--workers 2]
        [--datasets ring grid] [--set KEY=VALUE ...] [--out docs/table.md] [--results runs.jsonl]

A RECIPE is ``[LABEL=]SOURCE[@KEY=VALUE@KEY=VALUE...]``.  SOURCE is a preset name or a .toml
path.  For dataset DS, the preset ``DS-SOURCE`` is used when it exists (``vanilla`` -> ring-vanilla,
grid-vanilla); otherwise SOURCE with its [data] section replaced by PacGAN's DS (ring: 8 modes,
radius 1, std 0.01; grid: 5 x 5 at {-4..4}, std 0.05).  ``@KEY=VALUE`` are --set overrides of
that recipe only; ``--set`` applies to every recipe.  Examples:

    pacgan_table.py best=ring vanilla fast=ring@train.steps=15000 wgan-gp pacgan2

Each run trains one seed in its own worker process (1 thread each) and is evaluated on 2,500
samples: modes covered, % high-quality samples (within 3 std of the nearest mode), reverse KL
of the mode histogram to uniform.  Prints mean +- standard error over seeds and CPU seconds per
run beside the published rows, and writes a markdown table.  Each finished run is appended to
--results (JSONL; default runs/pacgan_runs.jsonl) at once, so an interrupted benchmark keeps what
it measured; --resume skips runs of the same resolved config already there (whatever their
label); --table-only tabulates them and trains nothing.  The runs of the published tables are in
benchmarks/results/ (pacgan_runs.jsonl and sweeps/): give that file as --results to reuse them.
"""
from __future__ import annotations

import argparse
import datetime as dt
import shlex
import sys
from pathlib import Path

from gankit.io import unjsonable
from gankit.sweep import Job, fmt, parse_variant as parse_recipe, reuse, run_sweep

PACGAN_DATA = {
    "ring": {"name": "ring", "n_modes": 8, "radius": 1.0, "std": 0.01},
    "grid": {"name": "grid", "n": 5, "spacing": 2.0, "std": 0.05},
    # the harder case (configs/gmm1200.toml): 10 Gaussians in 1,200-D; a real sample lies
    # ~34.6 std from its mean, so high quality is within 37 std (99.95 % of real samples)
    "gmm1200": {"name": "gmm", "dim": 1200, "n_modes": 10, "spread": 1.0, "std": 0.05, "means_seed": 0},
}
EVAL = {"gmm1200": {"hq_std": 37.0}}

# Published rows: (label, modes, % HQ, reverse KL).  PacGAN Table 1 means over 10 runs (the
# numbers SPEC.md quotes); VEEGAN's Table 1 WGAN-GP ring row as SPEC.md quotes it (modes only).
PUBLISHED = {
    "ring": [("GAN (PacGAN Table 1)", 6.3, 98.2, 0.45),
             ("PacGAN2 (PacGAN Table 1)", 7.9, 95.6, 0.07),
             ("WGAN-GP (VEEGAN Table 1)", 6.8, None, None)],
    "grid": [("GAN (PacGAN Table 1)", 17.3, 94.8, 0.70),
             ("PacGAN4 (PacGAN Table 1)", 24.8, 93.6, 0.04)],
}
PUBLISHED["gmm1200"] = []
GOALS = {"ring": (8, 98.0, 0.02), "grid": (25, 95.0, 0.03), "gmm1200": (10, 95.0, 0.03)}


def resolve(source: str, ds: str) -> dict:
    """The raw config of ``source`` for dataset ``ds``: the preset DS-SOURCE, else SOURCE on PacGAN's DS."""
    from gankit import config as C
    if f"{ds}-{source}" in C.preset_names():
        return C.resolve_source(f"{ds}-{source}")
    raw = C.resolve_source(source)
    raw["data"] = dict(PACGAN_DATA[ds])
    # the radius is the data set's (a preset's hq_std was set for the preset's own data)
    raw["eval"] = {**{k: v for k, v in raw.get("eval", {}).items() if k != "hq_std"}, **EVAL.get(ds, {})}
    return raw


def make_job(label: str, source: str, ds: str, overrides: list[str], seed: int) -> Job:
    return Job(label, source, overrides, seed, raw=resolve(source, ds), tags={"dataset": ds})


def config_hash(source: str, ds: str, overrides: list[str], seed: int) -> str:
    """Identity of a run: its resolved config (so a preset and the same overrides match)."""
    return make_job("", source, ds, overrides, seed).identity


def pacgan_record(r: dict) -> dict:
    """A gankit.sweep record in this table's format (its field names and order, HQ in %)."""
    out = {k: r[k] for k in ("label", "source", "overrides", "dataset", "seed", "config_hash", "steps")}
    out.update(modes=r["modes_covered"], modes_total=r["modes_total"], hq=100 * r["hq_fraction"],
               reverse_kl=r["reverse_kl"], cpu_s=r["cpu_s"], wall_s=r["wall_s"], mode_counts=r["mode_counts"])
    if "g_alone" in r:   # DRS runs: the same metrics on G's own samples
        g = r["g_alone"]
        out["g_alone"] = {"modes": g["modes_covered"], "hq": 100 * g["hq_fraction"],
                          "reverse_kl": g["reverse_kl"], "mode_counts": g["mode_counts"]}
    return out


def _row(label: str, rs: list[dict], goal) -> str:
    # records hold an infinite reverse KL (a run covering no mode) as "inf": read back as a
    # number, it makes the mean "inf" and fails the goal
    rs = [unjsonable(r) for r in rs]
    ok = sum(r["modes"] >= goal[0] and r["hq"] >= goal[1] and r["reverse_kl"] <= goal[2] for r in rs)
    cpu = [r['cpu_s'] for r in rs]
    return (f"| {label} | {len(rs)} | {fmt([r['modes'] for r in rs], 1)} | "
            f"{fmt([r['hq'] for r in rs], 1)} | {fmt([r['reverse_kl'] for r in rs], 3)} | "
            f"{fmt(cpu, 0 if min(cpu) >= 10 else 2)} | {ok}/{len(rs)} |")   # a short trial's 0.2 s is no 0


def table(results: list[dict], labels: list[str], datasets: list[str]) -> str:
    lines = []
    for ds in datasets:
        goal = GOALS[ds]
        lines += [f"\n### {ds}\n",
                  "| recipe | seeds | modes | % high quality | reverse KL | CPU s / run | seeds meeting goal |",
                  "|---|---|---|---|---|---|---|"]
        for label, modes, hq, kl in PUBLISHED[ds]:
            lines.append(f"| *{label}* | 10 | {modes} | {hq if hq is not None else '–'} | "
                         f"{kl if kl is not None else '–'} | – | – |")
        for label in labels:
            rs = [r for r in results if r["label"] == label and r["dataset"] == ds]
            if not rs:
                continue
            lines.append(_row(label, rs, goal))
            if all("g_alone" in r for r in rs):   # the same runs, sampled without rejection
                lines.append(_row(f"{label}: G alone, no rejection", [
                    {**r, **r["g_alone"]} for r in rs], goal))
    return "\n".join(lines) + "\n"


def missing_notes(results: list[dict], labels: list[str], datasets: list[str], seeds: int,
                  results_path) -> tuple[list[str], list[str]]:
    """(a note for each recipe and dataset with fewer runs in ``results`` than seeds asked; the
    recipes with no run in any dataset asked)."""
    notes, none = [], []
    for label in labels:
        counts = [sum(r["label"] == label and r["dataset"] == ds for r in results) for ds in datasets]
        notes += [f"- {label} ({ds}): {n}/{seeds} runs, {seeds - n} not in {results_path}"
                  for ds, n in zip(datasets, counts) if n < seeds]
        if not any(counts):
            none.append(label)
    return notes, none


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("recipes", nargs="+", help="[LABEL=]SOURCE[@KEY=VALUE...]")
    ap.add_argument("--seeds", type=int, default=10, help="seeds per recipe and dataset (0..N-1)")
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2, help="parallel worker processes, 1 thread each")
    ap.add_argument("--datasets", nargs="+", default=["ring", "grid"], choices=list(PACGAN_DATA))
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override for every recipe (e.g. train.steps=2000)")
    # outside the tracked files: a trial run from the repository root must not add to a published table's records
    ap.add_argument("--results", default="runs/pacgan_runs.jsonl",
                    help="JSONL of finished runs (appended; default runs/pacgan_runs.jsonl); the published "
                         "tables' runs are in benchmarks/results/")
    ap.add_argument("--resume", action="store_true",
                    help="reuse runs of the same resolved config already in --results")
    ap.add_argument("--table-only", action="store_true",
                    help="only tabulate the runs already in --results, train none")
    ap.add_argument("--out", default=None, help="write the markdown table here")
    a = ap.parse_args(argv)
    _cli.at_least(ap, a, seeds=1, first_seed=0, workers=1)

    recipes = [parse_recipe(r) for r in a.recipes]
    labels = [r[0] for r in recipes]
    jobs = [make_job(label, src, ds, a.set + ov, s)    # a variant's own override wins over --set
            for ds in a.datasets for label, src, ov in recipes
            for s in range(a.first_seed, a.first_seed + a.seeds)]
    for j in jobs:   # fail fast on a bad recipe, before any training
        j.identity

    def identify(r):   # records written before config_hash was stored
        return config_hash(r["source"], r["dataset"], r["overrides"], r["seed"])
    notes, none = [], []
    if a.table_only:   # only what --results already holds, train nothing
        if not Path(a.results).is_file():
            from gankit.config import ConfigError
            raise ConfigError(f"--table-only: no results file {a.results}; give the --results the runs were "
                              "recorded in (the published tables': benchmarks/results/pacgan_runs.jsonl)")
        results = reuse(jobs, a.results, identify)[0]
        notes, none = missing_notes(results, labels, a.datasets, a.seeds, a.results)
    else:
        results = run_sweep(jobs, a.results, a.workers, ["modes"], a.resume, identify=identify,
                            record=pacgan_record)
    cmd = "python benchmarks/pacgan_table.py " + " ".join(shlex.quote(x) for x in (argv or sys.argv[1:]))
    head = (f"PacGAN Table 1 protocol (2,500 samples; HQ = within 3 std of the nearest mode, 37 in gmm1200's 1,200-D); "
            f"mean ± standard error over seeds; CPU seconds of one run on 1 thread.\n\n"
            f"Command: `{cmd}`  \nDate: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC\n")
    md = head + table(results, labels, a.datasets) + ("\n" + "\n".join(notes) + "\n" if notes else "")
    print(md)
    if none:   # a mistyped recipe or the wrong --results: a table without its rows replaces no file
        print(f"error: no runs of {', '.join(none)} in {a.results} (seeds {a.first_seed}-{a.first_seed + a.seeds - 1}"
              f", {' '.join(a.datasets)}): check the recipe and --results, or run it without --table-only"
              + (f"; {a.out} not written" if a.out else ""), file=sys.stderr)
        return 1
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(md)
    return 0


if __name__ == "__main__":
    import _cli   # benchmarks/_cli.py: this folder is on sys.path (imported here: tests load this file by path)
    sys.exit(_cli.run_main(main))
