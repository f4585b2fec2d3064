"""The model families against the GAN, on gankit's own metrics (docs/families.md).

Groups (each trains through the gankit Run, writes one JSON line per run to --results, by
default families.jsonl in the --out folder):

    generate DATA   GAN (DCGAN, non-saturating) vs VAE vs AE vs energy model: FCD, KCD, CS,
                    precision/recall/density/coverage, memorisation, CPU seconds of training
    ssl DATA        semi-supervised GAN vs the same classifier on the labels alone, at
                    --labels per class (held-out accuracy)
    bigan           BiGAN on MNIST-5k: 1-NN accuracy of E(x) vs raw pixels vs the AE's codes;
                    reconstruction error of inversion for the GAN, BiGAN and VAE runs of
                    `generate mnist5k` (run that first); completion examples (PNG)
    infogan         InfoGAN on MNIST-5k: categorical code accuracy after the best matching
    figure DATA     the last snapshot's samples of each `generate DATA` run, side by side (--img)

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/families.py generate mnist5k [--steps 1200]
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/families.py ssl mnist5k --labels 10,100

A run already in its --out folder is reused: trained on to a larger --steps, evaluated on the
new --n; one trained with other settings (another --set, say) is refused.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from gankit import config as C
from gankit.identity import DATA_LOCATION_KEYS
from gankit.runfolder import RunFolder
from gankit.train.run import Run
import _cli   # benchmarks/_cli.py: this folder is on sys.path

GEN_METRICS = ["fid", "kid", "is", "prdc", "memorisation"]
FAMILIES = {   # preset, extra overrides, steps as a fraction of --steps (None: the preset's own length)
    "gan": ("mnist-dcgan", [], 1.0),
    "vae": ("mnist-vae", [], 1.0),
    "ae": ("mnist-ae", [], 1.0),
    "ebm": ("mnist-ebm", [], None),   # 60 Langevin steps an iteration: ~22x a GAN step's CPU
}


def _common(out: Path, steps: int, n: int, seed: int) -> list[str]:
    return [f"train.steps={steps}", "train.progress=false", f"train.sample_every={max(steps // 2, 1)}",
            f"train.checkpoint_every={steps}", f"eval.n_samples={n}", f"seed={seed}", "train.n_fixed=64"]


# what _common derives from --steps and --n: a finished run continues to a larger --steps and is
# evaluated on the new --n; any other difference makes it another run than the folder's
FOLLOW_ARGS = {"train.steps", "train.sample_every", "train.checkpoint_every", "eval.n_samples"}


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def _differences(stored: C.RunConfig, wanted: C.RunConfig) -> list[str]:
    """Dotted keys where the folder's config and the one asked for differ, but FOLLOW_ARGS;
    the data's location compared as an absolute path (config.toml records it so)."""
    a, b = _flat(C.to_dict(stored)), _flat(C.to_dict(wanted))
    for d in (a, b):
        for k in DATA_LOCATION_KEYS:
            if isinstance(d.get(f"data.{k}"), str) and d[f"data.{k}"]:
                d[f"data.{k}"] = str(Path(d[f"data.{k}"]).expanduser().absolute())
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k) and k not in FOLLOW_ARGS)


def _bench_cpu(run: Run) -> float:
    """CPU seconds of training recorded at the run's current step (nan: none, e.g. a session
    that was stopped and continued, whose CPU is only partly known)."""
    return next((r["cpu_s"] for r in reversed(run.folder.records("bench")) if r["step"] == run.step),
                float("nan"))


def train(preset: str, sets: list[str], out: Path) -> tuple[Run, float]:
    """Train ``preset`` with ``sets`` into ``out``; a run already there is continued with the
    sets applied (as ``gankit train --resume --set``) when only FOLLOW_ARGS differ."""
    wanted, folder = C.load(preset, sets), RunFolder(out)
    if not folder.checkpoints():
        run = Run.create(wanted, out)
        prior = 0.0
    else:
        diff = _differences(C.load(folder.read_config()), wanted)
        if diff:
            sys.exit(f"{out} holds a run with other settings ({', '.join(diff[:6])}"
                     f"{', ...' if len(diff) > 6 else ''}); give another --out, or the settings it was trained with")
        done = max(step for step, _ in folder.checkpoints())
        if done > wanted.train.steps:
            sys.exit(f"{out} is trained to step {done}, past the {wanted.train.steps} asked for; "
                     f"give --steps for at least {done} steps, or another --out")
        run = Run.open(out, sets, write=True)
        prior = _bench_cpu(run)
        if run.step == run.cfg.train.steps:
            return run, prior
    t = time.process_time()
    run.train()          # a stopped run continues from its last checkpoint
    cpu = prior + time.process_time() - t
    if run.step < run.cfg.train.steps:    # stopped by a signal: no row for a run that did not finish
        sys.exit(f"{out}: stopped at step {run.step} of {run.cfg.train.steps}; rerun to continue it")
    run.log({"step": run.step, "kind": "bench", "cpu_s": cpu})
    return run, cpu


def record(path: Path, row: dict):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M"), **row}) + "\n")
    print(json.dumps(row), flush=True)


def generate(a):
    for fam in a.families.split(","):
        preset, extra, frac = FAMILIES[fam]
        steps = C.load(preset).train.steps if frac is None else max(1, int(a.steps * frac))
        out = Path(a.out) / f"{a.data}-{fam}-s{a.seed}"
        run, cpu = train(preset, [f"data.name={a.data}", *extra, *_common(out, steps, a.n, a.seed)], out)
        t = time.process_time()
        res = run.evaluate(GEN_METRICS)
        keep = ("fcd", "kcd", "cs", "precision", "recall", "density", "coverage", "copy_frac", "nn_ratio")
        record(Path(a.results), {"group": "generate", "data": a.data, "family": fam, "seed": a.seed,
                                 "steps": steps, "cpu_train_s": round(cpu, 1),
                                 "cpu_eval_s": round(time.process_time() - t, 1),
                                 **{k: res[k] for k in keep if k in res}, "run": str(out)})


def ssl(a):
    for n_lab in a.labels:
        for adv in [m == "ssgan" for m in a.models]:
            out = Path(a.out) / f"{a.data}-ssgan-l{n_lab}-{'adv' if adv else 'sup'}-s{a.seed}"
            sets = [f"data.name={a.data}", f"objective.labels_per_class={n_lab}",
                    f"objective.adversarial={str(adv).lower()}", *_common(out, a.steps, 500, a.seed), *a.set]
            run, cpu = train("mnist-ssgan", sets, out)
            res = run.evaluate(["classify"])
            record(Path(a.results), {"group": "ssl", "data": a.data, "labels_per_class": n_lab,
                                     "model": "ssgan" if adv else "labels only", "seed": a.seed,
                                     "steps": a.steps, "cpu_train_s": round(cpu, 1), "sets": a.set,
                                     "test_error": round(1 - res["test_accuracy"], 4), "run": str(out)})


def _one_nn(train_f, train_y, test_f, test_y) -> float:
    from gankit.metrics.inference import one_nn_accuracy     # the code_nn metric's measure
    return one_nn_accuracy(train_f, train_y, test_f, test_y)


def _features(run, x):
    from gankit.train.inversion import eval_mode
    with torch.no_grad(), eval_mode(run.modules):
        code = getattr(run.objective, "code", None) or run.objective.encode   # the AE's raw codes
        return torch.cat([code(x[i:i + 1000]) for i in range(0, len(x), 1000)])


def bigan(a):
    from gankit.train.inversion import complete, invert_run
    root = Path(a.out)
    out = root / f"mnist5k-bigan-s{a.seed}"
    run, cpu = train("mnist-bigan", _common(out, a.steps, a.n, a.seed), out)
    ds = run.dataset
    xtr, ytr, xte, yte = ds.split("train"), ds.split_labels("train"), ds.split("heldout"), ds.split_labels("heldout")
    res = run.evaluate(["fid"])
    row = {"group": "bigan", "seed": a.seed, "steps": a.steps, "cpu_train_s": round(cpu, 1), "fcd": res["fcd"],
           "nn_pixels": _one_nn(xtr, ytr, xte, yte), "nn_bigan_E": _one_nn(_features(run, xtr), ytr,
                                                                          _features(run, xte), yte)}
    ae_dir = root / f"mnist5k-ae-s{a.seed}"
    if ae_dir.is_dir():
        ae = Run.open(ae_dir)
        row["nn_ae_codes"] = _one_nn(_features(ae, xtr), ytr, _features(ae, xte), yte)
    x = xte[:256]
    for fam, r in (("gan", root / f"mnist5k-gan-s{a.seed}"), ("vae", root / f"mnist5k-vae-s{a.seed}"),
                   ("ae", ae_dir), ("bigan", out)):
        if not r.is_dir():
            continue
        rr = run if fam == "bigan" else Run.open(r)
        row[f"recon_{fam}"] = float(invert_run(rr, x, steps=300).error.mean())
        if hasattr(rr.objective, "encode"):   # the encoder's own guess, before optimisation
            row[f"recon_{fam}_encoder_only"] = float(invert_run(rr, x, steps=0).error.mean())
        if a.img:
            missing = torch.zeros(x.shape[1:])
            missing[..., 14:, :] = 1
            filled, _ = complete(rr, x[:10], missing, steps=300)
            _save_rows([x[:10], x[:10] * (1 - missing), filled], Path(a.img) / f"completion_{fam}.png")
    record(Path(a.results), {**row, "run": str(out)})


def _save_rows(rows, path: Path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from gankit.report.images import tile
    img = tile(torch.cat(rows).numpy(), len(rows[0]))
    path.parent.mkdir(parents=True, exist_ok=True)
    plt.imsave(path, img[..., 0], cmap="gray", vmin=0, vmax=1)


def infogan(a):
    out = Path(a.out) / f"mnist5k-infogan-s{a.seed}"
    run, cpu = train("mnist-infogan", [*_common(out, a.steps, a.n, a.seed), *a.set], out)
    res = run.evaluate(["classify", "fid"])
    record(Path(a.results), {"group": "infogan", "seed": a.seed, "steps": a.steps, "cpu_train_s": round(cpu, 1),
                             "sets": a.set,
                             # with objective.categories other than the classes: the purity
                             **({"code_accuracy": res["cluster_accuracy"]} if "cluster_accuracy" in res
                                else {"code_purity": res["cluster_purity"]}),
                             "fcd": res["fcd"], "run": str(out)})
    if a.img:   # one row per categorical value, the other noise fixed per column (10 columns)
        K = run.objective.p.categories
        g = torch.Generator().manual_seed(0)
        z = torch.randn(10, run.cfg.noise.dim, generator=g).repeat(K, 1)
        k = run.objective.n_free
        z[:, k:k + K] = -5.0
        z[torch.arange(10 * K), k + torch.arange(10 * K) // 10] = 5.0
        _save_rows(list(run.generate_from(z).split(10)), Path(a.img) / "infogan_codes.png")


def figure(a):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from gankit.report.images import tile
    from gankit.runfolder import RunFolder
    fams = [f for f in a.families.split(",") if (Path(a.out) / f"{a.data}-{f}-s{a.seed}").is_dir()]
    if not fams:
        _cli.fail(f"no runs of `generate {a.data}` (families {a.families}, seed {a.seed}) in {a.out}; "
                  f"run `families.py generate {a.data}` with this --out first")
    fig, axes = plt.subplots(1, len(fams), figsize=(2.6 * len(fams), 2.8), squeeze=False)
    for ax, fam in zip(axes[0], fams):
        snap = RunFolder(Path(a.out) / f"{a.data}-{fam}-s{a.seed}").snapshots()[-1]
        ax.imshow(tile(snap["samples"][:36], 6)[..., 0], cmap="gray", vmin=0, vmax=1)
        ax.set_axis_off()
        ax.set_title(f"{fam}, step {int(snap['step'])}", fontsize=9)
    Path(a.img).mkdir(parents=True, exist_ok=True)
    fig.savefig(Path(a.img) / f"families_{a.data}.png", dpi=80, bbox_inches="tight")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("group", choices=["generate", "ssl", "bigan", "infogan", "figure"])
    ap.add_argument("data", nargs="?", default="mnist5k")
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--n", type=int, default=2000, help="samples per evaluation")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--families", default="gan,vae,ae,ebm")
    ap.add_argument("--labels", default="10,100", help="labels per class (ssl)")
    ap.add_argument("--out", default="runs/bench-families")
    # not a file in the repository: a trial run from its root would append to the published results
    ap.add_argument("--results", help="JSON lines file the rows are appended to (default: families.jsonl in --out)")
    ap.add_argument("--img", default="", help="folder for completion / code figures (PNG)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--set", action="append", default=[], help="extra config override (ssl, infogan), repeatable")
    ap.add_argument("--models", default="ssgan,labels", help="ssl: which of ssgan,labels to train")
    a = ap.parse_args(argv)
    _cli.at_least(ap, a, steps=1, n=1, threads=1)
    try:
        labels = [int(v) for v in a.labels.split(",")]
    except ValueError:
        labels = []
    if not labels or min(labels) < 1:
        ap.error(f"--labels {a.labels}: give labels per class as whole numbers of at least 1, comma-separated "
                 f"(e.g. 10,100)")
    a.labels = labels
    a.models = _cli.choose(a.models, ["ssgan", "labels"], "model (--models)")
    a.results = a.results or str(Path(a.out) / "families.jsonl")
    if a.group in ("bigan", "infogan") and a.data != "mnist5k":
        # their presets, comparisons (bigan reads the mnist5k runs of `generate`) and folder names are MNIST-5k's
        _cli.fail(f"{a.group} trains on mnist5k only (preset mnist-{a.group}), not {a.data!r}; leave DATA out")
    if a.group in ("generate", "figure"):
        _cli.choose(a.families, FAMILIES, "family (--families)")
    torch.set_num_threads(a.threads)
    {"generate": generate, "ssl": ssl, "bigan": bigan, "infogan": infogan, "figure": figure}[a.group](a)


if __name__ == "__main__":
    sys.exit(_cli.run_main(main))
