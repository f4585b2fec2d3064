"""Conditional GANs: does G obey c?  Conditional accuracy, within-class Frechet distance
and diversity for several D types, on MNIST (5k) and Fashion-MNIST.

Seed 003 argues that without the condition in D, or without mismatched pairs, G can
ignore c; the `none` row (D never sees c) and the `concat` row without mismatched
pairs measure that.

    .venv/bin/python benchmarks/conditional_table.py [--steps 1500] [--workers 2] \
        [--data mnist5k fashion-mnist] [--out docs/conditional-table.md]
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
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


def run_one(data: str, name: str, over: list[str], steps: int, seed: int, root: str) -> dict:
    slug = "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")
    out = os.path.join(root, f"{data}-{slug}-s{seed}-{steps}")
    preset = "fashion-cgan"
    if over and over[0].startswith("@"):
        preset, over = over[0][1:], over[1:]
    metrics = "cond_accuracy,within_class" + (",attribute_accuracy" if preset == "fashion-text" else "")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    sets = [f"data.name={data}", f"train.steps={steps}", f"seed={seed}", "train.progress=false",
            f"train.sample_every={steps}", f"train.checkpoint_every={steps}", *over]
    args = [x for s in sets for x in ("--set", s)]
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "gankit", "train", preset, "--out", out, *args],
                       capture_output=True, text=True, env=env)
    if p.returncode:
        return {"data": data, "variant": name, "error": p.stderr.strip().splitlines()[-1]}
    e = subprocess.run([sys.executable, "-m", "gankit", "eval", out, "--json", "--metrics", metrics],
                       capture_output=True, text=True, env=env)
    res = json.loads(e.stdout) if e.returncode == 0 else {"error": e.stderr.strip()}
    return {"data": data, "variant": name, "seconds": time.perf_counter() - t0, **res}


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


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--data", nargs="+", default=["mnist5k", "fashion-mnist"])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS))
    ap.add_argument("--out", default=None, help="also write the markdown table here")
    ap.add_argument("--keep", default=None, help="keep the run folders under this directory "
                                                 "(default: a temporary one, deleted)")
    a = ap.parse_args()
    _cli.choose(a.variants, VARIANTS, "variant")
    jobs = [(d, v) for d in a.data for v in a.variants]
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(a.workers) as pool:
        root = a.keep or tmp
        rows = list(pool.map(lambda j: run_one(j[0], j[1], VARIANTS[j[1]], a.steps, a.seed, root), jobs))
    rows = [real_images_row(d) for d in a.data] + rows
    lines = ["| data | D | conditional accuracy | attribute accuracy (chance 50%) | FD within class "
             "| diversity ratio | wall s |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['data']} | {r['variant']} | error: {r['error']} | | | | |")
            continue
        attr = f"{100 * r['attribute_accuracy']:.1f}%" if "attribute_accuracy" in r else "-"
        if "fd_within_class" not in r:
            lines.append(f"| {r['data']} | {r['variant']} | {100 * r['cond_accuracy']:.1f}% | - | - | - | - |")
            continue
        lines.append(f"| {r['data']} | {r['variant']} | {100 * r['cond_accuracy']:.1f}% | {attr} | "
                     f"{r['fd_within_class']:.2f} | {r['diversity_ratio']:.2f} | {r['seconds']:.0f} |")
    table = "\n".join(lines)
    cmd = "python " + " ".join(sys.argv)
    print(table)
    if a.out:
        with open(a.out, "w") as f:
            f.write(f"<!-- {cmd} ; {datetime.date.today()} -->\n{table}\n")


if __name__ == "__main__":
    _cli.run_main(main)
