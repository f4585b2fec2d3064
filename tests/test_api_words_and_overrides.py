"""The API's refusals say what the caller did, in its own words (F126): an override of the model identity
when a run is opened (not resumed), evaluate's advice, its overrides' errors, a malformed table
override, and a config or out that is no path."""
import shutil

import pytest

from gankit import api
from gankit import config as C
from gankit.config import ConfigError
from gankit.runfolder import RunFolderError


@pytest.fixture
def run_dir(tmp_path, tiny_run_dir):
    return shutil.copytree(tiny_run_dir, tmp_path / "run")


def test_open_run_with_an_identity_override_says_opened_not_resumed(run_dir):
    with pytest.raises(RunFolderError) as e:
        api.open_run(run_dir, ["data.std=0.5"])
    said = str(e.value)
    assert said.startswith("overrides data.std: these define the run (its model identity)"), said
    assert "cannot be opened" in said and "resume" not in said and "out=NEW" in said, said
    # a resume keeps its own words
    with pytest.raises(RunFolderError, match=r"^overrides data\.std: .*cannot change on resume=True"):
        api.train(out=run_dir, resume=True, overrides=["data.std=0.5"], evaluate=False, report=False, log=None)


def test_evaluate_sends_to_open_run_only_the_overrides_it_takes(run_dir):
    with pytest.raises(ConfigError) as e:
        api.evaluate(run_dir, ["modes"], overrides=["data.std=0.5"], record=False)
    said = str(e.value)
    assert "['data.std=0.5'] define the run (its model identity): train a new run" in said, said
    assert "open_run" not in said, said
    with pytest.raises(ConfigError) as e:
        api.evaluate(run_dir, ["modes"], overrides=["seed=3", "train.steps=40"], record=False)
    said = str(e.value)
    assert "['seed=3'] define the run" in said and "open the run with ['train.steps=40']: api.open_run" in said, said


@pytest.mark.parametrize("overrides, words", [
    (["eval.n_samples"], 'overrides=["eval.n_samples"]: expected key=value'),
    ({"eval.n_samples": 500}, "overrides: a list of strings, e.g. "),
])
def test_evaluate_overrides_errors_use_the_api_words(tmp_path, overrides, words):
    with pytest.raises(ConfigError) as e:
        api.evaluate(tmp_path / "none", ["modes"], overrides=overrides, record=False)
    assert str(e.value).startswith(words) and "--set" not in str(e.value), str(e.value)


def test_a_dict_given_as_a_list_is_refused():
    with pytest.raises(ConfigError, match=r"^overrides: a list of strings, .*; got dict \{'train.steps': 5\}$"):
        api.open_run("/nowhere", {"train.steps": 5})


def test_a_malformed_table_override_names_its_key_and_toml_error(tmp_path):
    with pytest.raises(ConfigError, match=r"^--set 'eval=\{n_samples=5': the value of eval is not a valid TOML "
                                          r"table \(unclosed inline table at its end\)"):
        C.parse_override("eval={n_samples=5")
    with pytest.raises(ConfigError, match=r"^--set 'data=\{std=x\}': .*TOML table \(invalid value at character 6\)"):
        C.load("ring", ["data={std=x}"])
    with pytest.raises(ConfigError, match=r"^--set 'generator.hidden=\[16, 16': .*TOML list"):
        C.load("ring", ["generator.hidden=[16, 16"])
    with pytest.raises(ConfigError, match=r'^overrides=\["eval=\{n_samples=5"\]: the value of eval is not a valid'):
        api.evaluate(tmp_path / "none", ["modes"], overrides=["eval={n_samples=5"], record=False)
    # a closed list of bare words is still hinted by the config, which knows the key's type
    with pytest.raises(ConfigError, match=r"""a list is written --set 'eval.metrics=\["fid", "is"\]'$"""):
        C.load("ring", ["eval.metrics=[fid,is]"])
    assert C.parse_override('data.name="[abc"') == (["data", "name"], "[abc")   # quoted: text
    for path in ("[2024] x.npy", "{x}.npy"):      # a path that starts with a bracket: text (audit a177)
        assert C.parse_override(f"data.path={path}") == (["data", "path"], path)


@pytest.mark.parametrize("config, out, words", [
    ("ring", 5, "out: got int 5; give a run folder's path"),
    (5, "x", "config: got int 5; give a preset's name"),
    (["ring"], "x", "config: got list ['ring']; give a preset's name"),
])
def test_train_refuses_a_config_or_out_that_is_no_path_in_words(tmp_path, config, out, words):
    with pytest.raises(ConfigError) as e:
        api.train(config, out=tmp_path / out if out == "x" else out, evaluate=False, report=False, log=None)
    assert str(e.value).startswith(words), str(e.value)
    assert not (tmp_path / "x").exists()
