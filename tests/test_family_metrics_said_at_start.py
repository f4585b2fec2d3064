"""What a family's run cannot measure is said when the run is built (audit F124): recon_error on a
G that cannot be inverted (the energy model: no latent code; a conditional run) is refused with the
other metrics of a part of the run, at training start, in api.evaluate and in a sweep's check, and
not listed as applying; a default list that loses the objective's own measure (an SS-GAN's
accuracy, a VAE's ELBO) to data.holdout = 0 is said with a warning."""
import json
import warnings

import pytest

from gankit import api
from gankit import config as C
from gankit.config import ConfigError

from conftest import TINY_VAE


def _config(objective: str, metrics, **data) -> dict:
    cfg = json.loads(json.dumps(TINY_VAE))
    cfg["objective"] = {"name": objective}
    cfg["eval"]["metrics"] = metrics
    cfg["data"].update(data)
    if objective == "ebm":       # a short chain: the run is refused before any step anyway
        cfg["objective"].update(langevin_steps=2, sample_steps=2, buffer_size=32)
        cfg["noise"]["dim"] = 64         # its chains start from z: the data's 8x8
    return cfg


def _train(tmp_path, cfg, name="r"):
    return api.train(cfg, tmp_path / name, evaluate=False, report=False, log=None)


def _applying(msg: str) -> list[str]:
    return msg.split("metrics that apply to this data: ")[1].rstrip(")").split(", ")


def test_recon_error_on_an_energy_model_is_refused_when_the_run_is_built(tmp_path):
    with pytest.raises(ConfigError, match=r"^eval\.metrics: 'recon_error': the 'ebm' objective has no latent "
                                          r"code to invert; drop it") as e:
        _train(tmp_path, _config("ebm", ["recon_error"]))
    assert "recon_error" not in _applying(str(e.value)) and "image_stats" in _applying(str(e.value))
    assert not (tmp_path / "r" / "config.toml").exists()      # refused before the folder holds a run
    # another metric's refusal on the energy model no longer offers recon_error as applying
    with pytest.raises(ConfigError, match=r"'code_nn' measures a part this run's objective \(ebm\)") as e:
        _train(tmp_path, _config("ebm", ["code_nn"]), name="c")
    assert "recon_error" not in _applying(str(e.value)), str(e.value)


def test_recon_error_on_a_conditional_run_is_refused_when_the_run_is_built(tmp_path):
    with pytest.raises(ConfigError, match=r"^eval\.metrics: 'recon_error': inversion of conditional runs is not "
                                          r"supported") as e:
        _train(tmp_path, _config("gan", ["recon_error"]) | {"condition": {"kind": "label"}})
    assert "recon_error" not in _applying(str(e.value))


def test_api_evaluate_refuses_recon_error_on_an_energy_model_before_any_work(tmp_path):
    from gankit.metrics import refuse_not_applying
    from gankit.train.run import Run
    run = Run(C.load(_config("ebm", [])), tmp_path / "r")
    try:
        with pytest.raises(ConfigError, match=r"^metric 'recon_error': the 'ebm' objective has no latent code") as e:
            refuse_not_applying(["recon_error"], run.dataset, run.eval_context(), "ebm")
        assert "recon_error" not in _applying(str(e.value))
    finally:
        run.close()


def test_a_sweep_s_check_refuses_recon_error_for_an_energy_model_variant():
    from gankit.metrics import lacking_parts, lacking_said, parts_of
    assert lacking_parts(["recon_error", "image_stats"], parts_of("ebm")) == ["recon_error"]
    assert lacking_parts(["recon_error"], parts_of("gan")) == []
    assert "a latent code to invert" in lacking_said(["recon_error"], "ebm", "its")


def test_recon_error_still_measures_a_plain_gan(tmp_path, monkeypatch):
    from gankit.metrics import inference
    monkeypatch.setattr(inference, "RECON_IMAGES", 8)      # a few images, a few steps: the path, not the number
    monkeypatch.setattr(inference, "RECON_STEPS", 2)
    run = _train(tmp_path, _config("gan", ["recon_error"]))
    try:
        res = api.evaluate(run, ["recon_error"], record=False, reference=False)
        assert res["recon_mse"] >= 0 and "recon_mse_median" in res, res
    finally:
        run.close()


@pytest.mark.parametrize("objective, said", [("ssgan", "this run's classify (measured on held-out images) is"),
                                             ("vae", "this run's code_nn, elbo (measured on held-out images) are")])
def test_a_default_list_that_loses_the_objective_s_measure_to_holdout_0_is_said(tmp_path, objective, said):
    cfg = _config(objective, [], holdout=0.0)
    if objective == "ssgan":
        cfg["objective"]["labels_per_class"] = 3
    with pytest.warns(UserWarning, match=r"no held-out split \(data\.holdout = 0\)") as w:
        _train(tmp_path, cfg).close()
    said_ = [str(x.message) for x in w if "held-out split" in str(x.message)]
    assert len(said_) == 1 and said in said_[0] and said_[0].endswith('overrides=["data.holdout=0.1"]')   # a Python caller's words, said_
    # with a split (the default) the run says nothing of it
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        _train(tmp_path, _config(objective, [], holdout=0.1) | {"objective": cfg["objective"]}, name="h").close()
    assert not [x for x in w if "held-out split" in str(x.message)]


def test_recon_error_on_a_users_objective_without_a_latent_code_is_refused_when_built(tmp_path):
    """A user's objective declaring has_latent = False on its class (no annotation on its factory):
    the built objective tells, not its name (audit a177: it trained, then measured nothing)."""
    from gankit.train.gan import GANObjective, GANParams

    class NoLatent(GANObjective):
        has_latent = False

    @api.register_objective("nolatent_a177", GANParams, "a GAN whose G takes no code to invert")
    def nolatent(ctx, **options):
        return NoLatent(ctx, GANParams(**options))
    with pytest.raises(ConfigError, match=r"'recon_error': the 'nolatent_a177' objective has no latent code"):
        _train(tmp_path, _config("nolatent_a177", ["recon_error"]))
    assert not (tmp_path / "r" / "config.toml").exists()
