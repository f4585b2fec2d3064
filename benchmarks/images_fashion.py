"""Fashion-MNIST DCGAN: Frechet classifier distance (FCD), classifier score (CS),
precision and recall over training for the non-saturating, WGAN-GP and hinge losses.

Features come from gankit's shipped Fashion-MNIST classifier (no Inception here),
so FCD is not comparable with published FIDs (Lucic et al. 2018: NS GAN 26.5,
WGAN-GP 24.5 on Inception features) — only between rows of this table.

    .venv/bin/python benchmarks/images_fashion.py [--steps 1500] [--evals 4] [--n 2000]
        [--losses ns,wgan-gp,hinge] [--img docs/img]
    .venv/bin/python benchmarks/images_fashion.py --eval-only --n 2000   # re-score the runs in --out
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

VARIANTS = {
    # the DCGAN recipe: Adam 2e-4, beta1 0.5, batch norm in D
    "ns": ["loss.name=nonsaturating"],
    # WGAN-GP: no batch norm in the critic (layer norm), lambda 10, Adam betas (0.5, 0.9);
    # 2 critic steps per G step instead of the paper's 5 (CPU budget)
    "wgan-gp": ["loss.name=wgan", "objective.name=gan", "objective.gp=10", "discriminator.norm=layer", "train.d_steps=2",
                "optim_d.betas=[0.5, 0.9]", "optim_g.betas=[0.5, 0.9]"],
    "hinge": ["loss.name=hinge"],
}


def rounded(r: dict) -> dict:
    """An evaluation's numbers to 4 decimals; its other values (e.g. "features": "classifier") as they are."""
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}


def save_grid(x, path: Path, title: str):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from gankit.report.images import tile
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(tile(x[:64].numpy(), 8)[..., 0], cmap="gray", vmin=0, vmax=1)
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--evals", type=int, default=4, help="evaluation points over training")
    ap.add_argument("--n", type=int, default=2000, help="samples per evaluation")
    ap.add_argument("--losses", default="ns,wgan-gp,hinge")
    ap.add_argument("--preset", default="fashion-dcgan")
    ap.add_argument("--out", default="runs/bench-fashion")
    ap.add_argument("--img", default="", help="folder for the final sample grids (PNG)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--eval-only", action="store_true",
                    help="no training: evaluate the latest checkpoint of each run in --out")
    a = ap.parse_args()
    losses = _cli.choose(a.losses, VARIANTS, "loss (--losses)")
    if a.eval_only:
        missing = [str(Path(a.out) / n) for n in losses if not (Path(a.out) / n).is_dir()]
        if missing:
            _cli.fail(f"--eval-only: no run folder {', '.join(missing)}; train them first (without "
                      "--eval-only), or give the --out they were trained into")
    torch.set_num_threads(a.threads)
    points = sorted({round(a.steps * (i + 1) / a.evals) for i in range(a.evals)})
    results = {}
    # reference: held-out real images in place of G's samples (the best a generator can hope for)
    from gankit.registry import DATASETS
    from gankit.metrics import image_measures as M
    from gankit.metrics.features import classifier_outputs, load_classifier
    from gankit.metrics.images import real_subset
    base = C.load(a.preset)
    ds = DATASETS.build(base.data.name, base.data.params)
    net = load_classifier(ds.classifier)
    f_tr, _ = classifier_outputs(net, real_subset(ds, a.n, base.seed))   # the metrics' real subset
    f_ho, p_ho = classifier_outputs(net, ds.split("heldout", a.n))
    ref = {"step": 0, "minutes": 0, "fcd": M.fid_from_features(f_tr, f_ho),
           "cs": M.inception_score(p_ho.numpy())[0], **M.prdc(f_tr, f_ho, k=5)}
    results["real held-out images"] = [ref]
    print("reference", json.dumps(ref), flush=True)
    for name in losses:
        folder = Path(a.out) / name
        if a.eval_only:
            run = Run.open(folder)
            r = run.evaluate(["fid", "is", "prdc"])
            results[name] = [{"step": run.step, "minutes": "-", **rounded(r)}]
            print(name, json.dumps(results[name][0]), flush=True)
            continue
        shutil.rmtree(folder, ignore_errors=True)
        cfg = C.load(a.preset, VARIANTS[name] + [f"train.steps={a.steps}", "train.progress=false",
                                                 f"eval.n_samples={a.n}", "train.eval_every=0"])
        run = Run.create(cfg, folder)
        t0 = time.time()
        rows = []
        for p in points:
            run.cfg.train.steps = p
            run.train(progress=False)
            r = run.evaluate(["fid", "is", "prdc"])
            r = {"step": p, "minutes": round((time.time() - t0) / 60, 1), **rounded(r)}
            run.log({"kind": "eval", **r})
            rows.append(r)
            print(name, json.dumps(r), flush=True)
        results[name] = rows
        if a.img:
            save_grid(run.generate(64, seed=5), Path(a.img) / f"fashion_{name}.png",
                      f"{name}, step {run.step}")
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} {a.preset}, {a.steps} G steps, {a.n} samples per eval")
    print("| loss | step | FCD | CS | precision | recall | minutes |")
    print("|---|---|---|---|---|---|---|")
    for name, rows in results.items():
        for r in rows:
            print(f"| {name} | {r['step']} | {r['fcd']:.2f} | {r['cs']:.2f} | {r['precision']:.3f} | "
                  f"{r['recall']:.3f} | {r['minutes']} |")


if __name__ == "__main__":
    _cli.run_main(main)
