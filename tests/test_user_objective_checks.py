"""A user's objective (--import) declared wrongly is one error line naming the objective (or
the phase) and the part, when it is built, after its setup or at its phase's first call: not
a torch or Python traceback at a later step.  The NETS registry is reached from an objective
(ctx.build_net("nets", ...)) and listed; a changed objective's checkpoint says its code changed."""
import re
import sys
import textwrap

import pytest
import torch

from conftest import imported_parts
from gankit import config as C
from gankit.cli import main
from gankit.config import ConfigError
from gankit.train.loop import Phase, Trainer
from gankit.train.run import Run

PARTS = textwrap.dedent('''
    """Docs' least-squares objective, each kind broken in one way; an encoder in NETS."""
    import torch
    from torch import nn

    from gankit.registry import NETS, OBJECTIVES
    from gankit.train.loop import Phase
    from gankit.train.objective import Objective, OptimizerSpec

    EXTRA = False      # a test sets it: the objective's code changed since its checkpoint


    @NETS.register("uoc_encoder", None, "x -> z, an encoder of the test's own")
    def uoc_encoder(data, noise_dim):
        return nn.Linear(data.dim, noise_dim)


    class Broken(Objective):
        def __init__(self, ctx, kind):
            super().__init__()
            self.ctx, cfg, self.kind = ctx, ctx.cfg, kind
            G, D = ctx.build_nets()
            self.modules = {"G": G, "D": D}
            self.optimizers = {"d": OptimizerSpec(["D"], cfg.optim_d), "g": OptimizerSpec(["G"], cfg.optim_g)}
            if kind == "encoder":
                self.modules["E"] = ctx.build_net("nets", {"name": "uoc_encoder"}, noise_dim=cfg.noise.dim)
                self.optimizers["g"] = OptimizerSpec(["G", "E"], cfg.optim_g)
            if kind == "wrong_registry":
                ctx.build_net("net", {"name": "uoc_encoder"}, noise_dim=cfg.noise.dim)
            if EXTRA:
                self.modules["G3"] = ctx.build_nets()[0]
            if kind == "no_modules":
                self.modules = {}
            if kind == "not_module":
                self.modules["extra"] = torch.zeros(3)
            if kind == "no_G":
                self.modules = {"Gen": G, "D": D}
                self.optimizers["g"] = OptimizerSpec(["Gen"], cfg.optim_g)
            if kind == "no_opt":
                self.optimizers = {}
            if kind == "opt_unknown":
                self.optimizers["g"] = OptimizerSpec(["Gx"], cfg.optim_g)
            if kind == "opt_string":
                self.optimizers["g"] = OptimizerSpec("G", cfg.optim_g)
            if kind == "moduledict":        # an nn.ModuleDict: no Mapping, yet modules by name
                self.modules = nn.ModuleDict(self.modules)
            if kind == "modules_list":
                self.modules = [G, D]
            if kind == "opt_list":
                self.optimizers = list(self.optimizers.values())

        def setup(self, optimizers):
            G, D, m = self.modules["G"] if "G" in self.modules else None, self.modules["D"], 16   # a ModuleDict has no .get

            def d_step(c):
                fake = G(self.ctx.sample_z(m)).detach()
                return ((D(self.ctx.sample_batch(m).x) - 1) ** 2).mean() + (D(fake) ** 2).mean(), {}

            def g_step(c):
                return ((D(G(self.ctx.sample_z(m))) - 1) ** 2).mean(), {}
            if self.kind == "no_phases":
                return
            g_opt = optimizers["g"]
            if self.kind == "own_optimizer":
                g_opt = torch.optim.SGD(G.parameters(), lr=0.1)
            self.phases = [Phase("d", optimizers["d"], d_step), Phase("g", g_opt, g_step)]


    for k in ["ok", "encoder", "wrong_registry", "no_modules", "not_module", "no_G", "no_opt",
              "opt_unknown", "opt_string", "no_phases", "own_optimizer", "moduledict", "modules_list", "opt_list"]:
        OBJECTIVES.register(f"uoc_{k}", None, k)(lambda ctx, k=k: Broken(ctx, k))
    OBJECTIVES.register("uoc_none", None, "returns None")(lambda ctx: None)
''')


@pytest.fixture
def parts(tmp_path):
    return imported_parts(tmp_path, "uoc_parts", PARTS)


def cfg_for(parts, tiny, objective: str, steps: int = 2):
    return C.load("ring-vanilla", tiny + [f"train.steps={steps}", "train.checkpoint_every=2",
                                          f'imports=["{parts}"]', f"objective.name={objective}"])


@pytest.mark.parametrize("kind, words", [
    ("none", "objective 'uoc_none' (uoc_parts): its factory returned None, not an Objective"),
    ("no_modules", "objective 'uoc_no_modules' (uoc_parts) declares no modules; its constructor sets self.modules"),
    ("not_module", "objective 'uoc_not_module' (uoc_parts): modules['extra'] is a Tensor, not a torch.nn.Module"),
    ("no_G", "objective 'uoc_no_G' (uoc_parts): sample_module = 'G', the module that generates, is not among "
             "its modules ['D', 'Gen']"),
    ("no_opt", "objective 'uoc_no_opt' (uoc_parts) declares no optimizers, so nothing trains"),
    ("modules_list", "objective 'uoc_modules_list' (uoc_parts) declares no modules (it gives a list, not a "
                     "mapping of names); its constructor sets self.modules"),
    ("opt_list", "objective 'uoc_opt_list' (uoc_parts) declares no optimizers (it gives a list, not a mapping "
                 "of names), so nothing trains"),
    ("opt_unknown", "objective 'uoc_opt_unknown' (uoc_parts): optimizers['g'] updates module(s) ['Gx'] it does "
                    "not declare (its modules: ['D', 'G'])"),
    ("opt_string", "objective 'uoc_opt_string' (uoc_parts): optimizers['g'] names its modules by a string ('G')"),
    ("no_phases", "objective 'uoc_no_phases' (uoc_parts): setup(optimizers) made no phases, so nothing trains"),
    ("own_optimizer", "objective 'uoc_own_optimizer' (uoc_parts): phase 'g' steps an optimizer of its own"),
    ("wrong_registry", "build_net('net', ...): no registry 'net'; give one of"),
])
def test_a_wrongly_declared_objective_is_refused_when_it_is_built(tmp_path, parts, tiny, kind, words):
    with pytest.raises(ConfigError, match="^" + re.escape(words)):
        Run(cfg_for(parts, tiny, f"uoc_{kind}"), tmp_path / "r")


def _trainer(make):
    """A loop of one phase whose function ``make(w)`` is written where a user's would be."""
    w = torch.nn.Parameter(torch.ones(3))
    fn = make(w)
    fn.__module__, fn.__qualname__ = "mine", "LSQ.setup.<locals>.critic_step"
    return Trainer([Phase("critic", torch.optim.SGD([w], lr=0.1), fn)])


@pytest.mark.parametrize("make, words", [
    (lambda w: lambda c: ((w ** 2).sum().detach(), {}), "returned a loss without a gradient at step 1"),
    (lambda w: lambda c: (torch.tensor(1.0), {}), "returned a loss without a gradient at step 1"),
    (lambda w: lambda c: (w ** 2).sum(), "returned a Tensor at step 1; a phase's function returns (loss, logs)"),
    (lambda w: lambda c: ((w ** 2).sum(), {}, {}), "returned a tuple of 3 at step 1"),
    (lambda w: lambda c: ((w ** 2).sum(), None), "returned (Tensor, NoneType) at step 1"),
])
def test_the_loop_names_the_phase_and_its_function_whose_result_is_wrong(make, words):
    with pytest.raises(ConfigError, match="^" + re.escape(f"phase 'critic' (mine.LSQ.setup.<locals>.critic_step) "
                                                          f"{words}")):
        _trainer(make).fit(2)


def test_a_good_phase_still_trains():
    t = _trainer(lambda w: lambda c: ((w ** 2).sum(), {"w0": w[0].detach()}))
    t.fit(2)
    assert t.step == 2


def test_a_phase_without_a_gradient_is_one_error_line_from_the_command_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "uoc_nograd.py").write_text(PARTS + textwrap.dedent('''
        class NoGrad(Broken):
            def setup(self, optimizers):
                super().setup(optimizers)
                self.phases[1].loss = lambda c: (torch.tensor(1.0), {})
        OBJECTIVES.register("uoc_nograd", None, "")(lambda ctx: NoGrad(ctx, "ok"))
    '''))
    monkeypatch.chdir(tmp_path)
    sets = [a for kv in ["train.steps=2", "train.progress=false", "train.eval_every=0",
                         "generator.hidden=[8]", "discriminator.hidden=[8]", "objective.name=uoc_nograd"]
            for a in ("--set", kv)]
    rc = main(["--import", "uoc_nograd", "train", "ring-vanilla", "--out", "run", *sets])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err, err
    assert ("gankit: error: phase 'g' (uoc_nograd.NoGrad.setup.<locals>.<lambda>) returned a loss without a "
            "gradient at step 1") in err


def test_an_objective_builds_a_net_of_the_nets_registry_and_list_shows_it(tmp_path, parts, tiny, capsys):
    run = Run(cfg_for(parts, tiny, "uoc_encoder"), tmp_path / "r")
    assert isinstance(run.modules["E"], torch.nn.Linear)
    run.close()
    assert main(["list", "nets"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == ["nets:", f"  {'uoc_encoder':<16} x -> z, an encoder of the test's own"]


def test_a_kind_with_nothing_registered_says_so(capsys):
    assert main(["list", "nets"]) == 2
    assert re.match(r"gankit: error: no nets are registered: gankit has none of its own; .*--import MODULE list",
                    capsys.readouterr().err)


def test_a_checkpoint_of_an_objective_whose_code_changed_says_so(tmp_path, parts, tiny):
    Run.create(cfg_for(parts, tiny, "uoc_ok"), tmp_path / "r").train()
    sys.modules["uoc_parts"].EXTRA = True       # the user's objective now declares a module "G3"
    with pytest.raises(Exception, match=re.escape(
            "the checkpoint lacks ['G3']: the code of objective 'uoc_ok' (uoc_parts) changed since the run was "
            "trained (it declares them now); register it as it was")):
        Run.open(tmp_path / "r")


def test_an_objective_declaring_its_modules_in_a_module_dict_trains_and_its_run_samples(tmp_path, parts, tiny):
    """nn.ModuleDict is no collections.abc.Mapping: refused as "declares no modules" (its runs
    could not be sampled either) though it names its modules as a dict does."""
    from gankit import api
    run = Run.create(cfg_for(parts, tiny, "uoc_moduledict", steps=4), tmp_path / "r")
    assert isinstance(run.objective.modules, torch.nn.ModuleDict)
    run.train()
    run.close()
    x = api.sample(tmp_path / "r", 7)
    assert x.shape == (7, 2) and torch.isfinite(x).all()
