"""A class named in another case (--label trouser for Fashion-MNIST's "Trouser") draws it; two
names that differ only in case must be given exactly; an unknown metric given to api.evaluate is
named as its argument, not as a config key."""
import pytest

from gankit import api
from gankit import config as C


def _run(tmp_path, names):
    from conftest import TINY_FOLDER, class_folders
    root = class_folders(tmp_path / "imgs", names)
    return api.train("fashion-cgan", out=tmp_path / "run", overrides=TINY_FOLDER + [
        f"data.path={root}", 'eval.metrics=["image_stats"]', "train.live_report=false"])


def test_a_class_name_in_another_case_draws_that_class(tmp_path):
    run = _run(tmp_path, ["Apple", "Banana"])
    from gankit.train.sampling import condition_args
    assert condition_args(run, 3, label="banana")["y"].tolist() == [1, 1, 1]
    assert condition_args(run, 3, label="APPLE")["y"].tolist() == [0, 0, 0]


def test_names_that_differ_only_in_case_are_taken_exactly(tmp_path):
    run = _run(tmp_path, ["Apple", "apple", "Banana"])
    from gankit.train.sampling import condition_args
    assert condition_args(run, 2, label="apple")["y"].tolist() == [2, 2]     # sorted: Apple, Banana, apple
    assert condition_args(run, 2, label="Apple")["y"].tolist() == [0, 0]
    with pytest.raises(C.ConfigError, match="the classes with data are"):
        condition_args(run, 2, label="APPLE")


def test_an_unknown_metric_is_named_as_evaluates_argument(tmp_path):
    run = _run(tmp_path, ["Apple", "Banana"])
    with pytest.raises(C.ConfigError) as e:
        api.evaluate(run, ["image_stat"], record=False)
    assert "evaluate: metrics: unknown metric 'image_stat' (did you mean 'image_stats'?)" in str(e.value)
    assert "eval.metrics.name" not in str(e.value)
