"""SeqGAN's oracle table: random G, MLE, and the adversarial recipes, by NLL_oracle and CPU time.

    .venv/bin/python benchmarks/seqgan_oracle.py --out runs/bench-seqgan

One MLE pretraining run (P steps) is shared: every other row starts from its G
(weights and Adam state) at step P and runs the same number of further G steps,
so the rows differ only in what those steps optimise:

    MLE (continued)   P + Pd + A steps of maximum likelihood
    SeqGAN rollouts   Pd D-only steps, then A steps of REINFORCE with K rollouts (CNN D)
    ScratchGAN-style  Pd D-only steps, then A steps of dense per-step rewards (LSTM D)
    Gumbel-softmax    Pd D-only steps, then A steps through the relaxation (CNN D)
    REINFORCE (sequence reward)  the CNN D's score of the whole sequence for every token (no rollouts)

Also the same MLE generator sampled at temperature 0.9: NLL_oracle rewards sharper
samples, so a lower temperature alone moves it; nll_test (held-out oracle data under G)
shows what that costs.  CPU time is this process's CPU seconds (torch on one thread).
Published (Yu et al. 2017, 80 MLE epochs, 16 rollouts): random 10.310, MLE 9.038, SeqGAN 8.736.

The word task (``--task words``, preset ``words``) runs the same protocol on English words,
character by character, and reports the share of samples that are real English words held
out of training (unseen_real_share), novelty, distinct samples, self-BLEU and nll_test.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import torch

from gankit import config as C
from gankit.runfolder import RunFolder
from gankit.train.run import Run
import _cli   # benchmarks/_cli.py: this folder is on sys.path

PUBLISHED = {"random": 10.310, "MLE": 9.038, "SeqGAN rollouts": 8.736}


TASKS = {
    "oracle": {"preset": "seqgan-oracle", "metrics": ["nll_oracle", "nll_test"],
               "columns": ["nll_oracle", "nll_test"]},
    "words": {"preset": "words", "metrics": ["novelty", "self_bleu", "nll_test"],
              "columns": ["unseen_real_share", "real_share", "novelty", "unique", "self_bleu4", "nll_test"]},
}
METRICS = TASKS["oracle"]["metrics"]


def evaluate(run, temperature=None):
    if temperature is not None:
        run.G.temperature = temperature
    r = run.evaluate(METRICS)
    return {k: round(v, 4) for k, v in r.items()}


def pretrain_cpu(pre: Path) -> float | None:
    """CPU seconds of the MLE pretraining in ``pre`` from its cpu_s.txt; None (with a warning)
    when it cannot be read, so the rows say their CPU time leaves it out."""
    try:
        return float((pre / "cpu_s.txt").read_text())
    except (OSError, ValueError) as e:
        print(f"warning: no CPU time of the pretraining in {pre / 'cpu_s.txt'} ({type(e).__name__}); "
              "the CPU column leaves the pretraining out", file=sys.stderr)
        return None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="oracle", choices=sorted(TASKS))
    p.add_argument("--out", default="runs/bench-seqgan")
    p.add_argument("--mle-steps", type=int, default=1500, help="P: shared MLE pretraining steps")
    p.add_argument("--d-steps", type=int, default=100, help="Pd: D-only steps before the game")
    p.add_argument("--adv-rollout", type=int, default=50, help="A for SeqGAN rollouts")
    p.add_argument("--adv-dense", type=int, default=300, help="A for ScratchGAN-style")
    p.add_argument("--adv-gumbel", type=int, default=200, help="A for Gumbel-softmax")
    p.add_argument("--rollouts", type=int, default=8, help="K Monte-Carlo rollouts")
    p.add_argument("--eval-samples", type=int, default=5000, help="samples for NLL_oracle")
    p.add_argument("--only", default="", help="comma-separated row names to run (default: all)")
    p.add_argument("--pretrained", default=None, help="reuse this MLE pretraining run folder "
                   "(its CPU time is read from its cpu_s.txt; without one, the CPU column leaves it out) "
                   "instead of training one")
    p.add_argument("--set", action="append", default=[], help="extra config override for the "
                   "adversarial rows, e.g. --set objective.g_lr=0.01 (repeatable)")
    p.add_argument("--json", default=None, help="write the rows here (default OUT/results.json)")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    global METRICS
    task = TASKS[a.task]
    METRICS = task["metrics"]
    preset = task["preset"]
    base = ["train.progress=false", f"eval.n_samples={a.eval_samples}", "train.log_every=50",
            "train.sample_every=100000", "train.checkpoint_every=100000"]
    P = a.mle_steps
    variants = {
        "MLE": ([f"objective.pretrain_steps={P + a.d_steps + a.adv_dense}"], a.d_steps + a.adv_dense),
        "SeqGAN rollouts": (["objective.estimator='rollout'", f"objective.rollouts={a.rollouts}"],
                            a.adv_rollout),
        "ScratchGAN-style": (["objective.estimator='dense'", "discriminator.name='lstm_step'"],
                             a.adv_dense),
        "Gumbel-softmax": (["objective.estimator='gumbel'"], a.adv_gumbel),
        # REINFORCE with the CNN D's sequence score as a terminal reward (gamma = 1): no rollouts
        "REINFORCE (sequence reward)": (["objective.estimator='dense'", "objective.discount=1.0"],
                                       a.adv_dense),
    }
    # checked before any training: the names hold spaces and parentheses, easy to mistype
    only = set(_cli.choose([s.strip() for s in a.only.split(",") if s.strip()], variants, "row (--only)"))
    if a.pretrained and not Path(a.pretrained).is_dir():
        _cli.fail(f"--pretrained {a.pretrained}: no such folder; give an MLE pretraining run folder, "
                  "or leave --pretrained out to train one")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    mle_cpu: float | None = 0.0     # the pretraining's CPU seconds; None: not known

    def row(name, res, cpu, steps):
        r = {"method": name, **res, "cpu_s": round(cpu, 1), "g_steps": steps,
             "published": PUBLISHED.get(name) if a.task == "oracle" else None}
        if mle_cpu is None:
            r["cpu_excludes_pretraining"] = True
        rows.append(r)
        print(json.dumps(r), flush=True)

    # random G and the shared MLE pretraining
    if a.pretrained:
        pre = Path(a.pretrained)
        mle_cpu = pretrain_cpu(pre)
    else:
        pre = out / "mle-pretrain"
        shutil.rmtree(pre, ignore_errors=True)
        cfg = C.load(preset, base + [f"train.steps={P}", f"objective.pretrain_steps={P}"])
        run = Run.create(cfg, pre)
        row("random", evaluate(run), 0.0, 0)
        t = time.process_time()
        run.train()
        mle_cpu = time.process_time() - t
        (pre / "cpu_s.txt").write_text(f"{mle_cpu:.1f}")
        row(f"MLE pretrain ({P} steps)", evaluate(run), mle_cpu, P)
    state, _ = RunFolder(pre).load_checkpoint()
    if state["step"] != P:
        raise SystemExit(f"{pre} was pretrained for {state['step']} steps, not --mle-steps {P}")

    for name, (sets, adv) in variants.items():
        if only and name not in only:
            continue
        total = P + adv if name == "MLE" else P + a.d_steps + adv
        folder = out / name.lower().replace(" ", "-")
        shutil.rmtree(folder, ignore_errors=True)
        cfg = C.load(preset, base + [f"train.steps={total}", f"objective.pretrain_steps={P}",
                                              f"objective.d_pretrain_steps={a.d_steps}"] + sets
                     + (a.set if name != "MLE" else []))
        run = Run.create(cfg, folder)
        run.G.load_state_dict(state["models"]["G"])
        run.optimizers["g"].load_state_dict(state["optimizers"]["g"])
        run.step = P
        t = time.process_time()
        run.train()
        cpu = (mle_cpu or 0.0) + time.process_time() - t
        row(name, evaluate(run), cpu, total - (a.d_steps if name != "MLE" else 0))
        if name == "MLE":
            row("MLE, sampled at temperature 0.9", evaluate(run, 0.9), cpu, total)
    path = Path(a.json) if a.json else out / "results.json"
    path.write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                "command": " ".join(["benchmarks/seqgan_oracle.py"] + (argv or sys.argv[1:])),
                                "rows": rows}, indent=1))
    cols = task["columns"]
    print("\n| method | " + " | ".join(cols) + " | CPU s | published |")
    print("|---" * (len(cols) + 3) + "|")
    for r in rows:
        vals = " | ".join(f"{r[c]:.3f}" if c in r else "" for c in cols)
        print(f"| {r['method']} | {vals} | {r['cpu_s']}{'*' if r.get('cpu_excludes_pretraining') else ''} | "
              f"{r['published'] if r['published'] is not None else ''} |")
    if mle_cpu is None:
        print(f"\n\\* without the MLE pretraining's CPU time ({pre / 'cpu_s.txt'} could not be read)")

if __name__ == "__main__":
    _cli.run_main(main)
