"""DCGAN nets, training through the one loop, image eval and report from the run folder."""
import json

import pytest
import torch

from gankit import config as C
from gankit.config import ConfigError
from gankit.nets.dcgan import DCGANDiscriminator, DCGANGenerator, base_and_levels



@pytest.mark.parametrize("res", [8, 28, 32, 64])
@pytest.mark.parametrize("ch", [1, 3])
def test_shapes_and_ranges(res, ch):
    G, D = DCGANGenerator(8, ch, res, width=4), DCGANDiscriminator(ch, res, width=4)
    x = G(torch.randn(5, 8))
    assert x.shape == (5, ch, res, res) and x.abs().max() <= 1
    assert D(x).shape == (5,) and D.features(x).shape == (5, D.feature_dim)


@pytest.mark.parametrize("norm", ["batch", "none", "layer", "instance"])
def test_fully_connected_layers(norm):
    """fc > 0: one hidden fc layer after G's input and before D's read-out; D's features are its units."""
    G = DCGANGenerator(8, 1, 28, width=4, fc=32)
    D = DCGANDiscriminator(1, 28, width=4, norm=norm, fc=16)
    x = G(torch.randn(5, 8))
    assert x.shape == (5, 1, 28, 28) and G.project.in_features == 32
    assert D.feature_dim == 16 and D.features(x).shape == (5, 16) and D(x).shape == (5,)
    linears = [m for m in D.body if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 1 and linears[0].out_features == 16
    assert (linears[0].bias is None) == (norm in ("batch", "layer"))     # a bias only where no norm follows
    D(x).sum().backward()
    assert linears[0].weight.grad.abs().sum() > 0
    assert DCGANGenerator(8, 1, 28, width=4).project.in_features == 8     # fc = 0: as before


def test_dcgan_guidelines():
    G, D = DCGANGenerator(16, 1, 32, width=8), DCGANDiscriminator(1, 32, width=8)
    assert not any(isinstance(m, (torch.nn.MaxPool2d, torch.nn.AvgPool2d)) for m in D.modules())
    convs = [m for m in D.body if isinstance(m, torch.nn.Conv2d)]
    assert all(c.stride == (2, 2) for c in convs)
    assert isinstance(D.body[1], torch.nn.LeakyReLU)              # no norm on D's input layer
    assert isinstance(G.body[-1], torch.nn.ConvTranspose2d)        # no norm on G's output layer
    assert isinstance(G.out, torch.nn.Tanh)
    w = torch.cat([c.weight.flatten() for c in convs])
    assert abs(float(w.detach().std()) - 0.02) < 0.005


def test_bad_resolution_and_non_images():
    assert base_and_levels(28) == (7, 2) and base_and_levels(64) == (4, 4)
    with pytest.raises(ConfigError, match="resolution 30"):
        base_and_levels(30)
    from gankit.registry import DATASETS, GENERATORS
    with pytest.raises(ConfigError, match="square images"):
        GENERATORS.build("dcgan", {}, noise_dim=4, data=DATASETS.build("ring", {}))


@pytest.mark.parametrize("loss,dnorm", [("nonsaturating", "batch"), ("wgan", "none"), ("hinge", "layer")])
def test_trains_through_the_loop_with_any_loss(tmp_path, loss, dnorm, tiny_img):
    from gankit.train.run import Run
    cfg = C.load("mnist-dcgan", tiny_img + [f"loss.name={loss}", f"discriminator.norm={dnorm}",
                                            "data.name=digits8x8"])
    run = Run.create(cfg, tmp_path / "r").train()
    assert run.step == 4
    x = run.generate(10, seed=1)
    assert x.shape == (10, 1, 8, 8) and torch.isfinite(x).all()


def test_presets_load():
    for name in ("mnist-dcgan", "fashion-dcgan", "stacked-mnist"):
        cfg = C.load(name)
        assert cfg.generator.name == "dcgan" and cfg.discriminator.name == "dcgan"


def test_cli_train_eval_report_end_to_end(tmp_path, capsys, tiny_img):
    from gankit.cli import main
    out = tmp_path / "run"
    assert main(["train", "mnist-dcgan", "--out", str(out), *sum((["--set", s] for s in tiny_img), [])]) == 0
    capsys.readouterr()
    assert main(["eval", str(out), "--metrics", "fid,is,prdc,class_hist,memorisation,parzen", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    for k in ("fcd", "cs", "precision", "recall", "density", "coverage", "classes_missing",
              "copy_frac", "flip_copy_frac", "parzen_ll", "parzen_se"):
        assert k in res, k
    assert res["fcd"] > 0 and 1 <= res["cs"] <= 10
    page = (out / "report.html").read_text()
    for heading in ("Samples from fixed noise", "Nearest training images", "Linear interpolation in z"):
        assert heading in page
    assert "not available" not in page


def test_stacked_mnist_eval(tmp_path, tiny_img):
    from gankit.metrics.features import weights_path
    assert weights_path("mnist").is_file(), "the shipped MNIST classifier is missing from gankit/eval_weights"
    from gankit.train.run import Run
    cfg = C.load("stacked-mnist", tiny_img + ["data.n_fixed=500",
                                              "train.steps=2"])
    run = Run.create(cfg, tmp_path / "s").train()
    r = run.evaluate(["stacked_modes"])
    assert 1 <= r["stacked_modes"] <= 200 and r["stacked_kl"] >= 0


def test_paper_mlp_on_flattened_images(tmp_path):
    """The paper's MLPs (ReLU G, maxout D with dropout) on images: G reshapes, D flattens."""
    from gankit.train.run import Run
    cfg = C.load("paper-mlp", ["data.name=digits8x8", "noise.dim=16", "generator.output=tanh",
                               "generator.hidden=[32]", "discriminator.hidden=[32]",
                               "train.steps=3", "train.batch_size=16", "train.progress=false",
                               "train.n_fixed=16", "train.sample_every=3"])
    run = Run.create(cfg, tmp_path / "m").train()
    assert run.generate(4, seed=0).shape == (4, 1, 8, 8)


@pytest.mark.parametrize("extra", [["objective.gp=10", "loss.name=wgan", "discriminator.norm=layer"],
                                   ["objective.pack=2"], ["objective.spectral_norm=true"],
                                   ["objective.r1=1.0"], ["objective.instance_noise=0.1"]])
def test_stabilisers_work_on_dcgan(tmp_path, extra, tiny_img):
    import dataclasses
    from gankit.registry import OBJECTIVES
    params = OBJECTIVES.get("gan").params
    keys = {f.name for f in dataclasses.fields(params)} if params else set()
    missing = [e for e in extra if e.startswith("objective.") and e.split("=")[0].split(".")[1] not in keys]
    assert not missing, f"the gan objective lacks {missing}"
    from gankit.train.run import Run
    cfg = C.load("mnist-dcgan", tiny_img + ["data.name=digits8x8", "objective.name=gan", *extra])
    run = Run.create(cfg, tmp_path / "s").train()
    assert torch.isfinite(run.generate(8, seed=0)).all()
