"""A Run opened to read (api.open_run) changes nothing by being used: its modules are in eval
mode, so a user's own run.G(z) moves no BatchNorm statistics, while training (a resume, or
Run.train on it) trains in the modes built for training; Run.generate refuses what it cannot use
(y/c of an unconditional run, a batch that is no whole number >= 1) and Run.evaluate a string."""
import pytest
import torch

from conftest import TINY_IMG, weights_digest
from gankit import api
from gankit import config as C
from gankit.train.run import Run


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """A 4-step DCGAN on 8x8 digits (BatchNorm in G), checkpointed at steps 2 and 4."""
    path = tmp_path_factory.mktemp("digits") / "run"
    Run.create(C.load("mnist-dcgan", TINY_IMG + ["data.name=digits8x8"]), path).train().close()
    return path


def _batch_norms(module):
    return [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]


def test_calling_an_opened_runs_g_by_hand_leaves_its_statistics_and_samples_as_the_checkpoint_holds(digits_run):
    run = api.open_run(digits_run)
    try:
        assert _batch_norms(run.G), "the test needs a G with BatchNorm"
        assert not run.G.training and not run.D.training
        before, x1 = weights_digest(run), run.generate(8)
        z = torch.randn(64, run.cfg.noise.dim)
        with torch.no_grad():
            for _ in range(5):
                run.G(z * 3)
        assert weights_digest(run) == before
        assert torch.equal(run.generate(8), x1)
        run.G.train()       # the same calls in train mode do move them: the check above is not vacuous
        with torch.no_grad():
            run.G(z * 3)
        assert weights_digest(run) != before
    finally:
        run.close()


def test_generate_and_d_prob_put_back_each_sub_modules_own_mode(digits_run):
    run = Run.open(digits_run, write=True)      # a writer: modules in the modes built for training
    try:
        assert run.G.training
        kept = _batch_norms(run.G)[0]
        kept.eval()          # a sub-module held in eval mode on purpose (a frozen part)
        run.generate(4)
        run.d_prob(torch.zeros(2, *run.dataset.sample(1, torch.Generator().manual_seed(0)).shape[1:]))
        assert run.G.training and not kept.training
    finally:
        run.close()


def test_a_run_opened_to_read_then_trained_matches_an_unbroken_run_bit_for_bit(tmp_path, digits_run):
    # the unbroken run: digits_run (4 steps); this one stops at 2, is opened to read, then trains on
    Run.create(C.load("mnist-dcgan", TINY_IMG + ["data.name=digits8x8", "train.steps=2"]), tmp_path / "r").train().close()
    run = Run.open(tmp_path / "r", ["train.steps=4"])
    seen = []
    hook = run.G.register_forward_pre_hook(lambda m, _: seen.append(all(b.training for b in _batch_norms(m))))
    try:
        assert not run.G.training
        run.train()
        hook.remove()
        assert seen and seen[0]    # the first step's G ran with batch statistics
        unbroken = Run.open(digits_run)
        try:
            assert weights_digest(run) == weights_digest(unbroken)
        finally:
            unbroken.close()
    finally:
        run.close()


@pytest.mark.parametrize("kw", [{"y": torch.tensor([1, 1])}, {"c": torch.zeros(2, 3)}])
def test_generate_refuses_conditions_for_an_unconditional_run(tiny_run_dir, kw):
    run = Run.open(tiny_run_dir)
    try:
        with pytest.raises(C.ConfigError, match=r"y/c: this run is not conditional \(condition.kind = 'none'\)"):
            run.generate(2, **kw)
        with pytest.raises(C.ConfigError, match="this run is not conditional"):
            api.sample(run, 2, label=1)      # the same words as api.sample's
    finally:
        run.close()


@pytest.mark.parametrize("batch", [0, -1, 2.5, True, "10"])
def test_generate_refuses_a_batch_that_is_no_whole_number_of_at_least_one(tiny_run_dir, batch):
    run = Run.open(tiny_run_dir)
    try:
        with pytest.raises(C.ConfigError, match=r"batch .*: give the rows generated at once as a whole number"):
            run.generate(4, batch=batch)
        with pytest.raises(C.ConfigError, match=r"batch .*: give the rows"):
            run.generate_from(torch.zeros(4, run.cfg.noise.dim), batch=batch)
        assert run.generate(5, batch=2).shape[0] == 5     # a good batch still chunks
    finally:
        run.close()


@pytest.mark.parametrize("names", ["modes", ("modes", 3)])
def test_run_evaluate_refuses_what_is_no_list_of_names_as_api_evaluate_does(tiny_run_dir, names):
    run = Run.open(tiny_run_dir)
    try:
        with pytest.raises(C.ConfigError) as api_said:
            api.evaluate(run, names, record=False)
        with pytest.raises(C.ConfigError) as run_said:
            run.evaluate(names)
        assert str(run_said.value) == str(api_said.value)
        assert "a list of strings" in str(run_said.value)
    finally:
        run.close()
