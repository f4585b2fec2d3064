"""gankit.api refuses an empty out= or config= (an unset variable) as gankit train refuses --out ''."""
import pytest

from gankit import api
from gankit.config import ConfigError


@pytest.mark.parametrize("out", ["", "  "])
def test_empty_out_is_refused_not_the_current_folder(tmp_path, monkeypatch, out):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"^out=.* names no folder .*omit out= for the default"):
        api.train("ring", out=out, evaluate=False, report=False, log=None, overrides=["train.steps=1"])
    assert list(tmp_path.iterdir()) == []      # nothing written into the caller's folder


def test_empty_config_is_refused_in_the_apis_words(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"^config='' names no preset or file .*omit config for the ring preset"):
        api.train("", out=str(tmp_path / "run"), evaluate=False, report=False, log=None)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("call", [api.open_run, api.report, api.evaluate])
def test_empty_run_folder_is_refused(tmp_path, monkeypatch, call):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"names no folder \(an unset variable\?\)"):
        call("")
