import os

import pytest
import torch

from gankit import config as C
from gankit.runfolder import RunFolder
from gankit.train.loop import NonFiniteLoss
from gankit.train.objective import Batch
from gankit.train.run import Run, RunError



def weights(run):
    return {**{f"G.{k}": v for k, v in run.G.state_dict().items()},
            **{f"D.{k}": v for k, v in run.D.state_dict().items()}}


def test_resume_gives_bit_identical_weights(tmp_path, tiny):
    """A run killed after its step-20 checkpoint and resumed ends where an uninterrupted run ends."""
    over = tiny + ["discriminator.dropout=0.3",     # dropout: the global RNG state must resume too
                   "train.keep_checkpoints=5"]
    full = Run.create(C.load("ring", over), tmp_path / "full").train()
    a = {k: v.clone() for k, v in weights(full).items()}
    sa = {k: v["exp_avg"].clone() for k, v in full.optimizers["g"].state_dict()["state"].items()}
    # the kill: the step-30 checkpoint never got written
    RunFolder(tmp_path / "full").checkpoints()[-1][1].unlink()
    resumed = Run.open(tmp_path / "full")
    assert resumed.step == 20
    resumed.train()
    b = weights(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    for k, v in resumed.optimizers["g"].state_dict()["state"].items():   # optimizer state too
        assert torch.equal(sa[k], v["exp_avg"])
    # the log was truncated to the checkpoint, then continued: no duplicated steps
    from gankit.report import read_metrics
    steps = [r["step"] for r in read_metrics(tmp_path / "full") if r["kind"] == "train"]
    assert steps == sorted(set(steps))


def test_resume_can_raise_train_steps(tmp_path, tiny):
    Run.create(C.load("ring", tiny + ["train.steps=20"]), tmp_path / "r").train()
    run = Run.open(tmp_path / "r", ["train.steps=30"])
    assert run.step == 20 and run.cfg.train.steps == 30
    run.train()
    assert run.step == 30


def test_training_does_not_touch_the_callers_rng(tmp_path, tiny):
    torch.manual_seed(123)
    before = torch.get_rng_state()
    Run.create(C.load("ring", tiny), tmp_path / "r").train()
    assert torch.equal(before, torch.get_rng_state())


def test_same_seed_same_run_other_seed_other_run(tmp_path, tiny):
    a = Run.create(C.load("ring", tiny), tmp_path / "a").train()
    b = Run.create(C.load("ring", tiny), tmp_path / "b").train()
    c = Run.create(C.load("ring", tiny + ["seed=1"]), tmp_path / "c").train()
    assert all(torch.equal(x, y) for x, y in zip(weights(a).values(), weights(b).values()))
    assert not all(torch.equal(x, y) for x, y in zip(weights(a).values(), weights(c).values()))


def test_a_killed_save_leaves_the_previous_checkpoint_loadable(tmp_path, monkeypatch, tiny):
    run = Run.create(C.load("ring", tiny), tmp_path / "r").train()
    folder = RunFolder(tmp_path / "r")
    before = folder.checkpoints()
    assert before and before[-1][0] == 30

    real_save = torch.save

    def dying_save(obj, f, *a, **k):
        real_save(obj, f, *a, **k)
        f.truncate(100)          # half a file on disk ...
        raise KeyboardInterrupt  # ... and the process is killed before the rename
    monkeypatch.setattr(torch, "save", dying_save)
    run.step = 40
    with pytest.raises(KeyboardInterrupt):
        run.save_checkpoint()
    monkeypatch.setattr(torch, "save", real_save)
    assert folder.checkpoints() == before
    assert not [p for p in os.listdir(folder.checkpoint_dir) if p.endswith(".tmp")]
    state, path = folder.load_checkpoint()
    assert state["step"] == 30


def test_a_corrupt_newest_checkpoint_falls_back_to_the_previous(tmp_path, tiny):
    Run.create(C.load("ring", tiny), tmp_path / "r").train()
    folder = RunFolder(tmp_path / "r")
    (_, prev), (_, last) = folder.checkpoints()[-2:]
    last.write_bytes(last.read_bytes()[:50])
    with pytest.warns(UserWarning, match=last.name):
        state, path = folder.load_checkpoint()
    assert path == prev and state["step"] == 20
    with pytest.warns(UserWarning, match="skipped unreadable"):
        reopened = Run.open(tmp_path / "r")
    assert reopened.step == 20


def test_checkpoint_holds_everything_and_loads_weights_only(tmp_path, tiny):
    Run.create(C.load("ring", tiny), tmp_path / "r").train()
    state, _ = RunFolder(tmp_path / "r").load_checkpoint()   # weights_only=True inside
    assert {"step", "config", "models", "optimizers", "rng"} <= set(state)
    assert {"torch", "data", "noise"} <= set(state["rng"])
    assert state["config"]["train"]["steps"] == 30


def _poisoned_from_step(run, step: int):
    """The run's real batches turn NaN once it has trained ``step`` steps."""
    real = run.objective.ctx.sample_batch

    def poisoned(n):
        b = real(n)
        return Batch(b.x * float("nan")) if run.step >= step else b
    run.objective.ctx.sample_batch = poisoned
    return run


def test_nan_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(tmp_path, tiny):
    run = _poisoned_from_step(Run.create(C.load("ring", tiny), tmp_path / "r"), 22)
    with pytest.raises((NonFiniteLoss, RunError), match="non-finite"):
        run.train()
    steps = [s for s, _ in RunFolder(tmp_path / "r").checkpoints()]
    assert steps and max(steps) == 20
    state, _ = RunFolder(tmp_path / "r").load_checkpoint()
    assert all(torch.isfinite(v).all() for v in state["models"]["G"].values())


def test_nan_advice_is_the_objectives_and_says_when_no_checkpoint_exists(tmp_path):
    """A VAE whose decoder sigma underflows: the message advised D's rate and a gradient penalty
    (a VAE has no D) and promised a last good checkpoint that was never written."""
    run = Run.create(C.load("ring-vae", ["objective.sigma=1e-25", "train.steps=10", "train.log_every=5",
                                         "train.progress=false", "train.live_report=false"]), tmp_path / "v")
    with pytest.raises(NonFiniteLoss) as e:
        run.train()
    msg = str(e.value)
    assert "objective.sigma" in msg and "optim_d" not in msg and "penalty" not in msg
    assert "before its first checkpoint" in msg and "last good checkpoint" not in msg


def test_create_refuses_to_overwrite_a_trained_run(tmp_path, tiny):
    Run.create(C.load("ring", tiny), tmp_path / "r").train()
    with pytest.raises(RunError, match="--resume"):
        Run.create(C.load("ring", tiny), tmp_path / "r")


def test_k_d_steps_per_g_step(tmp_path, tiny):
    run = Run.create(C.load("ring", tiny + ["train.d_steps=3", "train.steps=5"]), tmp_path / "r")
    calls = {"d": 0, "g": 0}
    for ph in run.objective.phases:
        f = ph.loss

        def counted(ctx, f=f, name=ph.name):
            calls[name] += 1
            return f(ctx)
        ph.loss = counted
    run.train()
    assert calls == {"d": 15, "g": 5}


def test_steady_state_step_time_from_the_runs_own_clock(tmp_path, tiny):
    """benchmarks' per-step figure: between the first and last logged step; too few logs are named."""
    from gankit.train.baseline import gankit_loop, steady_seconds_per_step
    over = [o for o in tiny if not o.startswith(("train.steps", "train.log_every"))]
    run, whole = gankit_loop(C.load("ring", over + ["train.steps=20", "train.log_every=5"]), 20, str(tmp_path / "a"))
    per_step = steady_seconds_per_step(run)
    assert 0 < per_step * 15 <= whole
    run, _ = gankit_loop(C.load("ring", over + ["train.steps=4", "train.log_every=50"]), 4, str(tmp_path / "b"))
    with pytest.raises(ValueError, match="log_every"):
        steady_seconds_per_step(run)


def test_grad_clip_bounds_the_step_and_logs_the_norm_before_clipping():
    from gankit.train.loop import Phase, Trainer
    w = torch.nn.Parameter(torch.tensor([3.0, 4.0]))
    opt = torch.optim.SGD([w], lr=1.0)
    phase = Phase("g", opt, lambda ctx: ((w * w).sum(), {}), grad_clip=2.0)
    logs = Trainer([phase]).run_iteration(0, logging=True)
    assert torch.allclose(logs["grad_norm_g"], torch.tensor(10.0))          # ||2w|| = 10
    assert torch.allclose(w.detach(), torch.tensor([3.0, 4.0]) - 2.0 * torch.tensor([0.6, 0.8]))


def test_grad_clip_reaches_each_optimizers_phases(tmp_path, tiny):
    run = Run.create(C.load("ring", tiny + ["optim_d.grad_clip=0.5"]), tmp_path / "r")
    clips = {ph.name: ph.grad_clip for ph in run.objective.phases}
    assert clips == {"d": 0.5, "g": 0.0}


def test_opening_to_read_leaves_the_config_alone_training_records_the_overrides(tmp_path, tiny):
    Run.create(C.load("ring", tiny + ["train.steps=20"]), tmp_path / "r").train().close()
    path = tmp_path / "r" / "config.toml"
    before = path.read_bytes()
    reader = Run.open(tmp_path / "r", ["eval.n_samples=123", "train.progress=false"])
    assert reader.cfg.eval.n_samples == 123
    reader.evaluate(["mmd"])
    reader.close()
    assert path.read_bytes() == before           # an evaluation's settings are its own
    run = Run.open(tmp_path / "r", ["train.steps=25"])
    run.train()
    run.close()
    assert C.load(str(path)).train.steps == 25   # the run trained under them: config.toml says so


def test_a_resume_with_overrides_writes_its_config_once(tiny_run_dir, tmp_path, monkeypatch):
    import shutil
    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run_dir, run_dir)
    writes = []
    real = RunFolder.write_config
    monkeypatch.setattr(RunFolder, "write_config", lambda self, text: (writes.append(text), real(self, text)))
    run = Run.open(run_dir, ["train.steps=32"], write=True)
    run.train(final_report=False)
    run.close()
    assert len(writes) == 1 and "steps = 32" in writes[0]
    assert C.load(str(run_dir / "config.toml")).train.steps == 32


def test_eval_metrics_that_cannot_measure_the_data_are_refused_before_training(tmp_path, tiny):
    with pytest.raises(C.ConfigError, match=r"eval.metrics: 'fid' cannot measure this data \(GaussianMixture\)"):
        Run.create(C.load("ring", tiny + ['eval.metrics=["fid", "modes"]']), tmp_path / "r")
    assert not (tmp_path / "r" / "checkpoints").exists()


def test_a_second_run_object_of_a_folder_does_not_undo_what_another_trained(tmp_path, tiny):
    from gankit.train.run import RunError
    Run.create(C.load("ring", tiny), tmp_path / "r").train().close()
    steps = C.load("ring", tiny).train.steps
    a = Run.open(tmp_path / "r", [f"train.steps={steps + 4}"])
    b = Run.open(tmp_path / "r", [f"train.steps={steps + 8}"])
    a.train()
    with pytest.raises(RunError, match=rf"checkpoint of step {steps + 4}, past this Run's step {steps}"):
        b.train()
    assert max(s for s, _ in a.folder.checkpoints()) == steps + 4
    a.close(), b.close()


def test_api_records_the_configs_own_relative_imports_absolute_and_refuses_a_string_list(tmp_path, tiny,
                                                                                          monkeypatch):
    from gankit import api
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "noop_parts.py").write_text("X = 1\n")
    raw = {**C.to_dict(C.load("ring", tiny)), "imports": ["mods/noop_parts.py"]}
    run = api.train(raw, out=tmp_path / "r", evaluate=False, report=False, log=None)
    run.close()
    assert C.load(RunFolder(tmp_path / "r").read_config()).imports == [str(tmp_path / "mods" / "noop_parts.py")]
    with pytest.raises(C.ConfigError, match="overrides: a list of strings"):
        api.train("ring", out=tmp_path / "s", overrides="train.steps=10")
    with pytest.raises(C.ConfigError, match="metrics: a list of strings"):
        api.evaluate(tmp_path / "r", "modes")


def test_api_train_refuses_a_config_on_resume_and_ctrl_c_is_a_keyboard_interrupt(tmp_path, tiny):
    """resume=True continues the folder's own config.toml, so a config given beside it is refused
    (it was ignored); Ctrl-C in api.train reaches Python code as a KeyboardInterrupt, with the
    run left resumable."""
    import signal
    import threading
    import time
    from gankit import api
    from gankit.train.signals import TrainingInterrupted
    out = tmp_path / "r"
    api.train("ring", out=out, overrides=tiny, evaluate=False, report=False, log=None).close()
    with pytest.raises(C.ConfigError, match="own config.toml, so the config 'grid' would be ignored"):
        api.train("grid", out=out, resume=True)
    with pytest.raises(C.ConfigError, match="so a config dict would be ignored"):
        api.train(C.to_dict(C.load("ring", tiny)), out=out, resume=True)

    def interrupt_once_training_logs():
        deadline = time.time() + 60
        while time.time() < deadline and not (tmp_path / "s" / "metrics.jsonl").exists():
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)
    threading.Thread(target=interrupt_once_training_logs, daemon=True).start()
    with pytest.raises(KeyboardInterrupt) as e:
        api.train("ring", out=tmp_path / "s", overrides=tiny + ["train.steps=1000000"],
                  evaluate=False, report=False, log=None)
    assert isinstance(e.value, TrainingInterrupted) and e.value.exit_code == 130
    assert RunFolder(tmp_path / "s").checkpoints()


def test_training_time_leaves_out_evaluations_snapshots_checkpoints_and_watchers(tmp_path, tiny, monkeypatch):
    """A record's `time`, the checkpoint's train_time and the session record's are training alone
    (they ran from the start of fit, periodic evaluations and snapshots included), and a resume
    goes on from the checkpoint's."""
    import time
    from gankit.report import read_metrics
    pause = 0.06
    real_eval, real_snap, real_ckpt = Run.evaluate, RunFolder.save_snapshot, RunFolder.save_checkpoint
    monkeypatch.setattr(Run, "evaluate", lambda self, *a, **k: (time.sleep(pause), real_eval(self, ["mmd"]))[1])
    monkeypatch.setattr(RunFolder, "save_snapshot", lambda *a, **k: (time.sleep(pause), real_snap(*a, **k))[1])
    monkeypatch.setattr(RunFolder, "save_checkpoint", lambda *a, **k: (time.sleep(pause), real_ckpt(*a, **k))[1])

    class SlowWatcher:
        def on_record(self, record):
            time.sleep(pause)
    over = tiny + ["train.steps=3", "train.log_every=1", "train.sample_every=1", "train.eval_every=1",
                   "train.checkpoint_every=1", "train.live_report=false", "eval.n_samples=100",
                   "objective.drs=false"]    # its fit at the last step trains a D: training time
    run = Run.create(C.load("ring", over), tmp_path / "r")
    run.watchers.append(SlowWatcher())
    run.train()
    run.close()
    # 11 pauses (0.66 s) came before the last record; three tiny steps take a few hundredths
    times = [r["time"] for r in read_metrics(tmp_path / "r") if r["kind"] == "train"]
    assert len(times) == 3 and times == sorted(times) and times[-1] < 0.4, times
    state, _ = RunFolder(tmp_path / "r").load_checkpoint()
    assert times[-1] - 0.001 <= state["train_time"] < times[-1] + 0.05     # records round to ms
    resumed = Run.open(tmp_path / "r", ["train.steps=5"])
    resumed.train()
    resumed.close()
    recs = read_metrics(tmp_path / "r")
    session = [r for r in recs if r["kind"] == "session"][-1]
    assert session["train_time"] == round(state["train_time"], 3)
    later = [r["time"] for r in recs if r["kind"] == "train" and r["step"] > 3]
    assert len(later) == 2 and state["train_time"] <= later[0] <= later[1] < state["train_time"] + 0.5, later


def test_the_largest_seed_the_config_accepts_derives_stream_seeds_a_sample_takes(tmp_path, tiny):
    """seed = 2^63 - 1 trained, then its final evaluation failed: the stream seeds (seed + offset)
    passed 2^63 - 2, the largest sample seed.  They wrap; every ordinary seed's stay seed + offset."""
    from gankit import seeds
    top = 2 ** 63 - 1
    for name in [*seeds.TRAIN, *seeds.EVAL]:
        offset = {**seeds.TRAIN, **seeds.EVAL}[name]
        assert 0 <= seeds.stream_seed(top, name) < top
        for seed in (0, 12345, top - 1 - offset):
            assert seeds.stream_seed(seed, name) == seed + offset
    run = Run.create(C.load("ring", tiny + [f"seed={top}", "train.steps=2", "eval.n_samples=200",
                                             "objective.drs=false"]), tmp_path / "r")
    run.train()
    assert {"modes_covered", "jsd"} <= set(run.evaluate(["modes", "jsd"]))
    run.close()


def test_a_resume_whose_new_settings_fail_before_training_leaves_the_config_as_it_was(tiny_run_dir, tmp_path,
                                                                                    monkeypatch):
    """--resume --set X wrote X into config.toml when the run was opened: a setting that fails when
    training starts stayed, and the next plain --resume failed the same way."""
    import shutil
    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run_dir, run_dir)
    path = run_dir / "config.toml"
    before = path.read_bytes()
    # the ring preset decays its rates itself (objective.lr_decay_final): a second schedule is refused
    run = Run.open(run_dir, ["train.steps=40", "train.lr_schedule=cosine"], write=True)
    with pytest.raises(C.ConfigError, match="lr_schedule"):
        run.train()
    run.close()
    assert path.read_bytes() == before
    # a failure in the first step (a plug-in's, say)
    run = Run.open(run_dir, ["train.steps=40", "optim_d.lr=1e-3"], write=True)
    phase = run.objective.phases[0]
    monkeypatch.setattr(phase, "loss", lambda ctx: (_ for _ in ()).throw(RuntimeError("plug-in failed")))
    with pytest.raises(RuntimeError, match="plug-in failed"):
        run.train()
    run.close()
    assert path.read_bytes() == before
    run = Run.open(run_dir, write=True)          # the plain resume trains
    assert run.cfg.train.steps == 30 and run.cfg.train.lr_schedule == "constant"
    run.close()
    # a step trained: config.toml holds the overrides; so does a checkpoint written without training
    run = Run.open(run_dir, ["train.steps=32", "optim_d.lr=1e-3"], write=True)
    run.train()
    run.close()
    assert C.load(str(path)).optim_d.lr == 1e-3
    run = Run.open(run_dir, ["objective.drs_quantile=0.9"], write=True)
    run.save_checkpoint()
    run.close()
    assert C.load(str(path)).objective.params["drs_quantile"] == 0.9


def test_a_checkpoint_is_never_written_with_non_finite_optimizer_state(tmp_path, tiny):
    """Adam's exp_avg_sq overflowed while the weights stayed finite: the checkpoint was written,
    and a resume from this 'last good checkpoint' diverged again at once."""
    run = Run.create(C.load("ring", tiny), tmp_path / "r")
    opt = run.optimizers["d"]

    def overflow(o, args, kwargs):
        if run.step >= 12:     # during step 13
            next(iter(o.state.values()))["exp_avg_sq"].fill_(float("inf"))
    opt.register_step_post_hook(overflow)
    with pytest.raises(NonFiniteLoss, match=r"non-finite values between steps 11 and 20 in "
                                            r"optimizers/d/state/\d+/exp_avg_sq.*last good checkpoint is kept"):
        run.train()
    assert [s for s, _ in RunFolder(tmp_path / "r").checkpoints()] == [10]


@pytest.mark.parametrize("last", [True, False])
def test_an_update_that_breaks_g_is_caught_before_its_state_is_saved_or_evaluated(tmp_path, tiny, last):
    """G's weights stayed finite while its outputs overflowed: the step's losses (computed before
    its update) were fine, so the last step "finished" with a final evaluation of 1e38 samples,
    or a checkpoint step saved a "last good checkpoint" every resume diverged from at once."""
    run = Run.create(C.load("ring", tiny + ["objective.drs=false", "train.eval_every=10"]), tmp_path / "r")

    def blow_up(o, args, kwargs):
        if run.step == (29 if last else 19):     # the update of step 30 (the last) or 20 (a checkpoint's)
            with torch.no_grad():
                for p in run.modules["G"].parameters():
                    p.mul_(1e30)
    run.optimizers["g"].register_step_post_hook(blow_up)
    with pytest.raises(NonFiniteLoss, match=r"at step (30|20): G's samples after its update \(64 of 64 .*"
                                            r"last good checkpoint is kept"):
        run.train()
    folder = RunFolder(tmp_path / "r")
    assert [s for s, _ in folder.checkpoints()] == ([10, 20] if last else [10])
    assert [r["step"] for r in folder.records("eval")] == ([10, 20] if last else [10])
    assert all(torch.isfinite(p).all() for p in run.modules["G"].parameters())     # finite weights


def test_standardised_data_of_1e20_is_no_divergence(tmp_path, tiny):
    """The check of G's samples compared them in data units with 1.8e19: points of 1e20, trained
    standardised as the loader advises, stopped as "diverged" at the first checkpoint."""
    import numpy as np
    rows = np.random.default_rng(0).normal(size=(2000, 2)) * 1e20
    np.save(tmp_path / "big.npy", rows)
    cfg = C.load("ring-vanilla", tiny + ["data.name='points'", f"data.path='{tmp_path / 'big.npy'}'",
                                         "data.standardize=global", "train.steps=6", "train.checkpoint_every=3",
                                         'eval.metrics=["mmd"]'])
    run = Run.create(cfg, tmp_path / "r")
    run.train()
    assert [s for s, _ in RunFolder(tmp_path / "r").checkpoints()] == [3, 6]


def test_huge_data_with_batch_norm_writes_no_checkpoint_of_infinite_statistics(tmp_path, tiny):
    """Points of scale 1e25: D's batch-norm running_var was inf in every checkpoint, and the
    run finished as a success."""
    import numpy as np
    np.save(tmp_path / "huge.npy", (np.random.default_rng(0).normal(size=(500, 2)) * 1e25).astype(np.float32))
    cfg = C.load("ring-vanilla", tiny + ["data.name='points'", f"data.path='{tmp_path / 'huge.npy'}'",
                                         "data.standardize='none'", "discriminator.norm='batch'",
                                         "train.checkpoint_every=1"])
    with pytest.warns(UserWarning, match="data.standardize=global"):
        run = Run.create(cfg, tmp_path / "r")
    with pytest.raises(NonFiniteLoss, match=r"at step 1 in models/D/.*running_var.*before its first checkpoint") as e:
        run.train()
    assert not RunFolder(tmp_path / "r").checkpoints()
    # no learning rate helps here: the advice names the data's scale first
    assert "The data hold values up to" in str(e.value) and "data.standardize=global first" in str(e.value)


def test_a_non_finite_loss_is_named_at_its_step_on_the_cpu(tmp_path, tiny):
    """log_every=10: a NaN loss at step 23 was reported at step 30, the next log step."""
    run = _poisoned_from_step(Run.create(C.load("ring", tiny), tmp_path / "r"), 22)
    with pytest.raises(NonFiniteLoss, match=r"non-finite values at step 23: loss_d"):
        run.train()


def test_without_a_check_every_step_a_non_finite_mean_names_the_steps_it_covers():
    """Where each step's check would cost a host sync (an accelerator, or several processes),
    the log step finds a non-finite mean loss and names the steps since the last record."""
    from gankit.train.loop import Phase, Trainer

    def nan_at_step_7():
        w = torch.nn.Parameter(torch.ones(2))
        return [Phase("g", torch.optim.SGD([w], lr=0.1),
                      lambda ctx: ((w * w).sum() * (float("nan") if ctx.step == 6 else 1.0), {}))]
    with pytest.raises(NonFiniteLoss, match=r"between steps 6 and 10: .*loss_g"):
        Trainer(nan_at_step_7(), log_every=5, agree_stop=lambda code: 0).fit(20)
    with pytest.raises(NonFiniteLoss, match=r"at step 7: loss_g"):
        Trainer(nan_at_step_7(), log_every=5).fit(20)


def test_a_resume_that_raises_train_steps_averages_its_first_record_as_an_unbroken_run(tmp_path, tiny):
    """The session ending at step 43 wrote its last-step record and emptied the loss sums, so
    the resumed run's record at 49 averaged steps 44-49 where an unbroken run's averages 43-49."""
    over = [o for o in tiny if not o.startswith("train.steps")] + ["train.log_every=7",
                                                                    "objective.lr_decay_final=1.0"]
    Run.create(C.load("ring", over + ["train.steps=56"]), tmp_path / "a").train().close()
    Run.create(C.load("ring", over + ["train.steps=43"]), tmp_path / "b").train().close()
    Run.open(tmp_path / "b", ["train.steps=56"]).train().close()
    rec = [{r["step"]: r for r in RunFolder(tmp_path / x).records("train")} for x in "ab"]
    for step in (49, 56):
        assert rec[0][step]["loss_d"] == rec[1][step]["loss_d"], step
        assert rec[0][step]["loss_g"] == rec[1][step]["loss_g"], step
