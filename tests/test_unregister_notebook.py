"""api.unregister(kind, name): a notebook user's way out of a registration, without a kernel restart.

A cell that registers a component, renamed and run again, left the earlier name registered: a
metric's output keys then clashed with it ("declares output(s) ... that metric 'old' declares"),
and a second module's registration under the same name was refused with no way to drop the first.
"""
import pytest
import torch.nn as nn

from gankit import api
from gankit.config import ConfigError
from gankit.registry import DATASETS, GENERATORS, LOSSES, METRICS, REGISTRIES


@pytest.fixture(autouse=True)
def _clean():
    """Whatever a test registered (even where the code under test failed) leaves the registries."""
    yield
    for reg in REGISTRIES.values():
        for name in [n for n in reg._entries if n.startswith("f132_")]:
            del reg._entries[name]


def _metric(name, key="f132_score"):
    @api.register_metric(name, applies=lambda ds: True, help="mine",
                         outputs={key: api.Output("mine", "higher")})
    def f132_metric(ctx):
        return {key: 1.0}
    return f132_metric


def test_unregister_lets_a_renamed_metric_cell_run_again():
    _metric("f132_metric")
    # the cell renamed and run again: its output key is still declared by the earlier name
    with pytest.raises(ConfigError, match=r"declares output\(s\) \['f132_score'\] that metric 'f132_metric'.*unregister\('metric', 'f132_metric'\)"):
        _metric("f132_metric_v2")
    api.unregister("metric", "f132_metric")
    assert "f132_metric" not in METRICS.names()
    _metric("f132_metric_v2")
    assert "f132_metric_v2" in METRICS.names()
    assert "unregister" in api.__all__


def test_unregister_removes_a_generator_by_kind_or_plural_and_only_that_one():
    for name in ("f132_gen", "f132_gen2"):
        @api.register_generator(name, None, "mine")
        def f132_gen(noise_dim, data):
            return nn.Linear(noise_dim, 2)
    api.unregister("generator", "f132_gen")
    api.unregister("generators", "f132_gen2")     # REGISTRIES' key is accepted too
    assert not [n for n in GENERATORS.names() if n.startswith("f132_")]
    assert "mlp" in GENERATORS.names()
    with pytest.raises(ConfigError, match=r"^unregister: no generator 'f132_gen' is registered"):
        api.unregister("generator", "f132_gen")    # already gone: said, not silently ignored


def test_unregister_refuses_gankit_own_components_and_unknown_kinds_in_one_line():
    with pytest.raises(ConfigError) as e:
        api.unregister("loss", "hinge")
    msg = str(e.value)
    assert "\n" not in msg and "loss 'hinge' is gankit's own (gankit." in msg and "another name" in msg
    assert "hinge" in LOSSES.names()
    with pytest.raises(ConfigError, match=r"unknown kind 'metrix'; valid kinds: dataset, generator, .*metric"):
        api.unregister("metrix", "f132_metric")
    _metric("f132_metric")
    with pytest.raises(ConfigError, match=r"no metric 'f132_metrc' is registered \(did you mean 'f132_metric'\?\)"):
        api.unregister("metric", "f132_metrc")


def test_clash_message_names_unregister_where_it_helps_and_only_there():
    def first():
        pass

    def second():
        pass
    first.__module__, second.__module__ = "nb_cell_a", "nb_cell_b"
    DATASETS.register("f132_ds")(first)
    with pytest.raises(ConfigError) as e:
        DATASETS.register("f132_ds")(second)
    assert "give the one in nb_cell_b another name" in str(e.value)
    assert "gankit.api.unregister('dataset', 'f132_ds')" in str(e.value)
    api.unregister("dataset", "f132_ds")           # what the message says, then the registration goes through
    DATASETS.register("f132_ds")(second)
    assert DATASETS.get("f132_ds").module == "nb_cell_b"
    # gankit's own cannot be unregistered, so a clash with it does not suggest it
    with pytest.raises(ConfigError) as e:
        LOSSES.register("hinge")(second)
    assert "registered twice" in str(e.value) and "unregister" not in str(e.value)
