"""A run: config + data + nets + loss bound to a run folder.

The run folder is the contract between training, evaluation and reporting:

    config.toml        the resolved config (every option, defaults filled in)
    metrics.jsonl      append-only: {"step", "kind": "train"|"eval", ...}
    checkpoints/       step_<8 digits>.pt (weights, optimizers, step, config, RNG states)
    samples/           step_<8 digits>.npz (fixed-noise samples; D on a grid for 1-D/2-D)
    report.html        built from the folder alone
"""
from __future__ import annotations

import json
import tomllib
import warnings
from pathlib import Path

import numpy as np
import torch

from gankit import config as C
from gankit.nets.noise import sample_noise
from gankit.schema import RunConfig
from gankit.train import checkpoint as ckpt
from gankit.train.build import build_dataset, build_loss, build_nets, build_optimizer
from gankit.train.callbacks import (Checkpointer, MetricsLogger, PeriodicEval, Progress, Snapshots,
                                    append_jsonl, finite_params)
from gankit.components import OBJECTIVES
from gankit.data.conditional import make_conditional
from gankit.train.conditional import attach_terms, wrap_nets
from gankit.train.loop import Trainer
from gankit.train.precision import autocast_for


class RunError(RuntimeError):
    pass


def _seeds(seed: int) -> dict[str, int]:
    # distinct streams from one seed: data, noise, fixed evaluation noise
    return {"data": seed, "noise": seed + 1_000_003, "fixed": seed + 2_000_003, "cond": seed + 3_000_003}


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
        self.dir = Path(run_dir)
        self.device = resolve_device(device or cfg.train.device)
        self.dataset = make_conditional(build_dataset(cfg), cfg)
        s = _seeds(cfg.seed)
        with torch.random.fork_rng(devices=[]):   # init from the seed; caller's RNG untouched
            torch.manual_seed(cfg.seed)
            G, D = build_nets(cfg, self.dataset)
            self.G, self.D, self.conditioner = wrap_nets(cfg, self.dataset, G, D)
            self.torch_rng = torch.get_rng_state()
        self.G.to(self.device)
        self.D.to(self.device)
        self.autocast = autocast_for(cfg.train.precision, self.device, [self.G, self.D], cfg.objective.name)
        self.loss = build_loss(cfg)
        self.opt_d = build_optimizer(self.D.parameters(), cfg.optim_d)
        self.opt_g = build_optimizer(self.G.parameters(), cfg.optim_g)
        self.data_gen = torch.Generator().manual_seed(s["data"])
        self.noise_gen = torch.Generator(self.device).manual_seed(s["noise"])
        self.cond_gen = torch.Generator().manual_seed(s["cond"])   # mismatched conditions
        self.cond_y = None                                          # classes of the current batch
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self.torch_rng)
            self.objective = OBJECTIVES.build(cfg.objective.name, cfg.objective.params,
                                              where="objective", run=self)
            attach_terms(self, self.objective)
            self.phases = self.objective.build_phases()
            self.torch_rng = torch.get_rng_state()
        self.step = 0

    # ---------------------------------------------------------------- sampling
    def sample_real(self, n: int) -> torch.Tensor:
        if self.conditioner is not None:   # bind the batch's conditions: G(z) and D(x) use them
            x, c, y = self.dataset.sample_conditional(n, self.data_gen)
            self.conditioner.bind(c.to(self.device))
            self.cond_y = y.to(self.device)
            return x.to(self.device, non_blocking=True)
        return self.dataset.sample(n, self.data_gen).to(self.device, non_blocking=True)

    def conditions(self, n: int, seed: int | None = None, y: torch.Tensor | None = None,
                   c: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Conditions to generate with: given ones, ones for classes y, or random classes."""
        g = torch.Generator().manual_seed(_seeds(self.cfg.seed)["fixed"] if seed is None else seed)
        if c is None and y is None:   # fixed noise: every class in turn (even rows in reports)
            y = (torch.arange(n) % self.dataset.n_classes if seed is None
                 else self.dataset.random_classes(n, g))
        if c is None:
            c = self.dataset.conditions_for(y, g)
        return c, y

    def sample_z(self, n: int) -> torch.Tensor:
        return sample_noise(n, self.cfg.noise.dim, self.cfg.noise.dist, self.noise_gen, self.device)

    def fixed_noise(self, n: int) -> torch.Tensor:
        g = torch.Generator(self.device).manual_seed(_seeds(self.cfg.seed)["fixed"])
        return sample_noise(n, self.cfg.noise.dim, self.cfg.noise.dist, g, self.device)

    @torch.no_grad()
    def generate(self, n: int, seed: int | None = None, batch: int = 10000,
                 y: torch.Tensor | None = None, c: torch.Tensor | None = None) -> torch.Tensor:
        """n samples from G in eval mode; fixed noise unless a seed is given.

        Conditional runs generate for conditions ``c``, or classes ``y``, or random classes;
        the classes used are left in ``self.generated_y``.
        """
        g = torch.Generator(self.device).manual_seed(_seeds(self.cfg.seed)["fixed"] if seed is None else seed)
        noise = lambda k: sample_noise(k, self.cfg.noise.dim, self.cfg.noise.dist, g, self.device)
        was = self.G.training
        self.G.eval()
        rejection = getattr(self.objective, "rejection", None)
        if rejection is not None and rejection.ready:   # DRS: proposals from G, kept by D's ratio
            u_gen = torch.Generator().manual_seed(g.initial_seed() + 1)
            out = rejection.sample(n, lambda k: self.objective.generate(noise(k)), u_gen, batch)
        elif self.conditioner is not None:
            z = noise(n)
            c, self.generated_y = self.conditions(n, seed, y, c)
            c = c.to(self.device)
            chunks = []
            for i in range(0, n, batch):
                self.conditioner.bind(c[i:i + batch])
                chunks.append(self.objective.generate(z[i:i + batch]))
            out = torch.cat(chunks).cpu()
        else:
            z = noise(n)
            out = torch.cat([self.objective.generate(z[i:i + batch]) for i in range(0, n, batch)]).cpu()
        self.G.train(was)
        return out

    @torch.no_grad()
    def d_prob(self, x: torch.Tensor) -> torch.Tensor:
        """D(x) as a probability (sigmoid of the logit; the raw critic for WGAN-type losses)."""
        was = self.D.training
        self.D.eval()
        score = getattr(self.objective, "d_score", self.D)   # a packed D scores single samples
        logits = torch.cat([score(x[i:i + 20000].to(self.device)) for i in range(0, len(x), 20000)]).cpu()
        self.D.train(was)
        return torch.sigmoid(logits) if self.loss.probabilistic else logits

    # ---------------------------------------------------------------- folder
    @property
    def metrics_path(self) -> Path:
        return self.dir / "metrics.jsonl"

    def log(self, record: dict):
        append_jsonl(self.metrics_path, record)

    def save_snapshot(self, step: int):
        x = self.generate(self.cfg.train.n_fixed)
        out = {"step": np.int64(step), "samples": x.numpy()}
        if self.conditioner is not None and getattr(self, "generated_y", None) is not None:
            out["labels"] = self.generated_y.numpy()
        if self.dataset.kind == "points" and self.dataset.dim <= 2 and self.conditioner is None:
            lo, hi = self.dataset.bounds()
            n = 400 if self.dataset.dim == 1 else 80
            axes = [torch.linspace(float(lo[i]), float(hi[i]), n) for i in range(self.dataset.dim)]
            grid = torch.stack([a.reshape(-1) for a in torch.meshgrid(*axes, indexing="xy")], 1)
            out["grid"] = grid.numpy()
            out["grid_shape"] = np.array([n] * self.dataset.dim)
            out["d_grid"] = self.d_prob(grid).numpy()
            out["d_probabilistic"] = np.bool_(self.loss.probabilistic)
        folder = self.dir / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".step_{step:08d}.npz.tmp"
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **out)
        tmp.replace(folder / f"step_{step:08d}.npz")

    def state_dict(self) -> dict:
        return {
            "step": self.step,
            "config": C.to_dict(self.cfg),
            "models": {"G": self.G.state_dict(), "D": self.D.state_dict()},
            "optimizers": {"d": self.opt_d.state_dict(), "g": self.opt_g.state_dict()},
            "objective": self.objective.extra_state(),
            "rng": {"torch": self.torch_rng, "data": self.data_gen.get_state(),
                    "noise": self.noise_gen.get_state(), "noise_device": self.device.type,
                    "cond": self.cond_gen.get_state()},
        }

    def load_state_dict(self, state: dict):
        self.G.load_state_dict(state["models"]["G"])
        self.D.load_state_dict(state["models"]["D"])
        self.opt_d.load_state_dict(state["optimizers"]["d"])
        self.opt_g.load_state_dict(state["optimizers"]["g"])
        self.objective.load_extra_state(state.get("objective", {}))
        self.torch_rng = state["rng"]["torch"]
        self.data_gen.set_state(state["rng"]["data"])
        if state["rng"].get("noise_device", "cpu") == self.device.type:
            self.noise_gen.set_state(state["rng"]["noise"])
        # else: a run moved between CPU and GPU (their generators differ): training noise starts afresh
        if "cond" in state["rng"]:
            self.cond_gen.set_state(state["rng"]["cond"])
        self.step = int(state["step"])

    def save_checkpoint(self):
        if not finite_params([self.G, self.D]):
            raise RunError(f"weights became non-finite by step {self.step}; not overwriting the last "
                           "good checkpoint. Lower the learning rates or add a penalty.")
        self.torch_rng = torch.get_rng_state()
        ckpt.save_checkpoint(self.state_dict(), self.dir / "checkpoints", self.step,
                             self.cfg.train.keep_checkpoints)

    # ---------------------------------------------------------------- life cycle
    @classmethod
    def create(cls, cfg: RunConfig, run_dir: str | Path) -> "Run":
        run_dir = Path(run_dir)
        if ckpt.list_checkpoints(run_dir / "checkpoints"):
            raise RunError(f"{run_dir} already holds a trained run; continue it with --resume "
                           "or choose another --out folder")
        run = cls(cfg, run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        run.metrics_path.unlink(missing_ok=True)
        (run_dir / "config.toml").write_text(C.dumps_toml(cfg))
        return run

    @classmethod
    def open(cls, run_dir: str | Path, overrides: list[str] | None = None,
             load: bool = True) -> "Run":
        """Reopen a run folder from its config.toml (+ overrides) and latest checkpoint."""
        run_dir = Path(run_dir)
        cfg_path = run_dir / "config.toml"
        if not cfg_path.is_file():
            raise RunError(f"{run_dir} is not a run folder (no config.toml); create one with "
                           "gankit train PRESET --out " + str(run_dir))
        raw = tomllib.loads(cfg_path.read_text())
        cfg = C.load(raw, overrides or [])
        device = None
        if cfg.train.device.startswith("cuda") and not torch.cuda.is_available():
            # a run trained on a GPU, opened on a machine without one: evaluate and sample on the CPU
            warnings.warn(f"{run_dir} was trained on {cfg.train.device}; CUDA is not available here, "
                          "so it is opened on the CPU", stacklevel=2)
            device = "cpu"
        run = cls(cfg, run_dir, device=device)
        if load:
            state, _ = ckpt.load_latest(run_dir / "checkpoints")   # on the CPU; load_state_dict moves
            run.load_state_dict(state)
        if overrides:
            (run_dir / "config.toml").write_text(C.dumps_toml(cfg))
        return run

    def _truncate_metrics(self):
        """On resume, drop log lines written after the checkpoint we resume from."""
        if not self.metrics_path.exists():
            return
        keep = [line for line in self.metrics_path.read_text().splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= self.step]
        tmp = self.metrics_path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(line + "\n" for line in keep))
        tmp.replace(self.metrics_path)

    def train(self, progress: bool | None = None) -> "Run":
        cfg = self.cfg.train
        if self.step > 0:
            self._truncate_metrics()
        show = cfg.progress if progress is None else progress
        # objective callbacks (e.g. DRS fitted at the last step) run before the snapshot,
        # evaluation and checkpoint of the same step
        callbacks = [MetricsLogger(self), Progress(cfg.steps, show), *self.objective.callbacks(),
                     Snapshots(self, cfg.sample_every), PeriodicEval(self, cfg.eval_every),
                     Checkpointer(self, cfg.checkpoint_every, cfg.steps)]
        trainer = Trainer(self.phases, callbacks, cfg.log_every, self.autocast)
        trainer.step = self.step

        class _Sync:  # keeps run.step in step with the loop, before the checkpointer reads it
            def on_step_end(_, t):
                self.step = t.step
        trainer.callbacks.insert(0, _Sync())
        with torch.random.fork_rng(devices=[]):   # dropout etc. draw from the run's own stream
            torch.set_rng_state(self.torch_rng)
            trainer.fit(cfg.steps)
            self.torch_rng = torch.get_rng_state()
        return self

    def evaluate(self, names: list[str] | None = None) -> dict:
        from gankit.metrics import evaluate
        return evaluate(self, names)
