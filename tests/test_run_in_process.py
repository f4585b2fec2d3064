"""One long-lived process (a notebook): a Run stopped inside a step, a changed working folder,
two writers of one folder, default folders of runs started within one second."""
import os
import signal

import pytest

from gankit import config as C
from gankit.runfolder import RunFolder, default_run_dir
from gankit.train import loop
from gankit.train.run import Run, RunError


def _cfg(tiny, steps=12):
    return C.load("ring", tiny + [f"train.steps={steps}", "train.checkpoint_every=4", "train.log_every=4"])


def test_a_run_stopped_inside_a_step_refuses_to_train_again_from_memory(tmp_path, tiny, monkeypatch):
    """A second Ctrl-C between D's and G's update left D updated and G not; run.train() again
    trained on from that torn state and wrote its checkpoints."""
    real = loop.Trainer.run_iteration

    def interrupted(self, step, logging):
        if step == 6:
            raise KeyboardInterrupt
        return real(self, step, logging)
    monkeypatch.setattr(loop.Trainer, "run_iteration", interrupted)
    run = Run.create(_cfg(tiny), tmp_path / "r")
    with pytest.raises(KeyboardInterrupt):
        run.train()
    monkeypatch.setattr(loop.Trainer, "run_iteration", real)
    with pytest.raises(RunError, match="stopped inside a step .*open the run again"):
        run.train()
    assert [s for s, _ in RunFolder(tmp_path / "r").checkpoints()] == [4]    # nothing written from torn memory
    run.close()
    again = Run.open(tmp_path / "r", write=True).train()
    assert again.step == 12
    again.close()


def test_a_stop_between_steps_trains_on_from_memory(tmp_path, tiny):
    class StopAt5:
        def on_step_end(self, trainer):
            if trainer.step == 5:
                trainer.stop = signal.SIGTERM
    run = Run.create(_cfg(tiny), tmp_path / "r")
    run.objective.callbacks.append(StopAt5())
    from gankit.train.signals import TrainingInterrupted
    with pytest.raises(TrainingInterrupted):
        run.train()
    run.objective.callbacks.pop()
    assert run.train().step == 12
    run.close()


def test_the_run_folder_stays_where_it_was_after_the_working_folder_changes(tmp_path, tiny, monkeypatch):
    """A relative folder followed the notebook's %cd: evaluations went to a new stray folder."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    run = Run.create(_cfg(tiny, 4), "runs/r").train()
    monkeypatch.chdir(tmp_path / "b")
    from gankit import api
    api.evaluate(run, ["modes"])
    run.close()
    assert not (tmp_path / "b" / "runs").exists()
    assert [r for r in RunFolder(tmp_path / "a" / "runs" / "r").records("eval")]


def test_a_second_run_object_cannot_train_a_folder_one_is_training(tmp_path, tiny):
    """The folder lock is counted per process: a thread training the same folder passed it and
    the two sessions' records and checkpoints mixed."""
    seen = []

    class SecondWriter:
        def on_step_end(self, trainer):
            if trainer.step == 6 and not seen:
                for second in (lambda: Run.open(tmp_path / "r", write=True), lambda: Run.open(tmp_path / "r").train()):
                    try:
                        second()
                    except RunError as e:
                        seen.append(str(e))
    run = Run.create(_cfg(tiny, 8), tmp_path / "r")
    run.objective.callbacks.append(SecondWriter())
    run.train()
    run.close()
    assert len(seen) == 2 and all("another Run in this process is training this folder" in m for m in seen)
    steps = [r["step"] for r in RunFolder(tmp_path / "r").records("train")]
    assert steps == sorted(set(steps))


def test_default_folders_of_runs_started_in_one_second_differ(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = default_run_dir("ring", 0)
    second = default_run_dir("ring", 0)          # the same second, or another process at once
    assert second != first and second.name.startswith(first.name) and first.is_dir() and second.is_dir()
    assert os.path.dirname(second) == os.path.dirname(first)


def test_a_run_refused_before_training_leaves_no_empty_default_folder(tmp_path, monkeypatch):
    from gankit import api
    from gankit.cli import main
    monkeypatch.chdir(tmp_path)
    bad = ["--set", "eval.metrics=['fid']", "--set", "train.steps=2"]    # found by Run.create, after the folder
    assert main(["train", "ring", *bad]) != 0
    assert list((tmp_path / "runs").iterdir()) == []
    with pytest.raises(C.ConfigError, match="cannot measure this data"):
        api.train("ring", overrides=bad[1::2], progress=False)
    assert list((tmp_path / "runs").iterdir()) == []


def test_a_resume_that_fails_before_its_first_step_leaves_no_session_record(tmp_path, tiny, monkeypatch):
    run = Run.create(_cfg(tiny, 4), tmp_path / "r").train()
    run.close()
    monkeypatch.setattr(loop.Trainer, "run_iteration", lambda *a: 1 / 0)
    again = Run.open(tmp_path / "r", ["train.steps=8"], write=True)
    with pytest.raises(ZeroDivisionError):
        again.train()
    again.close()
    assert [r["step"] for r in RunFolder(tmp_path / "r").records("session")] == [0]
    monkeypatch.undo()
    done = Run.open(tmp_path / "r", ["train.steps=8"], write=True).train()
    done.train()                                 # no step left: the session is still recorded
    done.close()
    assert [r["step"] for r in RunFolder(tmp_path / "r").records("session")] == [0, 4, 8]
    logged = Run.create(C.load("ring", tiny + ["train.steps=2", "train.log_every=1"]), tmp_path / "every").train()
    logged.close()                               # a record at the first step: the session's comes before it
    assert [r["kind"] for r in RunFolder(tmp_path / "every").records()][:2] == ["session", "train"]


def test_a_failed_nproc_launch_leaves_no_empty_default_folder(tmp_path, monkeypatch):
    """--nproc returns the ranks' exit code rather than raising: the folder made for it stayed."""
    from gankit.cli import main
    from gankit.train import launch
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(launch, "launch", lambda n, argv, advice=None: 2)   # every rank refused its data
    assert main(["train", "ring", "--nproc", "2"]) == 2
    assert list((tmp_path / "runs").iterdir()) == []


def test_inception_features_without_their_weights_are_refused_before_training(tmp_path, digits, monkeypatch):
    """Found only by the first evaluation: at the end of training, or at eval_every with the
    steps since the last checkpoint lost."""
    monkeypatch.delenv("GANKIT_INCEPTION", raising=False)
    feats = ["eval.metrics=['fid']", "eval.features='inception'"]
    with pytest.raises(C.ConfigError, match="eval.features=inception: no weights file given"):
        Run.create(C.load("mnist-dcgan", digits + feats), tmp_path / "a")
    missing = str(tmp_path / "nope.pt")
    with pytest.raises(C.ConfigError, match="do not exist"):
        Run.create(C.load("mnist-dcgan", digits + feats + [f"eval.inception_weights='{missing}'"]), tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    with pytest.raises(C.ConfigError, match="no weights file given"):     # every metric that applies
        Run.create(C.load("mnist-dcgan", digits + ["eval.metrics=[]", "eval.features='inception'"]), tmp_path / "d")
    # metrics that read no features train as before; so does the default (the digits' own features)
    Run.create(C.load("mnist-dcgan", digits + ["eval.metrics=['image_stats']", "eval.features='inception'"]),
               tmp_path / "c").close()


@pytest.mark.parametrize("fails", ["save_snapshot", "evaluate"])
def test_a_snapshot_or_evaluation_failing_at_a_checkpoint_step_keeps_that_steps_checkpoint(tmp_path, tiny,
                                                                                             monkeypatch, fails):
    """They ran before the checkpoint: out of memory drawing a grid of 1024x1024 images lost the
    steps since the last checkpoint (all of them in a two-step run)."""
    run = Run.create(C.load("ring", tiny + [
        "train.steps=8", "train.checkpoint_every=4", "train.sample_every=4", "train.eval_every=4",
        "eval.metrics=['modes']"]), tmp_path / "r")
    real = getattr(Run, fails)

    def boom(self, *a, **k):
        if self.step == 4:
            raise MemoryError("out of memory")
        return real(self, *a, **k)
    monkeypatch.setattr(Run, fails, boom)
    with pytest.raises(MemoryError):
        run.train()
    run.close()
    assert [s for s, _ in RunFolder(tmp_path / "r").checkpoints()] == [4]
    monkeypatch.undo()
    Run.open(tmp_path / "r", write=True).train().close()     # --resume draws the missing snapshot
    assert all(RunFolder(tmp_path / "r").has_snapshot(s) for s in (0, 4, 8))


def test_a_signal_during_a_periodic_evaluation_stops_it_between_metrics(tmp_path, tiny):
    """The evaluation ran to its end first: under torchrun a long one outlived the launcher's 30 s
    grace, rank 0 was killed, and the steps since the last checkpoint were lost."""
    import signal

    from gankit.metrics.base import Output, register_metric
    seen = []

    @register_metric("signals_itself", lambda ds: True, "sends SIGTERM to its own process",
                     {"signalled": Output("signalled")}, reads=())
    def _signals(ctx):
        if len(seen) < 2:                      # the first evaluation, and the resume's of the same step
            os.kill(os.getpid(), signal.SIGTERM)
        seen.append("signals_itself")
        return {"signalled": 1.0}

    @register_metric("after_it", lambda ds: True, "never reached", {"after": Output("after")}, reads=())
    def _after(ctx):
        seen.append("after_it")
        return {"after": 1.0}
    cfg = C.load("ring", tiny + ["train.steps=8", "train.eval_every=2", "train.checkpoint_every=100",
                                 "eval.metrics=['signals_itself', 'after_it']"])
    run = Run.create(cfg, tmp_path / "r")
    from gankit.train.signals import TrainingInterrupted
    with pytest.warns(UserWarning, match="the evaluation of step 2 was stopped by the signal; gankit train "
                                         "--resume measures it"), \
            pytest.raises(TrainingInterrupted, match="stopped after step 2 of 8, checkpoint"):
        run.train()
    run.close()
    assert seen == ["signals_itself"]
    assert [s for s, _ in RunFolder(tmp_path / "r").checkpoints()] == [2]
    assert not [r for r in RunFolder(tmp_path / "r").records() if r["kind"] == "eval"]
    # the resume measures step 2 first (a kill -9 during it leaves the same gap), under its own session
    # record; a signal during that evaluation lets it end (the loop trains a step before it stops:
    # stopped there, no later resume would measure step 2)
    again = Run.open(tmp_path / "r", write=True)
    with pytest.raises(TrainingInterrupted, match="stopped after step 3 of 8"):
        again.train()
    again.close()
    Run.open(tmp_path / "r", write=True).train().close()
    kinds = [(r["kind"], r["step"]) for r in RunFolder(tmp_path / "r").records() if r["kind"] in ("session", "eval")]
    assert kinds[:3] == [("session", 0), ("session", 2), ("eval", 2)], kinds
    assert [s for k, s in kinds if k == "eval"] == [2, 4, 6, 8] and seen.count("after_it") == 4


def test_a_final_snapshot_off_the_sample_grid_is_drawn_again_when_its_drawing_died(tmp_path, tiny, monkeypatch):
    """30 steps, a snapshot every 20: the last step's snapshot is drawn off the grid, and was never
    drawn again after a kill during it."""
    run = Run.create(C.load("ring", tiny + ["train.steps=6", "train.checkpoint_every=2", "train.sample_every=4"]),
                     tmp_path / "r")
    real = Run.save_snapshot

    def boom(self, step):
        if step == 6:
            raise MemoryError("out of memory")
        return real(self, step)
    monkeypatch.setattr(Run, "save_snapshot", boom)
    with pytest.raises(MemoryError):
        run.train()
    run.close()
    monkeypatch.undo()
    Run.open(tmp_path / "r", write=True).train().close()
    assert RunFolder(tmp_path / "r").has_snapshot(6)


def test_a_signal_stops_an_evaluation_only_where_training_stops_after_the_step():
    """With several processes the stop waits for their agreement (every STOP_EVERY steps): the
    evaluations before it were each dropped with a warning."""
    from gankit.train.loop import STOP_EVERY, Trainer
    t = Trainer([], [], log_every=1)
    t.steps, t.step = 100, 5
    assert not t.stopping_after_this_step()
    t.stop = 15
    assert t.stopping_after_this_step()                      # one process: at once
    t.agree_stop = lambda s: s
    assert not t.stopping_after_this_step()                  # several: not before they agree
    t.step = STOP_EVERY
    assert t.stopping_after_this_step()
    t.step = t.steps = 10 * STOP_EVERY
    assert not t.stopping_after_this_step()                  # the last step: training finishes
