"""Watching runs: TensorBoard events, the live report, session records, training time,
the final evaluation (once, obeying eval.metrics) and `gankit eval` records."""
from pathlib import Path

import pytest

from gankit import config as C
from gankit.cli import main
from gankit.runfolder import RunFolder
from gankit.train.run import Run


def test_tensorboard_events_hold_the_expected_tags(tmp_path, tiny):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    cfg = C.load("ring", tiny + ["train.tensorboard=true", "train.eval_every=15",
                                 "eval.metrics=[\"modes\"]", "train.live_report=false"])
    run = Run.create(cfg, tmp_path / "r").train()
    ea = EventAccumulator(str(run.folder.tensorboard_dir), size_guidance={"images": 0, "scalars": 0})
    ea.Reload()
    tags = ea.Tags()
    for t in ("train/loss_d", "train/loss_g", "train/d_real", "train/lr_g", "train/time",
              "eval/modes_covered", "eval/hq_fraction"):
        assert t in tags["scalars"], t
    assert [e.step for e in ea.Scalars("train/loss_d")] == [10, 20, 30]      # the log cadence
    assert [e.step for e in ea.Scalars("eval/modes_covered")] == [15, 30]
    assert "samples" in tags["images"]                                          # 2-D scatter per snapshot
    assert [e.step for e in ea.Images("samples")] == [0, 15, 30]
    assert "config/text_summary" in tags["tensors"]


def test_tensorboard_missing_is_a_clear_error(tmp_path, tiny, monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_tb(name, *a, **k):
        if name.startswith("torch.utils.tensorboard"):
            raise ImportError("no tensorboard")
        return real_import(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", no_tb)
    with pytest.raises(C.ConfigError, match=r"gankit\[tensorboard\]"):   # before the folder is written
        Run.create(C.load("ring", tiny + ["train.tensorboard=true"]), tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_live_report_refreshes_while_training_and_stops_at_the_end(tmp_path, tiny):
    pages = []

    class Peek:      # reads report.html right after each snapshot's rebuild
        def on_snapshot(self, step, arrays):
            p = run.folder.report_path
            pages.append(p.read_text() if p.exists() else "")
    cfg = C.load("ring", tiny + ["train.live_report=true"])
    run = Run.create(cfg, tmp_path / "r")
    from gankit.train import watch
    real = watch.LiveReport

    class EveryTime(real):   # no time budget in the test: rebuild at every snapshot
        def __init__(self, run, final=True):
            super().__init__(run, share=1e9, final=final)
    watch.LiveReport = EveryTime
    try:
        run.watchers.append(Peek())
        run.train()
    finally:
        watch.LiveReport = real
    live = [p for p in pages if 'http-equiv="refresh"' in p]
    assert len(live) >= 2, "the page was rebuilt at the snapshots while training"
    final = run.folder.report_path.read_text()
    assert 'http-equiv="refresh"' not in final and "the final evaluation was not recorded" in final   # Run.train alone


def test_live_report_writes_the_last_page_once(tmp_path, tiny, monkeypatch):
    """The last step's snapshot does not rebuild a live page that close() replaces at once."""
    from gankit import report
    from gankit.train.watch import LiveReport
    writes = []
    real = report.write_report
    monkeypatch.setattr(report, "write_report", lambda *a, **k: writes.append(k["live"]) or real(*a, **k))
    run = Run.create(C.load("ring", tiny), tmp_path / "r")
    lr = LiveReport(run, share=1e9)
    lr.on_snapshot(run.cfg.train.steps // 2, {})
    lr.on_snapshot(run.cfg.train.steps, {})
    lr.close()
    assert writes == [True, False]
    writes.clear()
    lr = LiveReport(run, share=1e9)        # a run whose only snapshot in budget is the last
    lr.on_snapshot(run.cfg.train.steps, {})
    lr.close()
    assert writes == [False]
    writes.clear()
    lr = LiveReport(run, share=1e9, final=False)   # the caller writes the final page: keep the live one
    lr.on_snapshot(run.cfg.train.steps, {})
    lr.close()
    assert writes == [True]


def test_live_report_keeps_within_its_time_share(tmp_path, tiny):
    from gankit.train.watch import LiveReport
    run = Run.create(C.load("ring", tiny), tmp_path / "r")
    lr = LiveReport(run, share=0.1)
    lr.spent = 100.0                      # already spent more than 10% of the elapsed time
    lr.on_snapshot(0, {})
    assert not run.folder.report_path.exists()


def test_live_report_counts_the_coming_rebuild(tmp_path, tiny):
    """A short run pays nothing: at the start, the rebuild itself would exceed the share."""
    import time

    from gankit.train.watch import LiveReport
    run = Run.create(C.load("ring", tiny), tmp_path / "r")
    lr = LiveReport(run, share=0.1)
    lr.on_snapshot(0, {})                 # ~0 s of training: a ~1 s page is over 10%
    assert not run.folder.report_path.exists()
    lr.t0 = time.perf_counter() - 100.0   # 100 s into training: 1 s fits within 10 s
    lr.on_snapshot(10, {})
    assert run.folder.report_path.exists() and lr.expected > 0


def test_sessions_and_training_time_across_a_resume(tmp_path, tiny):
    over = [o for o in tiny if not o.startswith("train.steps")]
    Run.create(C.load("ring", over + ["train.steps=20"]), tmp_path / "r").train()
    t1 = RunFolder(tmp_path / "r").records("train")[-1]["time"]
    Run.open(tmp_path / "r", ["train.steps=30", "eval.n_samples=300"]).train()
    folder = RunFolder(tmp_path / "r")
    sessions = folder.records("session")
    assert [s["step"] for s in sessions] == [0, 20] and [s["resume"] for s in sessions] == [False, True]
    assert sessions[0]["config"]["train"]["steps"] == 20                  # the original config kept
    assert sessions[1]["changed"] == {"train.steps": [20, 30], "eval.n_samples": [500, 300]}
    assert sessions[1]["torch"] and sessions[1]["gankit"] and "command" in sessions[1]
    times = [r["time"] for r in folder.records("train")]
    assert times == sorted(times) and times[-1] > t1                       # cumulative, not restarted
    from gankit.report import write_report
    page = write_report(tmp_path / "r").read_text()
    assert "train.steps: 20 \u2192 30" in page


def test_final_snapshot_when_steps_are_not_a_multiple_of_sample_every(tmp_path, tiny):
    run = Run.create(C.load("ring", tiny + ["train.steps=23", "train.sample_every=10"]), tmp_path / "r").train()
    assert [int(s["step"]) for s in run.folder.snapshots()] == [0, 10, 20, 23]


def test_final_evaluation_runs_once_and_obeys_eval_metrics(tmp_path, tiny_cli, capsys):
    out = tmp_path / "r"
    assert main(["train", "ring", "--out", str(out), *tiny_cli, "--set", "train.eval_every=6",
                 "--set", "eval.metrics=[\"modes\"]"]) == 0
    evals = RunFolder(out).records("eval")
    assert [e["step"] for e in evals] == [6, 12]                     # the last step once, not twice
    assert all("jsd" not in e and "modes_covered" in e for e in evals)
    err = capsys.readouterr().err
    assert "evaluation of step 12: measured during training" in err
    refs = RunFolder(out).records("reference")
    assert len(refs) == 1 and refs[0]["modes_covered"] == 8           # real data covers every mode


def test_final_evaluation_says_what_it_does(tmp_path, tiny_cli, capsys):
    assert main(["train", "ring", "--out", str(tmp_path / "r"), *tiny_cli,
                 "--set", "eval.metrics=[\"jsd\"]"]) == 0
    err = capsys.readouterr().err
    assert "evaluating step 12: jsd" in err
    (ev,) = RunFolder(tmp_path / "r").records("eval")
    assert "jsd" in ev and "modes_covered" not in ev and ev["source"] == "final"


def test_gankit_eval_records_with_its_settings(tmp_path, tiny_cli, capsys):
    out = tmp_path / "r"
    # the training's own final evaluation measures energy only: `gankit eval`'s record is checked
    assert main(["train", "ring", "--out", str(out), *tiny_cli, "--set", 'eval.metrics=["energy"]']) == 0
    cfg_before = (out / "config.toml").read_text()
    assert main(["eval", str(out), "--metrics", "modes", "--set", "eval.n_samples=300"]) == 0
    last = RunFolder(out).records("eval")[-1]
    assert last["source"] == "gankit eval" and last["step"] == 12
    assert last["settings"]["n_samples"] == 300 and "modes_covered" in last and "jsd" not in last
    assert (out / "config.toml").read_text() == cfg_before            # settings for this evaluation only
    assert main(["eval", str(out), "--set", "train.steps=5"]) == 2
    assert "takes only eval.KEY=VALUE settings, data.path, data.root or generator.temperature" in \
        capsys.readouterr().err


def test_the_final_evaluation_reaches_tensorboard(tmp_path, tiny):
    """With no periodic evaluation the final one is the only eval record: it was logged after
    training had closed the event writer, so TensorBoard showed no eval/* scalar at all."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from gankit import api
    run = api.train("ring", out=tmp_path / "r", overrides=tiny + [
        "train.tensorboard=true", "train.eval_every=0", "eval.metrics=[\"modes\"]"], report=False, log=None)
    ea = EventAccumulator(str(run.folder.tensorboard_dir), size_guidance={"scalars": 0})
    ea.Reload()
    assert [e.step for e in ea.Scalars("eval/modes_covered")] == [30]
    assert [e.step for e in ea.Scalars("train/loss_d")] == [10, 20, 30]     # the training events kept


def test_resume_keeps_the_checkpoint_steps_tensorboard_events_and_eval_records_carry_settings(tmp_path, tiny):
    """TensorBoard's purge_step dropped every event at the checkpoint's own step on --resume (the
    resumed run never writes them again); periodic eval records now say where they come from and
    with which settings, as every other eval record does (compare checks the sample counts)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    over = tiny + ["train.tensorboard=true", "train.eval_every=10", 'eval.metrics=["modes"]']
    Run.create(C.load("ring", over + ["train.steps=20"]), tmp_path / "r").train().close()
    Run.open(tmp_path / "r", ["train.steps=30"], write=True).train().close()
    ea = EventAccumulator(str(tmp_path / "r" / "tensorboard"), size_guidance={"scalars": 0})
    ea.Reload()
    assert [e.step for e in ea.Scalars("train/loss_d")] == [10, 20, 30]
    assert [e.step for e in ea.Scalars("eval/modes_covered")] == [10, 20, 30]
    evals = RunFolder(tmp_path / "r").records("eval")
    assert {e["source"] for e in evals} == {"train.eval_every"}
    assert all(e["settings"]["n_samples"] == 500 for e in evals)


def test_a_run_that_fails_after_training_leaves_a_final_page(tmp_path, tiny, monkeypatch):
    """The live page is rewritten without its reload when the evaluation (or training) fails or is
    stopped: a page saying LIVE forever was left at an old step."""
    from gankit import api
    monkeypatch.setattr(api, "final_evaluation", lambda run, log=None: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError, match="boom"):
        api.train("ring", out=tmp_path / "r", overrides=tiny + ["train.live_report=true"], log=None)
    page = (tmp_path / "r" / "report.html").read_text()
    assert "LIVE" not in page and "http-equiv" not in page and "step 30" in page


def _holding_the_lock(lock):
    import subprocess
    import sys
    return subprocess.Popen([sys.executable, "-c", "import fcntl, os, sys, time; fd = os.open(sys.argv[1], "
                             "os.O_RDWR); fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); "
                             "time.sleep(60)", str(lock)], stdout=subprocess.PIPE, text=True)


def test_a_report_of_a_run_another_process_trains_stays_live(tmp_path, tiny):
    import time
    from gankit.report import write_report
    run = Run.create(C.load("ring", tiny), tmp_path / "r")
    run.train()          # its final evaluation not recorded yet: the holder may be measuring it
    run.close()
    holder = _holding_the_lock(run.folder.lock_path)
    try:
        assert holder.stdout.readline().strip() == "held"
        page = write_report(tmp_path / "r").read_text()
        assert 'http-equiv="refresh"' in page and "LIVE" in page
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    assert 'http-equiv="refresh"' not in write_report(tmp_path / "r").read_text()


def test_a_finished_and_evaluated_run_held_by_drs_is_not_live(tmp_path, tiny):
    """`gankit drs` holds the lock and never rewrites the page: a report built meanwhile said LIVE at
    step 300 of 300 and reloaded until the next `gankit report`."""
    from gankit import api
    from gankit.report import write_report
    # evaluated on one metric: the page's state is checked, not the numbers
    api.train("ring", out=tmp_path / "r", overrides=tiny + ['eval.metrics=["modes"]'], log=None).close()
    holder = _holding_the_lock(RunFolder(tmp_path / "r").lock_path)
    try:
        assert holder.stdout.readline().strip() == "held"
        page = write_report(tmp_path / "r").read_text()
        assert 'http-equiv="refresh"' not in page and "finished" in page
    finally:
        holder.kill()
        holder.wait()


def test_a_stopped_run_is_labelled_stopped_not_finished(tmp_path, tiny):
    from gankit.report import write_report
    run = Run.create(C.load("ring", tiny), tmp_path / "r")
    run.train()
    steps = run.cfg.train.steps
    run.close()
    toml = tmp_path / "r" / "config.toml"
    toml.write_text(toml.read_text().replace(f"steps = {steps}\n", f"steps = {steps * 4}\n", 1))
    page = write_report(tmp_path / "r").read_text()
    assert f"stopped at step {steps} of {steps * 4}" in page and ">finished<" not in page


def test_report_text_says_what_is_drawn_and_which_schedule_is_in_force(tmp_path, tiny):
    from gankit.report import write_report
    run = Run.create(C.load("ring-vae", tiny), tmp_path / "v")
    run.train()
    run.close()
    page = write_report(tmp_path / "v").read_text()
    assert "Generated points over real ones" in page and "on D(x)" not in page and "no single D" in page
    run = Run.create(C.load("ring", tiny), tmp_path / "g")           # the preset decays to 1% of its rates
    run.train()
    run.close()
    page = write_report(tmp_path / "g").read_text()
    assert "on D(x)" in page and "the objective&#39;s own decay, linear to 0.01" in page


def test_a_reused_final_evaluation_reads_as_a_measured_one(tmp_path, tiny):
    """An infinity (reverse KL with nothing of high quality) and a NaN come back as floats
    when the final evaluation reuses the periodic record of its step, as when it measures."""
    from gankit import api
    cfg = C.load("ring", tiny + ["train.steps=6", "train.eval_every=6", 'eval.metrics=["modes"]'])
    run = Run.create(cfg, tmp_path / "r").train()
    (rec,) = run.folder.records("eval")
    assert rec["reverse_kl"] == "inf"          # 6 steps: nothing of high quality yet
    reused = api.final_evaluation(run, log=None)
    measured = api.evaluate(run, ["modes"], record=False, reference=False)
    run.close()
    assert reused["reverse_kl"] == measured["reverse_kl"] == float("inf")
    assert all(not isinstance(v, str) for v in reused.values())


def test_a_run_stopped_between_log_steps_is_at_its_checkpoints_step(tmp_path, tiny):
    """Ctrl-C at step 13 writes checkpoint 13 (what --resume continues from); the report said
    "stopped at step 10", and compare showed 10 and the training time of that record."""
    import signal

    from gankit.report import write_report
    from gankit.report.compare import compare_data
    from gankit.train.signals import TrainingInterrupted

    class CtrlCAt13:          # the signal handler's effect: stop after the current step
        def on_step_end(self, trainer):
            if trainer.step == 13:
                trainer.stop = signal.SIGINT
    run = Run.create(C.load("ring", tiny + ["train.steps=100", "train.checkpoint_every=50"]), tmp_path / "r")
    run.objective.callbacks.append(CtrlCAt13())
    with pytest.raises(TrainingInterrupted):
        run.train()
    run.close()
    folder = RunFolder(tmp_path / "r")
    assert [s for s, _ in folder.checkpoints()] == [13] and folder.records("train")[-1]["step"] == 10
    held = folder.load_file(folder.checkpoints()[-1][1])["train_time"]
    page = write_report(tmp_path / "r").read_text()
    assert "stopped at step 13 of 100: continue with gankit train --resume" in page
    (info,) = compare_data([tmp_path / "r"])["runs"]
    assert info["step"] == 13 and info["train_time_s"] == pytest.approx(held, abs=1e-3)
    assert info["train_time_s"] > folder.records("train")[-1]["time"] and not info["train_time_at_least"]


def test_a_run_stopped_before_its_first_checkpoint_is_not_told_to_resume(tmp_path, tiny):
    """A non-finite loss at step 2: no checkpoint, no train record; --resume would fail the same way."""
    import re

    from gankit.report import write_report
    from gankit.train.loop import NonFiniteLoss
    run = Run.create(C.load("ring", tiny + ["optim_d.lr=1e30", "optim_g.lr=1e30"]), tmp_path / "r")
    with pytest.raises(NonFiniteLoss):
        run.train()
    run.close()
    assert not RunFolder(tmp_path / "r").checkpoints() and not RunFolder(tmp_path / "r").records("train")
    (badge,) = re.findall(r'class="badge stopped">(.*?)</span>', write_report(tmp_path / "r").read_text())
    assert "--resume" not in badge and "before its first checkpoint" in badge and "start it again" in badge
    assert badge.startswith("diverged: non-finite values at step") and "learning rate" in badge


def test_a_diverged_run_is_badged_diverged_until_a_resume_trains_on(tmp_path, tiny):
    """The badge said "stopped at step N: continue with --resume", as for Ctrl-C, with no word of
    the divergence; a later session that trains on drops the word."""
    import re

    from gankit.report import write_report
    from gankit.train.loop import NonFiniteLoss

    def badge():
        return re.findall(r'class="badge (\w+)">(.*?)</span>', write_report(tmp_path / "r").read_text())[0]

    run = Run.create(C.load("ring", tiny + ["train.steps=20"]), tmp_path / "r")
    run.train()
    run.close()
    run = Run.open(tmp_path / "r", ["train.steps=30", "optim_d.lr=1e30", "optim_g.lr=1e30"], write=True)
    with pytest.raises(NonFiniteLoss):
        run.train()
    run.close()
    kind, text = badge()
    assert kind == "stopped" and text.startswith("diverged: non-finite values")
    assert f"continue with gankit train --resume --out {tmp_path / 'r'} and the fix" in text and "learning rate" in text
    lr = C.load("ring").optim_d.lr, C.load("ring").optim_g.lr
    run = Run.open(tmp_path / "r", ["train.steps=30", f"optim_d.lr={lr[0]}", f"optim_g.lr={lr[1]}"], write=True)
    run.train()
    run.close()
    assert badge() == ("done", "finished") or badge()[1].startswith("trained;")


def test_a_live_page_never_replaces_the_final_page_written_while_it_was_built(tmp_path, tiny, monkeypatch):
    """A `gankit report` started while training ran decided "live", built its page for seconds,
    and wrote it over the final page the training process wrote meanwhile: LIVE forever."""
    import subprocess
    import sys
    from gankit import report
    run = Run.create(C.load("ring", tiny), tmp_path / "r")
    run.train()
    run.close()
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, os, sys, time; fd = os.open(sys.argv[1], "
                               "os.O_RDWR); fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); "
                               "time.sleep(60)", str(run.folder.lock_path)], stdout=subprocess.PIPE, text=True)
    real = report.report_context

    def trainer_finishes_meanwhile(*a, **k):
        ctx = real(*a, **k)
        run.folder.write_report("<html>the final page</html>")     # the training process's last page
        return ctx
    monkeypatch.setattr(report, "report_context", trainer_finishes_meanwhile)
    try:
        assert holder.stdout.readline().strip() == "held"
        report.write_report(tmp_path / "r")
        assert run.folder.report_path.read_text() == "<html>the final page</html>"
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("room", [None, 0, 45], ids=["closed", "full", "fills-after-the-first-line"])
def test_a_progress_bar_that_cannot_be_written_never_stops_training(tmp_path, tiny, monkeypatch, room):
    """The bar writes to stderr: None (file descriptor 2 closed) or a disk that fills stopped the
    run, losing the steps since its last checkpoint."""
    import errno
    import io
    import os
    import sys

    class Full(io.StringIO):
        def write(self, s):
            if self.tell() + len(s) > room:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return super().write(s)
    monkeypatch.setattr(sys, "stderr", None if room is None else Full())
    run = Run.create(C.load("ring", tiny + ["train.progress=true", "train.steps=60"]), tmp_path / "r")
    run.train().close()
    assert RunFolder(tmp_path / "r").checkpoints()[-1][0] == 60


def test_a_run_started_again_in_its_folder_shows_none_of_the_old_runs_tensorboard_events(tmp_path, tiny):
    """A run started again into the folder (records cleared: the old run died before a checkpoint)
    kept the old run's events: two values at each step, and the old run's later steps."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter
    run = Run.create(C.load("ring", tiny + ["train.tensorboard=true", "train.steps=20"]), tmp_path / "r")
    old = SummaryWriter(log_dir=str(run.folder.tensorboard_dir))     # what the dead run left
    for step in range(10, 60, 10):
        old.add_scalar("train/loss_d", 99.0, step)
    old.close()
    # the dead run's file named as written a minute earlier: TensorBoard orders files by name
    # (their second of creation), and one of the same second may sort after the new run's
    for f in run.folder.tensorboard_dir.glob("events.out.tfevents.*"):
        stamp = f.name.split(".")[3]
        f.rename(f.with_name(f.name.replace(f".{stamp}.", f".{int(stamp) - 60}.", 1)))
    run.train().close()
    ea = EventAccumulator(str(tmp_path / "r" / "tensorboard"), size_guidance={"scalars": 0})
    ea.Reload()
    assert [(e.step, e.value != 99.0) for e in ea.Scalars("train/loss_d")] == [(10, True), (20, True)]


def test_the_stopped_note_names_the_checkpoint_a_resume_continues_from():
    from gankit.report.progress import Progress, stopped_note
    note = stopped_note(Progress(1100, 10.0, False, 1000), 1500, 250)
    assert note == ("stopped at step 1100 of 1500: continue with gankit train --resume --out RUN (from its "
                    "checkpoint of step 1000: steps 1001-1100 are trained again)")
    assert stopped_note(Progress(1000, 10.0, False, 1000, folder=Path("runs/a b")), 1500, 250) == \
        "stopped at step 1000 of 1500: continue with gankit train --resume --out 'runs/a b'"


def test_a_run_stopped_during_its_final_evaluation_is_not_called_finished(tmp_path, tiny):
    """SIGTERM during the final evaluation left no record of it, and the page said "finished"."""
    from gankit.report import write_report
    run = Run.create(C.load("ring", tiny), tmp_path / "r")
    run.train()          # trained to the end; the final evaluation (api.train's) never ran
    run.close()
    page = write_report(tmp_path / "r").read_text()
    assert ">finished<" not in page
    assert f"the final evaluation was not recorded: gankit eval {tmp_path / 'r'} measures it" in page
    from gankit import api
    api.evaluate(tmp_path / "r", None, log=None)
    assert ">finished<" in write_report(tmp_path / "r").read_text()
