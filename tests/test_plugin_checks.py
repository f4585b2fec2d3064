"""What a user's components (--import) must hand gankit, checked before training: a dataset's
samples, a generator's output, a loss's value, an objective's checkpoint state.  Each mistake
is one line naming the component, its module and the fix, not a torch traceback at step 1,
nor a run whose checkpoints no later command can read."""
import collections
import re
import textwrap

import numpy as np
import pytest
import torch

from conftest import imported_parts
from gankit import config as C
from gankit.config import ConfigError
from gankit.data import build_dataset, probe_samples
from gankit.runfolder import RunFolder
from gankit.train.run import Run
from gankit.train.run_state import unloadable

PARTS = textwrap.dedent('''
    """A researcher's parts, each able to break in one way (chosen by its options)."""
    import math
    from dataclasses import dataclass

    import numpy as np
    import torch
    import torch.nn.functional as F
    from torch import nn

    from gankit.config import opt
    from gankit.data.base import Dataset
    from gankit.losses.adversarial import LossPair
    from gankit.registry import DATASETS, GENERATORS, LOSSES, OBJECTIVES
    from gankit.train.loop import Phase
    from gankit.train.objective import Objective, OptimizerSpec


    class Rows(Dataset):
        def __init__(self, x, kind="points", dim=2):
            self.x, self.size, self.dim, self.kind = x, len(x), dim, kind

        def sample(self, n, generator):
            return self.x[torch.randint(0, self.size, (n,), generator=generator)]

        def rows(self):
            return self.x


    @dataclass
    class RowsParams:
        n: int = opt(100, "rows", ge=0)
        how: str = opt("ok", "what sample() returns")


    @DATASETS.register("pc_rows", RowsParams, "rows in memory")
    def pc_rows(n, how):
        x = torch.randn(n, 2, generator=torch.Generator().manual_seed(0))
        if how == "float64":
            x = x.double()
        elif how == "int":
            x = (3 * x).round().long()
        elif how == "flat":
            x = x[:, 0]
        elif how == "nan":
            x[57, 1] = float("nan")
        elif how == "numpy":
            ds = Rows(x)
            ds.sample = lambda n, generator: x[:n].numpy()
            return ds
        return Rows(x)


    class G(nn.Module):
        def __init__(self, noise_dim, out_dim, how):
            super().__init__()
            self.lin, self.how = nn.Linear(noise_dim, out_dim), how

        def forward(self, z):
            out = self.lin(z)
            return out.double() if self.how == "float64" else out * float("nan") if self.how == "nan" else out


    @dataclass
    class GParams:
        how: str = opt("ok", "what forward returns")


    @GENERATORS.register("pc_g", GParams, "one linear layer")
    def pc_g(noise_dim, data, how):
        return G(noise_dim, math.prod(data.shape), how)


    @LOSSES.register("pc_unreduced", None, "a hinge left per sample")
    def pc_unreduced():
        return LossPair("pc_unreduced", lambda real, fake: F.softplus(1 - real) + F.softplus(1 + fake),
                        lambda fake: -fake.mean(), probabilistic=False, boundary=0.0)


    class Baseline:
        """A moving baseline whose value is a numpy number after ``numpy_after`` updates (0: always)."""

        def __init__(self, numpy_after):
            self.value = np.float64(0.0) if numpy_after == 0 else 0.0
            self.updates, self.numpy_after = 0, numpy_after

        def update(self, x):
            self.updates += 1
            v = 0.9 * self.value + 0.1 * float(x)
            self.value = np.float64(v) if self.updates > self.numpy_after else v

        def state_dict(self):
            return {"value": self.value}

        def load_state_dict(self, s):
            self.value = float(s["value"])


    @dataclass
    class BaseParams:
        numpy_after: int = opt(0, "updates before the baseline holds a numpy number", ge=0)


    class BaseGAN(Objective):
        def __init__(self, ctx, numpy_after):
            super().__init__()
            self.ctx, cfg = ctx, ctx.cfg
            self.G, self.D = ctx.build_nets()
            self.modules = {"G": self.G, "D": self.D}
            self.optimizers = {"d": OptimizerSpec(["D"], cfg.optim_d), "g": OptimizerSpec(["G"], cfg.optim_g)}
            self.numpy_after, self.steps = numpy_after, 0

        def setup(self, optimizers):
            m = self.ctx.cfg.train.batch_size
            self.base = Baseline(self.numpy_after)
            self.state = {"baseline": self.base}

            def d_step(c):
                self.steps += 1
                real, fake = self.ctx.sample_batch(m).x, self.G(self.ctx.sample_z(m)).detach()
                return ((self.D(real) - 1) ** 2).mean() + (self.D(fake) ** 2).mean(), {}

            def g_step(c):
                s = self.D(self.G(self.ctx.sample_z(m)))
                self.base.update(s.mean().detach())
                return ((s - 1) ** 2).mean(), {}
            self.phases = [Phase("d", optimizers["d"], d_step), Phase("g", optimizers["g"], g_step)]


    @OBJECTIVES.register("pc_base", BaseParams, "a GAN with a moving baseline in its state")
    def pc_base(ctx, numpy_after):
        return BaseGAN(ctx, numpy_after)
''')


@pytest.fixture
def parts(tmp_path):
    return imported_parts(tmp_path, "pc_parts", PARTS)


def cfg_with(parts, tiny, *over):
    return C.load("ring-vanilla", tiny + [f'imports=["{parts}"]', *over])


# ---------------------------------------------------------------- H2: checkpoint state

def test_objective_state_no_checkpoint_could_hold_is_refused_before_a_step(tmp_path, parts, tiny):
    run = Run.create(cfg_with(parts, tiny, "objective.name=pc_base"), tmp_path / "r")
    with pytest.raises(ConfigError) as e:
        run.train()
    msg = str(e.value)
    assert "objective/baseline/value: numpy.float64" in msg and "store a float or a tensor" in msg
    assert "objective.state['baseline'] (pc_parts)" in msg and "\n" not in msg
    assert run.objective.steps == 0 and not run.folder.checkpoints()   # no step lost


def test_state_that_changes_type_while_training_is_refused_at_the_save_and_the_last_one_kept(
        tmp_path, parts, tiny):
    over = ["objective.name=pc_base", "objective.numpy_after=5", "train.steps=12", "train.checkpoint_every=4"]
    run = Run.create(cfg_with(parts, tiny, *over), tmp_path / "r")
    with pytest.raises(ConfigError, match=r"objective/baseline/value: numpy\.float64 .* at step 8: training "
                                          r"stopped; the previous checkpoint step_00000004\.pt is kept"):
        run.train()
    folder = RunFolder(tmp_path / "r")
    assert [s for s, _ in folder.checkpoints()] == [4]
    state, _ = folder.load_checkpoint()          # weights_only: what eval, sample and --resume read
    assert state["step"] == 4 and isinstance(state["objective"]["baseline"]["value"], float)


def test_the_walk_names_the_first_value_weights_only_loading_refuses():
    point = collections.namedtuple("point", "x y")
    ok = {"models": collections.OrderedDict(w=torch.zeros(2)), "opt": [{"betas": (0.5, 0.9), "step": 3}],
          "rng": torch.Generator().get_state(), "n": None, "s": {1, 2}, "size": torch.Size([2])}
    assert unloadable(ok) is None
    assert unloadable({"o": {"h": np.zeros(3)}})[:2] == ("o/h", "numpy.ndarray")
    assert "torch.from_numpy" in unloadable({"o": {"h": np.zeros(3)}})[2]
    assert unloadable({"o": [1, point(1, 2)]})[0] == "o/1"
    assert unloadable({"o": {np.int64(1): 2.0}})[1] == "numpy.int64"      # a key pickles too


# ---------------------------------------------------------------- M3, M6: a user's dataset

@pytest.mark.parametrize("how, words", [
    ("float64", "sample() returns float64 values; gankit's nets take float32: return x.float()"),
    ("int", "sample() returns int64 values"),
    ("flat", "sample(2) returns shape (2,); it must return (2, 2)"),
    ("nan", "holds non-finite values (NaN or inf) in 1 of its 100 samples (the first: row 57)"),
    ("numpy", "sample() returns numpy.ndarray; return a torch tensor (torch.from_numpy(x).float())"),
])
def test_what_a_user_dataset_returns_is_checked_before_training(parts, tiny, how, words):
    with pytest.raises(ConfigError) as e:
        build_dataset(cfg_with(parts, tiny, "data.name=pc_rows", f'data.how="{how}"'))
    assert str(e.value).startswith("dataset 'pc_rows' (pc_parts)") and words in str(e.value)


def test_a_good_user_dataset_and_integer_token_ids_of_text_pass(parts, tiny):
    assert build_dataset(cfg_with(parts, tiny, "data.name=pc_rows")).size == 100
    from pc_parts import Rows     # text (the oracle, a text file): long token ids are its samples
    probe_samples(Rows(torch.randint(0, 5, (10, 7)), kind="text", dim=7), "dataset 'toks' (t)")
    with pytest.raises(ConfigError, match="integer token ids"):
        probe_samples(Rows(torch.rand(10, 7), kind="text", dim=7), "dataset 'toks' (t)")


def test_a_dataset_with_no_samples_says_so(parts, tiny):
    with pytest.raises(ConfigError) as e:
        build_dataset(cfg_with(parts, tiny, "data.name=pc_rows", "data.n=0"))
    assert str(e.value) == "dataset 'pc_rows' (pc_parts) holds no samples"


# ---------------------------------------------------------------- M4: a user's G and loss

@pytest.mark.parametrize("how, words", [
    ("float64", "generator 'pc_g' (pc_parts) returns float64 (train.precision = fp32); return float32"),
    ("nan", "generator 'pc_g' (pc_parts) returns non-finite values (NaN or inf) for 2 noise vectors"),
])
def test_the_net_probe_checks_the_generator_dtype_and_finite_values(tmp_path, parts, tiny, how, words):
    mine = [o for o in tiny if not o.startswith("generator.")]
    with pytest.raises(ConfigError, match=re.escape(words)):
        Run(cfg_with(parts, mine, "generator.name=pc_g", f'generator.how="{how}"'), tmp_path / "r")


def test_a_loss_not_reduced_to_a_scalar_is_named(tmp_path, parts, tiny):
    with pytest.raises(ConfigError, match=r"^loss 'pc_unreduced' \(pc_parts\): d_loss returned shape \(4, 1\) "
                                          r".*must return a scalar tensor \(reduce it, e\.g\. with \.mean\(\)\)"):
        Run(cfg_with(parts, tiny, "loss.name=pc_unreduced"), tmp_path / "r")


def test_the_loop_names_a_phase_whose_loss_is_no_scalar():
    from gankit.train.loop import Phase, Trainer
    w = torch.nn.Parameter(torch.ones(3))
    phase = Phase("critic", torch.optim.SGD([w], lr=0.1), lambda c: (w * 2, {}))
    with pytest.raises(ConfigError, match=r"phase 'critic' returned a loss of shape \(3,\) at step 1; .*scalar"):
        Trainer([phase]).fit(2)
