"""Metrics of a part of the run (gankit.metrics.RUN_PARTS: classify, code_nn, elbo): accepted where
the objective has the part, refused before any work where it lacks it, at every entry point (audit
F75): eval.metrics at training start and on resume, api.evaluate (gankit eval); a reference row is
written only where real data can measure something."""
import json

import pytest

from gankit import api
from gankit import config as C
from gankit.config import ConfigError

from conftest import TINY_VAE as VAE


def _config(objective: str, metrics=None) -> dict:
    cfg = json.loads(json.dumps(VAE))
    cfg["objective"]["name"] = objective
    if metrics is not None:
        cfg["eval"]["metrics"] = metrics
    return cfg


def _train(tmp_path, objective: str, metrics=None, name="r"):
    return api.train(_config(objective, metrics), tmp_path / name, evaluate=False, report=False, log=None)


def _metrics_said(msg: str) -> list[str]:
    """The names of the refusal's "metrics that apply to this data: a, b, ...\""""
    return msg.split("metrics that apply to this data: ")[1].rstrip(")").split(", ")


@pytest.mark.parametrize("objective, metrics", [("vae", ["elbo", "code_nn"]), ("ae", ["code_nn"]),
                                                ("bigan", ["code_nn"])])
def test_a_run_whose_objective_has_the_part_trains_with_its_metric(tmp_path, objective, metrics):
    """Refused at training start for VAE/AE/BiGAN runs: the check saw only the classifier."""
    run = _train(tmp_path, objective, metrics)
    assert run.step == 2
    run.close()


def test_a_resume_takes_a_new_list_with_the_vae_s_own_metrics(tmp_path):
    _train(tmp_path, "vae").close()
    run = api.train(out=tmp_path / "r", resume=True, overrides=["train.steps=3", 'eval.metrics=["elbo"]'],
                    evaluate=False, report=False, log=None)
    assert run.step == 3 and list(run.cfg.eval.metrics) == ["elbo"]
    run.close()


def test_a_part_the_objective_lacks_is_refused_naming_the_metrics_that_do_apply(tmp_path):
    with pytest.raises(ConfigError, match=r"'code_nn' measures a part this run's objective \(gan\) does not "
                                          r"have \(codes: the bigan, ae and vae objectives\)") as e:
        _train(tmp_path, "gan", ["code_nn"])
    assert "code_nn" not in _metrics_said(str(e.value)) and "image_stats" in _metrics_said(str(e.value))
    with pytest.raises(ConfigError, match=r"'classify' measures a part this run's objective \(vae\)") as e:
        _train(tmp_path, "vae", ["classify"], name="v")
    said = _metrics_said(str(e.value))      # the vae's own metrics are among those that apply
    assert "elbo" in said and "code_nn" in said and "classify" not in said, said


@pytest.mark.parametrize("objective, metrics", [("gan", ["image_stats", "code_nn"]), ("ae", ["elbo"]),
                                                ("gan", ["elbo"])])
def test_gankit_eval_refuses_a_part_the_run_lacks_before_announcing_or_measuring(tmp_path, objective, metrics):
    """It announced the metrics, measured image_stats, then failed in code_nn: nothing recorded."""
    run = _train(tmp_path, objective)
    said = []
    before = (run.folder.path / "metrics.jsonl").read_text()
    with pytest.raises(ConfigError, match=rf"metric '{metrics[-1]}' measures a part this run's objective "
                                          rf"\({objective}\) does not have"):
        api.evaluate(run, metrics, log=said.append)
    assert said == [] and (run.folder.path / "metrics.jsonl").read_text() == before
    run.close()


def test_no_reference_row_where_every_metric_measures_a_part_of_the_run(tmp_path):
    """Real data have no ELBO nor codes: the row said it measured them and held only "skipped"."""
    run = _train(tmp_path, "vae")
    said = []
    res = api.evaluate(run, ["elbo", "code_nn"], log=said.append)
    assert "heldout_elbo" in res and "code_nn_accuracy" in res
    kinds = [json.loads(line)["kind"] for line in (run.folder.path / "metrics.jsonl").read_text().splitlines()]
    assert "reference" not in kinds and kinds[-1] == "eval", kinds
    assert not any("reference row" in s for s in said), said
    # a metric real data can measure beside them still gets its row
    api.evaluate(run, ["elbo", "image_stats"], log=None)
    assert json.loads((run.folder.path / "metrics.jsonl").read_text().splitlines()[-1])["kind"] == "reference"
    run.close()


@pytest.mark.parametrize("objective", ["gan", "vae", "ae", "bigan", "ssgan", "infogan"])
def test_the_parts_a_sweep_reads_from_the_name_are_those_of_the_built_objective(tmp_path, objective):
    """parts_of (a sweep's check, before training) agrees with the Run's measured_parts."""
    from gankit.metrics import PART_OWNERS, RUN_PARTS, parts_of
    from gankit.train.run import Run
    assert set(PART_OWNERS) == set(RUN_PARTS.values())
    sets = ["noise.dim=13"] if objective == "infogan" else []     # 10 + 2 codes, and free noise
    run = Run(C.load(_config(objective), sets), tmp_path / "r")
    built = {k for k, v in run.measured_parts().items() if v is not None}
    named = {k for k, v in vars(parts_of(objective)).items() if v is not None}
    assert built == named, (objective, built, named)
    run.close()
