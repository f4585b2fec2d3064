"""Same numbers across a refactor: trains tiny versions of several presets and prints a hash
of G's and D's weights plus their metrics, so two checkouts can be compared line by line.

    python benchmarks/same_numbers.py new > new.txt
    (cd OLD_CHECKOUT && PYTHONPATH=. python /path/to/benchmarks/same_numbers.py old > old.txt)
    diff old.txt new.txt        # equal hashes and metrics: the refactor kept every number

Extra arguments after the label pick cases (default: all).  Used 2026-11-28 to check the
architecture change (issue 13) against e1b1672: all 11 cases equal.
"""
import argparse, hashlib, torch, warnings
try:
    import gankit.components  # noqa: F401  (a checkout from before gankit.builtins)
except ImportError:
    pass
from gankit import config as C
from gankit.train.run import Run
cases = {
 "ring-vanilla": ["train.steps=40"],
 "ring": ["train.steps=40", "objective.drs_steps=5"],
 "ring-cgan": ["train.steps=40"],
 "ring-cgan-r1": ["train.steps=40", "objective.r1=0.1", "objective.gp=1.0", "condition.d_mode=acgan"],
 "wgan-gp": ["train.steps=20"],
 "hinge-sn": ["train.steps=20"],
 "fashion-cgan": ["train.steps=4", "train.batch_size=16", "generator.width=8", "discriminator.width=8", "eval.n_samples=100"],
 "fashion-text": ["train.steps=4", "train.batch_size=16", "generator.width=8", "discriminator.width=8", "eval.n_samples=100"],
 "seqgan-oracle": ["train.steps=6", "objective.pretrain_steps=2", "objective.d_pretrain_steps=1", "train.batch_size=8", "objective.rollouts=2", "eval.n_samples=50"],
 "mnist-dcgan": ["train.steps=4", "train.batch_size=16", "generator.width=8", "discriminator.width=8", "train.precision=bf16", "objective.ema=0.9", "eval.n_samples=100"],
}
import tempfile
ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("label", nargs="?", help="a name for this checkout (not printed; e.g. old, new)")
ap.add_argument("cases", nargs="*", metavar="CASE", help="cases to run (default: all): " + ", ".join(cases))
a = ap.parse_args()
unknown = [c for c in a.cases if c not in cases]
if unknown:
    ap.error(f"unknown case {', '.join(unknown)}; choose from {', '.join(cases)}")
warnings.filterwarnings("ignore")
torch.set_num_threads(1)
for name in a.cases or cases:
    ov = cases[name] + ["train.progress=false", "train.log_every=2", "train.sample_every=1000", "train.checkpoint_every=1000"]
    cfg = C.load(name.replace("-r1", ""), ov)
    d = tempfile.mkdtemp()
    r = Run.create(cfg, d + "/r")
    r.train()
    h = hashlib.sha1()
    for k, v in sorted(r.G.state_dict().items()): h.update(v.float().numpy().tobytes())
    for k, v in sorted(r.D.state_dict().items()): h.update(v.float().numpy().tobytes())
    names = {"ring-vanilla": ["modes"], "ring": ["modes"], "ring-cgan": ["cond_accuracy", "modes"], "ring-cgan-r1": ["cond_accuracy"], "wgan-gp": ["modes"], "hinge-sn": ["modes"],
             "fashion-cgan": ["cond_accuracy"], "fashion-text": ["attribute_accuracy"], "seqgan-oracle": ["nll_oracle", "nll_test"], "mnist-dcgan": ["fid"]}[name]
    ev = r.evaluate(names)
    ev = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in ev.items() if k != "mode_counts"}
    print(name, h.hexdigest()[:12], ev, flush=True)
