"""The energy model (gankit/train/ebm.py): Langevin sampling under a caller's inference mode,
and the chains a resume adds to a grown replay buffer."""
import shutil

import pytest
import torch

from gankit import api
from gankit import config as C
from gankit.train.ebm import ReplayBuffer, langevin
from gankit.train.run import Run

EBM = ["train.batch_size=8", "train.progress=false", "train.live_report=false", "train.checkpoint_every=3",
       "train.log_every=1", "train.sample_every=100", "discriminator.name=mlp", "discriminator.hidden=[8]",
       "objective.langevin_steps=2", "objective.sample_steps=3", "objective.buffer_size=40", "data.name=ring",
       "noise.dim=2", 'eval.metrics=["modes"]', "eval.n_samples=100"]


@pytest.fixture(scope="module")
def ebm_run(tmp_path_factory):
    """A 3-step energy model on the ring, its checkpoint at step 3."""
    path = tmp_path_factory.mktemp("ebm") / "r"
    Run.create(C.load("mnist-ebm", EBM + ["train.steps=3"]), path).train().close()
    return path


def test_an_energy_model_samples_and_measures_under_a_callers_inference_mode(ebm_run):
    """Langevin took gradients under torch.enable_grad() alone, which does not leave inference
    mode: api.sample, api.evaluate and Run.generate raised 'element 0 of tensors does not
    require grad' there.  The samples are those drawn outside it, bit for bit."""
    outside = api.sample(ebm_run, 5, seed=1)
    with torch.inference_mode():
        inside = api.sample(ebm_run, 5, seed=1)
    assert torch.equal(inside, outside)
    run = api.open_run(ebm_run)
    try:
        outside = run.generate(5, seed=1)
        with torch.inference_mode():
            inside = run.generate(5, seed=1)
        assert torch.equal(inside, outside)
    finally:
        run.close()
    measured = api.evaluate(ebm_run, ["modes"], record=False)
    with torch.inference_mode():
        assert api.evaluate(ebm_run, ["modes"], record=False) == measured


def test_langevin_takes_its_start_and_bounds_from_inference_mode():
    """A start and a box made under inference mode (a box moved to the sampling device is a new
    tensor there) are copied or read, not differentiated: the same chain as outside."""
    w = torch.tensor([0.5, -1.0])
    energy = lambda x: ((x - w) ** 2).sum(1)  # noqa: E731
    x0, lo, hi = torch.full((4, 2), 0.3), torch.full((2,), -0.2), torch.full((2,), 0.4)
    run = lambda x, b: langevin(energy, x, 3, 0.1, bounds=b, generator=torch.Generator().manual_seed(0))  # noqa: E731
    outside = run(x0, (lo, hi))
    with torch.inference_mode():
        inside = run(x0.clone(), (lo.clone(), hi.clone()))
    assert torch.equal(inside, outside)


def _grown(state: dict, size: int, global_seed: int) -> ReplayBuffer:
    buf = ReplayBuffer(size, torch.zeros(2), torch.ones(2), reinit=0.0)
    torch.manual_seed(global_seed)        # the process's generator when the checkpoint loads
    with pytest.warns(UserWarning, match=f"{size - 4} new ones from uniform noise"):
        buf.load_state_dict(state)
    return buf


def test_a_grown_replay_buffers_new_chains_come_from_the_stream_training_draws_from():
    """Chains added by a larger objective.buffer_size on --resume were drawn at load from the
    process's global generator, not the run's stream (restored later): two resumes of one
    checkpoint trained on other chains.  Drawn at the first draw, they follow the stream."""
    torch.manual_seed(0)
    saved = ReplayBuffer(4, torch.zeros(2), torch.ones(2), reinit=0.0)
    saved.idx = torch.tensor([1])                    # one chain written by training
    saved.put_back(torch.full((1, 2), 0.5))
    state = saved.state_dict()
    a, b = _grown(state, 10, global_seed=1), _grown(state, 10, global_seed=2)
    assert len(a.state_dict()["written"]) == 4       # not drawn yet: a checkpoint now holds the 4
    for buf in (a, b):
        torch.manual_seed(5)                          # the run's stream, restored for training
        buf.draw(3)
    assert torch.equal(a.x, b.x)
    assert torch.equal(a.x[:4], saved.x) and (a.x[4:] >= 0).all() and (a.x[4:] < 1).all()
    assert len(a.state_dict()["written"]) == 10


def test_two_resumes_that_grow_the_replay_buffer_train_alike(ebm_run, tmp_path, assert_same_state):
    runs = []
    for name, global_seed in (("a", 1), ("b", 2)):
        shutil.copytree(ebm_run, tmp_path / name)
        torch.manual_seed(global_seed)
        with pytest.warns(UserWarning, match="buffer_size is 80"):
            run = Run.open(tmp_path / name, ["objective.buffer_size=80", "train.steps=5"], write=True)
        runs.append(run.train())
    a, b = runs
    assert torch.equal(a.objective.buffer.x, b.objective.buffer.x)
    assert_same_state(a.state_dict(), b.state_dict())
    a.close(), b.close()
