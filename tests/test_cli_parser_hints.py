"""The hint after an unknown option of a command that reads a trained run: the command's own
option it resembles (sample --n 4: -n 4), and never a --set key that the command refuses."""
import re

import pytest

from gankit.cli import main
from gankit.train.run import Run

QUICK = ["train.steps=2", "train.batch_size=16", "train.eval_every=0", "train.sample_every=100",
         "train.checkpoint_every=2", "train.n_fixed=16", "train.progress=false", "train.live_report=false",
         "generator.hidden=[8]", "discriminator.hidden=[8]",
         # the hints are the parser's: the run's final evaluation and rejection fit only need to exist
         'eval.metrics=["modes"]', "eval.n_samples=100", "objective.drs_steps=20"]
# unknown options whose names are config keys somewhere (data.n, train.steps, eval.n_samples, ...)
WORDS = ["--n", "--steps", "--temperature", "--path", "--root", "--n_samples", "--seed", "--lr", "--n-critic",
         "--batch-size", "--metrics"]


class Opened(Exception):
    """Run.open was reached: the command took its --set."""


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("hints") / "gan1"
    assert main(["train", "ring", "--out", str(out), *[a for kv in QUICK for a in ("--set", kv)]]) == 0
    return str(out)


@pytest.fixture
def no_open(monkeypatch):
    def opened(*a, **k):
        raise Opened
    monkeypatch.setattr(Run, "open", opened)


def _last_error(capsys) -> str:
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_a_long_spelling_of_a_short_option_is_told_the_short_one(ring_run, capsys, no_open):
    assert main(["sample", ring_run, "--n", "4", "--out", "q.npy"]) == 2
    assert _last_error(capsys).endswith("unrecognized arguments: --n 4 (did you mean -n 4?)")
    with pytest.raises(Opened):             # the hint followed: taken
        main(["sample", ring_run, "-n", "4", "--out", "q.npy"])


def test_every_set_key_offered_is_one_the_command_takes(ring_run, capsys, no_open):
    offered = []
    for command in ("sample", "eval", "report", "drs"):
        for word in WORDS:
            try:
                assert main([command, ring_run, word, "4"]) == 2
            except Opened:      # an option of this command (sample --seed, drs --steps)
                continue
            for kv in re.findall(r"--set (\S+=4)", _last_error(capsys)):
                offered.append((command, kv))
                try:        # a ring's data have no data.path: that the config says, not the command
                    main([command, ring_run, "--set", kv])
                except Opened:
                    continue
                err = _last_error(capsys)
                assert "this command takes only" not in err, f"{command} {word} 4 was told --set {kv}: {err}"
    # the keys these commands take are still offered
    assert {("sample", "generator.temperature=4"), ("eval", "eval.n_samples=4"),
            ("report", "data.path=4"), ("drs", "data.root=4")} <= set(offered), offered
