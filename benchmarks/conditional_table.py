"""Conditional GANs: does G obey c?  Conditional accuracy, within-class Frechet distance
and diversity for several D types, on MNIST (5k) and Fashion-MNIST.

Seed 003 argues that without the condition in D, or without mismatched pairs, G can
ignore c; the `none` row (D never sees c) and the `concat` row without mismatched
pairs measure that.

    .venv/bin/python benchmarks/conditional_table.py [--steps 1500] [--workers 2] \
        [--data mnist5k fashion-mnist] [--out docs/conditional-table.md]

Each run's final evaluation measures only the table's metrics (eval.metrics); "train s" is the
run's training time as its records hold it, without that evaluation.  A row that fails shows
its error and the script exits 1 (its --out is not written).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
import _cli   # benchmarks/_cli.py: this folder is on sys.path

VARIANTS = {
    "D ignores c (none)": ["condition.d_mode=none", "condition.mismatch_weight=0"],
    "concat D, no mismatched pairs": ["condition.d_mode=concat", "condition.mismatch_weight=0"],
    "concat D + mismatched pairs": ["condition.d_mode=concat", "condition.mismatch_weight=1"],
    "projection D": ["condition.d_mode=projection", "condition.mismatch_weight=0"],
    "projection D + mismatched pairs": ["condition.d_mode=projection", "condition.mismatch_weight=1"],
    "AC-GAN": ["condition.d_mode=acgan", "condition.mismatch_weight=0"],
    # captions (preset fashion-text): the words carry thickness/size/brightness beyond the class
    "captions, concat D, no mismatched pairs": ["@fashion-text", "condition.text_encoder=bag",
                                                "condition.mismatch_weight=0", "condition.attribute_mismatch=0"],
    "captions, concat D + mismatched pairs": ["@fashion-text", "condition.text_encoder=bag",
                                              "condition.mismatch_weight=1", "condition.attribute_mismatch=0"],
    "captions, GRU encoder, concat D + mismatched pairs": ["@fashion-text", "condition.text_encoder=gru",
                                                          "condition.mismatch_weight=1",
                                                          "condition.attribute_mismatch=0"],
    # half of the mismatched captions keep the class and flip attribute words
    "captions, GRU encoder, concat D + class and attribute mismatches": [
        "@fashion-text", "condition.text_encoder=gru", "condition.mismatch_weight=1",
        "condition.attribute_mismatch=0.5"],
    # the same with the matching-aware term counted twice (the fashion-text preset, at its 12,000 steps)
    "captions, GRU encoder, concat D + class and attribute mismatches x2": [
        "@fashion-text", "condition.text_encoder=gru", "condition.mismatch_weight=2",
        "condition.attribute_mismatch=0.5"],
    "concat D + mismatched pairs x2": ["condition.d_mode=concat", "condition.mismatch_weight=2"],
}


def final_numbers(run_dir: str) -> tuple[dict, float | None]:
    """(the numbers of the run's final evaluation, its training seconds): from its records, where
    training keeps evaluation, samples and checkpoints off the clock."""
    from gankit.io import read_jsonl
    records = read_jsonl(os.path.join(run_dir, "metrics.jsonl"))
    final = [r for r in records if r.get("kind") == "eval" and r.get("source") == "final"]
    numbers = {k: v for k, v in final[-1].items() if k not in ("step", "kind", "source", "settings")} if final else {}
    times = [r["time"] for r in records if r.get("kind") == "train" and isinstance(r.get("time"), (int, float))]
    return numbers, (times[-1] if times else None)


def run_one(data: str, name: str, over: list[str], steps: int, seed: int, root: str) -> dict:
    slug = "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")
    out = os.path.join(root, f"{data}-{slug}-s{seed}-{steps}")
    preset = "fashion-cgan"
    if over and over[0].startswith("@"):
        preset, over = over[0][1:], over[1:]
    # the final evaluation measures these only (empty eval.metrics: every metric, parzen and CAS too)
    metrics = ["cond_accuracy", "within_class"] + (["attribute_accuracy"] if preset == "fashion-text" else [])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    sets = [f"data.name={data}", f"train.steps={steps}", f"seed={seed}", "train.progress=false",
            f"train.sample_every={steps}", f"train.checkpoint_every={steps}",
            f"eval.metrics={json.dumps(metrics)}", *over]
    args = [x for s in sets for x in ("--set", s)]
    p = subprocess.run([sys.executable, "-m", "gankit", "train", preset, "--out", out, *args],
                       capture_output=True, text=True, env=env)
    if p.returncode:
        return {"data": data, "variant": name, "error": (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1]}
    numbers, seconds = final_numbers(out)
    # the final evaluation leaves a metric that fails out with a warning: that row has no numbers
    lost = [k for k in ("cond_accuracy", "fd_within_class") if k not in numbers]
    if lost:
        warned = [line for line in p.stderr.splitlines() if "warning" in line.lower()]
        return {"data": data, "variant": name,
                "error": f"final evaluation without {', '.join(lost)}" + (f": {warned[-1].strip()}" if warned else "")}
    return {"data": data, "variant": name, "seconds": seconds, **numbers}


def real_images_row(data: str) -> dict:
    """The ceiling: the evaluation classifier on real held-out images, 250 per class, as
    conditional accuracy (a perfect conditional G scores about this)."""
    import torch
    from gankit.registry import DATASETS
    from gankit.metrics.features import classifier_outputs, load_classifier
    ds = DATASETS.build(data, {})
    x, y = ds.split("heldout"), ds.heldout_labels
    idx = torch.cat([torch.nonzero(y == k)[:250, 0] for k in range(ds.n_classes)])
    _, p = classifier_outputs(load_classifier(ds.classifier), x[idx])
    return {"data": data, "variant": "real held-out images (classifier ceiling)",
            "cond_accuracy": float((p.argmax(1) == y[idx]).float().mean())}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--data", nargs="+", default=["mnist5k", "fashion-mnist"])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS))
    ap.add_argument("--out", default=None, help="also write the markdown table here")
    ap.add_argument("--keep", default=None, help="keep the run folders under this directory "
                                                 "(default: a temporary one, deleted)")
    a = ap.parse_args(argv)
    _cli.at_least(ap, a, steps=1, seed=0, workers=1)     # before the ceiling rows' minutes of work
    _cli.choose(a.variants, VARIANTS, "variant")
    jobs = [(d, v) for d in a.data for v in a.variants]
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(a.workers) as pool:
        root = a.keep or tmp
        rows = list(pool.map(lambda j: run_one(j[0], j[1], VARIANTS[j[1]], a.steps, a.seed, root), jobs))
    rows = [real_images_row(d) for d in a.data] + rows
    lines = ["| data | D | conditional accuracy | attribute accuracy (chance 50%) | FD within class "
             "| diversity ratio | train s |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['data']} | {r['variant']} | error: {r['error']} | | | | |")
            continue
        attr = f"{100 * r['attribute_accuracy']:.1f}%" if "attribute_accuracy" in r else "-"
        if "fd_within_class" not in r:
            lines.append(f"| {r['data']} | {r['variant']} | {100 * r['cond_accuracy']:.1f}% | - | - | - | - |")
            continue
        secs = f"{r['seconds']:.0f}" if r.get("seconds") is not None else "-"
        lines.append(f"| {r['data']} | {r['variant']} | {100 * r['cond_accuracy']:.1f}% | {attr} | "
                     f"{r['fd_within_class']:.2f} | {r['diversity_ratio']:.2f} | {secs} |")
    table = "\n".join(lines)
    cmd = "python " + " ".join(sys.argv)
    print(table)
    failed = [f"{r['data']} {r['variant']}" for r in rows if "error" in r]
    if failed:    # the table above shows each error; a file with them would replace a good table
        print(f"error: {len(failed)} of {len(jobs)} runs failed ({'; '.join(failed)}): their errors are in the "
              "table" + (f"; {a.out} not written" if a.out else ""), file=sys.stderr)
        return 1
    if a.out:
        with open(a.out, "w") as f:
            f.write(f"<!-- {cmd} ; {datetime.date.today()} -->\n{table}\n")
    return 0


if __name__ == "__main__":
    sys.exit(_cli.run_main(main))
