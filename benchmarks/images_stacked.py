"""Stacked MNIST (PacGAN Table 2 protocol): modes covered of 1,000 and KL(modes || uniform)
for a DCGAN and a PacDCGAN2, measured with 26,000 samples and gankit's MNIST classifier
on each channel.

PacGAN Table 2 (their D sizes, 128k training images, 26k samples): DCGAN 78.9-99
modes, KL 3.4-4.5; VEEGAN 150 / 2.95; PacDCGAN2 1000 / 0.06.

    .venv/bin/python benchmarks/images_stacked.py [--steps 2000] [--variants dcgan,pacdcgan2]
"""
from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch

from gankit import config as C
from gankit.train.run import Run
import _cli   # benchmarks/_cli.py: this folder is on sys.path

VARIANTS = {"dcgan": [], "pacdcgan2": ["objective.name=gan", "objective.pack=2"]}


def real_row(cfg, n: int, seed: int) -> dict:
    """The same measure on n real triples: the floor that sampling noise and the classifier set."""
    from gankit.metrics.features import channel_probs, load_classifier
    from gankit.metrics.image_measures import stacked_modes
    from gankit.data import build_dataset
    ds = build_dataset(cfg)
    x = ds.sample(n, torch.Generator().manual_seed(seed))
    net = load_classifier(ds.classifier)
    digits = channel_probs(net, x).argmax(2)
    return stacked_modes(digits.numpy(), ds.channel_classes)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--variants", default="dcgan,pacdcgan2")
    ap.add_argument("--n", type=int, default=26000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/bench-stacked")
    ap.add_argument("--img", default="")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--set", action="append", default=[])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rows = []
    for name in _cli.choose(a.variants, VARIANTS, "variant"):
        folder = Path(a.out) / f"{name}-s{a.seed}"
        shutil.rmtree(folder, ignore_errors=True)
        cfg = C.load("stacked-mnist", VARIANTS[name] + [f"train.steps={a.steps}", "train.progress=false",
                                                        f"eval.n_samples={a.n}", f"seed={a.seed}", *a.set])
        t0 = time.time()
        run = Run.create(cfg, folder).train()
        minutes = (time.time() - t0) / 60
        r = run.evaluate(["stacked_modes"])
        run.log({"step": run.step, "kind": "eval", **r})
        rows.append((name, run.step, r, minutes))
        print(name, json.dumps(r), f"{minutes:.1f} min", flush=True)
        if a.img:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
            from gankit.report.images import tile
            Path(a.img).mkdir(parents=True, exist_ok=True)
            fig, ax = plt.subplots(figsize=(4, 4))
            ax.imshow(tile(run.generate(64, seed=5).numpy(), 8))
            ax.set_axis_off()
            ax.set_title(f"{name}, step {run.step}", fontsize=9)
            fig.savefig(Path(a.img) / f"stacked_{name}.png", dpi=80, bbox_inches="tight")
            plt.close(fig)
    real = real_row(cfg, a.n, a.seed)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} stacked-mnist, {a.n} samples, seed {a.seed}")
    print("| model | G steps | modes (of 1000) | KL | train minutes |")
    print("|---|---|---|---|---|")
    for name, step, r, m in rows:
        print(f"| {name} | {step} | {r['stacked_modes']} | {r['stacked_kl']:.3f} | {m:.1f} |")
    print(f"| real triples | | {real['stacked_modes']} | {real['stacked_kl']:.3f} | |")


if __name__ == "__main__":
    _cli.run_main(main)
