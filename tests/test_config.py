import pytest

from gankit import config as C
from gankit.config import ConfigError
from gankit.config import RunConfig


def test_every_field_has_a_description():
    for key, _, help in C.describe(RunConfig):
        assert help, f"{key} has no description"


@pytest.mark.parametrize("preset", C.preset_names())
def test_presets_load(preset):
    cfg = C.load(preset)
    assert isinstance(cfg, RunConfig)


def test_required_presets_exist():
    assert {"ring", "grid", "seed-linear", "paper-mlp", "figure1-1d"} <= set(C.preset_names())


def test_overrides_and_resolved_params():
    cfg = C.load("ring", ["train.steps=123", "seed=7", "data.std=0.02", "generator.hidden=[8, 8]"])
    assert cfg.train.steps == 123 and cfg.seed == 7
    assert cfg.data.params["std"] == 0.02 and cfg.data.params["n_modes"] == 8
    assert cfg.generator.params["hidden"] == [8, 8]
    # switching the dataset drops the old one's options
    cfg = C.load("ring", ["data.name=grid"])
    assert cfg.data.params == {"n": 5, "spacing": 2.0, "std": 0.05, "standardize": "none"}
    # ... but not the user's own keys, whichever order they come in: they are checked against the new one
    for sets in (["data.std=0.02", "data.name=grid"], ["data.name=grid", "data.std=0.02"]):
        assert C.load("ring", sets).data.params["std"] == 0.02
    with pytest.raises(ConfigError, match="n_modes"):
        C.load("ring", ["data.n_modes=4", "data.name=grid"])
    # another optimizer keeps the section's settings: they apply to every optimizer (they fell
    # back to the defaults, so --resume --set optim_g.name=rmsprop trained at 2x the run's rate)
    cfg = C.load("ring", ["optim_g.weight_decay=0.01", "optim_g.grad_clip=1.0"])
    switched = C.load(C.to_dict(cfg), ["optim_g.name=rmsprop"]).optim_g
    assert (switched.name, switched.lr, switched.weight_decay, switched.grad_clip) == ("rmsprop", 5e-4, 0.01, 1.0)


def test_round_trip_through_toml(tmp_path):
    cfg = C.load("ring", ["train.steps=77"])
    p = tmp_path / "c.toml"
    p.write_text(C.dumps_toml(cfg))
    again = C.load(str(p))
    assert C.to_dict(again) == C.to_dict(cfg)


@pytest.mark.parametrize("override, words", [
    (["train.stpes=5"], ["train.stpes", "did you mean 'steps'", "valid keys"]),
    (["train.d_steps=0"], ["train.d_steps", ">= 1"]),
    (["optim_d.lr=-0.1"], ["optim_d.lr", "> 0"]),
    (["train.steps=abc"], ["train.steps", "integer"]),
    (["loss.name=bogus"], ["loss.name", "bogus", "nonsaturating"]),
    (["data.radius=-1"], ["data.radius", "> 0"]),
    (["data.colour=3"], ["data", "colour", "n_modes"]),
    (["optim_g.name=adagrad"], ["optim_g.name", "adam", "sgd", "rmsprop"]),
    (["noise.dist=cauchy"], ["noise.dist", "normal", "uniform"]),
    (["generator.activation=swish"], ["generator.activation", "maxout"]),
    (["optim_d.betas=[0.5]"], ["optim_d.betas"]),
    (["bogus=1"], ["unknown key 'bogus'"]),
    (["train.steps"], ["key=value"]),
])
def test_bad_configs_name_the_key_and_the_choices(override, words):
    with pytest.raises(ConfigError) as e:
        C.load("ring", override)
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_unknown_preset_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'ring'"):
        C.load("rign")
    bad = tmp_path / "bad.toml"
    bad.write_text("seed = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        C.load(str(bad))
    with pytest.raises(ConfigError, match="does not exist"):
        C.load(str(tmp_path / "missing.toml"))


def test_batch_larger_than_the_data(tmp_path):
    import numpy as np

    from gankit.data import build_dataset
    pts = tmp_path / "p.npy"
    np.save(pts, np.zeros((10, 2)))
    cfg = C.load("ring", ["data.name=points", f"data.path='{pts}'", "train.batch_size=64"])
    with pytest.raises(ConfigError, match="batch_size: 64 is larger than the data"):
        build_dataset(cfg)


def test_options_of_a_default_component_need_no_name():
    cfg = C.load("figure1-1d", ["objective.reuse_fake=false"])
    assert cfg.objective.name == "gan" and cfg.objective.params["reuse_fake"] is False


def test_a_preset_name_is_the_preset_even_beside_a_file_or_folder_of_that_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ring").mkdir()                       # a run folder named after its preset
    (tmp_path / "words").write_text("apple\nbanana\n")  # a word list
    assert C.load("ring").data.name == "ring"
    assert C.load("words").data.name == C.load(str(C.PRESET_DIR / "words.toml")).data.name != "ring"
    (tmp_path / "mine").write_text('[train]\nsteps = 7\n')
    assert C.load("mine").train.steps == 7 and C.load("./mine").train.steps == 7
    with pytest.raises(C.ConfigError, match="not valid TOML"):
        C.load("./words")                             # asked for the file by path: read as a config


def test_set_values_that_are_not_toml_say_so():
    with pytest.raises(C.ConfigError, match=r"expected a list, got '\[modes\]' \(--set values are TOML: quote"):
        C.load("ring", ["eval.metrics=[modes]"])
    with pytest.raises(C.ConfigError, match=r"expected a number, got '.5' \(--set values are TOML.*0.5 rather than .5"):
        C.load("ring", ["train.lr_warmup=.5"])
    with pytest.raises(C.ConfigError) as e:
        C.load("ring", ["optim_d.lr=fast"])
    assert "TOML" not in str(e.value)


@pytest.mark.parametrize("sets", [["data.n=3", "data=grid"], ["data=grid", "data.n=3"]])
def test_a_component_set_by_its_name_keeps_the_users_own_keys(sets):
    """`data=grid` replaced the whole table (data.n=3 given before it was dropped), and a key
    after it was refused as "'data' is not a section"."""
    d = C.to_dict(C.load("ring", sets))["data"]
    assert d["name"] == "grid" and d["n"] == 3


def test_a_component_written_as_its_name_in_a_file_takes_its_options(tmp_path):
    (tmp_path / "c.toml").write_text('data = "grid"\n[train]\nsteps = 3\n')
    assert C.to_dict(C.load(str(tmp_path / "c.toml"), ["data.n=3"]))["data"]["n"] == 3


def test_a_value_with_undecodable_bytes_is_refused_naming_the_fix():
    """--set data.path=<a Latin-1 folder name> trained, then config.toml recorded it with U+FFFD
    in place of the bytes, so --resume could not find the data."""
    import os
    bad = os.fsdecode(b"/tmp/donn\xe9es.csv")
    with pytest.raises(C.ConfigError, match=r"data\.path.*not UTF-8.*ln -s"):
        C.load("ring", ["data.name=points", f"data.path={bad}"])


def test_a_utf8_name_under_an_ascii_locale_names_the_locale_not_the_name(monkeypatch):
    """Under LC_ALL=C Python holds a UTF-8 argument's bytes as surrogates: the fix is a UTF-8
    locale, not renaming the file; bytes that are not UTF-8 still get the rename advice."""
    import sys
    monkeypatch.setattr(sys, "getfilesystemencoding", lambda: "ascii")
    utf8_bytes = "d\udcc3\udca4t\udcc3\udca4/p.npy"         # "dätä/p.npy" decoded as ASCII
    with pytest.raises(ConfigError, match=r"data\.path: .*locale that is not UTF-8.*PYTHONUTF8=1") as e:
        C.load("ring", ["data.name=points", f"data.path={utf8_bytes}"])
    assert "rename" not in str(e.value)
    with pytest.raises(ConfigError, match=r"data\.path: .*holds bytes that are not UTF-8.*rename it"):
        C.load("ring", ["data.name=points", "data.path=bad\udcff.npy"])
