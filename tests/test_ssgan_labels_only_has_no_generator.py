"""The SS-GAN's labels-only baseline (objective.adversarial=false) trains D alone: its G keeps its
initial weights, so nothing may sample, invert or score it as a model (docs/families.md)."""
import warnings

import pytest
import torch

from gankit import config as C
from gankit.config import ConfigError
from gankit.train.run import Run

NO_G = "objective.adversarial=false trains D alone as a classifier: there is no trained G"
TINY = ["train.steps=3", "train.batch_size=8", "train.progress=false", "data.name=digits8x8",
        "generator.hidden=[8]", "discriminator.hidden=[8]", "objective.labels_per_class=3",
        "train.n_fixed=16", "eval.n_samples=100", "eval.parzen_centres=20"]


def _trained(path, adversarial: bool, more=()) -> Run:
    torch.set_num_threads(1)
    return Run.create(C.load("mnist-ssgan", TINY + [f"objective.adversarial={str(adversarial).lower()}", *more]),
                      path).train(final_report=False)


def test_labels_only_run_measures_its_classifier_and_no_sample_of_its_untrained_g(tmp_path):
    run = _trained(tmp_path / "labels", adversarial=False)
    got = run.evaluate()
    assert "test_accuracy" in got
    assert [k for k in got if k != "test_accuracy"] == [], got     # fid's frd, parzen_ll, precision ...
    with pytest.raises(ConfigError, match=f"^metric 'fid': {NO_G}"):
        run.evaluate(["fid"])
    with pytest.raises(ConfigError, match=f"^metric 'recon_error': {NO_G}"):
        run.evaluate(["recon_error"])
    # the same run with G trained measures G's samples: the leaving-out above is not the data's
    adv = _trained(tmp_path / "adv", adversarial=True).evaluate(["classify", "parzen"])
    assert "test_accuracy" in adv and "parzen_ll" in adv, adv


def test_labels_only_run_refuses_sample_invert_and_complete_once_trained(tmp_path, capsys):
    from gankit.cli import main
    from gankit.train.inversion import complete, invert_run
    _trained(tmp_path / "r", adversarial=False).close()
    run = Run.open(tmp_path / "r")          # what gankit sample, invert and complete do
    with pytest.raises(ConfigError, match=f"^{NO_G} to sample"):
        run.generate(4)
    x = torch.zeros(2, *run.dataset.split("train").shape[1:])
    with pytest.raises(ConfigError, match=f"^{NO_G}"):
        invert_run(run, x, steps=1)
    with pytest.raises(ConfigError, match=f"^{NO_G}"):
        complete(run, x, torch.ones(x.shape[1:]), steps=1)
    run.close()
    # the command line: one line, before any metric is announced or drawn
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "r"), "--metrics", "parzen"]) != 0
    err = capsys.readouterr().err
    assert f"metric 'parzen': {NO_G}" in err and "evaluating" not in err, err
    assert err.strip().endswith("metrics that apply to this data: classify"), err
    # the snapshots the Run draws while training still come from G (its initial weights)
    assert (tmp_path / "r" / "samples").is_dir()


def test_labels_only_run_is_not_told_that_no_image_is_left_unlabelled(tmp_path):
    def said(adversarial):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            _trained(tmp_path / str(adversarial), adversarial, ["objective.labels_per_class=100000"]).close()
        return [str(m.message) for m in w if "none is left to learn from unlabelled" in str(m.message)]
    assert said(False) == []
    assert len(said(True)) == 1        # the semi-supervised run still hears it
