"""A --set a command that reads a trained run does not take: a key that defines the run (its model
identity, gankit.identity.defines_run) is told to need a new run, since --resume refuses it too;
any other key keeps the --resume advice."""
import pytest

from gankit.cli_args import data_location_sets
from gankit.config import ConfigError


def _refused(item: str, others="eval.") -> str:
    with pytest.raises(ConfigError) as e:
        data_location_sets([item], others)
    return str(e.value)


@pytest.mark.parametrize("item, key", [("data.std=0.5", "data.std"), ("data={std=0.5}", "data.std"),
                                       ("generator.width=8", "generator.width"), ("seed=3", "seed")])
def test_a_key_that_defines_the_run_is_told_to_need_a_new_run(item, key):
    msg = _refused(item)
    assert f"{key} defines the trained run and cannot change on --resume either" in msg, msg
    assert f"gankit train RUN/config.toml --out NEW --set {key}=" in msg, msg
    assert "--resume --out RUN" not in msg, msg


@pytest.mark.parametrize("item", ["train.steps=5", "optim_g.lr=1e-4"])
def test_another_key_keeps_the_resume_advice(item):
    msg = _refused(item)
    assert "gankit train --resume --out RUN --set KEY=VALUE" in msg and "defines" not in msg, msg
