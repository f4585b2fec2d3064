"""SeqGAN's oracle at full MLE scale, measured as a quality-diversity curve (Caccia et al. 2020).

Quality is NLL_oracle of G's samples (lower = samples the oracle finds likely); diversity is
NLL_test, the NLL of held-out oracle data under G at the same sampling temperature (lower =
G covers the data).  Lowering the temperature buys quality with diversity, so a GAN only
beats MLE if its point lies beyond MLE's temperature curve: lower NLL_oracle than MLE at
the same NLL_test.

    # 1. MLE to convergence (80 epochs of 10,000 = 12,500 steps of 64), resumable with --resume
    gankit train seqgan-oracle --out runs/full/mle --set train.steps=12500 \\
        --set objective.pretrain_steps=12500 --set train.checkpoint_every=500
    # 2. MLE's temperature curve
    .venv/bin/python benchmarks/seqgan_curve.py sweep runs/full/mle
    # 3. an adversarial recipe from that G (resumable: run the same command again)
    .venv/bin/python benchmarks/seqgan_curve.py adv --mle runs/full/mle --out runs/full/gumbel \\
        --recipe gumbel --d-steps 1000 --adv 800
    # 4. the table and who lies beyond MLE's curve
    .venv/bin/python benchmarks/seqgan_curve.py table runs/full/mle runs/full/gumbel ...

Each run folder gets curve.json: {temperature: {nll_oracle, nll_test}}; temperatures
already measured are skipped, so every stage can be cut and rerun.

Data without an oracle (the `words` preset: English words) have no NLL_oracle; quality is
then the share of samples that are real words (`real_share`, higher = better; the share
real *and* unseen in training and self-BLEU-4 are printed beside it), against the same
NLL_test.  The same commands with `gankit train words ...` as step 1.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from gankit import config as C
from gankit.runfolder import RunFolder
from gankit.train.run import Run
import _cli   # benchmarks/_cli.py: this folder is on sys.path

TEMPS = [0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25]
RECIPES = {
    "rollout": ["objective.estimator='rollout'"],
    # SeqGAN as published (Yu et al.'s code): 16 rollouts of D's probability as the reward, no baseline,
    # G's Adam at 0.01 (its pretraining rate) with the gradient's norm clipped at 5
    "seqgan": ["objective.estimator='rollout'", "objective.rollouts=16", "objective.baseline_decay=0",
               "objective.g_lr=0.01", "optim_g.grad_clip=5"],
    "dense": ["objective.estimator='dense'", "discriminator.name='lstm_step'"],
    # MaliGAN (Che et al. 2017): D/(1-D) normalised over the batch as the sequence's weight
    "maligan": ["objective.estimator='maligan'"],
    "gumbel": ["objective.estimator='gumbel'"],
    # RelGAN (Nie et al. 2019) on whatever G the MLE run has (generator.cell='rmc' for theirs):
    # Gumbel-softmax with the inverse temperature raised to --beta-max (100) over the game, the relativistic
    # loss, gradients clipped at 5, Adam 1e-4 for both, 5 D steps a G step
    "relgan": ["objective.estimator='gumbel'", "loss.name='rsgan'", "optim_g.grad_clip=5",
               "optim_d.grad_clip=5", "objective.g_lr=1e-4", "optim_d.lr=1e-4",
               "optim_d.betas=[0.9, 0.999]", "objective.tau=1",
               "train.d_steps=5"],
}
# RelGAN as its code has it: D reads the relaxed softmax rows (not straight-through one-hots), also in its own steps
RECIPES["relgan-soft"] = RECIPES["relgan"] + ["objective.gumbel_hard=false"]
# and D with multiple representations (RelGAN: 64 slices of one number; 8 slices of 8 here: on one CPU
# thread a pass of D with 64 costs 9x one with a single representation, with 8 1.7x)
RECIPES["relgan-rep"] = RECIPES["relgan-soft"] + ["discriminator.reps=8"]
EVAL = ["eval.n_samples={n}", "train.progress=false", "train.sample_every=1000000"]


def sweep(folder: Path, temps, n: int):
    path = folder / "curve.json"
    curve = json.loads(path.read_text()) if path.exists() else {}
    saved = RunFolder(folder).checkpoints() if folder.is_dir() else []
    if not saved:
        _cli.fail(f"{folder}: no checkpoints to sweep; give a trained run folder")
    step = max(s for s, _ in saved)
    # the latest G only, measured on as many samples as asked (one curve, one noise level)
    curve = {t: v for t, v in curve.items() if v.get("step") == step and v.get("n", n) == n}
    todo = [t for t in temps if f"{t:g}" not in curve]
    if not todo:
        return curve
    run = Run.open(folder, [s.format(n=n) for s in EVAL], write=False)
    metrics = (["nll_oracle", "nll_test"] if hasattr(run.dataset, "oracle_nll")
               else ["novelty", "self_bleu", "nll_test"])
    try:
        for t in todo:
            run.G.temperature = t
            r = run.evaluate(metrics)
            curve[f"{t:g}"] = {k: round(v, 4) for k, v in r.items()} | {"step": run.step, "n": n}
            print(folder.name, f"T={t:g}", curve[f"{t:g}"], flush=True)
            path.write_text(json.dumps(curve, indent=1, sort_keys=True))
    finally:
        run.close()
    return curve


def adversarial(a):
    out = Path(a.out)
    P = RunFolder(a.mle).load_checkpoint()[0]["step"]
    total = P + a.d_steps + a.adv
    if RunFolder(out).checkpoints():          # resume where the last checkpoint left it
        run = Run.open(out, [f"train.steps={total}"], write=True)
        print(f"{out}: resuming at step {run.step} of {total}", flush=True)
    else:
        shutil.rmtree(out, ignore_errors=True)   # cut before its first checkpoint: start again
        state, _ = RunFolder(a.mle).load_checkpoint()
        mle_cfg = C.to_dict(C.load(RunFolder(a.mle).read_config()))
        sets = [f"train.steps={total}", f"objective.pretrain_steps={P}",
                f"objective.d_pretrain_steps={a.d_steps}", "train.progress=false",
                f"train.checkpoint_every={a.checkpoint_every}", "train.log_every=25",
                "train.sample_every=1000000"] + RECIPES[a.recipe]
        if a.recipe.startswith("relgan"):     # RelGAN's exponential schedule: tau = beta_max^(-i / adv)
            sets += [f"objective.tau_min={1 / a.beta_max:.6g}",
                     f"objective.tau_decay={math.log(a.beta_max) / a.adv:.6g}"]
        sets += a.set
        cfg = C.load(mle_cfg, sets)
        run = Run.create(cfg, out)
        run.G.load_state_dict(state["models"]["G"])
        run.optimizers["g"].load_state_dict(state["optimizers"]["g"])
        run.step = P
        run.save_checkpoint()                    # resumable from the start
    t = time.process_time()
    try:
        run.train()
    finally:
        run.close()
    cpu = time.process_time() - t
    log = out / "cpu_s.txt"
    prev = float(log.read_text()) if log.exists() else 0.0
    log.write_text(f"{prev + cpu:.1f}")


def mle_frontier(curve: dict, quality: str, lower_is_better: bool):
    """The best quality MLE reaches at an NLL_test no worse than x, over its temperature curve
    (piecewise linear in temperature order; NLL_test need not be monotone in T: past its
    minimum, heating G makes both worse).  None where MLE never reaches NLL_test <= x, and
    past the coldest temperature's NLL_test: a colder MLE, not measured, would do better."""
    pts = [(v["nll_test"], v[quality]) for _, v in sorted(curve.items(), key=lambda kv: float(kv[0]))]
    pick = min if lower_is_better else max
    coldest = pts[0][0]      # a hot G's NLL_test may exceed it too: the bound is the cold end's

    def best(x: float):
        if x > coldest:
            return None
        cands = [y for xa, y in pts if xa <= x]
        for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
            if (x0 - x) * (x1 - x) < 0:            # the segment crosses NLL_test = x
                cands.append(y0 + (y1 - y0) * (x - x0) / (x1 - x0))
        return pick(cands) if cands else None
    return best


def table(folders, n: int):
    missing = [str(f) for f in folders if not (Path(f) / "curve.json").is_file()]
    if missing:
        _cli.fail(f"no curve.json in {', '.join(missing)}; run `seqgan_curve.py sweep` on those folders first")
    if len(set(map(os.path.normpath, folders))) < len(folders):
        _cli.fail("a run folder is named twice; give each once")
    # keyed by the folder as given: seeds in runs/s0/relgan and runs/s1/relgan are two rows
    curves = {f: json.loads((Path(f) / "curve.json").read_text()) for f in folders}
    first = folders[0]
    mle = curves[first]
    n_mle = min((v.get("n", n) for v in mle.values()), default=n)
    oracle = "nll_oracle" in next(iter(mle.values()))
    q, better = ("nll_oracle", "lower") if oracle else ("real_share", "higher")
    extra = [] if oracle else ["unseen_real_share", "self_bleu4"]
    f = mle_frontier(mle, q, oracle)
    print(f"| run | T | {q} | NLL_test | {' | '.join(extra) + ' | ' if extra else ''}"
          f"MLE's best {q} at NLL_test <= this | beyond MLE's curve ({better} {q}) |")
    print("|---" * (6 + len(extra)) + "|")
    for name, curve in curves.items():
        for t, v in sorted(curve.items(), key=lambda kv: float(kv[0])):
            ref = f(v["nll_test"])
            beyond = ""
            if name != first:
                if ref is None:
                    beyond = "outside MLE's measured range"
                elif (v[q] < ref) if oracle else (v[q] > ref):
                    beyond = f"yes, by {abs(v[q] - ref):.3f}"
                    if not oracle:     # shares of the points' own sample counts: binomial noise of the difference
                        se = (ref * (1 - ref) * (1 / v.get("n", n) + 1 / n_mle)) ** 0.5
                        beyond += " (within 2 s.e.)" if abs(v[q] - ref) < 2 * se else f" (2 s.e. = {2 * se:.3f})"
                else:
                    beyond = "no"
            cols = "".join(f"{v[k]:.3f} | " for k in extra)
            print(f"| {name} | {t} | {v[q]:.3f} | {v['nll_test']:.3f} | {cols}"
                  f"{'' if ref is None else f'{ref:.3f}'} | {beyond} |")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sweep", help="NLL_oracle and NLL_test over sampling temperatures")
    s.add_argument("runs", nargs="+")
    s.add_argument("--temps", type=float, nargs="+", default=TEMPS)
    s.add_argument("--eval-samples", type=int, default=5000)
    d = sub.add_parser("adv", help="an adversarial recipe from a pretrained MLE run, then its sweep")
    d.add_argument("--mle", required=True)
    d.add_argument("--out", required=True)
    d.add_argument("--recipe", choices=sorted(RECIPES), required=True)
    d.add_argument("--d-steps", type=int, default=1000, help="D-only steps before the game")
    d.add_argument("--adv", type=int, required=True, help="adversarial G steps")
    d.add_argument("--checkpoint-every", type=int, default=100)
    d.add_argument("--beta-max", type=float, default=100.0,
                   help="relgan: the inverse temperature reached at the end of the game")
    d.add_argument("--set", action="append", default=[], help="config override (repeatable)")
    d.add_argument("--temps", type=float, nargs="+", default=TEMPS)
    d.add_argument("--eval-samples", type=int, default=5000)
    t = sub.add_parser("table", help="markdown table; the first run is MLE's curve")
    t.add_argument("runs", nargs="+")
    t.add_argument("--eval-samples", type=int, default=2000,
                   help="samples per point where curve.json does not record them (sweeps before 2026-12-05)")
    a = p.parse_args(argv)
    if a.cmd == "adv" and a.beta_max <= 1:
        p.error(f"--beta-max must exceed 1 (the inverse temperature rises from 1 to it), got {a.beta_max:g}")
    if a.cmd == "adv" and not a.recipe.startswith("relgan") and a.beta_max != 100:
        p.error(f"--beta-max is the relgan recipe's schedule; recipe {a.recipe} anneals by "
                "--set objective.tau_decay=R --set objective.tau_min=T")
    torch.set_num_threads(1)
    if a.cmd == "sweep":
        for r in a.runs:
            sweep(Path(r), a.temps, a.eval_samples)
    elif a.cmd == "adv":
        adversarial(a)
        sweep(Path(a.out), a.temps, a.eval_samples)
    else:
        table(a.runs, a.eval_samples)


if __name__ == "__main__":
    _cli.run_main(main)
