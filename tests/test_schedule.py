"""Learning-rate schedules: the GAN objective's decay keeps its exact numbers as a LambdaLR,
a resume that raises train.steps continues (or restarts) the schedule, and says so."""
import math

import warnings

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


def test_resume_with_more_steps_continues_the_schedule(tmp_path, tiny, recwarn):
    over = tiny + ["objective.lr_decay_final=1.0", "train.lr_schedule=\"linear\"", "train.lr_final=0.1",
                   "train.steps=20", "train.checkpoint_every=10"]
    Run.create(C.load("ring", over), tmp_path / "c").train()
    run = Run.open(tmp_path / "c", ["train.steps=30"])
    seen = _train_seen(run)
    err = _warned(recwarn)
    assert "continued as planned for steps 0..20" in err and "lr_on_resume=restart" in err
    base = run.cfg.optim_g.lr
    assert all(seen[i]["g"] == pytest.approx(base * 0.1) for i in range(20, 30))   # stays at its end value
    session = [r for r in run.folder.records("session")][-1]
    assert session["resume"] and session["changed"] == {"train.steps": [20, 30]}
    assert session["overrides"] == ["train.steps=30"] and "continued" in session["schedule"]


def test_resume_can_restart_the_schedule(tmp_path, tiny, recwarn):
    over = tiny + ["objective.lr_decay_final=1.0", "train.lr_schedule=\"linear\"", "train.lr_final=0.1",
                   "train.steps=20", "train.checkpoint_every=10"]
    Run.create(C.load("ring", over), tmp_path / "c").train()
    run = Run.open(tmp_path / "c", ["train.steps=30", "train.lr_on_resume=\"restart\""])
    seen = _train_seen(run)
    assert "restarted: steps 20..30" in _warned(recwarn)
    base = run.cfg.optim_g.lr
    assert seen[20]["g"] == pytest.approx(base) and seen[29]["g"] < base * 0.3


def test_split_resume_matches_straight_run_rates(tmp_path, tiny, monkeypatch):
    """The rate is a function of the step: 10 + 10 steps see the rates of 20 straight."""
    over = tiny + ["objective.lr_decay_final=1.0", "train.lr_schedule=\"cosine\"", "train.lr_warmup=0.2",
                   "train.steps=20", "train.checkpoint_every=10"]
    straight = _train_seen(Run.create(C.load("ring", over), tmp_path / "a"))
    first = Run.create(C.load("ring", over), tmp_path / "b")
    first.cfg.train.steps = 10        # stop at the checkpoint, as an interrupted run would
    first.schedule_span = (0, 20)
    part = _train_seen_from(first, monkeypatch)
    part.update(_train_seen(Run.open(tmp_path / "b")))
    assert part == straight


def _train_seen_from(run, monkeypatch):
    """Train with the run's planned segment kept (a fresh run would plan it over train.steps)."""
    import gankit.train.schedule
    rec = _LR(run)
    run.objective.callbacks.insert(0, rec)
    with monkeypatch.context() as m:
        m.setattr(gankit.train.schedule, "resume_schedule", lambda run, schedule: "")
        run.train()
    return rec.seen


def test_resume_with_another_optimizer_starts_it_fresh(tmp_path, tiny, capsys):
    """adam -> sgd on --resume: Adam's state and param groups do not fit SGD (it was a KeyError
    'momentum' inside torch at the first step); SGD starts fresh, D's Adam carries on."""
    import torch
    Run.create(C.load("ring", tiny + ["train.steps=10"]), tmp_path / "r").train().close()
    with pytest.warns(UserWarning, match="optim_g.name is 'sgd' now, 'adam' in the checkpoint: sgd starts "
                                         "with fresh state"):
        run = Run.open(tmp_path / "r", ["train.steps=12", "optim_g.name=\"sgd\"", "optim_g.momentum=0.9"])
    assert isinstance(run.optimizers["g"], torch.optim.SGD) and not run.optimizers["g"].state
    run.train()
    g, d = run.optimizers["g"], run.optimizers["d"]
    assert g.param_groups[0]["momentum"] == 0.9 and "betas" not in g.param_groups[0]
    assert all("momentum_buffer" in s for s in g.state.values())
    assert all(int(s["step"]) == 12 for s in d.state.values())     # D's moments went on


@pytest.mark.parametrize("preset, first, over, want", [
    ("ring", [], ["optim_d.betas=[0.9, 0.99]", "optim_d.weight_decay=0.1"],
     {"betas": (0.9, 0.99), "weight_decay": 0.1}),
    ("paper-mlp", [], ["optim_d.momentum=0.9"], {"momentum": 0.9}),
    # RMSprop makes its momentum buffer only for a parameter without state: made on the way
    ("ring", ["optim_d.name=\"rmsprop\""], ["optim_d.momentum=0.9"], {"momentum": 0.9}),
])
def test_resume_trains_with_the_configs_optimizer_hyperparameters(tmp_path, tiny, preset, first, over, want):
    """torch's load_state_dict puts back the checkpoint's betas, momentum, weight decay: a
    --set of them on --resume was recorded in config.toml but not used."""
    Run.create(C.load(preset, tiny + ["train.steps=4", "train.checkpoint_every=2", *first]),
               tmp_path / "r").train().close()
    run = Run.open(tmp_path / "r", ["train.steps=6", *over])
    assert {k: run.optimizers["d"].param_groups[0][k] for k in want} == want
    run.train()
    saved = run.folder.load_checkpoint()[0]["optimizers"]["d"]["param_groups"][0]
    assert saved["lr"] == run.optimizers["d"].param_groups[0]["lr"]
    assert {k: saved[k] for k in want} == want


def test_a_schedule_switched_on_at_resume_runs_over_the_remaining_steps(tmp_path, tiny, recwarn):
    """Constant rates for 10 steps, then --set train.lr_schedule=linear with 20 steps: the stored
    span (0, 10) was no schedule's plan; 'continue' trained every new step at lr_final (0)."""
    over = tiny + ["objective.lr_decay_final=1.0", "train.steps=10"]
    Run.create(C.load("ring", over), tmp_path / "r").train().close()
    run = Run.open(tmp_path / "r", ["train.steps=20", "train.lr_schedule=\"linear\""])
    seen = _train_seen(run)
    assert "switched on at step 10 (the rates were constant before): it runs over steps 10..20" \
        in _warned(recwarn)
    base = run.cfg.optim_g.lr
    assert [seen[i]["g"] for i in range(10, 20)] == pytest.approx([base * (1 - k / 10) for k in range(10)])
    session = [r for r in run.folder.records("session")][-1]
    assert "switched on" in session["schedule"]
    # a further resume of the new schedule continues it as planned
    again = Run.open(tmp_path / "r", ["train.steps=22"])
    assert again.schedule_span == (10, 20)


def test_a_schedule_switched_on_over_an_older_checkpoint_runs_over_the_remaining_steps(tmp_path, tiny, recwarn):
    """Checkpoints written before they named their schedule: the one in force is read from the
    checkpoint's config (constant here), so the switched-on schedule runs over steps 10..20
    (it 'continued' the span 0..10 and trained every new step at its final rate)."""
    from gankit.runfolder import RunFolder
    over = tiny + ["objective.lr_decay_final=1.0", "train.steps=10"]
    Run.create(C.load("ring", over), tmp_path / "r").train().close()
    folder = RunFolder(tmp_path / "r")
    state, _ = folder.load_checkpoint()
    del state["schedule"]                       # as this morning's code wrote them
    folder.save_checkpoint(state, state["step"], 5)
    run = Run.open(tmp_path / "r", ["train.steps=20", "train.lr_schedule=\"linear\""])
    seen = _train_seen(run)
    assert "switched on at step 10" in _warned(recwarn)
    base = run.cfg.optim_g.lr
    assert [seen[i]["g"] for i in range(10, 20)] == pytest.approx([base * (1 - k / 10) for k in range(10)])


def test_lr_final_is_the_rate_at_the_end_of_training_as_its_help_says():
    """The schedule reaches lr_final at i = n, the end of training: the last step (n - 1) is one
    step of the decay above it.  The help says so (it said "the rates at the last step")."""
    import dataclasses

    from gankit.config.schema import TrainConfig
    s = Schedule("linear", 0.0, 0.0, 0.2)
    assert s.factor(100, 0, 100) == pytest.approx(0.2)
    assert s.factor(99, 0, 100) == pytest.approx(0.2 + 0.8 / 100)
    help_ = {f.name: f.metadata["help"] for f in dataclasses.fields(TrainConfig)}["lr_final"]
    assert "end of training" in help_ and "last step's rates are one step of the decay above" in help_


def test_the_schedule_note_is_said_once_for_a_run_of_several_processes():
    """Each rank printed it (no other message of a run comes from every rank)."""
    from types import SimpleNamespace

    from gankit.train.schedule import Schedule, resume_schedule
    sched = Schedule(kind="linear", warmup=0.0, decay_start=0.0, final=0.1)
    for is_main in (True, False):
        run = SimpleNamespace(schedule_span=(0, 20), cfg=SimpleNamespace(train=SimpleNamespace(
            steps=30, lr_on_resume="continue")), step=20, is_main=is_main)
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            assert "continued as planned" in resume_schedule(run, sched)
        assert any("continued as planned" in str(w.message) for w in said) == is_main


def _warned(recwarn) -> str:
    """The notes a session gave (as warnings: a caller of the API silences them as any other)."""
    return " ".join(str(w.message) for w in recwarn)


def test_the_schedule_note_advises_in_the_words_of_whoever_resumed():
    """The command line's --set, a program's overrides=[...] (it advised --set to both); a resume
    with no step left to train says nothing (the note changed nothing, and came on every resume)."""
    from types import SimpleNamespace

    from gankit.train.schedule import resume_schedule
    from gankit.wording import command_line
    sched = Schedule(kind="linear", warmup=0.0, decay_start=0.0, final=0.1)

    def note(step: int = 20) -> str:
        run = SimpleNamespace(schedule_span=(0, 20), cfg=SimpleNamespace(train=SimpleNamespace(
            steps=30, lr_on_resume="continue")), step=step, is_main=True)
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            returned = resume_schedule(run, sched)
        assert [str(w.message) for w in said] == ([returned] if returned else [])
        return returned
    with command_line():
        assert note().endswith("(--set train.lr_on_resume=restart starts it anew over the remaining steps)")
    assert note().endswith('(overrides=["train.lr_on_resume=restart"] starts it anew over the remaining steps)')
    assert note(step=30) == "" and "continued as planned" in note(step=29)
