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
--results (JSONL) at once, so an interrupted benchmark keeps what it measured; --resume skips
runs of the same resolved config already there (whatever their label).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shlex
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

PACGAN_DATA = {
    "ring": {"name": "ring", "n_modes": 8, "radius": 1.0, "std": 0.01},
    "grid": {"name": "grid", "n": 5, "spacing": 2.0, "std": 0.05},
    # the harder case (configs/gmm1200.toml): 10 Gaussians in 1,200-D; a real sample lies
    # ~34.6 std from its mean, so high quality is within 37 std (99.7 % of real samples)
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


def parse_recipe(text: str) -> tuple[str, str, list[str]]:
    """``[LABEL=]SOURCE[@KEY=VALUE...]`` -> (label, source, overrides); the label defaults to text."""
    head, *overrides = text.split("@")
    label, source = head.split("=", 1) if "=" in head else (text, head)
    return label, source, overrides


def resolve(source: str, ds: str, overrides: list[str]) -> tuple[dict, list[str]]:
    """The raw config of ``source`` for dataset ``ds`` and the overrides to apply."""
    from gankit import config as C
    if f"{ds}-{source}" in C.preset_names():
        return C.resolve_source(f"{ds}-{source}"), overrides
    raw = C.resolve_source(source)
    raw["data"] = dict(PACGAN_DATA[ds])
    raw["eval"] = {**raw.get("eval", {}), **EVAL.get(ds, {})}
    return raw, overrides


def config_hash(source: str, ds: str, overrides: list[str], seed: int) -> str:
    """Identity of a run: its resolved config (so a preset and the same overrides match)."""
    import hashlib
    from gankit import config as C
    raw, ov = resolve(source, ds, overrides)
    cfg = C.to_dict(C.load(raw, ov + [f"seed={seed}"]))
    for (section, key), default in ADDED_OPTIONS.items():   # keep older records' identities
        if cfg.get(section, {}).get(key, default) == default:
            cfg.get(section, {}).pop(key, None)
    return hashlib.sha1(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:16]


# options added to the config after runs were recorded, with their defaults: a run that leaves
# them at the default hashes as it did before they existed (add new options here)
ADDED_OPTIONS = {("eval", "metrics"): [], ("objective", "unroll"): 0, ("objective", "unroll_lr"): 0.0,
                 ("train", "precision"): "fp32"}


def run_one(job: dict) -> dict:
    """Train and evaluate one (recipe, dataset, seed) in this process, on one thread."""
    import torch
    torch.set_num_threads(1)
    from gankit import config as C
    from gankit.train.run import Run
    raw, overrides = resolve(job["source"], job["dataset"], job["overrides"])
    fixed = [f"seed={job['seed']}", "train.progress=false"]
    cfg = C.load(raw, overrides + fixed)
    steps = cfg.train.steps
    cfg = C.load(raw, overrides + fixed + [f"train.sample_every={steps}", f"train.checkpoint_every={steps}",
                                           "train.eval_every=0", "train.n_fixed=500",
                                           f"train.log_every={max(50, steps // 20)}"])
    with tempfile.TemporaryDirectory(prefix="pacgan-") as tmp:
        t0, w0 = time.process_time(), time.perf_counter()
        run = Run.create(cfg, Path(tmp) / "run")
        run.train(progress=False)
        cpu = time.process_time() - t0
        m = run.evaluate(["modes"])
        extra = {}
        if getattr(run.objective, "rejection", None) is not None:   # DRS: also G's own samples
            run.objective.rejection = None
            g = run.evaluate(["modes"])
            extra["g_alone"] = {"modes": g["modes_covered"], "hq": 100 * g["hq_fraction"],
                                "reverse_kl": g["reverse_kl"], "mode_counts": g["mode_counts"]}
    return {**job, "steps": steps, "modes": m["modes_covered"], "modes_total": m["modes_total"],
            "hq": 100 * m["hq_fraction"], "reverse_kl": m["reverse_kl"], "cpu_s": cpu,
            "wall_s": time.perf_counter() - w0, "mode_counts": m["mode_counts"], **extra}


def mean_se(xs: list[float]) -> tuple[float, float]:
    n = len(xs)
    mu = sum(xs) / n
    if n < 2:
        return mu, float("nan")
    var = sum((x - mu) ** 2 for x in xs) / (n - 1)
    return mu, math.sqrt(var / n)


def fmt(xs, digits):
    mu, se = mean_se(xs)
    return f"{mu:.{digits}f} ± {se:.{digits}f}" if se == se else f"{mu:.{digits}f}"


def _row(label: str, rs: list[dict], goal) -> str:
    ok = sum(r["modes"] >= goal[0] and r["hq"] >= goal[1] and r["reverse_kl"] <= goal[2] for r in rs)
    return (f"| {label} | {len(rs)} | {fmt([r['modes'] for r in rs], 1)} | "
            f"{fmt([r['hq'] for r in rs], 1)} | {fmt([r['reverse_kl'] for r in rs], 3)} | "
            f"{fmt([r['cpu_s'] for r in rs], 0)} | {ok}/{len(rs)} |")


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
    ap.add_argument("--results", default="benchmarks/results/pacgan_runs.jsonl",
                    help="JSONL of finished runs (appended)")
    ap.add_argument("--resume", action="store_true",
                    help="reuse runs of the same resolved config already in --results")
    ap.add_argument("--table-only", action="store_true",
                    help="with --resume: only tabulate the runs already in --results, train none")
    ap.add_argument("--out", default=None, help="write the markdown table here")
    a = ap.parse_args(argv)

    recipes = [parse_recipe(r) for r in a.recipes]
    labels = [r[0] for r in recipes]
    jobs = [{"label": label, "source": src, "overrides": ov + a.set, "dataset": ds, "seed": s}
            for ds in a.datasets for label, src, ov in recipes
            for s in range(a.first_seed, a.first_seed + a.seeds)]
    for j in jobs:   # fail fast on a bad recipe, before any training
        j["config_hash"] = config_hash(j["source"], j["dataset"], j["overrides"], j["seed"])
    results_path = Path(a.results)
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results = []
    if a.resume and results_path.exists():   # reuse runs of the same resolved config, any label
        done = {}
        for line in results_path.read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                h = r.get("config_hash") or config_hash(r["source"], r["dataset"], r["overrides"], r["seed"])
                done[h] = r
        for j in [j for j in jobs if j["config_hash"] in done]:
            results.append({**done[j["config_hash"]], "label": j["label"]})
        jobs = [j for j in jobs if j["config_hash"] not in done]
    if a.table_only:
        jobs = []
    print(f"{len(jobs)} runs on {a.workers} workers", file=sys.stderr)
    os.environ["OMP_NUM_THREADS"] = "1"
    with ProcessPoolExecutor(a.workers) as pool:
        futs = {pool.submit(run_one, j): j for j in jobs}
        for f in as_completed(futs):
            j = futs[f]
            try:
                r = f.result()
            except Exception as e:  # one failed run (e.g. NaN) is reported, not fatal
                print(f"FAILED {j['label']} {j['dataset']} seed {j['seed']}: {e}", file=sys.stderr)
                continue
            results.append(r)
            with open(results_path, "a") as fh:
                fh.write(json.dumps(r) + "\n")
            print(f"{r['label']:<24} {r['dataset']} seed {r['seed']}: {r['modes']}/{r['modes_total']} "
                  f"modes, {r['hq']:.1f}% HQ, rev KL {r['reverse_kl']:.3f}, {r['cpu_s']:.0f} CPU s",
                  file=sys.stderr, flush=True)
    cmd = "python benchmarks/pacgan_table.py " + " ".join(shlex.quote(x) for x in (argv or sys.argv[1:]))
    head = (f"PacGAN Table 1 protocol (2,500 samples; HQ = within 3 std of the nearest mode); "
            f"mean ± standard error over seeds; CPU seconds of one run on 1 thread.\n\n"
            f"Command: `{cmd}`  \nDate: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC\n")
    md = head + table(results, labels, a.datasets)
    print(md)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(md)


if __name__ == "__main__":
    main()
