"""--set of the commands that read a trained run (eval, sample, report): a table merges key by
key as README says, and an item without = is shown a key the command takes (audit a159)."""
import pytest

from gankit.cli_args import data_location_sets
from gankit.config import ConfigError, parse_override


def test_eval_takes_a_table_of_eval_settings_key_by_key():
    where, rest = data_location_sets(["eval={n_samples=50, metrics=[\"modes\", \"jsd\"]}"], "eval.")
    assert where == [] and rest == ['eval.n_samples=50', 'eval.metrics=["modes", "jsd"]']
    # each one read back as the table gave it
    assert [parse_override(r) for r in rest] == [(["eval", "n_samples"], 50),
                                                 (["eval", "metrics"], ["modes", "jsd"])]


def test_a_table_for_the_data_location_opens_the_run():
    where, rest = data_location_sets(['data={path="moved/p.npy"}', "generator={temperature=0.5}"])
    assert rest == [] and where == ['data.path="moved/p.npy"', "generator.temperature=0.5"]
    assert parse_override(where[0]) == (["data", "path"], "moved/p.npy")


def test_plain_items_are_handed_on_as_given():
    assert data_location_sets(["eval.n_samples=7", " data.root=/x"], "eval.") == \
        ([" data.root=/x"], ["eval.n_samples=7"])


def test_a_table_holding_a_key_the_command_refuses_is_refused_naming_it():
    with pytest.raises(ConfigError, match=r"data=\{std=3\} \(its data\.std\): this command takes only"):
        data_location_sets(["data={std=3}"], "eval.")
    # the report draws no samples: G's temperature is refused there, in a table too
    with pytest.raises(ConfigError, match=r"its generator\.temperature"):
        data_location_sets(["generator={temperature=0.5}"], sampling=False)


@pytest.mark.parametrize("others, sampling, example", [
    ("eval.", True, "eval.n_samples=2000"), (None, True, "data.path=NEW"), (None, False, "data.path=NEW")])
def test_an_item_without_equals_is_shown_a_key_the_command_takes(others, sampling, example):
    with pytest.raises(ConfigError) as e:
        data_location_sets(["eval.n_samples"], others, sampling)
    assert f"expected key=value, for example {example}" in str(e.value)
    assert "train.steps" not in str(e.value)
