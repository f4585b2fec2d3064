"""A damaged code-stamp cache file, a user's dataset naming other things means/stds/weights, and
numpy scalars inside a user metric's list (audit F121: findings 1, 2 and 6)."""
import os
import threading
import types

import numpy as np
import pytest
import torch

from gankit.config import ConfigError
from gankit.metrics import evaluate
from gankit.metrics.base import Output, register_metric
from gankit.metrics.code_stamp import code_hash
from gankit.rank_agreement import data_fingerprint, ranks_data_mismatch


# ---------------------------------------------------------------- 1: the code-stamp cache
@pytest.fixture
def stamp_file(tmp_path, monkeypatch):
    """The true stamp and the cache file that keeps it, in a cache of this test's own."""
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
    true = code_hash()
    (kept,) = (tmp_path / "code_stamp").glob("*.txt")
    assert kept.read_text().strip() == true
    return true, kept


def _in_time(seconds=8.0):
    """code_hash() run in a thread: (finished, its result)."""
    out = []
    t = threading.Thread(target=lambda: out.append(code_hash()), daemon=True)
    t.start()
    t.join(seconds)
    return not t.is_alive(), out


def test_a_kept_stamp_is_read_and_one_of_undecodable_bytes_or_a_wrong_form_is_measured_again(stamp_file):
    true, kept = stamp_file
    kept.write_text("0123456789abcdef0123456789abcdef01234567\n")     # well formed: the cache is read
    assert code_hash() == "0123456789abcdef0123456789abcdef01234567"
    for damage in (b"\xff\xfe", b"a" * 41, b"A" * 40, true.encode() + b"x" * 1000, b""):
        kept.write_bytes(damage)
        assert code_hash() == true, damage[:50]       # was UnicodeDecodeError out of every evaluation
        assert kept.read_text() == true + "\n"       # and rewritten


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_or_a_link_to_an_endless_device_in_the_cache_is_measured_again_without_blocking(stamp_file):
    true, kept = stamp_file
    kept.unlink()
    os.mkfifo(kept)
    done, out = _in_time()
    if not done:        # the old read blocks on the FIFO's open: a writer lets it go before failing
        os.close(os.open(kept, os.O_WRONLY | os.O_NONBLOCK))
    assert done, "code_hash() blocked on a FIFO in the cache"
    assert out == [true] and kept.is_file() and kept.read_text() == true + "\n"
    if os.path.exists("/dev/zero"):
        kept.unlink()
        kept.symlink_to("/dev/zero")
        done, out = _in_time()
        assert done and out == [true]
        assert not kept.is_symlink() and kept.read_text() == true + "\n"


# ---------------------------------------------------------------- 2: a user's means/stds/weights
def _users(x, **stats):
    return types.SimpleNamespace(kind="points", x=x, **stats)


def test_a_users_per_feature_means_and_per_row_weights_are_compared_not_taken_for_a_mixture():
    x = torch.arange(60.0).reshape(20, 3)
    a = _users(x, means=x.mean(0), stds=x.std(0), weights=torch.ones(20) / 20)
    b = _users(x, means=x.mean(0) + 1, stds=x.std(0), weights=torch.ones(20) / 20)
    fa, fb = data_fingerprint(a), data_fingerprint(b)         # was IndexError on every rank
    assert "mixture" not in fa and "modes" not in " ".join(fa.values())
    assert fa["training data"] == fb["training data"] and fa != fb      # other means are still refused
    said = ranks_data_mismatch([fa, fb], types.SimpleNamespace(data=types.SimpleNamespace(name="mine", params={})))
    assert "means, stds, weights: sha1" in said and "read other data" in said


@pytest.mark.parametrize("odd", [
    dict(means=None, stds=[1.0, 2.0], weights=np.ones(4) / 4),
    dict(means=3.0, stds=np.float32(1), weights=torch.tensor(1.0)),
    dict(means=[[1.0, 2.0], [3.0]], stds="wide", weights=object()),
    dict(means=torch.zeros(2, 3), stds=torch.ones(2, 3, 4), weights=torch.ones(2) / 2),
    dict(means=torch.zeros(2, 3), stds=torch.ones(2), weights=torch.tensor(1.0)),
    dict(means=torch.zeros(2, 3, dtype=torch.bfloat16), stds=np.ones(5), weights=torch.ones(5)),
])
def test_odd_shapes_and_kinds_of_means_stds_weights_never_crash_and_differing_values_still_differ(odd):
    x = torch.zeros(4, 2)
    f = data_fingerprint(_users(x, **odd))
    assert "mixture" not in f
    other = {**odd, "stds": [9.0, 9.0]}
    assert data_fingerprint(_users(x, **other)) != f


def test_a_mixture_is_still_described_by_its_modes_with_one_std_or_one_per_coordinate():
    m = torch.tensor([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    for stds in (torch.ones(3), torch.ones(3, 2)):
        f = data_fingerprint(_users(torch.zeros(5, 2), means=m, stds=stds, weights=torch.ones(3) / 3))
        g = data_fingerprint(_users(torch.zeros(5, 2), means=m + 1, stds=stds, weights=torch.ones(3) / 3))
        assert f["mixture"].startswith("3 modes in 2-D sha1 ") and f["mixture"] != g["mixture"]


# ---------------------------------------------------------------- 6: numpy scalars in a user's list
def _ctx():
    return types.SimpleNamespace(dataset=types.SimpleNamespace(kind="points"), step=0,
                                 settings=types.SimpleNamespace(n_samples=10))


def _user_metric(name, value, key="bl"):
    def fn(ctx):
        return {key: value}
    fn.__module__ = "my_metrics"        # as a user's --import'ed module defines it
    register_metric(name, applies=lambda ds: ds.kind == "points", help="b",
                    outputs={key: Output("a", None)}, reads=())(fn)


def test_numpy_scalars_and_0d_tensors_inside_a_users_list_or_dict_are_recorded_as_python_values():
    import warnings
    _user_metric("boolm", [np.bool_(True), np.int64(3), {"f": np.float32(0.5), "t": torch.tensor(2)},
                           np.array(False), np.arange(2)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")        # a list for one declared output is warned about
        out = evaluate(_ctx(), ["boolm"])
    assert out == {"bl": [True, 3, {"f": 0.5, "t": 2}, False, [0, 1]]}
    assert type(out["bl"][0]) is bool and type(out["bl"][1]) is int and type(out["bl"][3]) is bool


def test_a_refused_value_names_its_type_with_its_module():
    _user_metric("devm", [torch.device("cpu")])
    with pytest.raises(ConfigError, match=r"returned key 'bl' as a list \(holding a torch\.device\), which the record"):
        evaluate(_ctx(), ["devm"])
    _user_metric("datem", np.datetime64("2024-01-01"), "day")     # its .item() is a datetime.date
    with pytest.raises(ConfigError, match=r"returned key 'day' as a datetime\.date, which the record"):
        evaluate(_ctx(), ["datem"])
    _user_metric("setm", {1, 2}, "both")
    with pytest.raises(ConfigError, match=r"returned key 'both' as a set, which the record"):
        evaluate(_ctx(), ["setm"])
