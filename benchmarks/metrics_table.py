"""What each metric detects, on constructed generators (docs/metrics.md).

Points (PacGAN ring, 8 modes): true data (a fresh draw), one mode dropped, collapsed
(every sample at one mode), memorised (the real reference points themselves, copied),
noisy copies (the reference + N(0, 0.05)), blurred (true data + N(0, 0.1): modes widened),
and a trained run (gankit train ring-vanilla, 2,000 steps).  Images (sklearn digits 8x8):
the same constructions with training images, blur = 3x3 binomial filter; random conv
features for frd/krd/prdc, the classifier trained on the digits for the class scores.

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/metrics_table.py [--out FILE.json]
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch
import torch.nn.functional as F

from gankit import config as C
from gankit.builtins import load_builtins
from gankit.data import build_dataset
from gankit.metrics import classifier_scores as S
from gankit.metrics import distances as Dm
from gankit.metrics import image_measures as M
from gankit.metrics.memorisation import memorisation
from gankit.metrics.modes import mode_metrics
from gankit.metrics.samples import duplicate_radius

N = 1500


def point_rows(trained_steps: int):
    ds = build_dataset(C.load("ring"))
    g = torch.Generator().manual_seed(1)
    real = ds.sample(N, torch.Generator().manual_seed(0)).double()
    x, idx = ds.sample_with_labels(3 * N, g)
    gens = {"true data": x[:N], "one mode dropped": x[idx != 0][:N], "collapsed": ds.modes[0].expand(N, 2)
            + 0.01 * torch.randn(N, 2, generator=g), "memorised": real.clone(),
            "noisy copies": real + 0.05 * torch.randn(N, 2, generator=g),
            "blurred": x[:N] + 0.1 * torch.randn(N, 2, generator=g)}
    if trained_steps:
        from gankit.train.run import Run
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            run = Run.create(C.load("ring-vanilla", [f"train.steps={trained_steps}", "train.progress=false"]), d)
            run.train(progress=False)
            gens[f"trained (ring-vanilla, {trained_steps} steps)"] = run.generate(N, seed=5)
    tau = duplicate_radius(real)
    b_real = Dm.birthday_support(real, tau)["birthday_support"]
    rows = {}
    for name, f in gens.items():
        f = f.double()
        mm = mode_metrics(f, ds.modes, ds.mode_std)
        pr = M.prdc(real, f)
        rows[name] = {"modes": mm["modes_covered"], "hq": mm["hq_fraction"], "swd": Dm.sliced_wasserstein(real, f),
                      "energy": Dm.energy_distance(real, f), "mmd2": Dm.mmd2(real, f)[0],
                      "c2st_acc": Dm.c2st(real, f)["c2st_acc"], "ndb": Dm.ndb(real.numpy(), f.numpy())["ndb"],
                      "birthday_ratio": Dm.birthday_support(f, tau)["birthday_support"] / b_real,
                      **pr}
    return rows


def image_rows():
    from sklearn.datasets import load_digits
    from gankit.metrics.feature_nets import random_features_net
    from gankit.metrics.own_classifier import train_classifier
    from gankit.metrics.features import classifier_outputs
    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32)[:, None] / 8 - 1
    y = torch.tensor(d.target)
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(x), generator=g)
    tr, ho, ytr = x[perm[:1400]], x[perm[1400:]], y[perm[:1400]]
    net = train_classifier(tr, ytr, 10)
    k = torch.tensor([1.0, 2.0, 1.0])
    w = ((k[:, None] * k[None]) / 16)[None, None]
    blur = F.conv2d(F.pad(tr[:397], (1, 1, 1, 1), mode="replicate"), w)
    gens = {"true data (held-out images)": ho, "one class dropped": tr[ytr != 0][:397],
            "collapsed": tr[:1].expand(397, -1, -1, -1) + 0.02 * torch.randn(397, 1, 8, 8, generator=g),
            "memorised": tr[:397], "noisy copies": (tr[:397] + 0.05 * torch.randn(397, 1, 8, 8, generator=g)).clamp(-1, 1),
            "blurred": blur}
    fe = random_features_net(0)
    fr = fe.features(tr[:397]).double()
    prior = np.bincount(ytr.numpy(), minlength=10)
    rows = {}
    for name, f in gens.items():
        ff = fe.features(f).double()
        p = classifier_outputs(net, f)[1].numpy()
        mem = memorisation(f, tr, ho)
        rows[name] = {"frd": M.fid_from_features(fr.numpy(), ff.numpy()),
                      "krd": M.kid(fr.numpy(), ff.numpy(), n_subsets=20, subset_size=300)[0],
                      **{k2: v for k2, v in M.prdc(fr, ff).items()},
                      "cs": M.inception_score(p)[0], "m_is": S.m_is(p), "mode_score": S.mode_score(p, prior),
                      "am_score": S.am_score(p, prior), "copy_frac": mem["copy_frac"], "nn_ratio": mem["nn_ratio"]}
    return rows


def table(rows) -> str:
    cols = list(next(iter(rows.values())))
    out = ["| generator | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, r in rows.items():
        out.append(f"| {name} | " + " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in r.values()) + " |")
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--out")
    p.add_argument("--trained-steps", type=int, default=2000)
    a = p.parse_args(argv)
    load_builtins()
    pts, imgs = point_rows(a.trained_steps), image_rows()
    print("points (ring, 8 modes)\n" + table(pts) + "\n\nimages (digits 8x8)\n" + table(imgs))
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"points": pts, "images": imgs}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
