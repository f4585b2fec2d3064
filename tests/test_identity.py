"""gankit.identity in messages: the keys a refusal names are the keys a user types."""
import pytest

from gankit import api
from gankit import config as C
from gankit.identity import model_differences, model_identity
from gankit.runfolder import RunFolderError

from conftest import TINY_VAE as VAE


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
