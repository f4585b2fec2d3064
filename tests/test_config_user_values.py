"""Config values as users write them: a table for a section, a metric listed twice, a name that
is not a string, keys from other code or another section, options a component switch drops,
and the hints of --set values that are not TOML."""
import tomllib
import warnings

import pytest
import tomli_w

from gankit import config as C
from gankit.config.schema import ALIASES, key_index


def _same(source, table: list[str], dotted: list[str]):
    assert C.to_dict(C.load(source, table)) == C.to_dict(C.load(source, dotted))


# ---------------------------------------------------------------- a table for a section

def test_a_table_for_a_section_is_its_keys_one_by_one():
    cfg = C.load("grid", ["data={std=0.2}"])
    assert cfg.data.name == "grid" and cfg.data.params["std"] == 0.2
    _same("grid", ["data={std=0.2}"], ["data.std=0.2"])
    wgan = C.load("wgan", ["train={steps=3, batch_size=8, progress=false}", "optim_d={lr=0.1}"])
    assert wgan.train.d_steps == 5 and wgan.train.steps == 3 and wgan.train.batch_size == 8
    assert wgan.optim_d.name == "rmsprop" and wgan.optim_d.lr == 0.1
    _same("wgan", ["train={steps=3, batch_size=8}"], ["train.steps=3", "train.batch_size=8"])


@pytest.mark.parametrize("table, dotted", [
    (['data={name="grid", std=0.3}'], ["data.name=grid", "data.std=0.3"]),
    (['data={std=0.3, name="grid"}'], ["data.std=0.3", "data.name=grid"]),
    (['loss={name="minimax"}'], ["loss.name=minimax"]),
    (['optim_d={name="sgd", momentum=0.9}'], ["optim_d.name=sgd", "optim_d.momentum=0.9"]),
    (["data={}"], []),
])
def test_a_name_in_the_table_switches_the_component_as_the_dotted_key_does(table, dotted, tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[loss]\nname = "nonsaturating"\nlabel_smoothing = 0.1\n[data]\nname = "ring"\nstd = 0.05\n'
                    '[optim_d]\nname = "adam"\nlr = 0.01\n')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # the note on dropped options: tested below
        _same(str(path), table, dotted)


def test_a_table_on_resume_changes_only_its_keys():
    # a resume loads the run's config.toml with the --set overrides (Run.open: C.load(raw, overrides))
    written = tomllib.loads(C.dumps_toml(C.load("ring", ["train.batch_size=32", "train.log_every=5",
                                                         "train.progress=false"])))
    cfg = C.load(written, ["train={steps=22}"])
    assert (cfg.train.steps, cfg.train.batch_size, cfg.train.log_every, cfg.train.progress) == (22, 32, 5, False)


# ---------------------------------------------------------------- a metric listed twice

def test_a_metric_listed_twice_is_refused_before_training(tmp_path):
    with pytest.raises(C.ConfigError, match=r"^eval.metrics: 'modes' listed more than once; list each metric "
                                            r"once: eval.metrics = \[\"modes\", \"jsd\"\]$"):
        C.load("ring", ['eval.metrics=["modes", "jsd", "modes"]'])
    path = tmp_path / "mine.toml"
    path.write_text('[eval]\nmetrics = ["jsd", "jsd"]\n')
    with pytest.raises(C.ConfigError, match="'jsd' listed more than once"):
        C.load(str(path))


def test_an_old_run_whose_config_lists_a_metric_twice_is_still_evaluated_and_reported(tmp_path, tiny):
    from gankit import api
    from gankit.train.run import Run
    run = tmp_path / "old"
    made = Run.create(C.load("ring", tiny + ['eval.metrics=["modes"]', "eval.n_samples=100"]), run)
    made.save_checkpoint()      # step 0 is enough to reopen
    made.close()
    raw = tomllib.loads((run / "config.toml").read_text())
    raw["eval"]["metrics"] = ["modes", "modes"]          # written before such lists were refused
    (run / "config.toml").write_text(tomli_w.dumps(raw))
    assert "modes_covered" in api.evaluate(str(run), record=False)
    assert api.report(str(run)).is_file()


# ---------------------------------------------------------------- a name that is not a string

@pytest.mark.parametrize("sets, message", [
    (['data.name=["grid"]'], r"^data.name: a component's name is a string, e.g. data.name = \"grid\"; got \['grid'\]$"),
    (["data.name.x=grid"], r"data.name is a name \(a string\), not a table; write data.name=grid$"),
    (["optim_d.name.x=sgd"], r"optim_d.name is a name \(a string\), not a table; write optim_d.name=sgd$"),
])
def test_a_name_that_is_not_a_string_is_a_config_error(sets, message):
    with pytest.raises(C.ConfigError, match=message) as e:
        C.load("ring", sets)
    assert "'name': 'adam'" not in str(e.value)


def test_a_name_table_in_a_file_is_a_config_error(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text("[loss.name]\nx = 1\n")
    with pytest.raises(C.ConfigError, match=r"^loss.name: a component's name is a string, e.g. loss.name = "):
        C.load(str(path))


# ---------------------------------------------------------------- unknown keys

@pytest.mark.parametrize("key, meant", [
    ("train.n_steps", "(did you mean 'steps'?)"),
    ("train.epochs", "(did you mean 'steps'?)"),
    ("objective.n_critic", "(did you mean 'train.d_steps'?)"),
    ("train.log_interval", "(did you mean 'log_every'?)"),
    ("train.seed", "(did you mean 'seed' (top level)?)"),
    ("train.lr", "(did you mean 'optim_d.lr' or 'optim_g.lr'?)"),
    ("loss.gp", "(did you mean 'objective.gp' (objective gan)?)"),
    ("train.clip", "(did you mean 'objective.clip' (objective gan)?)"),
    ("objective.label_smoothing", "(did you mean 'loss.label_smoothing' (loss minimax, nonsaturating)?)"),
    ("optim_d.beta1", "(did you mean 'betas'?)"),
    ("train.stpes", "(did you mean 'steps'?)"),
    ("generator.width", "('width' is an option of generator dcgan)"),
])
def test_an_unknown_key_names_the_key_meant(key, meant):
    with pytest.raises(C.ConfigError) as e:
        C.load("ring-vanilla", [f"{key}=1"])
    assert meant in str(e.value), str(e.value)


@pytest.mark.parametrize("key", ["optim_d.extra", "train.whatever"])
def test_an_unrelated_key_gets_no_suggestion(key):
    with pytest.raises(C.ConfigError) as e:
        C.load("ring-vanilla", [f"{key}=1"])
    assert "did you mean" not in str(e.value) and "valid keys" in str(e.value)


def test_a_key_given_to_a_component_without_options_names_the_key_meant():
    with pytest.raises(C.ConfigError, match=r"loss 'wgan' takes no options, got gp \(did you mean 'objective.gp'"):
        C.load("wgan", ["loss.gp=10"])


def test_every_alias_names_real_keys_and_no_real_key_is_an_alias():
    index = key_index()
    for alias, targets in ALIASES.items():
        for target in targets:
            assert target in index.get(target.rsplit(".", 1)[-1], {}), f"{alias} -> {target}: not a key"
    assert not set(ALIASES) & set(index)


# ---------------------------------------------------------------- options a switch drops

def test_a_switch_that_drops_the_files_options_says_how_to_keep_them(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[loss]\nname = "nonsaturating"\nlabel_smoothing = 0.1\n'
                    '[data]\nname = "ring"\nstd = 0.05\nstandardize = "global"\n')
    with pytest.warns(UserWarning) as rec:
        cfg = C.load(str(path), ["loss.name=minimax", "data.name=gmm"])
    said = [str(w.message) for w in rec]
    assert cfg.loss.params["label_smoothing"] == 0.0 and cfg.data.params["std"] == 0.1   # still dropped
    assert ("loss.name=minimax: nonsaturating's label_smoothing=0.1 not carried over (minimax uses "
            "label_smoothing=0.0); to keep it: --set loss.label_smoothing=0.1") in said
    assert any(s.startswith("data.name=gmm: ring's std=0.05, standardize=global not carried over")
               and s.endswith("to keep them: --set data.std=0.05 --set data.standardize=global") for s in said)
    with warnings.catch_warnings():
        warnings.simplefilter("error")        # given again after the switch: nothing was lost
        C.load(str(path), ["loss.name=minimax", "loss.label_smoothing=0.1", "data.name=gmm", "data.std=0.05",
                           "data.standardize=global"])


def test_a_presets_hq_radius_stays_with_its_data():
    """gmm1200's 37 std was set for 1,200-D modes: on 2-D data or a ring it calls every sample high quality."""
    from gankit.metrics.modes import hq_radius_std
    for sets, now in ((["data.dim=2"], "data.dim=2"), (["data.name=ring"], "data.name=ring")):
        with pytest.warns(UserWarning) as rec:
            cfg = C.load("gmm1200", sets)
        assert cfg.eval.hq_std is None and hq_radius_std(2, cfg.eval.hq_std) == pytest.approx(3.0)
        assert (f"eval.hq_std=37.0 was set for gmm data of dim 1200: not carried over to {now} (the HQ radius "
                "follows the data's dimension, docs/metrics.md); to keep it: --set eval.hq_std=37.0") in \
            [str(w.message) for w in rec]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert C.load("gmm1200", ["data.dim=2", "eval.hq_std=37"]).eval.hq_std == 37.0   # the user's own
        assert C.load("gmm1200", ["data.std=0.1", "train.steps=3"]).eval.hq_std == 37.0  # same dimension


def test_a_dropped_list_is_shown_on_one_line_as_set_reads_it():
    """tomli_w writes an array one item a line: the note's --set spread over five lines."""
    from gankit.config.files import _set_arg
    assert _set_arg("generator.hidden", [128, 128, 128]) == "--set 'generator.hidden=[128, 128, 128]'"
    assert _set_arg("x.names", ["a b", "c"]) == """--set 'x.names=["a b", "c"]'"""
    assert C.apply_overrides({"generator": {}}, ["generator.hidden=[128, 128, 128]"])["generator"]["hidden"] == [128] * 3


# ---------------------------------------------------------------- hints for --set values

@pytest.mark.parametrize("sets, hint", [
    (["eval.metrics=modes"], """eval.metrics: expected a list, got 'modes'; a list is written """
                             """--set 'eval.metrics=["modes"]'"""),
    (["eval.metrics=modes,jsd"], """; a list is written --set 'eval.metrics=["modes", "jsd"]'"""),
    (["generator.hidden=16,16"], "; a list is written --set 'generator.hidden=[16, 16]'"),
    (["train.progress=True"], "train.progress: expected true or false, got 'True'; TOML writes them lower-case: "
                              "train.progress=true"),
    (["train.steps=1e30"], "train.steps: 1e+30 does not fit in 64 bits"),
])
def test_set_values_hint_how_to_write_them(sets, hint):
    with pytest.raises(C.ConfigError) as e:
        C.load("ring", sets)
    assert hint in str(e.value), str(e.value)
    assert "1000000000000000019884624838656" not in str(e.value)


def test_advice_on_writing_set_values_only_for_set_values(tmp_path):
    """A value of the wrong type read from a file was not written with --set: no --set advice."""
    from gankit import config as C
    raw = C.to_dict(C.load("ring-vanilla"))
    raw["data"]["std"] = "0.01"
    raw["eval"]["metrics"] = "modes,jsd"
    with pytest.raises(C.ConfigError) as e:
        C.load(raw)
    assert str(e.value) == "data.std: expected a number, got '0.01'"
    raw["data"]["std"] = 0.01
    with pytest.raises(C.ConfigError) as e:
        C.load(raw)
    assert "--set" not in str(e.value) and str(e.value).startswith("eval.metrics: expected a list")
    with pytest.raises(C.ConfigError, match=r"--set values are TOML"):
        C.load("ring-vanilla", ['data.std="0.01"'])
    with pytest.raises(C.ConfigError, match=r"a list is written --set 'eval.metrics=\[\"modes\", \"jsd\"\]'"):
        C.load("ring-vanilla", ["eval.metrics=modes,jsd"])


@pytest.mark.parametrize("sets, hint", [
    (["eval.metrics=[fid,is]"], """; a list is written --set 'eval.metrics=["fid", "is"]'"""),
    (["eval.metrics=(modes,jsd)"], """; a list is written --set 'eval.metrics=["modes", "jsd"]'"""),
    (["optim_d.betas=(0.5,.9)"], "; a list is written --set 'optim_d.betas=[0.5, 0.9]'"),
    (["generator.hidden=[16,x]"], """; a list is written --set 'generator.hidden=[16, "x"]'"""),
])
def test_a_list_in_brackets_or_a_tuple_is_hinted_as_the_exact_list(sets, hint):
    """[fid,is] got only a general note; a tuple was wrapped whole, [(0.5, 0.9)] or ["(modes", "jsd)"]."""
    with pytest.raises(C.ConfigError) as e:
        C.load("ring", sets)
    assert str(e.value).endswith(hint), str(e.value)
    written = hint.split("--set '")[1].rstrip("'")
    if "x" not in written:
        C.load("ring", [written])        # the hinted list is taken


# ---------------------------------------------------------------- names, choices, types

@pytest.mark.parametrize("preset, sets, said", [
    ("ring", "data.nmae=grid", "data.nmae: unknown key 'nmae' (did you mean 'name'?); valid keys: name, "),
    ("ring", "generator.nmae=mlp", "(did you mean 'name'?); valid keys: name, hidden"),
    ("wgan", "loss.nmae=hinge", "loss 'wgan' takes no options, got nmae (did you mean 'name'?)"),
    ("ring", "objective.packing=2", "objective.packing: unknown key 'packing' (did you mean 'pack'?)"),
])
def test_a_misspelt_name_or_a_longer_key_is_suggested(preset, sets, said):
    """name was popped before the options were checked: never suggested, never listed."""
    with pytest.raises(C.ConfigError) as e:
        C.load(preset, [sets])
    assert said in str(e.value), str(e.value)


@pytest.mark.parametrize("sets, meant", [
    ("train.lr_schedule=Cosine", "cosine"), ("optim_d.name=Adam", "adam"), ("train.precision=bf-16", "bf16"),
])
def test_a_choice_in_another_case_or_spelling_is_suggested(sets, meant):
    with pytest.raises(C.ConfigError, match=rf"is not valid \(did you mean '{meant}'\?\); valid choices: "):
        C.load("ring", [sets])
    with pytest.raises(C.ConfigError) as e:
        C.load("ring", ["train.precision=foo"])
    assert "did you mean" not in str(e.value)


def test_a_literal_choice_is_suggested_too():
    from typing import Literal
    with pytest.raises(C.ConfigError, match=r"^x: 'Fast' is not valid \(did you mean 'fast'\?\); valid"):
        C.coerce_value(Literal["fast", "slow"], "Fast", "x")


def test_an_empty_value_unsets_an_optional_option():
    """TOML has no null: eval.hq_std could not be put back to its automatic radius."""
    assert C.load("gmm1200").eval.hq_std == 37.0
    cfg = C.load("gmm1200", ["eval.hq_std="])
    assert cfg.eval.hq_std is None and "hq_std" not in C.to_dict(cfg)["eval"]
    with pytest.raises(C.ConfigError, match=r"^eval.hq_std: expected a number, got 'x'; an empty value leaves "
                                            r"it unset: --set 'eval.hq_std='$"):
        C.load("ring", ["eval.hq_std=x"])
    with pytest.raises(C.ConfigError, match="expected a number"):
        C.load("ring", ["optim_d.lr="])           # not optional: still refused


def test_the_type_toml_read_is_named_with_its_article():
    with pytest.raises(C.ConfigError, match=r"^train.device: expected a string, got 1; TOML reads it as an int:"):
        C.load("ring", ["train.device=1"])


def test_numpy_numbers_and_paths_in_a_dict_config_are_plain_values(tmp_path):
    np = pytest.importorskip("numpy")
    from pathlib import Path
    raw = {"data": {"name": "points", "path": Path(tmp_path / "p.csv")}, "seed": np.int64(1),
           "optim_d": {"lr": np.float32(0.5), "betas": [np.float32(0.5), 0.9]},
           "train": {"steps": np.int32(3), "batch_size": np.float32(8.0)}, "generator": {"hidden": [np.int16(8)]}}
    cfg = C.load(raw)
    plain = C.to_dict(cfg)
    assert plain["seed"] == 1 and plain["optim_d"]["lr"] == 0.5 and plain["train"]["batch_size"] == 8
    assert plain["data"]["path"] == str(tmp_path / "p.csv") and plain["generator"]["hidden"] == [8]
    assert [type(v) for v in (plain["seed"], plain["optim_d"]["lr"], plain["train"]["steps"])] == [int, float, int]
    assert tomllib.loads(tomli_w.dumps(plain)) == plain         # config.toml records it as it is
    for bad, said in (({"seed": np.bool_(True)}, "expected an integer"), ({"seed": np.float32(1.5)}, "expected an integer"),
                      ({"seed": True}, "expected an integer"), ({"optim_d": {"lr": np.bool_(True)}}, "expected a number")):
        with pytest.raises(C.ConfigError, match=said):
            C.load({"data": {"name": "ring"}, **bad})
