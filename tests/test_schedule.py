"""Learning-rate schedules: the GAN objective's decay keeps its exact numbers as a LambdaLR,
a resume that raises train.steps continues (or restarts) the schedule, and says so."""
import math

import pytest

from gankit import config as C
from gankit.config import ConfigError
from gankit.train import remedies as R
from gankit.train.run import Run
from gankit.train.schedule import Schedule


class _LR:
    """Records the rate each iteration used (read at the step's end, before the scheduler moves)."""

    def __init__(self, run):
        self.run, self.seen = run, {}

    def on_step_end(self, trainer):
        self.seen[trainer.step - 1] = {k: o.param_groups[0]["lr"] for k, o in self.run.optimizers.items()}


def _train_seen(run):
    rec = _LR(run)
    run.objective.callbacks.insert(0, rec)      # objective callbacks run before the scheduler steps
    run.train()
    return rec.seen


def test_gan_lr_decay_is_exactly_the_old_after_step_hook(tmp_path, tiny):
    """The old hook set base * lr_factor(step + 1) after each iteration: iteration i ran at
    base * lr_factor(i) (i = 0: base).  The LambdaLR gives the same floats."""
    cfg = C.load("ring", tiny + ["objective.lr_decay_final=0.1", "objective.lr_decay_start=0.25",
                                 "optim_d.lr=2e-3", "optim_g.lr=1e-3"])
    seen = _train_seen(Run.create(cfg, tmp_path / "r"))
    T = cfg.train.steps
    for i in range(T):
        assert seen[i]["d"] == 2e-3 * R.lr_factor(i, T, 0.25, 0.1), i
        assert seen[i]["g"] == 1e-3 * R.lr_factor(i, T, 0.25, 0.1), i
    assert seen[T - 1]["g"] < 1e-3 * 0.2
    recs = [r for r in Run.open(tmp_path / "r").folder.records("train")]
    assert recs[-1]["lr_g"] == pytest.approx(seen[recs[-1]["step"] - 1]["g"])   # lr is logged


def test_cosine_with_warmup():
    s = Schedule("cosine", 0.1, 0.0, 0.0)
    assert [s.factor(i, 0, 100) for i in range(3)] == [0.1, 0.2, 0.3]
    assert s.factor(10, 0, 100) == pytest.approx(1.0) and s.factor(100, 0, 100) == pytest.approx(0.0)
    assert s.factor(55, 0, 100) == pytest.approx(0.5 * (1 + math.cos(math.pi * 45 / 90)))


def test_two_schedules_at_once_is_a_config_error(tmp_path, tiny):
    cfg = C.load("ring", tiny + ["train.lr_schedule=\"cosine\""])   # ring declares lr_decay_final too
    with pytest.raises(ConfigError, match="lr_decay_final=1.0"):
        Run.create(cfg, tmp_path / "r").train()


def test_resume_with_more_steps_continues_the_schedule(tmp_path, tiny, capsys):
    over = tiny + ["objective.lr_decay_final=1.0", "train.lr_schedule=\"linear\"", "train.lr_final=0.1",
                   "train.steps=20", "train.checkpoint_every=10"]
    Run.create(C.load("ring", over), tmp_path / "c").train()
    run = Run.open(tmp_path / "c", ["train.steps=30"])
    seen = _train_seen(run)
    err = capsys.readouterr().err
    assert "continued as planned for steps 0..20" in err and "lr_on_resume=restart" in err
    base = run.cfg.optim_g.lr
    assert all(seen[i]["g"] == pytest.approx(base * 0.1) for i in range(20, 30))   # stays at its end value
    session = [r for r in run.folder.records("session")][-1]
    assert session["resume"] and session["changed"] == {"train.steps": [20, 30]}
    assert session["overrides"] == ["train.steps=30"] and "continued" in session["schedule"]


def test_resume_can_restart_the_schedule(tmp_path, tiny, capsys):
    over = tiny + ["objective.lr_decay_final=1.0", "train.lr_schedule=\"linear\"", "train.lr_final=0.1",
                   "train.steps=20", "train.checkpoint_every=10"]
    Run.create(C.load("ring", over), tmp_path / "c").train()
    run = Run.open(tmp_path / "c", ["train.steps=30", "train.lr_on_resume=\"restart\""])
    seen = _train_seen(run)
    assert "restarted: steps 20..30" in capsys.readouterr().err
    base = run.cfg.optim_g.lr
    assert seen[20]["g"] == pytest.approx(base) and seen[29]["g"] < base * 0.3


def test_split_resume_matches_straight_run_rates(tmp_path, tiny):
    """The rate is a function of the step: 10 + 10 steps see the rates of 20 straight."""
    over = tiny + ["objective.lr_decay_final=1.0", "train.lr_schedule=\"cosine\"", "train.lr_warmup=0.2",
                   "train.steps=20", "train.checkpoint_every=10"]
    straight = _train_seen(Run.create(C.load("ring", over), tmp_path / "a"))
    first = Run.create(C.load("ring", over), tmp_path / "b")
    first.cfg.train.steps = 10        # stop at the checkpoint, as an interrupted run would
    first.schedule_span = (0, 20)
    part = _train_seen_from(first)
    part.update(_train_seen(Run.open(tmp_path / "b")))
    assert part == straight


def _train_seen_from(run):
    """Train with the run's planned segment kept (a fresh run would plan it over train.steps)."""
    rec = _LR(run)
    run.objective.callbacks.insert(0, rec)
    run._resume_schedule = lambda schedule: ""
    run.train()
    return rec.seen
