"""Discriminator rejection sampling: the rejection maths with a known density ratio, and a
tiny run whose fitted sampler travels in the checkpoint."""
import math

import pytest
import torch
from torch import nn

from gankit import config as C
from gankit.cli import main
from gankit.train.rejection import RejectionSampler
from gankit.train.run import Run

from gankit.runfolder import RunFolder


class LogRatio(nn.Module):
    """logit(x) = log N(x; 0, s^2) - log N(x; 0, 1): the optimal D between N(0, s^2) data
    and an N(0, 1) generator."""

    def __init__(self, s: float):
        super().__init__()
        self.s = s
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        x = x[:, :1]
        return (-0.5 * x ** 2 / self.s ** 2 - math.log(self.s) + 0.5 * x ** 2) + 0 * self.dummy


def test_rejection_with_the_exact_ratio_turns_proposals_into_the_data_distribution():
    s = 0.5
    sampler = RejectionSampler(LogRatio(s), pack=1, steps=0, lr=1e-4, quantile=1.0, batch_size=64)
    sampler.M = torch.tensor(math.log(1 / s))        # the ratio's maximum, at x = 0
    sampler.acceptance = torch.tensor(s)             # P(accept) = 1 / max ratio = s
    g = torch.Generator().manual_seed(0)
    draw = lambda k: torch.randn(k, 1, generator=g)  # noqa: E731  G = N(0, 1)
    x = sampler.sample(20000, draw, torch.Generator().manual_seed(1), batch=4096)
    assert x.shape == (20000, 1)
    assert x.std().item() == pytest.approx(s, rel=0.02)
    assert x.mean().item() == pytest.approx(0.0, abs=0.01)
    # kurtosis of a Gaussian: E x^4 / s^4 = 3 (the N(0,1) proposals would give 3 / 0.0625 = 48)
    assert (x ** 4).mean().item() / s ** 4 == pytest.approx(3.0, rel=0.08)


def test_packed_scoring_repeats_the_sample():
    D = nn.Linear(4, 1)          # pack 2 of 2-D points
    sampler = RejectionSampler(D, pack=2, steps=0, lr=1e-4, quantile=1.0, batch_size=8)
    x = torch.randn(5, 2)
    expected = sampler.D(torch.cat([x, x], 1)).reshape(5) / 2   # m copies, divided by m
    assert torch.allclose(sampler.logit(x), expected)


def test_unfitted_sampler_refuses_to_sample():
    sampler = RejectionSampler(nn.Linear(2, 1), 1, 0, 1e-4, 1.0, 8)
    with pytest.raises(RuntimeError, match="fitted"):
        sampler.sample(4, lambda k: torch.randn(k, 2), torch.Generator(), 8)


def test_drs_run_fits_at_the_end_and_keeps_the_sampler_in_the_checkpoint(tmp_path, tiny_cli):
    torch.set_num_threads(1)
    out = tmp_path / "drs"
    assert main(["train", "ring", "--out", str(out), *tiny_cli, "--set", "objective.pack=2",
                 "--set", "objective.drs=true", "--set", "objective.drs_steps=5"]) == 0
    fit = [r for r in RunFolder(out).records() if r["kind"] == "drs"]
    assert len(fit) == 1 and fit[0]["step"] == 12 and 0.0 < fit[0]["drs_acceptance"] <= 1.0
    run = Run.open(out)
    assert run.objective.rejection.ready
    a, b = run.generate(300, seed=3), Run.open(out).generate(300, seed=3)
    assert a.shape == (300, 2) and torch.equal(a, b)
    # the fine-tuned copy differs from the trained D; the trained D is untouched
    tuned = run.objective.rejection.D.state_dict()
    assert any(not torch.equal(v, run.D.state_dict()[k]) for k, v in tuned.items())


def test_a_reopened_sampler_scores_in_eval_mode(tmp_path, tiny_cli):
    """The reopened sampler's D was left in training mode: with dropout the same seed gave
    other samples on each call, and the acceptance sampling applied was not the one reported."""
    torch.set_num_threads(1)
    out = tmp_path / "drop"
    assert main(["train", "ring", "--out", str(out), *tiny_cli, "--set", "discriminator.dropout=0.5",
                 "--set", "objective.drs=true", "--set", "objective.drs_steps=5"]) == 0
    fit = [r for r in RunFolder(out).records() if r["kind"] == "drs"][0]
    assert "drs_logit_quantile" in fit          # M is a quantile of the logits, not their maximum
    run = Run.open(out)
    s = run.objective.rejection
    assert not s.D.training
    x = run.generate(50, seed=1)
    assert torch.equal(s.logit(x), s.logit(x)) and torch.equal(x, run.generate(50, seed=1))


def test_drs_is_refused_with_minibatch_features(tmp_path, capsys, tiny_cli):
    assert main(["train", "ring", "--out", str(tmp_path / "x"), *tiny_cli, "--set", "objective.drs=true",
                 "--set", 'objective.minibatch="std"']) == 2
    assert "minibatch" in capsys.readouterr().err


def test_drs_lowers_off_mode_mass_on_a_short_ring_run(tmp_path):
    """After 1,500 steps G still puts mass between the ring's modes; rejection removes much of it."""
    torch.set_num_threads(1)
    cfg = C.load("ring", ["train.steps=1500", "train.progress=false", "objective.drs=true",
                          "objective.drs_steps=300", "train.sample_every=1500", "eval.jsd_samples=1000",
                          "optim_d.lr=1e-3", "optim_g.lr=1e-3",
                          "objective.r1=0"])   # the preset's R1 smooths D: DRS is measured alone
    run = Run.create(cfg, tmp_path / "r").train()
    with_drs = run.evaluate(["modes"])["hq_fraction"]
    without = run.evaluate(["modes"], rejection=False)["hq_fraction"]
    assert with_drs > without + 0.04, (with_drs, without)   # 0.486 vs 0.407 when written


def test_drs_command_fits_a_sampler_for_a_run_trained_without_it(tmp_path, capsys, tiny_cli):
    torch.set_num_threads(1)
    out = tmp_path / "plain"
    assert main(["train", "ring", "--out", str(out), *tiny_cli, "--set", "objective.drs=false"]) == 0
    before = Run.open(out)
    assert not before.objective.rejection
    assert main(["drs", str(out), "--steps", "5"]) == 0
    assert "acceptance" in capsys.readouterr().out
    run = Run.open(out)
    assert run.cfg.objective.params["drs"] is True and run.objective.rejection.ready
    assert run.generate(100, seed=1).shape == (100, 2)
    # the same weights: G and D are untouched by the fit
    for k, v in before.G.state_dict().items():
        assert torch.equal(v, run.G.state_dict()[k])


def test_drs_command_checks_the_checkpoint_it_writes_can_be_read_back(tmp_path, capsys, tiny_cli, monkeypatch):
    """Training refuses state torch.load(weights_only=True) cannot read at every checkpoint;
    gankit drs wrote its own checkpoint unchecked."""
    import numpy as np
    from gankit.train import rejection
    out = tmp_path / "plain"
    assert main(["train", "ring", "--out", str(out), *tiny_cli, "--set", "objective.drs=false"]) == 0
    files = sorted(p.name for p in (out / "checkpoints").iterdir())
    real = rejection.RejectionSampler.state_dict
    monkeypatch.setattr(rejection.RejectionSampler, "state_dict", lambda self: {**real(self), "M": np.float64(1.0)})
    capsys.readouterr()
    assert main(["drs", str(out), "--steps", "5"]) == 2
    err = capsys.readouterr().err
    assert "checkpoint state objective/drs/M: numpy.float64 cannot be read back" in err and "left as it was" in err
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == files


def test_drs_command_refuses_an_objective_without_a_sampler_and_leaves_the_run_alone(tmp_path, capsys):
    out = tmp_path / "vae"
    sets = [a for kv in ["train.steps=12", "train.batch_size=32", "train.progress=false",
                         "eval.n_samples=200"] for a in ("--set", kv)]
    assert main(["train", "ring-vae", "--out", str(out), *sets]) == 0
    config = (out / "config.toml").read_text()
    capsys.readouterr()
    assert main(["drs", str(out)]) == 2
    err = capsys.readouterr().err
    assert "'vae' objective has no rejection sampler" in err and "Traceback" not in err
    assert (out / "config.toml").read_text() == config


def test_drs_command_refuses_a_run_with_no_checkpoint(tmp_path, capsys, tiny):
    """A run stopped before its first checkpoint: opened for writing it restarted at step 0, and the
    sampler was fitted to untrained nets and saved as if the run were trained."""
    from gankit import config as C
    out = tmp_path / "early"
    Run.create(C.load("ring", tiny + ["objective.drs=false"]), out).close()
    config = (out / "config.toml").read_text()
    assert main(["drs", str(out), "--steps", "5"]) == 2
    err = capsys.readouterr().err
    assert "no checkpoint yet" in err and "gankit train --resume" in err and "Traceback" not in err
    assert not list(out.glob("checkpoints/*.pt")) and (out / "config.toml").read_text() == config


class NaNLogit(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return x[:, 0] * self.w + float("nan")


def test_a_non_finite_fit_is_refused_and_the_trained_run_is_still_checkpointed(tmp_path, tiny_cli):
    sampler = RejectionSampler(NaNLogit(), 1, 2, 1e-4, 0.99, 8)
    with pytest.raises(ValueError, match="non-finite"):
        sampler.fit(sampler.D, lambda z: z, lambda n: torch.randn(n, 2), lambda n: torch.randn(n, 2))
    assert not sampler.ready and sampler.state_dict() == {}
    # in a run, a failed fit warns and the final checkpoint of G and D is still written
    torch.set_num_threads(1)
    cfg = C.load("ring", [a for a in tiny_cli[1::2]] + ["objective.drs=true", "objective.drs_steps=2"])
    run = Run.create(cfg, tmp_path / "nan")
    run.objective.rejection.logit = lambda x: torch.full((len(x),), float("nan"))   # noqa: E731
    with pytest.warns(UserWarning, match="gankit drs"):
        run.train()
    assert not run.objective.rejection.ready
    assert Run.open(tmp_path / "nan").step == 12


def test_extending_a_finished_drs_run_is_bit_identical_to_training_straight_through(tmp_path, tiny_cli,
                                                                                   assert_same_state):
    """The fit at a session's last step draws from its own streams (and global RNG): the training
    streams checkpointed after it are those a straight run continues with, so 6 + 6 == 12 steps."""
    torch.set_num_threads(1)
    over = [a for a in tiny_cli[1::2] if not a.startswith("train.steps")] + [
        "objective.drs=true", "objective.drs_steps=5", "train.checkpoint_every=6",
        "discriminator.dropout=0.1",          # the fit's D in train mode draws dropout masks
        "objective.lr_decay_final=1.0"]       # no lr decay: its schedule depends on train.steps
    straight = Run.create(C.load("ring", over + ["train.steps=12"]), tmp_path / "a").train()
    first = Run.create(C.load("ring", over + ["train.steps=6"]), tmp_path / "b").train()
    assert first.step == 6 and first.objective.rejection.ready
    first.close()
    resumed = Run.open(tmp_path / "b", ["train.steps=12"]).train()
    a, b = straight.state_dict(), resumed.state_dict()
    assert_same_state(a, b)
    for k, v in a["objective"]["drs"]["D"].items():   # the final fit too: same D, same streams
        assert torch.equal(v, b["objective"]["drs"]["D"][k]), k
    assert torch.equal(a["objective"]["drs"]["M"], b["objective"]["drs"]["M"])


def test_a_resume_past_the_fitted_step_shows_g_alone_until_the_new_last_step(tmp_path, tiny_cli):
    """The sampler fitted at the old last step (6) filtered every snapshot and evaluation of steps
    7-11 by that step's D, where a straight run shows G alone until its fit at step 12."""
    import numpy as np
    torch.set_num_threads(1)
    over = [a for a in tiny_cli[1::2] if not a.startswith(("train.steps", "train.sample_every"))] + [
        "objective.drs=true", "objective.drs_steps=5", "train.checkpoint_every=6", "train.sample_every=3",
        "objective.lr_decay_final=1.0"]
    Run.create(C.load("ring", over + ["train.steps=12"]), tmp_path / "a").train().close()
    Run.create(C.load("ring", over + ["train.steps=6"]), tmp_path / "b").train().close()
    Run.open(tmp_path / "b", ["train.steps=12"]).train().close()
    snaps = [{int(s["step"]): s for s in RunFolder(tmp_path / r).snapshots()} for r in "ab"]
    for step in (9, 12):
        assert np.array_equal(snaps[0][step]["samples"], snaps[1][step]["samples"]), step


def test_extending_a_drs_run_redraws_the_old_last_snapshot_from_g_alone(tmp_path, tiny_cli):
    """The snapshot of the old last step came through the sampler fitted there (4% of its rows
    as an unbroken run's); extended, the run drops that sampler, and the snapshot with it."""
    import numpy as np
    torch.set_num_threads(1)
    sets = [*tiny_cli, "--set", "objective.drs=true", "--set", "objective.drs_steps=5",
            "--set", "train.sample_every=6", "--set", 'eval.metrics=["energy"]',
            "--set", "objective.lr_decay_final=1.0"]      # no decay tied to train.steps
    assert main(["train", "ring", "--out", str(tmp_path / "short"), *sets, "--set", "train.steps=6"]) == 0
    assert main(["train", "--resume", "--out", str(tmp_path / "short"), "--set", "train.steps=12"]) == 0
    assert main(["train", "ring", "--out", str(tmp_path / "whole"), *sets]) == 0
    for step in (6, 12):
        with np.load(tmp_path / "short" / "samples" / f"step_{step:08d}.npz") as a, \
                np.load(tmp_path / "whole" / "samples" / f"step_{step:08d}.npz") as b:
            assert sorted(a.files) == sorted(b.files)
            for k in a.files:
                np.testing.assert_array_equal(a[k], b[k], err_msg=f"step {step}: {k}")


def test_a_signal_during_the_drs_fit_stops_it_and_resume_fits_it(tmp_path):
    """SIGTERM while the sampler was fitted at the last step left the process running to the
    end of the fit (55 s at batch 100,000); it now stops between the fit's steps, the step's
    checkpoint is written, and --resume fits the sampler."""
    import signal
    import warnings
    from gankit.train.rejection import RejectionSampler
    over = ["train.steps=4", "train.batch_size=16", "train.log_every=1", "train.progress=false",
            "train.live_report=false", "generator.hidden=[8]", "discriminator.hidden=[8]",
            "objective.drs=true", "objective.drs_steps=50", "eval.n_samples=50", 'eval.metrics=["energy"]']
    run = Run.create(C.load("ring", over), tmp_path / "r")
    taken = []
    real_step = torch.optim.Adam.step

    def counting_step(self, *a, **k):         # the fit's optimizer steps, after training's last
        if run.step == 4 and any(p is q for g in self.param_groups for p in g["params"]
                                 for q in run.objective.rejection.D.parameters()):
            taken.append(1)
            if len(taken) == 3:
                run._trainer.stop = signal.SIGTERM      # what StopOnSignal does on a signal
        return real_step(self, *a, **k)
    torch.optim.Adam.step = counting_step
    try:
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            try:
                run.train()
            except BaseException:        # the run reports the stop its own way
                pass
    finally:
        torch.optim.Adam.step = real_step
        run.close()
    assert len(taken) == 3                       # stopped inside the fit, not after its 50 steps
    assert any("rejection sampling not fitted: training was asked to stop" in str(w.message) for w in said)
    assert not [r for r in RunFolder(tmp_path / "r").records() if r["kind"] == "drs"]
    from gankit.train.objective import UnfittedState
    with pytest.warns(UnfittedState, match=r"was not fitted \(training stopped during the fit at its last step\): "
                                           r"samples and eval come from G alone until gankit drs"):
        Run.open(tmp_path / "r").close()        # sample and eval said G alone without a word
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnfittedState)
        resumed = Run.open(tmp_path / "r", write=True)      # the resume fits it: nothing to say
    resumed.train().close()
    assert [r["step"] for r in RunFolder(tmp_path / "r").records() if r["kind"] == "drs"] == [4]
    assert Run.open(tmp_path / "r").objective.rejection.ready


def test_after_resume_fits_the_sampler_the_last_snapshot_is_drawn_through_it(tmp_path):
    """The fit a signal stopped is made by --resume; the last step's snapshot stayed G's alone,
    beside DRS numbers."""
    import numpy as np
    over = ["train.steps=4", "train.batch_size=16", "train.log_every=1", "train.progress=false",
            "train.live_report=false", "generator.hidden=[8]", "discriminator.hidden=[8]", "train.sample_every=2",
            "objective.drs=true", "objective.drs_steps=5", "eval.n_samples=50", 'eval.metrics=["energy"]',
            "objective.lr_decay_final=1.0", "train.eval_every=4"]
    whole = tmp_path / "whole"
    Run.create(C.load("ring", over), whole).train().close()
    cut = tmp_path / "cut"
    run = Run.create(C.load("ring", over), cut)
    from gankit.train import rejection as Rj
    real_fit = Rj.RejectionSampler.fit
    Rj.RejectionSampler.fit = lambda self, *a, stop=None, **k: (_ for _ in ()).throw(Rj.FitStopped())
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                run.train()
            except BaseException:
                pass
    finally:
        Rj.RejectionSampler.fit = real_fit
        run.close()
    # train.eval_every = 4 measured step 4 from G alone before the stop: not the final evaluation
    assert main(["train", "--resume", "--out", str(cut), "--set", "train.eval_every=4"]) == 0
    kinds = [(r["kind"], r.get("source")) for r in RunFolder(cut).records() if r["step"] == 4
             and r["kind"] in ("eval", "drs")]
    assert kinds[-2:] == [("drs", None), ("eval", "final")], kinds
    with np.load(cut / "samples" / "step_00000004.npz") as a, np.load(whole / "samples" / "step_00000004.npz") as b:
        for k in a.files:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_a_stop_that_cut_the_fit_short_is_kept_past_the_last_step_with_several_processes():
    """With torchrun the last step cleared the stop, and rank 0 went on to a final evaluation of
    G alone before exiting."""
    from gankit.train.loop import Phase, Trainer
    p = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)

    class CutsTheFit:
        def on_step_end(self, trainer):
            if trainer.step == 3:
                trainer.stop, trainer.keep_stop = 15, True
    t = Trainer([Phase("g", opt, lambda ctx: ((p - 1).pow(2).sum(), {}))], [CutsTheFit()], log_every=1,
                agree_stop=lambda s: s)
    t.fit(3)
    assert t.stop == 15


def _fit(generate, D=None, steps=3):
    sampler = RejectionSampler(D or nn.Linear(2, 1), 1, steps, 1e-4, 0.99, 8)
    g = torch.Generator().manual_seed(0)
    sampler.fit(sampler.D, generate, lambda n: torch.randn(n, 2, generator=g),
                lambda n: torch.randn(n, 2, generator=g), n_quantile=64)
    return sampler


def test_a_fit_on_a_diverged_g_blames_g_not_the_fine_tuning():
    """NaN samples from G were reported as D's fine-tuning diverging (lower objective.drs_lr)."""
    for steps in (0, 3):
        with pytest.raises(ValueError, match=r"^G's samples are non-finite .*training diverged") as e:
            _fit(lambda z: z * float("nan"), steps=steps)
        assert e.value.cause == "g" and "drs_lr" not in str(e.value)
    D = nn.Linear(2, 1)
    with torch.no_grad():
        D.bias.fill_(float("inf"))                   # the trained D itself diverged
    with pytest.raises(ValueError, match=r"^the trained D gives non-finite logits before any fine-tuning"):
        _fit(lambda z: z, D=D)
    assert _fit(lambda z: z).ready


def test_the_note_tells_a_stopped_fit_from_a_failed_one_and_reads_old_checkpoints():
    """Every unfitted last step read 'training stopped during the fit', also when the fit failed."""
    from types import SimpleNamespace
    from gankit.train.rejection import unfitted_note
    s = RejectionSampler(nn.Linear(2, 1), 1, 5, 1e10, 0.99, 8)
    obj = SimpleNamespace(rejection=s)
    s.load_state_dict({})                           # what older checkpoints hold: no reason
    assert "its fit at the last step was stopped or failed" in unfitted_note(obj, 4, 4, "R")
    s.load_state_dict({"fit": "stopped"})
    assert "training stopped during the fit" in unfitted_note(obj, 4, 4, "R")
    s.load_state_dict({"fit": "failed", "cause": "g", "why": "G's samples are non-finite"})
    note = unfitted_note(obj, 4, 4, "R")
    assert "fit at the last step failed (G's samples are non-finite)" in note and "stopped" not in note
    assert s.state_dict() == {"fit": "failed", "cause": "g", "why": "G's samples are non-finite"}
    assert unfitted_note(obj, 3, 4, "R").endswith("samples and eval come from G alone")
    s.start_fresh()          # no sampler in the checkpoint at all: its own warning is the whole story
    assert unfitted_note(obj, 4, 4, "R") is None and s.state_dict() == {}


def test_a_diverging_drs_fit_is_one_line_and_lr_mends_it(tmp_path, capsys, tiny_cli):
    """gankit drs ended in a ValueError traceback whose advice (a lower objective.drs_lr) it took
    no option for; training's warning sent the user back to that same command."""
    from gankit.train.objective import UnfittedState
    torch.set_num_threads(1)
    out = tmp_path / "r"
    assert main(["train", "ring", "--out", str(out), *tiny_cli, "--set", "objective.drs=true",
                 "--set", "objective.drs_steps=20", "--set", "objective.drs_lr=1e30",
                 "--set", 'eval.metrics=["energy"]']) == 0
    said = [x for x in capsys.readouterr().err.splitlines() if "rejection sampling not fitted" in x]
    assert said == [f"gankit: warning: rejection sampling not fitted (the fine-tuned D gives non-finite logits at "
                    f"objective.drs_lr = 1e+30 over objective.drs_steps = 20); samples come from G directly; fit it "
                    f"with a lower learning rate: gankit drs {out} --lr 0.0001 (or fewer --steps)"]
    with pytest.warns(UnfittedState, match=r"fit at the last step failed \(the fine-tuned D .*gankit drs .* --lr"):
        Run.open(out).close()
    assert main(["drs", str(out), "--steps", "20"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gankit: error: drs: ") and err.count("\n") == 1 and "Traceback" not in err
    assert f"gankit drs {out} --lr 0.0001" in err
    assert main(["drs", str(out), "--steps", "20", "--lr", "1e-4"]) == 0
    run = Run.open(out)
    assert run.objective.rejection.ready and run.cfg.objective.params["drs_lr"] == 1e-4
    run.close()


def test_an_evaluation_record_says_its_samples_were_kept_by_drs(tmp_path, tiny_cli):
    """Records of a run evaluated through its fitted sampler and of one evaluated from G alone had
    the same settings: compare ranked them as measured alike."""
    from gankit import api
    over = [a for a in tiny_cli[1::2]] + ["objective.drs=true", "objective.drs_steps=5",
                                          'eval.metrics=["modes"]']
    run = Run.create(C.load("ring", over), tmp_path / "r").train()
    assert api.eval_settings(run, ["modes"])["sampler"] == "drs"
    run.objective.rejection.forget()
    assert "sampler" not in api.eval_settings(run, ["modes"])
    run.close()


def test_drs_command_refuses_a_conditional_run_without_advice_it_cannot_follow(tmp_path, capsys, tiny_cli):
    """It said "objective.drs: ... set it to false for a conditional run": the run's config said
    false already, and this command is what sets it true."""
    out = tmp_path / "c"
    sets = [a for kv in tiny_cli[1::2] if not kv.startswith("objective.") for a in ("--set", kv)]
    assert main(["train", "ring-cgan", "--out", str(out), *sets]) == 0
    capsys.readouterr()
    assert main(["drs", str(out)]) == 2
    err = capsys.readouterr().err
    assert "drs: rejection sampling is for unconditional runs" in err and "condition.kind = 'label'" in err
    assert "set it to false" not in err
