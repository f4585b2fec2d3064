"""train.threads = auto: the count follows the load only for nets whose results do not
depend on it, and then the run's numbers equal a fixed-count run's."""
import pytest
import torch
from torch import nn

from gankit import config as C
from gankit.train import threads
from gankit.train.run import Run


def _grads(make, x, n):
    """The net's output and gradients: its weights' and its input's (what flows back through D
    into G)."""
    torch.set_num_threads(n)
    torch.manual_seed(0)
    net = make()
    if x.is_floating_point():
        x = x.detach().requires_grad_()
    out = net(x)
    out = out[0] if isinstance(out, tuple) else out
    out.float().pow(2).mean().backward()
    return out.detach(), [p.grad.clone() for p in net.parameters()] + ([x.grad.clone()] if x.grad is not None else [])


BATCH = 256
LAYERS = {    # inputs at the shapes threads.same_bits probes: (BATCH, features), (BATCH, 8, ...)
    "linear": (lambda: nn.Sequential(nn.Linear(64, 300), nn.LeakyReLU(0.2), nn.Linear(300, 1)),
               lambda: torch.randn(BATCH, 64)),
    "activations": (lambda: nn.Sequential(nn.Linear(8, 512), nn.Tanh(), nn.Linear(512, 512), nn.ELU(),
                                          nn.Linear(512, 512), nn.GELU(), nn.SiLU(), nn.Softplus(),
                                          nn.Sigmoid(), nn.Hardtanh(), nn.Dropout(0.0), nn.Linear(512, 4)),
                    lambda: torch.randn(BATCH, 8)),
    "embedding+lstm": (lambda: nn.Sequential(nn.Embedding(500, 32), nn.LSTM(32, 64, batch_first=True)),
                       lambda: torch.randint(0, 500, (BATCH, 8))),
    "gru": (lambda: nn.GRU(16, 64, batch_first=True), lambda: torch.randn(BATCH, 8, 16)),
    # paper-mlp's maxout D is this wide: on one CPU only the input's gradient changed with the count
    "wide linear": (lambda: nn.Sequential(nn.Linear(240, 1200), nn.Linear(1200, 1)),
                    lambda: torch.randn(64, 240)),
}


@pytest.mark.parametrize("name", LAYERS)
def test_the_machines_verdict_on_listed_layers_is_what_1_and_2_threads_give(name):
    """Whether these layers give the same bits with 1 and 2 threads depends on the CPU (MKL's
    blocking: on some, a linear layer's weight gradient changes with the count); the probe
    that gates the load follower must say what a whole net's passes show on this machine."""
    make, data = LAYERS[name]
    x = data()
    assert threads.thread_invariant([make()])
    before = torch.get_num_threads()
    try:
        (o1, g1), (o2, g2) = _grads(make, x, 1), _grads(make, x, 2)
    finally:
        torch.set_num_threads(before)
    same = torch.equal(o1, o2) and all(torch.equal(a, b) for a, b in zip(g1, g2))
    assert threads.same_bits([make()], [len(x)]) == same
    assert torch.get_num_threads() == before


def test_norms_and_convolutions_are_not_invariant():
    assert not threads.thread_invariant([nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))])
    assert not threads.thread_invariant([nn.LayerNorm(4)])
    assert not threads.thread_invariant([nn.Linear(4, 4), nn.Conv2d(1, 1, 3)])


def _fake_machine(busy_other):
    """A /proc reader where other programs use ``busy_other[k]`` cores in look k."""
    state = {"t": 0.0, "busy": 0, "own": 0, "k": 0}

    def clock():
        return state["t"]

    def reader():
        return state["busy"], state["own"]

    def advance(seconds=1.0):
        k = min(state["k"], len(busy_other) - 1)
        state["t"] += seconds
        state["own"] += int(100 * seconds)
        state["busy"] += int(100 * seconds * (1 + busy_other[k]))
        state["k"] += 1
    return clock, reader, advance


class _Trainer:
    step = 0


def test_follower_drops_to_one_thread_beside_a_busy_program(monkeypatch):
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    clock, reader, advance = _fake_machine([0.05, 1.0, 0.7, 0.05])
    f = threads.LoadFollower(2, reader=reader, clock=clock)
    f.hz = 100
    before = torch.get_num_threads()
    seen, trainer = [], _Trainer()
    try:
        torch.set_num_threads(2)
        for _ in range(4):
            advance()
            trainer.step += 100
            f.on_step_end(trainer)
            seen.append(torch.get_num_threads())
    finally:
        torch.set_num_threads(before)
    assert seen[1:3] == [1, 1]           # the competitor's core is left to it
    assert seen[3] == 2                  # free again: 2 is tried (its rate is unknown)


@pytest.mark.parametrize("faster", [1, 2])
def test_follower_keeps_the_faster_count_when_free(faster):
    f = threads.LoadFollower(2, explore_every=10.0, reader=lambda: (0, 0), clock=lambda: 0.0)
    f.cores = 2
    rate = {faster: 200.0, 3 - faster: 100.0}
    current, picks = 2, []
    for t in range(1, 40):
        current = f.choose(0.0, current, rate[current], float(t))
        picks.append(current)
    assert picks.count(faster) >= 0.85 * len(picks)        # the other is only re-measured
    assert picks.count(3 - faster) >= 2                      # ... now and then


def test_follower_applies_only_to_auto_invariant_runs(monkeypatch, tiny):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    mlp = [nn.Sequential(nn.Linear(2, 8), nn.ReLU())]
    monkeypatch.setattr(threads, "same_bits", lambda modules, batches: False)
    assert threads.follower(0, mlp) is None                       # this machine's library disagrees
    monkeypatch.setattr(threads, "same_bits", lambda modules, batches: True)
    assert threads.follower(0, mlp) is not None
    assert threads.follower(2, mlp) is None                       # a number was given
    assert threads.follower(0, mlp, processes=2) is None          # one core per process
    assert threads.follower(0, [nn.Conv2d(1, 1, 3)]) is None
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads.follower(0, mlp) is None


def test_switching_threads_mid_run_keeps_the_numbers(tmp_path, monkeypatch, tiny):
    """The follower flipping 1 <-> 2 threads every step trains the same weights as 1 thread."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    flips = {"n": 0}

    class Flipping(threads.LoadFollower):
        def on_step_end(self, trainer):
            flips["n"] += 1
            torch.set_num_threads(1 + flips["n"] % 2)
    monkeypatch.setattr(threads, "LoadFollower", Flipping)
    over = [*tiny, "train.steps=8", "train.batch_size=512", "generator.hidden=[256, 256]",
            "discriminator.hidden=[256, 256]"]
    a = Run.create(C.load("ring-vanilla", over), tmp_path / "a").train(progress=False)
    agree = threads.same_bits(a.modules.values(), (512, 1024))
    assert flips["n"] == (8 if agree else 0)     # a machine where the count changes the bits: no follower
    b = Run.create(C.load("ring-vanilla", over + ["train.threads=1"]), tmp_path / "b").train(progress=False)
    assert flips["n"] == (8 if agree else 0)                      # fixed count: no follower
    for name in ("G", "D"):
        for p, q in zip(a.modules[name].state_dict().values(), b.modules[name].state_dict().values()):
            assert torch.equal(p, q)


def test_a_resume_at_another_count_says_the_run_will_differ(tmp_path, tiny, monkeypatch):
    """On a machine where the count changes the nets' bits, a resume at another count than the
    run's previous session cannot end with an uninterrupted run's weights: it says so."""
    import warnings
    over = [*tiny, "train.steps=4", "train.checkpoint_every=2"]
    monkeypatch.setattr(threads, "same_bits", lambda modules, batches: False)
    Run.create(C.load("ring-vanilla", over + ["train.threads=1"]), tmp_path / "r").train(progress=False).close()
    with pytest.warns(UserWarning, match=r"this session trains with 2 threads, the run's previous one with 1: .*"
                                         r"--set train.threads=1 keeps its count"):
        Run.open(tmp_path / "r", ["train.steps=6", "train.threads=2"], write=True).train(progress=False).close()
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")     # the same count again: nothing to say
        Run.open(tmp_path / "r", ["train.steps=8", "train.threads=2"], write=True).train(progress=False).close()
    monkeypatch.setattr(threads, "same_bits", lambda modules, batches: True)
    with warnings.catch_warnings(record=True) as said_invariant:
        warnings.simplefilter("always")     # nets whose bits do not depend on it
        Run.open(tmp_path / "r", ["train.steps=10", "train.threads=1"], write=True).train(progress=False).close()
    assert not [w for w in said + said_invariant if "this session trains with" in str(w.message)]
