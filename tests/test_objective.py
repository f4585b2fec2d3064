"""Objectives declare their parts; the Run wraps, trains and checkpoints whatever they declare.

The toy objective here is a user's own, registered from a module the way a third party
would: three modules (G, an encoder E, a D on (x, z) pairs: BiGAN's shape) and three
optimizers, plus a custom loss, through the same Run, loop and CLI.
"""
import subprocess
import sys
import textwrap

import pytest

from gankit import config as C
from gankit.builtins import import_modules
from gankit.train.run import Run

USER_MODULE = textwrap.dedent('''
    """A user's components: a three-module objective and a loss, registered by name."""
    from dataclasses import dataclass

    import torch
    from torch import nn

    from gankit.config import opt
    from gankit.losses.adversarial import LossPair, d_loss_bce, g_loss_nonsaturating
    from gankit.registry import LOSSES, OBJECTIVES
    from gankit.train.loop import Phase
    from gankit.train.objective import Objective, OptimizerSpec


    @LOSSES.register("toy_bce", None, "the non-saturating pair, registered by a user")
    def toy_bce():
        return LossPair("toy_bce", d_loss_bce, g_loss_nonsaturating, probabilistic=True, boundary=0.0)


    @dataclass
    class ToyParams:
        width: int = opt(16, "hidden units of E and D", ge=1)
        e_lr: float = opt(1e-3, "the encoder's learning rate", gt=0)


    def mlp(i, o, w):
        return nn.Sequential(nn.Linear(i, w), nn.LeakyReLU(0.2), nn.Dropout(0.1), nn.Linear(w, o))


    class ToyBiGAN(Objective):
        def __init__(self, ctx, width, e_lr):
            super().__init__()
            self.ctx, cfg = ctx, ctx.cfg
            xdim, zdim = ctx.dataset.dim, cfg.noise.dim
            self.G, _ = ctx.build_nets()
            self.E = mlp(xdim, zdim, width)
            self.D = mlp(xdim + zdim, 1, width)
            self.modules = {"G": self.G, "E": self.E, "D": self.D}
            e_cfg = C_copy(cfg.optim_g, e_lr)
            self.optimizers = {"d": OptimizerSpec(["D"], cfg.optim_d), "g": OptimizerSpec(["G"], cfg.optim_g),
                               "e": OptimizerSpec(["E"], e_cfg)}
            self.m = cfg.train.batch_size

        def _d(self, x, z):
            return self.D(torch.cat([x, z], 1))[:, 0]

        def setup(self, optimizers):
            loss = self.ctx.loss

            def d_phase(c):
                x, z = self.ctx.sample_batch(self.m).x, self.ctx.sample_z(self.m)
                with torch.no_grad():
                    gx, ex = self.G(z), self.E(x)
                return loss.d_loss(self._d(x, ex), self._d(gx, z)), {}

            def g_phase(c):
                z = self.ctx.sample_z(self.m)
                return loss.g_loss(self._d(self.G(z), z)), {}

            def e_phase(c):
                x = self.ctx.sample_batch(self.m).x
                return loss.g_loss(-self._d(x, self.E(x))), {}   # E fools D the other way
            self.phases = [Phase("d", optimizers["d"], d_phase), Phase("g", optimizers["g"], g_phase),
                           Phase("e", optimizers["e"], e_phase)]


    def C_copy(oc, lr):
        import dataclasses
        return dataclasses.replace(oc, lr=lr)


    @OBJECTIVES.register("toy_bigan", ToyParams, "G, an encoder E and D on (x, z) pairs")
    def toy_bigan(ctx, **kw):
        return ToyBiGAN(ctx, **kw)
''')


@pytest.fixture
def user_module(tmp_path):
    path = tmp_path / "toy_bigan_components.py"
    path.write_text(USER_MODULE)
    return path


def toy_cfg(path, steps, tiny):
    return C.load("ring-vanilla", tiny + [f"train.steps={steps}", "train.checkpoint_every=6",
                                          f'imports=["{path}"]', "objective.name=toy_bigan",
                                          "loss.name=toy_bce"])


def test_three_modules_train_checkpoint_and_resume_bit_identically(tmp_path, user_module, tiny,
                                                                    assert_same_state):
    import_modules([str(user_module)])
    straight = Run.create(toy_cfg(user_module, 12, tiny), tmp_path / "a").train()
    assert set(straight.modules) == {"G", "E", "D"} and set(straight.optimizers) == {"d", "g", "e"}
    assert straight.optimizers["e"].param_groups[0]["lr"] == 1e-3
    first = Run.create(toy_cfg(user_module, 6, tiny), tmp_path / "b").train()
    resumed = Run.open(tmp_path / "b", ["train.steps=12"]).train()
    a, b = straight.state_dict(), resumed.state_dict()
    assert set(a["models"]) == {"G", "E", "D"}
    assert_same_state(a, b)
    # each phase was logged: the loop ran the three optimizers
    rec = [r for r in resumed.folder.records("train")][-1]
    assert {"loss_d", "loss_g", "loss_e", "grad_norm_e"} <= set(rec)
    del first


def test_a_checkpoint_of_another_objective_is_refused(tmp_path, user_module, tiny):
    import_modules([str(user_module)])
    Run.create(C.load("ring-vanilla", tiny), tmp_path / "r").train()
    state, _ = Run.open(tmp_path / "r").folder.load_checkpoint()
    toy = Run(toy_cfg(user_module, 12, tiny), tmp_path / "t")
    with pytest.raises(Exception, match=r"lacks \['E', 'e'\]"):
        toy.load_state_dict(state)


def test_user_components_train_and_reopen_from_the_command_line(tmp_path, user_module, tiny, capsys, monkeypatch):
    """--import records the module in config.toml: eval and sample find it again."""
    gk = [sys.executable, "-m", "gankit"]
    # one metric at the end of training: the fresh processes' eval and sample are what is checked
    sets = [a for t in tiny + ["objective.name=toy_bigan", "loss.name=toy_bce", 'eval.metrics=["modes"]']
            for a in ("--set", t)]
    r = subprocess.run(gk + ["--import", "toy_bigan_components", "train", "ring-vanilla",
                             "--out", "run", *sets], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "toy_bigan_components" in (tmp_path / "run" / "config.toml").read_text()
    e = subprocess.run(gk + ["eval", "run", "--metrics", "modes"], cwd=tmp_path, capture_output=True, text=True)
    assert e.returncode == 0 and "modes covered" in e.stdout, e.stderr[-2000:]
    s = subprocess.run(gk + ["sample", "run", "-n", "5", "--out", "x.npy"], cwd=tmp_path,
                       capture_output=True, text=True)
    assert s.returncode == 0 and (tmp_path / "x.npy").is_file(), s.stderr[-2000:]
    from gankit.cli import main      # in this process: main's return is the exit code
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["--import", "no_such_module_here", "list"]) == 2
    err = capsys.readouterr().err
    assert "cannot import 'no_such_module_here'" in err and "Traceback" not in err


def test_the_run_gives_the_objective_its_world_size_and_batch_share(tmp_path, tiny, monkeypatch):
    """Objectives name the global batch in their refusals from ctx.world_size (they read
    torch.distributed themselves before); the Run sets it from its world."""
    from gankit.train import distributed
    monkeypatch.setattr(distributed, "setup", lambda device: distributed.World(size=2, device=device))
    monkeypatch.setattr(distributed, "gather", lambda world, obj: [obj] * world.size)
    over = [o for o in tiny if not o.startswith("train.batch_size")] + ["train.batch_size=12"]
    run = Run(C.load("ring-vanilla", over), tmp_path / "r")
    ctx = run.objective.ctx
    assert (ctx.world_size, ctx.cfg.train.batch_size) == (2, 6)
    run.close()
