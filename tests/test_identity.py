"""gankit.identity in messages: the keys a refusal names are the keys a user types."""
import pytest

from gankit import api
from gankit import config as C
from gankit.identity import model_differences, model_identity
from gankit.runfolder import RunFolderError

# a VAE on 8x8 digits that trains in well under a second
VAE = {"seed": 1, "data": {"name": "digits8x8"}, "noise": {"dist": "normal", "dim": 4},
       "generator": {"name": "mlp", "hidden": [8]}, "discriminator": {"name": "mlp", "hidden": [8]},
       "objective": {"name": "vae"},
       "train": {"steps": 2, "batch_size": 16, "sample_every": 100, "checkpoint_every": 2, "eval_every": 0,
                 "log_every": 1, "progress": False, "live_report": False},
       "eval": {"metrics": ["image_stats"], "n_samples": 64}}


def test_a_changed_objective_is_named_by_the_key_a_user_types():
    """model_part holds the objective as its bare name: the difference was named "objective"."""
    a, b = C.load(VAE), C.load(VAE, ["objective.name=ae"])
    assert model_differences(a, b) == ["objective.name"]
    assert model_identity(a) != model_identity(b)
    assert model_differences(a, C.load(VAE, ["generator.hidden=[4]"])) == ["generator.hidden"]


def test_resume_with_another_objective_names_objective_name(tmp_path):
    """gankit train --resume --out V --set objective.name=ae said "--set objective: these define the run" (a160)."""
    out = tmp_path / "v"
    api.train(dict(VAE), out=out, evaluate=False, report=False, log=None)
    with pytest.raises(RunFolderError, match=r"^overrides objective\.name: these define the run"):
        api.train(out=out, resume=True, overrides=["objective.name=ae"], evaluate=False, report=False, log=None)
