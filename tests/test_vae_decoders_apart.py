"""A VAE's objective.decoder sets the units of its ELBO: a Bernoulli decoder's likelihood takes
grey levels in [0, 1] as soft targets (always <= 0), a Gaussian one's is a density of pixels in
[-1, 1].  `gankit compare` marked one decoder's held-out ELBO better than the other's, and a
--resume that switched the decoder named a module the objective declares ("the checkpoint lacks
['S']") instead of the option changed."""
import pytest

from gankit import config as C
from gankit.report import compare as CMP
from gankit.runfolder import RunFolder
from gankit.train.run import Run
from gankit.train.run_state import RunError

SETTINGS = {"n_samples": 2500, "metrics": ["elbo", "code_nn"]}


def _vae_run(path, decoder: str, elbo: float, code_nn: float):
    f = RunFolder(path)
    f.path.mkdir(parents=True)
    f.write_config(f'seed = 0\n[train]\nsteps = 100\n[objective]\nname = "vae"\ndecoder = "{decoder}"\n')
    f.append({"step": 100, "kind": "train", "loss_d": 1.3, "loss_g": 0.7, "time": 10.0})
    f.append({"step": 100, "kind": "eval", "settings": SETTINGS, "heldout_elbo": elbo, "heldout_recon_ll": elbo,
              "heldout_kl": 1.0, "code_nn_accuracy": code_nn})
    return f.path


def by_key(data: dict) -> dict:
    return {m["key"]: m for m in data["metrics"]}


def test_compare_does_not_rank_elbos_of_different_decoders(tmp_path):
    bern = _vae_run(tmp_path / "bern", "bernoulli", -177.3, 0.9)
    gauss = _vae_run(tmp_path / "gauss", "gaussian", -265.2, 0.8)
    data = CMP.compare_data([bern, gauss], curves=False)
    by = by_key(data)
    for k in ("heldout_elbo", "heldout_recon_ll"):
        assert by[k]["best"] == [] and by[k]["settings_differ"] == ["objective.decoder"]
    # the decoder does not change what the encoder's codes measure: still ranked
    assert by["code_nn_accuracy"]["best"] == [0]
    assert data["note"] == ('heldout_elbo, heldout_recon_ll: not marked, measured in other units '
                            '(objective.decoder "bernoulli" / "gaussian")')
    # the same decoder: the better ELBO is marked
    other = _vae_run(tmp_path / "bern2", "bernoulli", -190.0, 0.7)
    by = by_key(CMP.compare_data([bern, other], curves=False))
    assert by["heldout_elbo"]["best"] == [0] and by["heldout_elbo"]["settings_differ"] == []


@pytest.mark.parametrize("was,now", [("bernoulli", "gaussian"), ("gaussian", "bernoulli")])
def test_resume_with_another_decoder_names_the_option(tmp_path, tiny_img, was, now):
    Run.create(C.load("mnist-vae", tiny_img + ["data.name=digits8x8", f"objective.decoder={was}"]),
               tmp_path / "run").train().close()
    with pytest.raises(RunError) as e:
        Run.open(tmp_path / "run", [f"objective.decoder={now}", "train.steps=6"], write=True).train()
    msg = str(e.value)
    assert f"objective.decoder ({was!r} -> {now!r}); drop it, or train a new run" in msg, msg
    assert "did not declare them" not in msg
