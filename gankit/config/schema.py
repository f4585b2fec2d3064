"""The run configuration's sections, each field with a one-line description, and the keys an
unknown key may have meant."""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import difflib
import typing
from dataclasses import dataclass

from gankit.config.core import Component, ConfigError, opt


# the most CPU threads train.threads / eval.threads may ask for: above the cores of the largest
# machines (a few hundred), and fixed rather than this machine's count, so a config.toml stays valid
# where the run resumes or is evaluated; 1,024 threads start fine (measured), while tens of
# thousands make the OpenMP runtime fail (30,000: "Thread creation failed") or crash (100,000)
MAX_THREADS = 1024


@dataclass
class NoiseConfig:
    dist: str = opt("normal", "prior p_z of G's input noise", choices=["normal", "uniform"])
    dim: int = opt(2, "dimension of z", ge=1)


@dataclass
class OptimConfig:
    name: str = opt("adam", "optimizer", choices=["adam", "sgd", "rmsprop"])
    lr: float = opt(1e-3, "learning rate", gt=0.0)
    betas: list[float] = opt([0.5, 0.999], "Adam's (beta1, beta2)")
    momentum: float = opt(0.0, "momentum for sgd and rmsprop", ge=0.0, le=1.0)
    weight_decay: float = opt(0.0, "L2 weight decay", ge=0.0)
    grad_clip: float = opt(0.0, "clip the gradient's global norm to this before each step (0 = off; "
                                "RelGAN: 5)", ge=0.0)

    def check(self, where):
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ConfigError(f"{where}.betas: need two numbers in [0, 1), got {self.betas}")


@dataclass
class TrainConfig:
    steps: int = opt(5000, "G steps (iterations of Algorithm 1) to train for", ge=1)
    batch_size: int = opt(256, "minibatch size m (real and fake alike); with several processes the "
                               "global batch, split evenly over them (must divide)", ge=1)
    d_steps: int = opt(1, "k: D steps per G step (the paper used k = 1)", ge=1)
    log_every: int = opt(50, "write losses and D outputs to metrics.jsonl every this many steps", ge=1)
    sample_every: int = opt(500, "save fixed-noise samples (and D on a grid) every this many steps", ge=1)
    checkpoint_every: int = opt(1000, "write a checkpoint every this many steps", ge=1)
    keep_checkpoints: int = opt(2, "how many recent checkpoints to keep on disk", ge=1)
    eval_every: int = opt(0, "compute eval metrics every this many steps (0: only at the end)", ge=0)
    n_fixed: int = opt(2500, "how many fixed-noise samples to save at each snapshot", ge=1)
    device: str = opt("cpu", "torch device: cpu, cuda, cuda:1, ... or auto (cuda when there is one)")
    precision: str = opt("fp32", "arithmetic of the training step: fp32, or bf16 (autocast: convolutions "
                                 "and matmuls in bfloat16, weights and losses in float32; 1.5-2x "
                                 "faster DCGAN steps on CPUs with AMX/AVX512-BF16, docs/core.md)",
                         choices=["fp32", "bf16"])
    compile: bool = opt(False, "torch.compile each declared net (nn.Module.compile) before training: "
                               "a one-off compile per process and batch shape; not with R1/GP (no "
                               "double backward); measured in docs/speed.md, off by default")
    progress: bool = opt(True, "show progress with rate and ETA: a bar on a terminal, else a plain line every 30 s")
    threads: int = opt(0, "CPU threads per process for training (0 = auto: OMP_NUM_THREADS if set, "
                          "else following the machine's load (1-2) for nets whose results do not "
                          "depend on the count, else 1 for point/text data, else cores / processes "
                          "on this machine; docs/scaling.md)", ge=0, le=MAX_THREADS)
    parallel_draws: str = opt("per_rank", "with several processes: per_rank (each draws its share of "
                                          "the batch from streams of (seed, rank)) or global (each "
                                          "draws the whole global batch from the run's streams and "
                                          "keeps its share: one process's examples, world-size times "
                                          "the sampling work)", choices=["per_rank", "global"])
    lr_schedule: str = opt("constant", "learning-rate schedule of every optimizer (a factor of the "
                           "step): constant, linear or cosine decay to train.lr_final",
                           choices=["constant", "linear", "cosine"])
    lr_warmup: float = opt(0.0, "fraction of the steps over which the rates rise linearly from "
                                "0 to optim_*.lr (any schedule)", ge=0.0, le=1.0)
    lr_decay_start: float = opt(0.0, "fraction of the steps after which linear/cosine decay starts",
                                ge=0.0, le=1.0)
    lr_final: float = opt(0.0, "the rates reached at the end of training, as a fraction of optim_*.lr "
                               "(linear, cosine); the last step's rates are one step of the decay above it",
                          ge=0.0, le=1.0)
    lr_on_resume: str = opt("continue", "a --resume that changes train.steps: continue the schedule "
                            "planned for the old steps (past its end the rates stay at their final "
                            "value), or restart it over the steps from the resume point",
                            choices=["continue", "restart"])
    tensorboard: bool = opt(False, "also write TensorBoard events to RUN_DIR/tensorboard: scalars, "
                                   "eval metrics, sample images, the config (pip install "
                                   "'gankit[tensorboard]')")
    live_report: bool = opt(True, "rebuild report.html at snapshots while training (at most ~10% of "
                                  "the session's wall-clock time); the page reloads itself until the run ends")


@dataclass
class EvalConfig:
    n_samples: int = opt(2500, "samples drawn from G for the metrics (PacGAN protocol: 2,500)", ge=1)
    metrics: list[str] = opt([], "metrics computed every train.eval_every steps (empty: all that "
                             "apply; gankit list shows the metrics)")
    hq_std: float | None = opt(None, "a sample is high quality within this many std of its nearest mode; "
                               "unset: the radius that holds the same share of true data as 3 std in "
                               "2-D (98.9%, a chi quantile with dim degrees of freedom), and 3 in 1-D; "
                               "--set eval.hq_std= (empty) unsets it", gt=0.0)
    jsd_bins: int = opt(200, "grid cells per axis for the JSD estimate (1-D and 2-D data)", ge=10)
    jsd_cells: str = opt("exact", "p_data's mass per JSD cell: exact (normal CDFs, Gaussian mixtures) or "
                         "centre (density at the cell centre x volume: the protocol before 2026-11-28)",
                         choices=["exact", "centre"])
    pr_k: int = opt(3, "k of the k-NN balls of precision/recall (Kynkaanniemi et al. 2019: 3)", ge=1)
    dc_k: int = opt(5, "k of density/coverage (Naeem et al. 2020: 5)", ge=1)
    parzen_centres: int = opt(10000, "samples from G as Parzen centres (Goodfellow's parzen_ll.py: 10,000)",
                              ge=10)
    jsd_samples: int = opt(50000, "samples from G for the JSD estimate", ge=100)
    features: str = opt("classifier", "image features for fid/kid/is/prdc: gankit's shipped classifier "
                        "for the data (else Inception when its weights are given, else the random "
                        "conv net), Inception-v3 from eval.inception_weights, or the fixed-seed random "
                        "conv net (any images, no download)", choices=["classifier", "inception", "random"])
    inception_weights: str = opt("", "path of inception-2015-12-05.pt (TorchScript) for "
                                 "eval.features=inception (or env GANKIT_INCEPTION)")
    threads: int = opt(0, "CPU threads for evaluation (0 = auto, as train.threads)", ge=0, le=MAX_THREADS)

    def check(self, where):
        twice = sorted({m for m in self.metrics if self.metrics.count(m) > 1})
        if twice:     # found now: the final evaluation would refuse two metrics writing one key
            once = ", ".join(f'"{m}"' for m in dict.fromkeys(self.metrics))
            raise ConfigError(f"{where}.metrics: {', '.join(map(repr, twice))} listed more than once; "
                              f"list each metric once: {where}.metrics = [{once}]")
        if self.metrics:
            from gankit.registry import METRICS
            if not _READING.get():    # a run made, resumed or evaluated with this list: refused now
                METRICS.refuse_unknown(self.metrics, f"{where}.metrics")
                return
            # a run only read (report, sample, eval --metrics X): its user's metric, not registered in
            # this process, is no reason to refuse the rest; kept in the list, so an evaluation that
            # does use it still refuses it by name
            gone = [m for m in self.metrics if m not in METRICS.names()]
            if gone:    # said once: the same words from the same line (Python's default warning filter)
                import warnings
                warnings.warn(f"{where}.metrics: {', '.join(map(repr, gone))} not registered here (the module of "
                              "yours that registers it is missing, untrusted or was never imported), so left out "
                              "of this command; to bring it back: gankit --import FILE.py COMMAND ...", stacklevel=2)


# whether this command only reads run folders (reading_runs)
_READING: contextvars.ContextVar[bool] = contextvars.ContextVar("gankit_reading_runs", default=False)


def reading() -> bool:
    """Whether this command (or API call) only reads run folders (``reading_runs``)."""
    return _READING.get()


@contextlib.contextmanager
def reading_runs():
    """Within it, a config's eval.metrics naming a metric not registered here is said once and
    left out, not refused: for commands that only read run folders (report, sample, eval of
    other metrics), where a user's metric code missing here should not block the rest."""
    token = _READING.set(True)
    try:
        yield
    finally:
        _READING.reset(token)


@dataclass
class ConditionConfig:
    kind: str = opt("none", "condition G and D on: nothing, class labels, or captions (short texts)",
                    choices=["none", "label", "text"])
    embed_dim: int = opt(32, "size of the condition embedding e(c)", ge=1)
    g_mode: str = opt("concat", "G conditioning: concat [z, e(c)], or cbn (conditional batch norm)",
                      choices=["concat", "cbn"])
    d_mode: str = opt("projection", "D conditioning: concat on D's features, projection, acgan "
                      "(auxiliary classifier), or none (D ignores c: an ablation)",
                      choices=["concat", "projection", "acgan", "none"])
    mismatch_weight: float = opt(1.0, "weight of the matching-aware term: real x with a wrong "
                                      "condition scored as fake (0: off; concat/projection D only)", ge=0)
    attribute_mismatch: float = opt(0.0, "captions: share of the mismatched pairs that keep the "
                                    "class and flip one or more attribute words (else another class)",
                                    ge=0, le=1)
    aux_weight: float = opt(1.0, "weight of AC-GAN's class loss (d_mode = acgan)", ge=0)
    text_encoder: str = opt("bag", "caption encoder: mean of word embeddings (bag) or a GRU",
                            choices=["bag", "gru"])
    max_words: int = opt(8, "captions are cut or padded to this many words", ge=1)


@dataclass
class RunConfig:
    seed: int = opt(0, "seed of every random number in the run", ge=0, le=2**63 - 1)
    imports: list[str] = opt([], "Python modules to import before the config is checked: they "
                                 "register your own datasets, nets, losses, metrics or objectives "
                                 "(importable from the working directory or PYTHONPATH)")
    data: Component = opt(Component("ring"), "training data (gankit list: datasets)", registry="datasets")
    generator: Component = opt(Component("mlp"), "G's network (gankit list: generators)", registry="generators")
    discriminator: Component = opt(Component("mlp"), "D's network (gankit list: discriminators)",
                                   registry="discriminators")
    noise: NoiseConfig = opt(NoiseConfig(), "G's input noise")
    condition: ConditionConfig = opt(ConditionConfig(), "conditional GAN: what G and D see besides z and x")
    objective: Component = opt(Component("gan"), "what the phases optimise (gankit list: objectives)",
                               registry="objectives")
    loss: Component = opt(Component("nonsaturating"), "adversarial loss pair (gankit list: losses)",
                          registry="losses")
    optim_d: OptimConfig = opt(OptimConfig(), "D's optimizer")
    optim_g: OptimConfig = opt(OptimConfig(), "G's optimizer")
    train: TrainConfig = opt(TrainConfig(), "training loop")
    eval: EvalConfig = opt(EvalConfig(), "evaluation")


# Names other GAN code uses for these options (argparse flags of the papers' code, common
# trainers), for the unknown-key message; tests/test_config_user_values.py checks that each
# target is a key here, and the message shows a target only while it is one.
ALIASES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("n_critic", "critic_iters", "n_dis", "d_iters", "d_updates", "k"), ("train.d_steps",)),
    **dict.fromkeys(("epochs", "n_epochs", "n_steps", "num_steps", "max_steps", "total_steps", "iterations",
                     "iters", "n_iter", "n_iters", "niter"), ("train.steps",)),
    **dict.fromkeys(("learning_rate", "lr_both"), ("optim_d.lr", "optim_g.lr")),
    **dict.fromkeys(("lr_d", "d_lr", "lr_disc"), ("optim_d.lr",)),
    **dict.fromkeys(("lr_g", "lr_gen"), ("optim_g.lr",)),
    **dict.fromkeys(("beta1", "beta2", "b1", "b2"), ("optim_d.betas", "optim_g.betas")),
    **dict.fromkeys(("optimizer", "optim", "opt"), ("optim_d", "optim_g")),
    **dict.fromkeys(("bs", "batch"), ("train.batch_size",)),
    **dict.fromkeys(("z_dim", "nz", "latent_dim", "noise_dim", "zdim", "dimension"), ("noise.dim",)),
    **dict.fromkeys(("ema_decay", "ema_beta"), ("objective.ema",)),
    **dict.fromkeys(("log_interval", "log_freq", "print_every", "print_freq"), ("train.log_every",)),
    **dict.fromkeys(("save_every", "save_interval", "ckpt_every", "checkpoint_interval"), ("train.checkpoint_every",)),
    **dict.fromkeys(("sample_interval", "sample_freq"), ("train.sample_every",)),
    **dict.fromkeys(("eval_interval", "eval_freq"), ("train.eval_every",)),
    **dict.fromkeys(("manual_seed", "random_seed"), ("seed",)),
    **dict.fromkeys(("lambda_gp", "gp_weight", "gp_lambda", "lambda"), ("objective.gp",)),
    **dict.fromkeys(("clip_value", "weight_clip", "clamp"), ("objective.clip",)),
    **dict.fromkeys(("smoothing", "label_smooth"), ("loss.label_smoothing",)),
}


def key_index() -> dict[str, dict[str, list[str]]]:
    """Every key of the config by its last name: {name: {dotted key: the components that take
    it ([] for a key of a fixed section or the top level, None for a section)}}, the components
    as registered now."""
    from gankit.config.core import _registry
    index: dict[str, dict[str, list[str]]] = {}
    hints = typing.get_type_hints(RunConfig)
    for f in dataclasses.fields(RunConfig):
        tp = hints[f.name]
        index.setdefault(f.name, {})[f.name] = None if tp is Component or dataclasses.is_dataclass(tp) else []
        if tp is Component:
            for entry in _registry(f.metadata["registry"]).entries():
                for p in dataclasses.fields(entry.params) if entry.params else ():
                    index.setdefault(p.name, {}).setdefault(f"{f.name}.{p.name}", []).append(entry.name)
        elif dataclasses.is_dataclass(tp):
            for p in dataclasses.fields(tp):
                index.setdefault(p.name, {})[f"{f.name}.{p.name}"] = []
    return index


def did_you_mean(key: str, valid: list[str], where: str) -> str:
    """The key meant by an unknown ``where.key``: another component's option of this section,
    the keys another code's name stands for (n_critic), the key in another section (train.seed,
    train.lr), else a close spelling in this section."""
    index = key_index()
    own = f"{where}.{key}" if where else key
    others = index.get(key, {}).get(own)
    if others:
        return f" ({key!r} is an option of {where} {', '.join(others)})"
    meant = [k for k in ALIASES.get(key.lower(), ()) if k in index.get(k.rsplit(".", 1)[-1], {})]
    # a key of another section; a section's name (data.noise) is not meant as a key
    meant = meant or [k for k, owners in index.get(key, {}).items() if k != own and owners is not None]
    if meant:
        mine = [k for k in meant if k.rsplit(".", 1)[0] == where and "." in k]
        fixed = [k for k in meant if not index[k.rsplit(".", 1)[-1]][k]]   # not one component's option
        return f" (did you mean {' or '.join(_where_key(k, where, index) for k in (mine or fixed or meant)[:3])}?)"
    return close_spelling(key, valid)


def close_spelling(key: str, valid: list[str]) -> str:
    """The clause naming the keys of ``valid`` spelled close to ``key``: " (did you mean 'k'?)"; "" for none."""
    # a start of a key (checkpoint -> checkpoint_every), one of its words (smoothing -> label_smoothing),
    # or a key with more letters on the end (packing -> pack); a valid key of 4 letters or more, as
    # a short one (gp, r1) starts too many words
    close = [v for v in valid if len(key) >= 4 and (v.startswith(key) or key in v.split("_"))] or \
        sorted((v for v in valid if len(v) >= 4 and key.startswith(v)), key=len, reverse=True)
    if not close:
        scored = sorted(((difflib.SequenceMatcher(None, key, v).ratio(), v) for v in valid), reverse=True)
        close = [v for r, v in scored if r >= 0.75 and r >= scored[0][0] - 0.02]
    return f" (did you mean {' or '.join(map(repr, close[:2]))}?)" if close else ""


def _where_key(key: str, where: str, index: dict) -> str:
    """``key`` as the unknown-key message names it: bare in its own section, marked at the top
    level, with the components that take it."""
    section, _, name = key.rpartition(".")
    if section == where:
        return repr(name)
    if not section:
        return f"{key!r} (top level)"
    owners = index[name][key]
    shown = ", ".join(owners[:3]) + (", ..." if len(owners) > 3 else "")
    return f"{key!r} ({section} {shown})" if owners else repr(key)
