"""A metric skipped for too few samples advises more in its caller's words (audit F128): a program
calling gankit.api reads overrides=["eval.n_samples=N"], the gankit command --set eval.n_samples=N
(gankit.wording.callers_words, as api_words rewrites errors)."""
import shutil
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from gankit import api
from gankit.config import ConfigError
from gankit.wording import command_line


@pytest.fixture
def run_dir(tmp_path, tiny_run_dir):
    return shutil.copytree(tiny_run_dir, tmp_path / "run")


def _said(fn, *args, **kwargs) -> str:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn(*args, **kwargs)
    return " | ".join(str(w.message) for w in caught)


def test_api_evaluate_asks_for_more_samples_in_overrides_words(run_dir):
    said = _said(api.evaluate, run_dir, ["prdc_points"], ["eval.n_samples=3"], record=False, reference=False)
    assert "metric 'prdc_points' skipped" in said, said
    assert 'eval.n_samples = 3; more samples: overrides=["eval.n_samples=500"])' in said and "--set" not in said, said


def test_a_strict_api_evaluation_names_the_samples_in_overrides_words(run_dir):
    with pytest.warns(UserWarning, match="skipped"):
        with pytest.raises(ConfigError) as e:
            api.evaluate(run_dir, ["prdc_points"], ["eval.n_samples=3"], record=False, reference=False, strict=True)
    assert str(e.value).endswith('; overrides=["eval.n_samples=500"] lets it run'), str(e.value)


def test_the_gankit_command_still_says_set(run_dir, capsys):
    from gankit.cli import main
    # metrics named and none measured: refused, as api.evaluate's strict=True
    assert main(["eval", str(run_dir), "--no-record", "--metrics", "prdc_points", "--set", "eval.n_samples=3"]) == 2
    err = capsys.readouterr().err
    assert "eval.n_samples = 3; more samples: --set eval.n_samples=500)" in err and "overrides" not in err, err
    assert err.rstrip().endswith("; --set eval.n_samples=500 lets it run"), err


def _self_bleu(monkeypatch):
    from gankit.metrics import text
    return text._self_bleu, SimpleNamespace(dataset=None, settings=SimpleNamespace(n_samples=1)), \
        f"eval.n_samples={text.BLEU_HYPOTHESES}"


def _class_scores(monkeypatch):
    from gankit.metrics import classifier_scores
    # 2 samples, one predicted for each class: m_is has no class of 2 and is left out
    monkeypatch.setattr(classifier_scores, "_probs", lambda ctx: torch.tensor([[0.9, 0.1], [0.2, 0.8]]))
    monkeypatch.setattr(classifier_scores, "_prior", lambda ds, k: np.ones(k))
    return classifier_scores._class_scores, SimpleNamespace(dataset=None), "eval.n_samples=500"


def _within_class(monkeypatch):
    """120 samples over 50 classes: some classes draw fewer than 3 (tests/test_conditional_messages.py)."""
    from gankit.data.conditional import ConditionalData
    from gankit.data.toy import GaussianMixture
    from gankit.metrics import conditional
    from gankit.metrics.context import EvalContext
    base = GaussianMixture(torch.arange(50.0)[:, None].repeat(1, 2) * 10, torch.ones(50))
    noise = torch.Generator().manual_seed(1)

    def sample(n, seed=None, y=None, c=None):
        return base.means[y] + torch.randn(n, 2, generator=noise), None
    ctx = EvalContext(dataset=ConditionalData(base, "label"), settings=SimpleNamespace(n_samples=120), seed=0,
                      device=torch.device("cpu"), step=0, sample=sample)
    return conditional._within_class, ctx, "eval.n_samples="


@pytest.mark.parametrize("case", [_self_bleu, _class_scores, _within_class])
def test_the_other_too_few_samples_warnings_speak_the_callers_words(case, monkeypatch):
    fn, ctx, kv = case(monkeypatch)
    said = _said(fn, ctx)
    assert f'overrides=["{kv}' in said and "--set" not in said, said
    with command_line():
        said = _said(fn, ctx)
    assert f"--set {kv}" in said and "overrides" not in said, said
