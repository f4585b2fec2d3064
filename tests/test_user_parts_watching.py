"""Watching a run made with the user's own parts (audit a154): eval's line says a user metric's
whole-number result, an option their edited module no longer takes is named with the module
(not another component's option, and the report offers no config.toml.recovered equal to the
file), and a module given to --resume with --import is recorded in config.toml."""
import tomllib

import pytest

from gankit import api
from gankit.cli import main
from gankit.cli_summary import _summary
from gankit.config import ConfigError

TINY = ["train.steps=10", "train.batch_size=16", "train.log_every=5", "train.sample_every=10",
        "train.checkpoint_every=10", "train.n_fixed=16", "train.progress=false",
        "generator.hidden=[8, 8]", "discriminator.hidden=[8, 8]", "eval.n_samples=100", "eval.jsd_samples=500"]

# the user's dataset module: as trained, then edited (an option dropped; a bound made stricter)
PARTS = """
from dataclasses import dataclass
import torch
from gankit import api
from gankit.config import opt
from gankit.data.toy import GaussianMixture

@dataclass
class P:
    spread: float = opt(2.0, "distance of the second mode")
{field}

@api.register_dataset("f88_pair", P, "two modes")
def f88_pair(spread{arg}):
    return GaussianMixture(torch.tensor([[0.0, 0.0], [spread, spread]]), {std})
"""
TRAINED = PARTS.format(field='    std: float = opt(0.05, "std", gt=0)', arg=", std", std="std")
DROPPED = PARTS.format(field="", arg="", std="0.05")
STRICTER = PARTS.format(field='    std: float = opt(1.0, "std", ge=1)', arg=", std", std="std")


def test_eval_says_whole_numbers_flags_and_words_a_metric_returned():
    """far_count = 0 was recorded, but the line said "no metric applies to this data"."""
    line = _summary({"far_count": 0, "ok": True, "kind_of": "blob", "per_mode": [1, 2, 3]})
    assert line == "far_count 0; ok True; kind_of blob; per_mode [1, 2, 3]"
    assert "no metric applies" not in line
    assert _summary({}) == "no metric applies to this data"
    # what the sentences say is not said again; the modes metric's histogram is no result to show
    line = _summary({"modes_covered": 8, "modes_total": 8, "hq_fraction": 0.5, "reverse_kl": 0.01,
                     "mode_counts": [3, 4], "ndb": 2, "mmd2": 0.25})
    assert line.endswith("reverse KL 0.010; ndb 2; mmd2 0.25") and "mode_counts" not in line


def test_an_option_the_users_edited_module_dropped_names_the_module_not_a_damaged_file(tmp_path):
    module, run = tmp_path / "f88_pair_parts.py", tmp_path / "run"
    module.write_text(TRAINED)
    api.train("ring-vanilla", out=run, overrides=[*TINY, "data.name=f88_pair", "data.std=0.05"], imports=[str(module)],
              evaluate=False, report=False, progress=False, log=None)
    module.write_text(DROPPED)
    with pytest.warns(UserWarning, match="changed since"), pytest.raises(ConfigError) as e:
        api.open_run(run)
    said = str(e.value)      # it said "'std' is an option of data ring, ..." (ring's std is not this one)
    assert "is an option of" not in said
    assert "dataset 'f88_pair', registered by your module f88_pair_parts" in said and str(module) in said
    assert "restore its code" in said and "valid keys: spread" in said
    from gankit.report import write_report
    with pytest.raises(ConfigError) as e:
        write_report(run)
    # it said "correct it there; ... mv config.toml.recovered config.toml" of an identical file
    assert "registered by your module" in str(e.value) and "recovered" not in str(e.value)
    assert not (run / "config.toml.recovered").exists()
    as_trained = (run / "config.toml").read_text()
    (run / "config.toml").write_text(as_trained.replace("n_samples = 100", "n_samples = 120"))   # a hand edit
    with pytest.raises(ConfigError) as e:
        write_report(run)
    assert "registered by your module" in str(e.value) and not (run / "config.toml.recovered").exists()
    (run / "config.toml").write_text(as_trained)
    module.write_text(STRICTER)     # any other refusal of the file the checkpoints hold as it is
    with pytest.warns(UserWarning, match="changed since"), pytest.raises(ConfigError) as e:
        write_report(run)
    assert "must be >= 1" in str(e.value) and "holds the config the run trained with" in str(e.value)
    assert "recovered" not in str(e.value) and not (run / "config.toml.recovered").exists()


def test_an_import_given_to_a_resume_is_recorded_as_a_fresh_train_records_it(tmp_path, monkeypatch, capsys):
    """The resume branch never updated imports: config.toml kept imports = [], and eval of the
    run then failed on the component the module registers."""
    import sys
    (tmp_path / "f88_extra.py").write_text("SEEN = True\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "f88_extra", raising=False)
    api.train("ring-vanilla", out="run", overrides=[*TINY, 'eval.metrics=["modes"]'], evaluate=False,
              report=False, progress=False, log=None)
    assert main(["--import", "f88_extra.py", "train", "--out", "run", "--resume", "--set", "train.steps=20"]) in (0, None)
    config = tomllib.loads((tmp_path / "run" / "config.toml").read_text())
    assert config["imports"] == [str((tmp_path / "f88_extra.py").resolve())]    # absolute, as train records it
    assert config["train"]["steps"] == 20
    api.train(out="run", resume=True, overrides=["train.steps=30"], imports=["f88_extra.py"],
              evaluate=False, report=False, progress=False, log=None)       # given again: recorded once
    config = tomllib.loads((tmp_path / "run" / "config.toml").read_text())
    assert config["imports"] == [str((tmp_path / "f88_extra.py").resolve())] and config["train"]["steps"] == 30
    assert api.open_run(tmp_path / "run").step == 30       # the checkpoints still load
    sys.modules.pop("f88_extra", None)
