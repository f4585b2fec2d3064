"""Time the final evaluation of presets, metric by metric, against their training time.

For each preset: train a short run (``--steps``, no snapshots or checkpoints in between),
then time ``gankit.api.final_evaluation`` (the metrics and the real-data reference row,
as `gankit train` runs them) with every metric's time recorded.  Training time at the
preset's default length is read from gankit/presets/times.json (measured seconds per
step x train.steps), not trained here.  One JSON line per preset goes to ``--out``.

Before/after: run the same command with PYTHONPATH on another checkout (e.g. a
``git worktree`` of the base commit), interleaved; the gankit that ran is recorded.

    [GANKIT_CACHE=DIR] OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/eval_speed.py final \
        --only fashion-cgan --out /tmp/eval.jsonl

``fcd``: Fashion-MNIST FCD of ``--n`` samples of a short fashion-dcgan run, gankit's route
(features.classifier_outputs + metrics.image_measures.fid_from_features) against a
reference computation (features by a plain per-image-batch loop with autograd on,
scipy.linalg.sqrtm), timed side by side in one process.

``drs``: proposals/s of the rejection sampler of a DRS run (``--run RUN_DIR``).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import torch

import _cli   # benchmarks/_cli.py: this folder is on sys.path

QUIET = ["train.progress=false", "train.sample_every=1000000", "train.checkpoint_every=1000000",
         "train.log_every=10", "train.live_report=false", "train.eval_every=0"]


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def _commit() -> str:
    import gankit
    where = Path(gankit.__file__).resolve().parent.parent
    r = subprocess.run(["git", "-C", str(where), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return f"{where} {r.stdout.strip()}"


def _timed_metrics(times: dict):
    """Record each metric's seconds (the reference row's under 'ref:NAME')."""
    from gankit.metrics import base
    call = base.Metric.__call__

    def timed(self, ctx):
        t = time.perf_counter()
        try:
            return call(self, ctx)
        finally:
            # the reference row's context samples through a function named "sample"
            key = ("ref:" if getattr(ctx.sample, "__name__", "") == "sample" else "") + self.name
            times[key] = round(times.get(key, 0.0) + time.perf_counter() - t, 3)
    base.Metric.__call__ = timed


def final(a):
    from gankit import api
    from gankit import config as C
    from gankit.builtins import load_builtins
    load_builtins()
    table = json.loads((Path(C.PRESET_DIR) / "times.json").read_text())
    runs = [(None, name) for name in a.only or C.preset_names()]
    if a.trained:
        if a.only and len(a.only) != len(a.trained):
            _cli.fail("--trained RUN... needs --only with one preset name per run, in the same order")
        runs = list(zip(map(Path, a.trained), a.only or [Path(r).name for r in a.trained]))
    for src, name in runs:
        times: dict = {}
        _timed_metrics(times)
        with tempfile.TemporaryDirectory() as tmp:
            up0 = _uptime()
            if src is None:
                run = api.train(name, out=Path(tmp) / "r", overrides=QUIET + [f"train.steps={a.steps}"],
                                evaluate=False, report=False, log=None)
            else:      # a copy, so that the trained folder stays without an evaluation
                shutil.copytree(src, Path(tmp) / "r")
                run = api.open_run(Path(tmp) / "r")
            t = time.perf_counter()
            api.final_evaluation(run, log=None)
            total = time.perf_counter() - t
            run.close()
        full = C.load(name)
        per = table.get(name, {}).get("s_per_step")
        train_s = per * full.train.steps if per else None
        rec = {"preset": name, "trained": str(src) if src else None, "step": run.step,
               "eval_s": round(total, 2), "train_s_default": train_s and round(train_s, 1),
               "ratio": train_s and round(total / train_s, 4), "metrics": times, "gankit": _commit(),
               "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "uptime_before": up0, "uptime_after": _uptime(),
               "cache": os.environ.get("GANKIT_CACHE", "~/.cache/gankit"), "threads": torch.get_num_threads()}
        print(json.dumps(rec), flush=True)
        if a.out:
            with open(a.out, "a") as f:
                f.write(json.dumps(rec) + "\n")


def fcd(a):
    import numpy as np
    import scipy.linalg
    from gankit import api
    from gankit.metrics.features import classifier_outputs, load_classifier
    from gankit.metrics.image_measures import fid_from_features
    from gankit.metrics.images import real_subset
    with tempfile.TemporaryDirectory() as tmp:
        run = api.train("fashion-dcgan", out=Path(tmp) / "r", overrides=QUIET + ["train.steps=20"],
                        evaluate=False, report=False, log=None)
        x = run.generate(a.n, seed=1)
        real = real_subset(run.dataset, a.n, run.cfg.seed)
        run.close()
    net = load_classifier("fashion")

    def ours():
        f, _ = classifier_outputs(net, x)
        r, _ = classifier_outputs(net, real)
        return fid_from_features(r.numpy(), f.numpy())

    def reference():
        def feats(imgs):      # a plain loop: batches of 100, autograd on
            return np.concatenate([net.features(imgs[i:i + 100]).detach().double().numpy()
                                   for i in range(0, len(imgs), 100)])
        f1, f2 = feats(real), feats(x)
        mu1, mu2 = f1.mean(0), f2.mean(0)
        s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
        covmean = scipy.linalg.sqrtm(s1 @ s2).real
        return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))

    rows = []
    for rep in range(a.repeats):     # interleaved: reference, ours, reference, ours, ...
        for label, fn in (("reference", reference), ("gankit", ours)):
            up = _uptime()
            t = time.perf_counter()
            v = fn()
            rows.append({"route": label, "rep": rep, "s": round(time.perf_counter() - t, 3), "fcd": v,
                         "uptime": up})
            print(json.dumps(rows[-1]), flush=True)
    ref = [r["s"] for r in rows if r["route"] == "reference"]
    our = [r["s"] for r in rows if r["route"] == "gankit"]
    rec = {"bench": "fcd", "n": a.n, "ratio_median": round(float(np.median(np.array(ref) / np.array(our))), 2),
           "rows": rows, "gankit": _commit(), "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    print(json.dumps({k: v for k, v in rec.items() if k != "rows"}))
    if a.out:
        with open(a.out, "a") as f:
            f.write(json.dumps(rec) + "\n")


def parts(a):
    """The changed parts against their plain routes, side by side in one process on
    Fashion-MNIST: KID (50 subsets of 1,000 from 2,500 classifier features), the memorisation
    search (``--n`` held-out images as samples), the memorisation bank; and (2026-12-03) the
    blur of the embedding (grouped conv2d vs shifted sums, 60,000 images), Parzen (the whole
    10,000 x 10,000 float64 matrix and a logsumexp per sigma vs ``parzen_lls``), and the
    index's walk (``query_projected`` vs ``query``, the numba route) on the 9 shifts of the
    ``--n`` samples.  ``--parts`` picks some."""
    from gankit import config as C
    from gankit.builtins import load_builtins
    from gankit.data import build_dataset
    from gankit.metrics import image_measures as M
    from gankit.metrics import memorisation as Mem
    from gankit.metrics.features import classifier_outputs, load_classifier
    import numpy as np
    import torch.nn.functional as F
    load_builtins()
    ds = build_dataset(C.load("fashion-dcgan"))
    tr, he = ds.split("train"), ds.split("heldout")
    net = load_classifier("fashion")
    f1 = classifier_outputs(net, tr[:2500])[0].double().numpy()
    f2 = classifier_outputs(net, he[:2500])[0].double().numpy()
    x = he[:a.n]

    def bank_plain():
        return torch.cat([Mem.embed(tr), Mem.embed(tr.flip(-1)), Mem.embed(tr.flip(-2))]), len(tr)
    bank = Mem.train_bank(tr)
    index = Mem.train_index(tr)
    qs = torch.cat([Mem.embed(torch.roll(x, s, (-2, -1))) for s in Mem.SHIFTS])
    index.query(qs[:10])     # numba's compile (or its disk cache) before the clock

    def blur_conv():
        k = torch.tensor([1.0, 2.0, 1.0])
        w = ((k[:, None] * k[None]) / 16).expand(tr.shape[1], 1, 3, 3)
        b = F.conv2d(F.pad(tr.float(), (1, 1, 1, 1), mode="replicate"), w, groups=tr.shape[1]).flatten(1)
        b = b - b.mean(1, keepdim=True)
        return b / b.norm(dim=1, keepdim=True).clamp_min(1e-6)

    px = [(v[:10000].flatten(1) + 1) / 2 for v in (tr, tr.flip(0), he)]     # centres, valid, test

    def parzen_plain():
        sig = np.logspace(-1, 0, 10)
        dim = px[0].shape[1]

        def ll(d2, s):
            return torch.logsumexp(-d2 / (2 * s ** 2), 1) - math.log(len(px[0])) - 0.5 * dim * math.log(
                2 * math.pi * s ** 2)
        dv = M.pairwise_sq_dists(px[1], px[0]).double()
        best = float(sig[int(np.argmax([float(ll(dv, s).mean()) for s in sig]))])
        return float(ll(M.pairwise_sq_dists(px[2], px[0]).double(), best).mean()), best
    pairs = {"kid": (lambda: M.kid_loop(f1, f2, 50, 1000, 0), lambda: M.kid(f1, f2, 50, 1000, 0)),
             "memorisation_bank": (bank_plain, lambda: Mem.train_index(tr)),
             "memorisation_search": (lambda: Mem.copy_distance_scan(x, bank),
                                     lambda: Mem.copy_distance(x, index)),
             "blur": (blur_conv, lambda: Mem.embed(tr)),
             "parzen": (parzen_plain, lambda: tuple(M.parzen_protocol(*px)[k]
                                                   for k in ("parzen_ll", "parzen_sigma"))),
             "nn_query": (lambda: index.query_projected(qs), lambda: index.query(qs))}
    for name, (plain, fast) in pairs.items():
        if a.parts and name not in a.parts:
            continue
        for rep in range(a.repeats):     # interleaved
            up = _uptime()
            t = time.perf_counter()
            p = plain()
            tp = time.perf_counter() - t
            t = time.perf_counter()
            q = fast()
            tq = time.perf_counter() - t
            same = ""
            if name == "kid":
                same = f"plain {p} fast {q}"
            elif name == "parzen":
                same = f"plain {p} fast {q}"
            elif name == "blur":
                same = f"max |diff| {float((p - q).abs().max()):.1e}"
            elif name == "nn_query":
                same = f"same rows {bool(torch.equal(p[1], q[1]))}, max |d diff| {float((p[0] - q[0]).abs().max()):.1e}"
            elif name == "memorisation_search":
                same = (f"max |d diff| {float((p[0] - q[0]).abs().max()):.2e} (at d > 0.01: "
                        f"{float((p[0] - q[0]).abs()[p[0] > 0.01].max()):.2e}), orientation equal "
                        f"{bool((p[1] == q[1]).all())}")
            rec = {"bench": "parts", "part": name, "rep": rep, "plain_s": round(tp, 3), "fast_s": round(tq, 3),
                   "ratio": round(tp / tq, 2), "check": same, "uptime": up, "n": a.n,
                   "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
            print(json.dumps(rec), flush=True)
            if a.out:
                with open(a.out, "a") as f:
                    f.write(json.dumps(rec) + "\n")



def drs(a):
    from gankit import api
    run = api.open_run(a.run)
    sampler = run.objective.rejection_sampler()
    if sampler is None:
        _cli.fail(f"{a.run}: no fitted rejection sampler; give a run trained with objective.drs = true")
    out = []
    for rep in range(a.repeats):
        up = _uptime()
        t = time.perf_counter()
        run.generate(a.n, seed=rep + 1)
        s = time.perf_counter() - t
        acc = float(sampler.acceptance)
        rec = {"bench": "drs", "run": a.run, "n": a.n, "s": round(s, 3), "acceptance_fit": acc,
               "proposals_per_s_est": round(a.n / max(acc, 1e-9) / s), "uptime": up, "gankit": _commit(),
               "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
        out.append(rec)
        print(json.dumps(rec), flush=True)
    if a.out:
        with open(a.out, "a") as f:
            for rec in out:
                f.write(json.dumps(rec) + "\n")


# the modes that read each option: given to another, it would be ignored (fcd would run its
# whole benchmark with a --run meant for drs), so it is refused before any work
USED_BY = {"only": {"final"}, "trained": {"final"}, "steps": {"final"}, "n": {"fcd", "parts", "drs"},
           "repeats": {"fcd", "parts", "drs"}, "run": {"drs"}, "parts": {"parts"}}
DEFAULTS = {"steps": 20, "n": 10000, "repeats": 3}
PARTS = ("kid", "memorisation_bank", "memorisation_search", "blur", "parzen", "nn_query")


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["final", "fcd", "parts", "drs"])
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--steps", type=int, help="training steps of the short run (final; default 20)")
    ap.add_argument("--n", type=int, help="samples (fcd, drs) or held-out images (parts); default 10000")
    ap.add_argument("--repeats", type=int, help="interleaved repeats (fcd, parts, drs; default 3)")
    ap.add_argument("--run", help="a DRS run folder (drs)")
    ap.add_argument("--trained", nargs="*", help="final: time the evaluation of these trained run folders "
                    "(copied first) instead of short runs; --only: their preset names, in order")
    ap.add_argument("--parts", nargs="*", help="parts: which pairs (default all)")
    ap.add_argument("--out")
    a = ap.parse_args(argv)
    unused = [f"--{k}" for k, modes in USED_BY.items() if getattr(a, k) is not None and a.what not in modes]
    if unused:
        ap.error(f"{a.what} does not use {', '.join(unused)}; leave {'them' if len(unused) > 1 else 'it'} out")
    for k, v in DEFAULTS.items():
        if getattr(a, k) is None:
            setattr(a, k, v)
        elif getattr(a, k) < 1:
            ap.error(f"--{k} must be at least 1, got {getattr(a, k)}")
    if a.what == "drs" and not a.run:
        ap.error("drs needs --run RUN_DIR, a run trained with objective.drs = true")
    if a.parts:
        _cli.choose(a.parts, PARTS, "part (--parts)")
    if a.only:
        from gankit import config as C
        _cli.choose(a.only, C.preset_names(), "preset (--only)")
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    {"final": final, "fcd": fcd, "parts": parts, "drs": drs}[a.what](a)


if __name__ == "__main__":
    _cli.run_main(main)
