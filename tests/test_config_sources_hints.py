"""Where a config comes from, and the hints when it is not what gankit reads (audit a159): a run
folder, a preset name in other case, a file's array of tables, a key given twice."""
import pytest

from gankit import config as C
from gankit.config import ConfigError
from gankit.config.files import read_toml


def test_a_run_folder_as_the_config_names_its_config_and_the_resume(tmp_path):
    run = tmp_path / "myrun"
    run.mkdir()
    (run / "config.toml").write_text("seed = 1\n")
    with pytest.raises(ConfigError) as e:
        C.load(str(run))
    msg = str(e.value)
    assert repr(str(run / "config.toml")) in msg and f"gankit train --resume --out {str(run)!r}" in msg
    # a folder without config.toml: no run to point at
    (tmp_path / "plain").mkdir()
    with pytest.raises(ConfigError) as e:
        C.load(str(tmp_path / "plain"))
    assert "is a folder, not a file" in str(e.value) and "--resume" not in str(e.value)


@pytest.mark.parametrize("name, preset", [("RING", "ring"), ("Wgan-GP", "wgan-gp")])
def test_a_preset_name_in_another_case_is_suggested(name, preset, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=f"did you mean '{preset}'"):
        C.load(name)


def test_an_array_of_tables_in_the_file_is_named_not_the_set(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("[[train]]\nsteps = 30\n")
    with pytest.raises(ConfigError) as e:
        C.load(str(f), ["train.steps=3"])
    assert "train is an array of tables ([[train]]" in str(e.value) and "write [train]" in str(e.value)


def test_a_set_under_a_plain_value_says_what_it_holds():
    with pytest.raises(ConfigError, match=r"seed is a value \(0\), not a section"):
        C.load("ring", ["seed=0", "seed.x=3"])


@pytest.mark.parametrize("text, named", [
    ("seed = 3\nseed = 4\n", "line 2 sets seed,"),
    ("seed = 3\nseed = 4", "line 2 sets seed,"),                 # tomllib: "at end of document"
    ("seed = 3\nseed = 4\n\n\n", "line 2 sets seed,"),
    ("[data]\nstd = 3\n\n[data.std]\nx = 1\n", "line 4 opens the table [data.std],"),
])
def test_a_key_given_twice_is_named(tmp_path, text, named):
    f = tmp_path / "c.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as e:
        read_toml(f)
    assert "Cannot overwrite a value" in str(e.value) and named in str(e.value)
