"""A run: a config bound to a run folder, with the objective's declared parts built,
wrapped and checkpointed.

    cfg -> dataset, loss -> objective declares modules + optimizer specs
        -> Run moves and wraps the modules, builds the optimizers
        -> objective.setup(optimizers) makes the phases -> the loop -> the run folder

The run folder itself is read and written only through gankit.runfolder.RunFolder.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import torch

from gankit import config as C
from gankit import seeds
from gankit.config import RunConfig
from gankit.data import build_dataset
from gankit.ops import sample_noise
from gankit.registry import OBJECTIVES
from gankit.runfolder import RunFolder, RunFolderError
from gankit.train.build import build_loss, build_net, build_nets, build_optimizer
from gankit.train.callbacks import Checkpointer, MetricsLogger, PeriodicEval, Progress, Snapshots, finite_params
from gankit.train.loop import Trainer
from gankit.train.objective import Batch, ObjectiveContext, optimizer_params
from gankit.train.precision import autocast_for


class RunError(RunFolderError):
    pass


def resolve_device(name: str) -> torch.device:
    """The torch device of `train.device`; "auto" is the first GPU when there is one."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise C.ConfigError(f"train.device: {name!r} is not a torch device; use cpu, cuda, cuda:1 "
                            "or auto") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise C.ConfigError("train.device: CUDA is not available on this machine; "
                            "use --set train.device=cpu (or auto)")
    return device


class Run:
    def __init__(self, cfg: RunConfig, run_dir: str | Path, device: str | None = None):
        self.cfg = cfg
        self.folder = RunFolder(run_dir)
        self.device = resolve_device(device or cfg.train.device)
        self.dataset = build_dataset(cfg)
        self.conditional = cfg.condition.kind != "none"
        self.loss = build_loss(cfg)
        s = cfg.seed
        self.data_gen = seeds.generator(s, "data")
        self.noise_gen = seeds.generator(s, "noise", self.device)
        self.cond_gen = seeds.generator(s, "cond")        # mismatched conditions
        ctx = ObjectiveContext(
            cfg=cfg, dataset=self.dataset, loss=self.loss, device=self.device,
            build_nets=lambda data=None: build_nets(cfg, data or self.dataset),
            build_discriminator=lambda data=None: build_nets(cfg, data or self.dataset, only="D"),
            build_net=lambda registry, component, **kw: build_net(registry, component, data=self.dataset, **kw),
            sample_batch=self.sample_batch, sample_z=self.sample_z, cond_gen=self.cond_gen,
            log=self.log)
        with torch.random.fork_rng(devices=[]):   # init from the seed; the caller's RNG untouched
            torch.manual_seed(cfg.seed)
            self.objective = OBJECTIVES.build(cfg.objective.name, cfg.objective.params,
                                              where="objective", ctx=ctx)
            self.modules = dict(self.objective.modules)
            for m in self.modules.values():
                m.to(self.device)
            self.autocast = autocast_for(cfg.train.precision, self.device, list(self.modules.values()),
                                         self.objective.supports_bf16, cfg.objective.name)
            self.optimizers = {name: build_optimizer(optimizer_params(spec, self.modules), spec.config)
                               for name, spec in self.objective.optimizers.items()}
            self.objective.setup(self.optimizers)
            self.torch_rng = torch.get_rng_state()
        self.step = 0

    # ---------------------------------------------------------------- conveniences
    @property
    def dir(self) -> Path:
        return self.folder.path

    @property
    def G(self):
        return self.modules.get("G")

    @property
    def D(self):
        return self.modules.get("D")

    # ---------------------------------------------------------------- sampling
    def sample_batch(self, n: int) -> Batch:
        """n training samples on the device (with their conditions and classes when conditional)."""
        if self.conditional:
            x, c, y = self.dataset.sample_conditional(n, self.data_gen)
            return Batch(x.to(self.device, non_blocking=True), c.to(self.device), y.to(self.device))
        return Batch(self.dataset.sample(n, self.data_gen).to(self.device, non_blocking=True))

    def sample_z(self, n: int) -> torch.Tensor:
        return sample_noise(n, self.cfg.noise.dim, self.cfg.noise.dist, self.noise_gen, self.device)

    def conditions(self, n: int, seed: int | None = None, y: torch.Tensor | None = None,
                   c: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Conditions to generate with: given ones, ones for classes y, or random classes."""
        g = torch.Generator().manual_seed(seeds.stream_seed(self.cfg.seed, "fixed") if seed is None else seed)
        if c is None and y is None:   # fixed noise: every class in turn (even rows in reports)
            y = (torch.arange(n) % self.dataset.n_classes if seed is None
                 else self.dataset.random_classes(n, g))
        if c is None:
            c = self.dataset.conditions_for(y, g)
        return c, y

    @torch.no_grad()
    def generate_from(self, z: torch.Tensor, c: torch.Tensor | None = None, batch: int = 10000) -> torch.Tensor:
        """G(z) (or G(z, c)) in eval mode, in chunks, on the CPU."""
        G = self.modules[self.objective.sample_module]
        was = G.training
        G.eval()
        out = torch.cat([self.objective.generate(z[i:i + batch], None if c is None else c[i:i + batch])
                         for i in range(0, len(z), batch)]).cpu()
        G.train(was)
        return out

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None, batch: int = 10000, y: torch.Tensor | None = None,
               c: torch.Tensor | None = None, rejection: bool = True):
        """(samples, classes): n samples from G, fixed noise unless a seed is given.

        Conditional runs generate for conditions ``c``, or classes ``y``, or classes in turn
        (fixed noise) / random classes (a seed); unconditional runs return classes None.
        A fitted rejection sampler filters G's proposals unless ``rejection`` is False.
        """
        if n < 1:
            raise C.ConfigError(f"asked for {n} samples; ask for at least 1")
        seed_ = seeds.stream_seed(self.cfg.seed, "fixed") if seed is None else seed
        g = torch.Generator(self.device).manual_seed(seed_)
        noise = lambda k: sample_noise(k, self.cfg.noise.dim, self.cfg.noise.dist, g, self.device)  # noqa: E731
        sampler = self.objective.rejection_sampler() if rejection else None
        if sampler is not None:   # DRS: proposals from G, kept by D's density ratio
            u_gen = torch.Generator().manual_seed(g.initial_seed() + 1)
            G = self.modules[self.objective.sample_module]
            was = G.training
            G.eval()
            out = sampler.sample(n, lambda k: self.objective.generate(noise(k)), u_gen, batch)
            G.train(was)
            return out, None
        z = noise(n)
        if self.conditional:
            c, y = self.conditions(n, seed, y, c)
            return self.generate_from(z, c.to(self.device), batch), y
        return self.generate_from(z, None, batch), None

    def generate(self, n: int, seed: int | None = None, batch: int = 10000, y: torch.Tensor | None = None,
                 c: torch.Tensor | None = None, rejection: bool = True) -> torch.Tensor:
        """n samples from G (see ``sample``)."""
        return self.sample(n, seed, batch, y, c, rejection)[0]

    @torch.no_grad()
    def d_prob(self, x: torch.Tensor) -> torch.Tensor | None:
        """D(x) as a probability (sigmoid of the logit; the raw critic for WGAN-type losses);
        None for an objective without a D."""
        modes = {k: m.training for k, m in self.modules.items()}
        for m in self.modules.values():
            m.eval()
        chunks = [self.objective.d_score(x[i:i + 20000].to(self.device)) for i in range(0, len(x), 20000)]
        for k, m in self.modules.items():
            m.train(modes[k])
        if any(c is None for c in chunks):
            return None
        logits = torch.cat(chunks).cpu()
        return torch.sigmoid(logits) if self.loss.probabilistic else logits

    # ---------------------------------------------------------------- folder
    def log(self, record: dict):
        self.folder.append(record)

    def save_snapshot(self, step: int):
        from gankit.train.snapshot import snapshot_arrays
        self.folder.save_snapshot(step, snapshot_arrays(self))

    def state_dict(self) -> dict:
        return {
            "step": self.step,
            "config": C.to_dict(self.cfg),
            "models": {k: m.state_dict() for k, m in self.modules.items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "objective": self.objective.state_dict(),
            "rng": {"torch": self.torch_rng, "data": self.data_gen.get_state(),
                    "noise": self.noise_gen.get_state(), "noise_device": self.device.type,
                    "cond": self.cond_gen.get_state()},
        }

    def load_state_dict(self, state: dict):
        missing = [k for k in self.modules if k not in state["models"]]
        missing += [k for k in self.optimizers if k not in state["optimizers"]]
        if missing:
            raise RunError(f"the checkpoint lacks {missing}: it was written by another objective "
                           f"than {self.cfg.objective.name!r}")
        for k, m in self.modules.items():
            m.load_state_dict(state["models"][k])
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        self.objective.load_state_dict(state.get("objective", {}))
        self.torch_rng = state["rng"]["torch"]
        self.data_gen.set_state(state["rng"]["data"])
        if state["rng"].get("noise_device", "cpu") == self.device.type:
            self.noise_gen.set_state(state["rng"]["noise"])
        # else: a run moved between CPU and GPU (their generators differ): training noise starts afresh
        if "cond" in state["rng"]:
            self.cond_gen.set_state(state["rng"]["cond"])
        self.step = int(state["step"])

    def save_checkpoint(self):
        if not finite_params(self.modules.values()):
            raise RunError(f"weights became non-finite by step {self.step}; not overwriting the last "
                           "good checkpoint. Lower the learning rates or add a penalty.")
        self.torch_rng = torch.get_rng_state()
        self.folder.save_checkpoint(self.state_dict(), self.step, self.cfg.train.keep_checkpoints)

    # ---------------------------------------------------------------- life cycle
    @classmethod
    def create(cls, cfg: RunConfig, run_dir: str | Path) -> "Run":
        folder = RunFolder(run_dir)
        if folder.checkpoints():
            raise RunError(f"{run_dir} already holds a trained run; continue it with --resume "
                           "or choose another --out folder")
        run = cls(cfg, run_dir)
        folder.path.mkdir(parents=True, exist_ok=True)
        folder.clear_records()
        folder.write_config(C.dumps_toml(cfg))
        return run

    @classmethod
    def open(cls, run_dir: str | Path, overrides: list[str] | None = None,
             load: bool = True) -> "Run":
        """Reopen a run folder from its config.toml (+ overrides) and latest checkpoint."""
        folder = RunFolder(run_dir)
        cfg = C.load(folder.read_config(), overrides or [])
        device = None
        if cfg.train.device.startswith("cuda") and not torch.cuda.is_available():
            # a run trained on a GPU, opened on a machine without one: evaluate and sample on the CPU
            warnings.warn(f"{run_dir} was trained on {cfg.train.device}; CUDA is not available here, "
                          "so it is opened on the CPU", stacklevel=2)
            device = "cpu"
        run = cls(cfg, run_dir, device=device)
        if load:
            state, _ = folder.load_checkpoint()   # on the CPU; load_state_dict moves
            run.load_state_dict(state)
        if overrides:
            folder.write_config(C.dumps_toml(cfg))
        return run

    def train(self, progress: bool | None = None) -> "Run":
        cfg = self.cfg.train
        if self.step > 0:
            self.folder.truncate_records(self.step)
        show = cfg.progress if progress is None else progress

        class _Sync:  # keeps run.step in step with the loop, before any callback reads it
            def on_step_end(_, t):
                self.step = t.step
        # objective callbacks (e.g. DRS fitted at the last step) run before the snapshot,
        # evaluation and checkpoint of the same step
        callbacks = [_Sync(), MetricsLogger(self), Progress(cfg.steps, show), *self.objective.callbacks,
                     Snapshots(self, cfg.sample_every, cfg.steps), PeriodicEval(self, cfg.eval_every),
                     Checkpointer(self, cfg.checkpoint_every, cfg.steps)]
        trainer = Trainer(self.objective.phases, callbacks, cfg.log_every, self.autocast)
        trainer.step = self.step
        with torch.random.fork_rng(devices=[]):   # dropout etc. draw from the run's own stream
            torch.set_rng_state(self.torch_rng)
            trainer.fit(cfg.steps)
            self.torch_rng = torch.get_rng_state()
        return self

    def eval_context(self, rejection: bool = True):
        from gankit.metrics.context import EvalContext
        G = self.modules.get(self.objective.sample_module)
        from gankit.train.inversion import run_inverter
        likelihood = G if hasattr(G, "token_logp") else None   # sequence models: NLL of data under G
        return EvalContext(dataset=self.dataset, settings=self.cfg.eval, seed=self.cfg.seed,
                           device=self.device, step=self.step,
                           sample=lambda n, seed=None, y=None, c=None: self.sample(
                               n, seed, y=y, c=c, rejection=rejection),
                           likelihood=likelihood, classify=self.classifier(), invert=run_inverter(self))

    def classifier(self):
        """(x) -> the objective's class logits in eval mode, by chunks, on the CPU; None when
        the objective has no classifier."""
        from gankit.train.objective import Objective
        if type(self.objective).classify is Objective.classify:
            return None

        @torch.no_grad()
        def classify(x: torch.Tensor) -> torch.Tensor:
            modes = {k: m.training for k, m in self.modules.items()}
            for m in self.modules.values():
                m.eval()
            out = torch.cat([self.objective.classify(x[i:i + 2000].to(self.device)).float().cpu()
                             for i in range(0, len(x), 2000)])
            for k, m in self.modules.items():
                m.train(modes[k])
            return out
        return classify

    def evaluate(self, names: list[str] | None = None, rejection: bool = True) -> dict:
        """Every metric that applies (or the ones named); ``rejection=False`` measures G
        itself when a rejection sampler is fitted."""
        from gankit.metrics import evaluate
        return evaluate(self.eval_context(rejection), names)
