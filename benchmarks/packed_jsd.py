"""What a packed D's JSD bound measures (docs/stabilisers.md): a linear G frozen at its
initialisation (lr 1e-12) on 1-D N(0, 1) data, D trained hard (40 steps per G step), packed m
= 1, 2, 4, 8.  Prints the true JSD(p_data, p_g) by numerical integration beside the last logged
bounds (``jsd_estimate`` at m = 1, ``jsd_packed_estimate`` above).

    python benchmarks/packed_jsd.py --out /tmp/packed-jsd
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
from scipy import integrate, stats

SETS = ["noise.dim=1", "generator.name='mlp'", "generator.hidden=[]", "discriminator.name='mlp'",
        "discriminator.hidden=[32, 32]", "loss.name='nonsaturating'", "objective.name='gan'",
        "optim_g.lr=1e-12", "optim_d.lr=3e-3", "train.steps=30", "train.d_steps=40",
        "train.batch_size=256", "train.log_every=10", "train.sample_every=1000",
        "train.checkpoint_every=1000", "train.n_fixed=64", "train.live_report=false",
        "train.progress=false", "eval.n_samples=200", "eval.metrics=['sliced_wasserstein']", "seed=0",
        "data.standardize='none'"]   # G's weights are read as N(b, w^2) in the data's own units


def true_jsd(mu: float, sigma: float) -> float:
    p = lambda x: stats.norm.pdf(x, 0, 1)   # noqa: E731
    q = lambda x: stats.norm.pdf(x, mu, sigma)   # noqa: E731

    def f(x):
        m = p(x) + q(x) + 1e-300
        return 0.5 * p(x) * np.log(2 * p(x) / m + 1e-300) + 0.5 * q(x) * np.log(2 * q(x) / m + 1e-300)
    return integrate.quad(f, -10, 10, points=[mu - 0.05, mu, mu + 0.05], limit=1000)[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="folder for the data file and the runs")
    ap.add_argument("--packs", type=int, nargs="+", default=[1, 2, 4, 8])
    a = ap.parse_args()
    if min(a.packs) < 1:
        ap.error(f"--packs: each pack size must be 1 or more, got {min(a.packs)}")
    import torch

    from gankit.cli import main as gankit
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    data = out / "normal.npy"
    np.save(data, np.random.default_rng(0).standard_normal((20000, 1)).astype(np.float32))
    for m in a.packs:
        run = out / f"pack{m}"
        shutil.rmtree(run, ignore_errors=True)
        argv = ["train", "ring-vanilla", "--out", str(run), "--set", "data.name='points'",
                "--set", f"data.path='{data}'", "--set", f"objective.pack={m}"]
        rc = gankit(argv + [x for s in SETS for x in ("--set", s)])
        if rc:   # gankit has printed why
            raise SystemExit(rc)
        g = torch.load(run / "checkpoints" / "step_00000030.pt", weights_only=True)["models"]["G"]
        w = next(v for k, v in g.items() if k.endswith("weight"))
        b = next(v for k, v in g.items() if k.endswith("bias"))
        sigma, mu = abs(float(w.flatten()[0])), float(b.flatten()[0])
        key = "jsd_estimate" if m == 1 else "jsd_packed_estimate"
        recs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        last = [round(r[key], 4) for r in recs if key in r][-3:]
        print(f"pack {m}: G = N({mu:.3f}, {sigma:.3f}^2), true JSD {true_jsd(mu, sigma):.4f}; "
              f"{key} (last 3 logs) {last}", flush=True)


if __name__ == "__main__":
    main()
