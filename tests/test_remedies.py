"""Training remedies: their formulas, their shapes, and each one in a tiny run of the CLI."""
import math

import pytest
import torch
from torch import nn

from gankit import config as C
from gankit.cli import main
from gankit.train import remedies as R
from gankit.runfolder import RunFolder
from gankit.train.run import Run


# ---------------------------------------------------------------- instance noise

def test_instance_noise_linear_schedule():
    f = lambda t: R.instance_noise_std(t, 0.4, 100)   # noqa: E731
    assert f(0) == pytest.approx(0.4)
    assert f(25) == pytest.approx(0.3)
    assert f(50) == pytest.approx(0.2)
    assert f(100) == 0.0 and f(1000) == 0.0
    assert R.instance_noise_std(10**6, 0.4, 0) == pytest.approx(0.4)    # T = 0: constant
    assert R.instance_noise_std(5, 0.0, 100) == 0.0


def test_instance_noise_exponential_schedule():
    f = lambda t: R.instance_noise_std(t, 0.5, 200, "exponential")   # noqa: E731
    assert f(0) == pytest.approx(0.5)
    assert f(100) == pytest.approx(0.05)          # 0.5 * 0.01 ** 0.5
    assert f(199) == pytest.approx(0.5 * 0.01 ** (199 / 200))
    assert f(200) == 0.0


def test_instance_noise_adds_noise_of_that_std_to_any_shape():
    torch.manual_seed(0)
    t = R.InstanceNoise(0.3, 100)
    x = torch.zeros(4000, 3, 5)
    y = t(x, 50)                                   # sigma = 0.15
    assert y.shape == x.shape
    assert y.std().item() == pytest.approx(0.15, rel=0.02)
    assert torch.equal(t(x, 100), x)               # annealed away


# ---------------------------------------------------------------- packing

def test_pack_points_and_images():
    x = torch.arange(16.0).reshape(8, 2)
    p = R.pack(x, 2)
    assert p.shape == (4, 4)
    assert p[1].tolist() == [4.0, 5.0, 6.0, 7.0]   # samples 2 and 3 side by side
    imgs = torch.randn(8, 3, 4, 4)
    pi = R.pack(imgs, 4)
    assert pi.shape == (2, 12, 4, 4)
    assert torch.equal(pi[1, 3:6], imgs[5])        # channels of the pack's 2nd sample
    with pytest.raises(ValueError, match="multiple"):
        R.pack(x[:7], 2)


def test_packed_data_view():
    from gankit.registry import DATASETS
    ds = DATASETS.build("ring")
    v = R.PackedData(ds, 4)
    assert v.shape == (8,) and v.modes is ds.modes


# ---------------------------------------------------------------- minibatch layers

def test_minibatch_std_known_values():
    h = torch.tensor([[0.0, 0.0], [2.0, 4.0], [1.0, 1.0], [1.0, 1.0]])
    out = R.MinibatchStd(group_size=2)(h)
    # group 1: stds (1, 2) -> 1.5; group 2: identical samples -> 0
    assert out.shape == (4, 1)
    assert out[:2, 0].tolist() == pytest.approx([1.5, 1.5], abs=1e-4)
    assert out[2:, 0].tolist() == pytest.approx([0.0, 0.0], abs=1e-3)
    whole = R.MinibatchStd(group_size=0)(torch.randn(6, 3, 2, 2))      # any shape, one group
    assert whole.shape == (6, 1) and torch.allclose(whole, whole[0].expand(6, 1))


def test_minibatch_discrimination_sees_collapse():
    torch.manual_seed(0)
    md = R.MinibatchDiscrimination(3, kernels=5, kernel_dim=4)
    same = torch.ones(6, 3)
    assert torch.allclose(md(same), torch.full((6, 5), 5.0))             # n - 1 twins each
    far = torch.eye(6, 3) * 1000 + torch.arange(6.0)[:, None] * 1000
    assert md(far).abs().max().item() < 1e-6                              # nobody nearby
    big = torch.randn(2500, 3)                                            # chunks, no n^2 memory
    assert md(big).shape == (2500, 5)


def test_minibatch_head_starts_as_the_plain_head():
    head = nn.Linear(4, 1)
    mh = R.MinibatchHead(head, R.MinibatchStd(2))
    h = torch.randn(8, 4)
    assert torch.equal(mh(h), head(h))


# ---------------------------------------------------------------- averages of weights

def test_ema_follows_its_formula():
    G = nn.Linear(2, 2)
    ema = R.EMA(G, beta=0.9, start=2)
    w = [G.weight.detach().clone()]
    want = G.weight.detach().clone()
    for step in range(5):
        with torch.no_grad():
            G.weight.add_(1.0)
        ema.update(step)
        # before `start` the shadow copies G; after, e <- 0.9 e + 0.1 theta
        want = G.weight.detach().clone() if step < 2 else 0.9 * want + 0.1 * G.weight.detach()
        w.append(G.weight.detach().clone())
    assert torch.allclose(ema.shadow.weight, want)
    assert not ema.shadow.weight.requires_grad


def test_historical_average_is_the_mean_of_past_weights():
    G = nn.Linear(3, 1)
    ha = R.HistoricalAverage(G.parameters(), lam=0.5)
    seen = [G.weight.detach().clone()]
    for step in range(4):
        with torch.no_grad():
            G.weight.mul_(-1.5).add_(0.3)
        ha.update(step)
        seen.append(G.weight.detach().clone())
    mean = torch.stack(seen).mean(0)
    assert torch.allclose(ha.avg[0], mean, atol=1e-6)
    want = 0.5 * (((G.weight - mean) ** 2).sum() + ((G.bias - ha.avg[1]) ** 2).sum())
    assert ha.penalty().item() == pytest.approx(want.item(), rel=1e-5)


# ---------------------------------------------------------------- n_critic

def test_wgan_critic_schedule():
    k = R.critic_schedule(5, boost=100, first=25, every=500)
    assert [k(t) for t in (0, 24, 25, 499, 500, 501, 1000)] == [100, 100, 5, 5, 100, 5, 100]
    assert R.critic_schedule(3)(0) == 3


def test_lr_decay_schedule():
    f = lambda t: R.lr_factor(t, 100, 0.5, 0.1)   # noqa: E731
    assert [f(0), f(50)] == [1.0, 1.0]
    assert f(75) == pytest.approx(0.55)
    assert f(100) == pytest.approx(0.1) and f(200) == pytest.approx(0.1)
    from gankit.train.schedule import Schedule   # the objective's decay, as the run's LambdaLR
    s = Schedule("linear", 0.0, 0.5, 0.1)
    assert all(s.factor(t, 0, 100) == f(t) for t in range(0, 201))


# ---------------------------------------------------------------- tiny runs from the CLI


REMEDIES = {
    "wgan-clip": ["loss.name=\"wgan\"", "objective.clip=0.01", "optim_d.name=\"rmsprop\"",
                  "train.d_steps=2", "objective.critic_boost=4", "objective.critic_boost_first=2"],
    "wgan-gp": ["loss.name=\"wgan\"", "objective.gp=10"],
    "hinge-sn": ["loss.name=\"hinge\"", "objective.spectral_norm=true"],
    "lsgan": ["loss.name=\"lsgan\""],
    "r1": ["objective.r1=1.0"],
    "instance-noise": ["objective.instance_noise=0.2", "objective.instance_noise_anneal=8"],
    "label-smoothing": ["loss.label_smoothing=0.1"],
    "feature-matching": ["objective.feature_matching=1.0"],
    "minibatch-std": ["objective.minibatch=\"std\""],
    "minibatch-discrimination": ["objective.minibatch=\"discrimination\""],
    "historical-averaging": ["objective.historical_averaging=0.01"],
    "ema": ["objective.ema=0.99"],
    "ttur": ["optim_d.lr=4e-4", "optim_g.lr=1e-4"],
    "lr-decay": ["objective.lr_decay_final=0.1", "objective.lr_decay_start=0.25"],
    "pacgan4": ["objective.pack=4", "objective.gp=1.0", "objective.minibatch=\"std\""],
    "unrolled": ["objective.unroll=3", "objective.pack=2"],
}




@pytest.mark.parametrize("name", sorted(REMEDIES))
def test_each_remedy_trains_a_tiny_run(tmp_path, name, tiny_cli):
    torch.set_num_threads(1)
    # the final evaluation measures modes only: no ring metric reads D, and the remedies change how
    # G and D train, not how the samples are measured
    args = ["train", "ring", "--out", str(tmp_path / name), *tiny_cli, "--set", 'eval.metrics=["modes"]']
    for kv in REMEDIES[name]:
        args += ["--set", kv]
    assert main(args) == 0
    recs = RunFolder(tmp_path / name).records()
    train = [r for r in recs if r["kind"] == "train"]
    final = [r for r in recs if r["kind"] == "eval"][-1]
    assert train and all(math.isfinite(r["loss_d"]) for r in train)
    assert "grad_norm_g" in train[-1] and "modes_covered" in final
    assert (tmp_path / name / "report.html").is_file()


def test_diagnostics_are_logged(tmp_path, tiny_cli):
    torch.set_num_threads(1)
    tiny_cli = [*tiny_cli, "--set", 'eval.metrics=["energy"]']     # the train records are checked, not the metrics
    assert main(["train", "ring", "--out", str(tmp_path / "w"), *tiny_cli,
                 "--set", "loss.name=\"wgan\"", "--set", "objective.gp=10", "--set", "objective.pack=1"]) == 0
    last = [r for r in RunFolder(tmp_path / "w").records() if r["kind"] == "train"][-1]
    assert {"wasserstein_estimate", "critic_real", "critic_fake", "gp", "grad_norm_g"} <= set(last)
    assert main(["train", "ring", "--out", str(tmp_path / "n"), *tiny_cli,
                 "--set", "objective.instance_noise=0.1", "--set", "objective.pack=1"]) == 0
    last = [r for r in RunFolder(tmp_path / "n").records() if r["kind"] == "train"][-1]
    assert {"jsd_estimate", "d_acc_real", "d_acc_fake", "d_real", "instance_noise"} <= set(last)
    assert 0.0 <= last["d_acc_real"] <= 1.0 and -1.0 < last["jsd_estimate"] <= math.log(2) + 1e-6


def test_minibatch_discrimination_with_a_gradient_penalty_is_a_config_error(tmp_path, capsys, tiny_cli):
    assert main(["train", "ring", "--out", str(tmp_path / "x"), *tiny_cli, "--set", "objective.r1=0.1",
                 "--set", 'objective.minibatch="discrimination"']) == 2
    err = capsys.readouterr().err
    assert "second derivative" in err and "objective.r1=0" in err


def test_bad_pack_is_a_config_error(tmp_path, capsys, tiny_cli):
    assert main(["train", "ring", "--out", str(tmp_path / "p"), *tiny_cli,
                 "--set", "objective.pack=5"]) == 2
    assert "multiple of 5" in capsys.readouterr().err


def test_resume_is_bit_identical_with_stateful_remedies(tmp_path, tiny_cli):
    """EMA weights and historical averages travel in the checkpoint: 6 + 6 steps == 12 steps."""
    torch.set_num_threads(1)
    over = [a for a in tiny_cli[1::2] if not a.startswith("train.steps")] + [
        "objective.ema=0.9", "objective.historical_averaging=0.01", "objective.pack=2",
        "objective.minibatch=\"std\"", "objective.spectral_norm=true", "objective.instance_noise=0.1",
        "train.checkpoint_every=6", "discriminator.dropout=0.1",
        "objective.lr_decay_final=1.0"]   # no lr decay: its schedule depends on train.steps
    straight = Run.create(C.load("ring", over + ["train.steps=12"]), tmp_path / "a").train()
    first = Run.create(C.load("ring", over + ["train.steps=6"]), tmp_path / "b").train()
    assert first.step == 6
    resumed = Run.open(tmp_path / "b", ["train.steps=12"]).train()
    a, b = straight.state_dict(), resumed.state_dict()
    for net in ("G", "D"):
        for k, v in a["models"][net].items():
            assert torch.equal(v, b["models"][net][k]), (net, k)
    for k, v in a["objective"]["ema_g"].items():
        assert torch.equal(v, b["objective"]["ema_g"][k])
    for x, y in zip(a["objective"]["hist_d"]["avg"], b["objective"]["hist_d"]["avg"]):
        assert torch.equal(x, y)
    # the EMA G, not G, makes the samples
    assert torch.equal(straight.generate(5), resumed.generate(5))
    z = straight.sample_z(5)
    assert not torch.equal(straight.objective.generate(z), straight.G(z))


@pytest.mark.parametrize("option,state", [("objective.ema=0.9", "ema_g"),
                                          ("objective.historical_averaging=0.01", "hist_g")])
def test_ema_or_historical_averaging_switched_on_at_resume_start_from_the_resumed_weights(
        tmp_path, capsys, tiny_cli, option, state):
    """Objective options may change at --resume: the checkpoint has no average to load, so it
    starts from the resumed G (not G's initial weights), and the resume trains on."""
    torch.set_num_threads(1)
    out = tmp_path / "r"
    quick = [*tiny_cli, "--set", 'eval.metrics=["energy"]']
    assert main(["train", "ring", "--out", str(out), *quick]) == 0
    initial = Run.create(C.load("ring", quick[1::2]), tmp_path / "init")
    with pytest.warns(UserWarning, match=f"{state}.*resumed weights"):
        run = Run.open(out, ["train.steps=16", option])
    assert run.step == 12
    avg = run.objective.state[state]
    kept = list(avg.shadow.parameters()) if state == "ema_g" else avg.avg
    for k, p in zip(kept, run.G.parameters()):
        assert torch.equal(k, p)
    assert any(not torch.equal(k, p) for k, p in zip(kept, initial.G.parameters()))
    run.close()
    initial.close()
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(out), "--set", "train.steps=16", "--set", option]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and "resumed weights" in err
    assert Run.open(out).step == 16


def test_a_minibatch_group_that_does_not_split_the_batch_is_a_config_error(tmp_path, capsys, tiny_cli):
    """Group 3 of a batch of 32 was silently one group of the whole batch."""
    std = ["--set", 'objective.minibatch="std"', "--set", "objective.minibatch_group=3",
           "--set", 'eval.metrics=["energy"]']
    assert main(["train", "ring", "--out", str(tmp_path / "g"), *tiny_cli, *std,
                 "--set", "objective.pack=1"]) == 2
    err = capsys.readouterr().err
    assert "objective.minibatch_group: train.batch_size 32 is not a multiple of 3" in err
    assert "Traceback" not in err
    # packed, D sees batch_size / pack samples: those must split into groups
    assert main(["train", "ring", "--out", str(tmp_path / "p"), *tiny_cli, *std,
                 "--set", "objective.pack=2"]) == 2
    assert "D's batch of 16 (train.batch_size 32 / objective.pack 2) is not a multiple of 3" in capsys.readouterr().err


# ---------------------------------------------------------------- combinations refused at build

@pytest.mark.parametrize("over,needle", [
    # the L1 kernel's backward is once-differentiable: G's look-ahead gradient would be wrong
    (['objective.minibatch="discrimination"', "objective.unroll=2"],
     "second derivative, which objective.unroll needs; set objective.unroll=0, "
     "or use objective.minibatch=std"),
    # torch.compile has no double backward (a minute of compiling, then a torch traceback)
    (["train.compile=true", "objective.unroll=2"],
     "train.compile: objective.unroll differentiates D's gradient (double backward)"),
    # D uses W / sigma(W), unchanged by clamping W
    (["objective.clip=0.01", "objective.spectral_norm=true"],
     "choose one Lipschitz constraint: objective.clip=0 or objective.spectral_norm=false"),
], ids=["unroll-mbd", "unroll-compile", "clip-sn"])
def test_combinations_that_cannot_work_are_refused_at_build(tmp_path, tiny, over, needle):
    with pytest.raises(C.ConfigError) as e:
        Run.create(C.load("ring-vanilla", tiny + over), tmp_path / "x")
    assert needle in str(e.value) and "\n" not in str(e.value)


# ---------------------------------------------------------------- spectral norm of the minibatch layers

def _used_weights(D):
    """Every weight matrix D computes with (what a parametrisation hands out, not its original)."""
    out = {}
    for name, m in D.named_modules():
        if isinstance(m, nn.Linear):
            out[name] = m.weight
        if isinstance(m, R.MinibatchDiscrimination):
            out[name + ".T"] = m.T
    return out


@pytest.mark.parametrize("minibatch", ["std", "discrimination"])
def test_spectral_norm_reaches_the_minibatch_layers(tmp_path, tiny, minibatch):
    """A spectrally normalised D with minibatch features: every matrix D uses has norm 1,
    the read-out of the batch statistics and MBD's T included (they were left unnormalised)."""
    over = tiny + ["train.steps=6", "objective.spectral_norm=true", f'objective.minibatch="{minibatch}"']
    run = Run.create(C.load("ring-vanilla", over), tmp_path / "r").train()
    D = run.D.train()
    with torch.no_grad():   # power iteration (one a forward) trails the weights: a few more
        for _ in range(30):
            D(torch.randn(8, 2))
        weights = _used_weights(D)
        assert any("head" in k for k in weights)
        assert (minibatch == "discrimination") == any(k.endswith(".T") for k in weights)
        for k, W in weights.items():
            # unnormalised, the read-out's norm was 0 and T's about 2
            assert torch.linalg.matrix_norm(W, ord=2).item() == pytest.approx(1.0, abs=0.05), k
    # the read-out of the statistics is part of D's one normalised head layer, and learns
    stats = D.head.stats.out_dim
    assert D.head.joint.weight[:, -stats:].abs().max() > 0
    run.close()


def test_a_joint_minibatch_head_starts_as_the_plain_head():
    torch.manual_seed(0)
    head = nn.Linear(5, 2)
    h = torch.randn(8, 5)
    joint = R.MinibatchHead(head, R.MinibatchStd(4), joint=True)
    assert torch.allclose(joint(h), head(h))
    with pytest.raises(ValueError, match="linear head"):
        R.MinibatchHead(nn.Sequential(head), R.MinibatchStd(4), joint=True)


# ---------------------------------------------------------------- sub-options of a remedy switched off

@pytest.mark.parametrize("over,message", [
    ("objective.ema_start=100", "objective.ema_start=100 has no effect: objective.ema is 0; switch it on "
                                "with --set objective.ema=0.999"),
    ("objective.instance_noise_anneal=50", "objective.instance_noise_anneal=50 has no effect: "
                                           "objective.instance_noise is 0"),
    ("objective.minibatch_group=8", "objective.minibatch_group=8 has no effect: objective.minibatch is none; "
                                    "switch it on with --set objective.minibatch=std"),
    ("objective.gp_center=0", "objective.gp_center=0 has no effect: objective.gp is 0"),
    ("objective.drs_steps=7", "objective.drs_steps=7 has no effect: objective.drs is false; switch it on "
                              "with --set objective.drs=true"),
    ("objective.unroll_lr=0.0001", "objective.unroll_lr=0.0001 has no effect: objective.unroll is 0"),
    ("objective.critic_boost_first=3", "objective.critic_boost_first=3 has no effect: "
                                       "objective.critic_boost is 0"),
], ids=["ema", "instance_noise", "minibatch", "gp", "drs", "unroll", "critic_boost"])
def test_a_sub_option_of_a_switched_off_remedy_warns_at_build(tmp_path, tiny, over, message):
    with pytest.warns(UserWarning) as record:
        Run.create(C.load("ring-vanilla", tiny + [over]), tmp_path / "x").close()
    mine = [str(w.message) for w in record if "has no effect" in str(w.message)]
    assert len(mine) == 1 and mine[0].startswith(message), mine


def test_every_sub_option_in_the_table_warns_only_while_its_switch_is_off(recwarn):
    import dataclasses
    from gankit.train.gan import SUB_OPTIONS, GANParams, _warn_idle_sub_options
    defaults = GANParams()

    def changed(v):
        return "exponential" if isinstance(v, str) else (v + 1 if isinstance(v, int) else v + 0.125)

    on = {"ema": 0.9, "instance_noise": 0.1, "gp": 1.0, "lr_decay_final": 0.5, "drs": True, "unroll": 2,
          "critic_boost": 10, "minibatch_group": "std", "minibatch_kernels": "discrimination",
          "minibatch_kernel_dim": "discrimination"}
    for switch, _, _, subs in SUB_OPTIONS:
        for k in subs:
            p = dataclasses.replace(defaults, **{k: changed(getattr(defaults, k))})
            recwarn.clear()
            _warn_idle_sub_options(p)
            assert [str(w.message).split("=")[0] for w in recwarn] == [f"objective.{k}"], k
            recwarn.clear()
            _warn_idle_sub_options(dataclasses.replace(p, **{switch: on.get(switch, on.get(k))}))
            assert not recwarn.list, k
    assert {s for s, *_ in SUB_OPTIONS} >= {"ema", "instance_noise", "gp", "minibatch", "drs", "unroll",
                                           "critic_boost"}


# ---------------------------------------------------------------- torchrun: divisibility in global terms

def test_divisibility_refusals_name_the_global_batch_and_the_processes(tmp_path, tiny, monkeypatch):
    """With 2 processes the objective sees train.batch_size 12 as 6 per process; the refusal
    must say so and suggest a global batch that works (it said 'train.batch_size 6')."""
    import dataclasses
    import gankit.train.run as run_module
    real = run_module.ObjectiveContext
    monkeypatch.setattr(run_module, "ObjectiveContext",
                        lambda **kw: dataclasses.replace(real(**kw), world_size=2))
    local = [o for o in tiny if not o.startswith("train.batch_size")] + ["train.batch_size=6"]
    with pytest.raises(C.ConfigError) as e:
        Run.create(C.load("ring-vanilla", local + ['objective.minibatch="std"']), tmp_path / "m")
    assert ("objective.minibatch_group: each process's batch of 6 (train.batch_size 12 global / 2 processes) "
            "is not a multiple of 4" in str(e.value))
    assert "set train.batch_size to a multiple of 8 (e.g. 16)" in str(e.value)
    with pytest.raises(C.ConfigError) as e:
        Run.create(C.load("ring-vanilla", local + ["objective.pack=4"]), tmp_path / "p")
    assert ("objective.pack: each process's batch of 6 (train.batch_size 12 global / 2 processes) is not a "
            "multiple of 4; set train.batch_size to a multiple of 8 (e.g. 16)" in str(e.value))
