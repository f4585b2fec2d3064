"""Messages and help texts say what the code does (audit a64): hints name keys that exist and
parse as written, `gankit list` shows whole first sentences and the values of choice options,
and a metric refused for the data says which ones apply."""
import argparse
import re

import pytest

from gankit import config as C
from gankit.cli import main
from gankit.train.run import Run

SMALL = ["train.steps=2", "train.progress=false", "train.live_report=false", "eval.n_samples=50"]


def _set_args(hint: str) -> list[str]:
    """The --set arguments of a hint, parsed as the CLI parses them (one KEY=VALUE each)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", action="append", default=[])
    words = [re.sub(r"\)[.,;]*$", "", w.lstrip("(")).rstrip(",;") for w in hint.split()]
    args = [w for i, w in enumerate(words) if w == "--set" or (i and words[i - 1] == "--set")]
    return ap.parse_args(args).set          # an extra bare KEY=VALUE would be refused here


def test_the_gan_nan_hint_gives_one_set_per_key():
    from gankit.train.loop import GAN_NAN_HINT
    assert _set_args(GAN_NAN_HINT) == ["optim_d.lr=...", "optim_g.lr=..."]


@pytest.mark.parametrize("preset,over,sigma", [("ring-vae", [], True),
                                               ("ring-vae", ['objective.name="ae"'], False)])
def test_the_auto_encoders_nan_hint_names_only_keys_the_objective_has(tmp_path, preset, over, sigma):
    run = Run.create(C.load(preset, SMALL + over), tmp_path / "r")
    try:
        hint = run.objective.nan_hint
    finally:
        run.close()
    assert ("objective.sigma" in hint) == sigma
    for kv in _set_args(hint):            # each key the hint names loads with this objective
        C.load(preset, SMALL + over + [kv.replace("...", "0.5")])


def test_list_shows_each_presets_first_sentence_whole(capsys):
    from gankit.list_cli import _first_sentence
    assert _first_sentence("# WGAN (Arjovsky et al. 2017) paper defaults: clip 0.01, lr 5e-5 (e.g. 5).\n"
                           "# More.\nseed = 0\n") == \
        "WGAN (Arjovsky et al. 2017) paper defaults: clip 0.01, lr 5e-5 (e.g. 5)."
    assert _first_sentence("# The demo, on a ring:\n# GAN + R1 0.05. About 3 minutes.\n") == \
        "The demo, on a ring: GAN + R1 0.05."
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "rejection sampling." in out.split("\n  ring ")[1].splitlines()[0]
    assert "WGAN (Arjovsky et al. 2017) paper defaults on the ring" in out


def test_list_v_shows_the_values_a_choice_option_takes(capsys):
    assert main(["list", "-v"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("d_embedding = "))
    assert "from_g" in line and "from_g_frozen" in line
    assert "gankit list metrics" not in out and "gankit list: nets" not in out


def test_a_metric_that_cannot_measure_the_data_is_refused_naming_those_that_can(tmp_path):
    with pytest.raises(C.ConfigError) as e:
        Run.create(C.load("ring-vanilla", SMALL + ['eval.metrics=["fid"]']), tmp_path / "r")
    msg = str(e.value)
    assert "'fid' cannot measure this data" in msg and "metrics that apply to this data: " in msg
    assert "modes" in msg.split("metrics that apply to this data: ")[1] and "fid," not in msg.split("apply")[-1]


def test_an_unknown_component_says_how_to_load_ones_own():
    with pytest.raises(C.ConfigError, match="gankit --import MODULE"):
        C.load("ring-vanilla", ['data.name="hexagon"'])


def _help(cmd):
    try:
        assert main(cmd + ["--help"]) in (0, None)
    except SystemExit as e:
        assert e.code in (0, None)


@pytest.mark.parametrize("cmd,words", [(["sample"], "(default 1000)"), (["invert"], "(default 300)"),
                                       (["sweep"], "(default runs/sweep.jsonl")])
def test_cli_help_states_the_defaults(capsys, cmd, words):
    _help(cmd)
    assert words in " ".join(capsys.readouterr().out.split())


def test_invert_help_offers_no_temperature(capsys):
    _help(["invert"])
    assert "temperature" not in capsys.readouterr().out
