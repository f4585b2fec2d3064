"""gankit drs never writes a checkpoint holding NaN or inf: a fine-tuning that overflows a batch
norm's running variance (its logits stay finite) is refused, config.toml and the checkpoints left
as they were; a newer checkpoint holding such a state is not skipped for an older one it rewrites."""
import hashlib

import torch
from torch import nn

from gankit.cli import main
from gankit.train.rejection import FitFailed, RejectionSampler

DCGAN = ["train.steps=2", "train.batch_size=16", "train.log_every=2", "train.sample_every=2",
         "train.checkpoint_every=2", "train.n_fixed=16", "train.progress=false", "generator.width=8",
         "discriminator.width=8", "noise.dim=8", "eval.n_samples=200", "data.name=mnist5k",
         'eval.metrics=["class_hist"]']


def _files(run) -> dict:
    return {p.relative_to(run).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(run.rglob("*")) if p.is_file() and (p.parent.name == "checkpoints"
                                                                 or p.name == "config.toml")}


def test_a_fit_whose_batch_norm_statistics_overflow_fails_on_the_learning_rate():
    torch.manual_seed(0)
    D = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
    # an exploding first layer: eval-mode logits stay finite (x / sqrt(inf) is 0), the statistics do not
    D[0].weight.data.fill_(1e30)
    sampler = RejectionSampler(D, pack=1, steps=20, lr=1e9, quantile=0.9, batch_size=32)
    try:
        sampler.fit(D, lambda z: z + 1, lambda n: torch.randn(n, 2), lambda n: torch.randn(n, 2), n_quantile=256)
    except FitFailed as e:
        assert e.cause == "lr" and "NaN or inf" in str(e) and "objective.drs_lr = 1e+09" in str(e), str(e)
    else:
        raise AssertionError("a fit whose D holds inf was accepted")
    assert not sampler.ready and sampler.state_dict() == {}     # no D of inf travels to a checkpoint


def test_drs_refuses_a_diverged_fine_tuning_of_a_batch_norm_d_and_leaves_the_run_alone(tmp_path, capsys):
    """The audit's repro: acceptance 1.000, exit 0, objective.drs.D.body.3.running_var inf in the
    newest checkpoint and drs_lr = 1e9 in config.toml."""
    torch.set_num_threads(1)
    out = tmp_path / "dc"
    assert main(["train", "mnist-dcgan", "--out", str(out), *[a for kv in DCGAN for a in ("--set", kv)]]) == 0
    before = _files(out)
    capsys.readouterr()
    assert main(["drs", str(out), "--lr", "1e9", "--steps", "20"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gankit: error: drs: rejection sampler not fitted, the run is left as it was: the "
                          "fine-tuning diverged") and err.count("\n") == 1, err
    assert f"gankit drs {out} --lr 0.0001" in err
    assert _files(out) == before        # checkpoints and config.toml (no drs_lr = 1e9) untouched


def test_drs_checks_the_whole_state_it_writes_for_nan_and_inf(tmp_path, capsys, tiny_cli, monkeypatch):
    """Whatever the fit let through, the state written is checked as training checks its own."""
    from gankit.train import rejection
    torch.set_num_threads(1)
    out = tmp_path / "r"
    assert main(["train", "ring", "--out", str(out), *tiny_cli]) == 0
    before = _files(out)
    real = rejection.RejectionSampler.state_dict

    def poisoned(self):
        state = real(self)
        if "M" in state:
            state = {**state, "acceptance": torch.tensor(float("inf"))}
        return state
    monkeypatch.setattr(rejection.RejectionSampler, "state_dict", poisoned)
    capsys.readouterr()
    assert main(["drs", str(out), "--steps", "5"]) == 2
    err = capsys.readouterr().err
    assert "the fine-tuning diverged (NaN or inf in objective/drs/acceptance)" in err and "--lr" in err, err
    assert _files(out) == before


def test_drs_does_not_rewrite_an_older_checkpoint_past_a_newer_non_finite_one(tmp_path, capsys, tiny_cli):
    """An older gankit drs left the newest checkpoint holding inf: readers skip it, so drs opened
    the step before, fitted there and rewrote that file (with the bad fit, the last good one)."""
    torch.set_num_threads(1)
    out = tmp_path / "r"
    assert main(["train", "ring", "--out", str(out), *tiny_cli, "--set", "train.checkpoint_every=6"]) == 0
    newest = sorted((out / "checkpoints").glob("step_*.pt"))[-1]
    state = torch.load(newest, weights_only=True)
    next(iter(state["models"]["D"].values())).fill_(float("inf"))
    torch.save(state, newest)
    before = _files(out)
    capsys.readouterr()
    assert main(["drs", str(out), "--steps", "5"]) == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err.startswith(f"gankit: error: drs: the newest checkpoint {newest.name} is unreadable (models.D.")
    assert "holds NaN or inf" in err and f"{newest.name}.damaged" in err and f"gankit drs {out} again" in err
    assert _files(out) == before
    newest.rename(newest.with_name(newest.name + ".damaged"))      # as the message says
    assert main(["drs", str(out), "--steps", "5"]) == 0


def test_drs_refused_by_a_training_holding_the_lock_says_to_run_drs_again(tmp_path, capsys, tiny_run_dir):
    """It said "then continue with --resume", which trains on instead of fitting the sampler."""
    import shutil
    import subprocess
    import sys
    run = tmp_path / "r"
    shutil.copytree(tiny_run_dir, run)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX); os.ftruncate(fd, 0); os.write(fd, b'%d\\n' % os.getpid())\n"
        "print('held', flush=True); time.sleep(60)"), str(run / ".gankit.lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        assert main(["drs", str(run), "--steps", "5"]) == 1
        err = capsys.readouterr().err
        assert err == (f"gankit: error: {run} is in use: another gankit process (PID {holder.pid}) is training it; "
                       f"wait for it to finish or stop it (kill {holder.pid}), then run gankit drs {run} again\n"), err
        assert main(["train", "--resume", "--out", str(run)]) == 1       # training's advice is as it was
        assert capsys.readouterr().err.endswith(f"(kill {holder.pid}), then continue with --resume\n")
    finally:
        holder.kill()
        holder.communicate()
