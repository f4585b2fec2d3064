"""SIGKILL a training process at random moments, some inside a checkpoint write, five times;
resuming each time ends bit-identical to a run that was never interrupted."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gankit import config as C
from gankit.runfolder import RunFolder
from gankit.train.run import Run

ROOT = Path(__file__).resolve().parents[1]
SETS = ["train.steps=800", "train.batch_size=16", "train.log_every=7", "train.sample_every=500",
        "train.checkpoint_every=4", "train.keep_checkpoints=2", "train.n_fixed=16", "train.progress=false",
        "generator.hidden=[32, 32]", "discriminator.hidden=[32, 32]",
        "discriminator.dropout=0.3",        # the torch RNG stream must resume too
        "eval.n_samples=100", "eval.jsd_samples=200", "eval.jsd_bins=20",
        'eval.metrics=["modes"]']           # the states are compared, not the final evaluation's numbers


def _launch(run: Path, fresh: bool) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    args = ["train", "ring", "--out", str(run)] if fresh else ["train", "--resume", "--out", str(run)]
    if fresh:
        args += [a for kv in SETS for a in ("--set", kv)]
    return subprocess.Popen([sys.executable, "-m", "gankit", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _training(run: Path, p: subprocess.Popen) -> bool:
    """Wait until the process holds the run's lock (it is training); False if it ended."""
    lock = run / ".gankit.lock"
    while p.poll() is None:
        try:
            if lock.read_text().strip() == str(p.pid):
                return True
        except OSError:
            pass
        time.sleep(0.01)
    return False


def _kill_inside_a_write(run: Path, p: subprocess.Popen, timeout: float = 30.0) -> bool:
    """SIGKILL as soon as a checkpoint temp file exists; True if one was there."""
    ck = run / "checkpoints"
    t0 = time.monotonic()
    while p.poll() is None and time.monotonic() - t0 < timeout:
        try:
            if any(n.endswith(".tmp") for n in os.listdir(ck)):
                p.kill()
                return True
        except FileNotFoundError:
            pass
    p.kill()
    return False


def _final_state(run: Path) -> dict:
    state, path = RunFolder(run).load_checkpoint()
    return state


def _assert_equal(a, b, where="state"):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _assert_equal(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_equal(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def test_five_sigkills_then_resume_end_bit_identical(tmp_path):
    reference = Run.create(C.load("ring", SETS), tmp_path / "reference").train()
    reference.close()
    want = _final_state(tmp_path / "reference")

    run = tmp_path / "killed"
    rng = random.Random(15)
    kills, torn_writes = 0, 0
    while kills < 5:
        fresh = not (run / "config.toml").exists()
        p = _launch(run, fresh)
        if not _training(run, p):
            raise AssertionError(f"the run ended before it was killed: {p.communicate()[1][-2000:]}")
        if kills % 2:                              # kills 2 and 4: inside a checkpoint write
            _kill_inside_a_write(run, p)
            p.wait()
            torn_writes += any(n.endswith(".tmp") for n in os.listdir(run / "checkpoints"))
        else:                                      # kills 1, 3, 5: at a random moment
            time.sleep(rng.uniform(0.0, 0.5))
            p.send_signal(signal.SIGKILL)
            p.wait()
        assert p.returncode == -signal.SIGKILL, "the run finished before the kill: make it longer"
        kills += 1
    assert torn_writes >= 1        # at least one kill left half a checkpoint behind
    p = _launch(run, fresh=not (run / "config.toml").exists())
    _, err = p.communicate(timeout=600)
    assert p.returncode == 0, err
    got = _final_state(run)
    assert got["step"] == want["step"] == 800
    for part in ("models", "optimizers", "objective", "rng"):
        _assert_equal(want[part], got[part], part)
    assert not [n for n in os.listdir(run / "checkpoints") if n.endswith(".tmp")]   # cleaned up
    steps = [r["step"] for r in RunFolder(run).records("train")]
    assert steps == sorted(set(steps))             # no duplicated or lost log steps
    assert steps == [r["step"] for r in RunFolder(tmp_path / "reference").records("train")]


def test_the_first_record_after_a_resume_averages_the_same_steps_as_an_unbroken_run(tmp_path, tiny):
    """A record's losses are the mean since the last record; the sums of the steps before a stop
    between two records were lost, so the first record after --resume averaged fewer steps."""
    from gankit.runfolder import RunFolder
    from gankit.train.run import Run
    from gankit.train.signals import TrainingInterrupted
    over = tiny + ["train.steps=12", "train.log_every=3", "train.checkpoint_every=4"]
    Run.create(C.load("ring", over), tmp_path / "a").train().close()

    class StopAt7:
        def on_step_end(self, trainer):
            if trainer.step == 7:
                trainer.stop = signal.SIGTERM
    run = Run.create(C.load("ring", over), tmp_path / "b")
    run.objective.callbacks.append(StopAt7())
    with pytest.raises(TrainingInterrupted):
        run.train()
    run.close()
    Run.open(tmp_path / "b", write=True).train().close()
    strip = lambda rs: [{k: v for k, v in r.items() if k != "time"} for r in rs]   # noqa: E731
    assert strip(RunFolder(tmp_path / "b").records("train")) == strip(RunFolder(tmp_path / "a").records("train"))


def test_resuming_a_finished_run_does_not_evaluate_it_again(tmp_path, tiny, capsys):
    """--resume of a finished run trains nothing; it measured every metric again and recorded a
    second final evaluation of the same step (minutes for image presets).  After a new
    rejection-sampler fit (gankit drs) or with other eval settings it does measure again."""
    from gankit.cli import main
    sets = [a for kv in tiny + ['eval.metrics=["modes"]'] for a in ("--set", kv)]
    assert main(["train", "ring", "--out", str(tmp_path / "r"), *sets]) == 0
    finals = lambda: [r for r in RunFolder(tmp_path / "r").records("eval") if r["source"] == "final"]  # noqa: E731
    first = finals()
    assert len(first) == 1
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(tmp_path / "r")]) == 0
    assert finals() == first
    assert "recorded by an earlier session with the same settings; not repeated" in capsys.readouterr().err
    assert main(["train", "--resume", "--out", str(tmp_path / "r"), "--set", "eval.n_samples=300"]) == 0
    assert len(finals()) == 2 and finals()[-1]["settings"]["n_samples"] == 300


def test_a_finished_runs_evaluation_is_measured_again_when_what_draws_the_samples_changed(tmp_path, tiny):
    """--resume --set objective.ema=0 of a finished run kept the EMA G's numbers as its final
    evaluation, though the samples now come from the raw G."""
    from gankit.cli import main
    sets = [a for kv in tiny + ['eval.metrics=["modes"]', "objective.ema=0.9"] for a in ("--set", kv)]
    assert main(["train", "ring-vanilla", "--out", str(tmp_path / "r"), *sets]) == 0
    assert main(["train", "--resume", "--out", str(tmp_path / "r"), "--set", "objective.ema=0"]) == 0
    finals = [r for r in RunFolder(tmp_path / "r").records("eval") if r["source"] == "final"]
    assert len(finals) == 2


def test_a_partial_gankit_eval_is_never_taken_for_the_final_evaluation(tmp_path, tiny):
    """A later `gankit eval --metrics energy` record of the last step was reused as "measured
    during training" by the next --resume: its one metric at other settings became the final
    numbers."""
    from gankit import api
    over = tiny + ["train.eval_every=15", 'eval.metrics=["modes", "energy"]']
    api.train("ring-vanilla", tmp_path / "r", over, report=False, log=lambda s: None)
    api.evaluate(tmp_path / "r", ["energy"], ["eval.n_samples=300"], log=lambda s: None)
    said = []
    run = Run.open(tmp_path / "r", write=True)
    try:
        result = api.final_evaluation(run, log=said.append)
    finally:
        run.close()
    assert "modes_covered" in result and "measured during training (train.eval_every = 15)" in said[0]


def test_a_final_evaluation_recorded_before_an_option_existed_is_still_reused(tmp_path, tiny):
    """A session record written by an older gankit lacks options added since (data.standardize
    here): read with today's defaults it matches, so the resume does not measure again."""
    import json
    from gankit.cli import main
    sets = [a for kv in tiny + ['eval.metrics=["modes"]'] for a in ("--set", kv)]
    assert main(["train", "ring-vanilla", "--out", str(tmp_path / "r"), *sets]) == 0
    path = tmp_path / "r" / "metrics.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for r in rows:
        if r["kind"] == "session":
            del r["config"]["data"]["standardize"]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["train", "--resume", "--out", str(tmp_path / "r")]) == 0
    assert len([r for r in RunFolder(tmp_path / "r").records("eval") if r["source"] == "final"]) == 1


def test_evaluations_after_a_resumed_session_are_reused_and_a_moved_data_file_changes_nothing(tmp_path, tiny):
    """A resumed session's record holds what it changed, not the whole config: evaluations it
    wrote were never reused (the final evaluation ran twice, and again at every resume); and a
    run whose data file moved (--set data.path=NEW) was measured again at every resume."""
    import numpy as np
    from gankit.cli import main
    pts = np.random.default_rng(0).normal(size=(300, 2)).astype(np.float32)
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        np.save(tmp_path / d / "p.npy", pts)
    sets = [a for kv in [k for k in tiny if not k.startswith("train.steps")]
            + ['eval.metrics=["energy"]', "train.eval_every=10", 'data.name="points"',
               f'data.path="{tmp_path / "a" / "p.npy"}"'] for a in ("--set", kv)]
    run = tmp_path / "r"
    assert main(["train", "ring-vanilla", "--out", str(run), *sets, "--set", "train.steps=20"]) == 0
    assert main(["train", "--resume", "--out", str(run), "--set", "train.steps=30"]) == 0
    assert main(["train", "--resume", "--out", str(run), "--set", f'data.path="{tmp_path / "b" / "p.npy"}"']) == 0
    assert main(["train", "--resume", "--out", str(run)]) == 0
    at_30 = [r["source"] for r in RunFolder(run).records("eval") if r["step"] == 30]
    assert at_30 == ["train.eval_every"], at_30
