"""Config edges: a thread count's bound, a byte order mark, a pipe, a --set value with a line
break or read as a date, and the memory check's data, noise and host/device sides."""
import os

import pytest
import torch

from gankit import config as C
from gankit.config import ConfigError, parse_override
from gankit.config.files import read_toml
from gankit.train import budget


@pytest.mark.parametrize("key", ["train.threads", "eval.threads"])
def test_thread_counts_have_an_upper_bound(key):
    assert C.load("ring", [f"{key}=1024"])
    with pytest.raises(ConfigError, match=rf"{key}: must be <= 1024, got 100000"):
        C.load("ring", [f"{key}=100000"])


def test_a_toml_file_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbfseed = 1\n[train]\nsteps = 5\n")
    assert read_toml(path) == {"seed": 1, "train": {"steps": 5}}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_pipe_is_not_a_regular_file_not_a_missing_one(tmp_path):
    fifo = tmp_path / "cfg.toml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="is not a regular file"):
        read_toml(fifo)
    with pytest.raises(ConfigError, match="does not exist"):
        read_toml(tmp_path / "missing.toml")


def test_a_set_value_with_a_line_break_is_refused_not_cut():
    with pytest.raises(ConfigError, match="line break"):
        parse_override("train.steps=6\nseed=4")       # seed=4 was dropped
    assert parse_override('eval.metrics=["modes",\n"jsd"]') == (["eval", "metrics"], ["modes", "jsd"])


def test_a_date_where_text_is_expected_is_told_how_to_quote_it():
    with pytest.raises(ConfigError) as e:
        C.load("ring", ["data.name=points", "data.path=2024-01-01"])
    assert """--set 'data.path="2024-01-01"'""" in str(e.value)


def test_the_data_modes_are_counted_before_the_dataset_is_built(monkeypatch):
    # a ring of 10^9 modes was killed by the kernel while it was built (no message)
    monkeypatch.setattr(budget, "machine_memory", lambda device: 8 * budget.GB)
    cfg = C.load("ring-vanilla", ["data.n_modes=1000000000"])
    with pytest.raises(ConfigError, match=r"the data's 1,000,000,000 modes .*: data\.n_modes"):
        budget.check_data_memory(cfg)
    with pytest.raises(ConfigError, match=r"data\.n_modes, data\.dim"):
        budget.check_data_memory(C.load("ring-vanilla", ["data.name=gmm", "data.std=0.1", "data.dim=16",
                                                         "data.n_modes=100000000"]))
    budget.check_data_memory(C.load("ring-vanilla", []))


def test_the_fixed_noise_is_counted(monkeypatch):
    from gankit.data import build_dataset
    cfg = C.load("ring-vanilla", ["train.n_fixed=1000000000", 'eval.metrics=["modes"]'])
    parts = budget.estimate(cfg, build_dataset(C.load("ring-vanilla", [])))
    assert parts["noise of the largest draw"] == 4 * 10**9 * cfg.noise.dim
    monkeypatch.setattr(budget, "machine_memory", lambda device: 20 * budget.GB)   # the samples alone fit
    assert parts["evaluation samples"] < 20 * budget.GB
    with pytest.raises(ConfigError, match="noise of the largest draw"):
        budget.check_memory(cfg, build_dataset(C.load("ring-vanilla", [])), torch.device("cpu"))


def test_on_a_gpu_host_parts_are_checked_against_the_host_and_the_rest_against_the_gpu(monkeypatch):
    from gankit.data import build_dataset
    cfg = C.load("ring", ["eval.jsd_bins=20000"])     # a JSD grid of ~37 GB, in numpy on the host
    ds = build_dataset(cfg)
    cuda = torch.device("cuda")
    monkeypatch.setattr(budget, "machine_memory", lambda device: 80 * budget.GB if device.type == "cuda" else None)
    monkeypatch.setattr(budget, "available_host_memory", lambda: 20 * budget.GB)
    with pytest.raises(ConfigError, match=r"JSD grid.*this machine has available 20\.0 GB"):
        budget.check_memory(cfg, ds, cuda)       # was let through: the grid was held against the GPU's 80 GB
    monkeypatch.setattr(budget, "available_host_memory", lambda: 100 * budget.GB)
    monkeypatch.setattr(budget, "machine_memory", lambda device: 1 * budget.GB)
    budget.check_memory(cfg, ds, cuda)           # was refused: the host's grid against a 1 GB GPU
    big = C.load("ring", ["train.batch_size=100000000"])
    with pytest.raises(ConfigError, match=r"training step.s activations.*this machine.s cuda has 1\.0 GB"):
        budget.check_memory(big, ds, cuda)


def test_a_run_refuses_data_too_large_before_building_them(tmp_path, monkeypatch):
    """The check existed but Run built the dataset first: the 10^9-mode ring was killed while built."""
    from gankit.train.run import Run
    monkeypatch.setattr(budget, "machine_memory", lambda device: 8 * budget.GB)
    import gankit.train.run as run_module
    monkeypatch.setattr(run_module, "build_dataset", lambda *a, **k: pytest.fail("the data were built"))
    with pytest.raises(ConfigError, match=r"data\.n_modes"):
        Run.create(C.load("ring-vanilla", ["data.n_modes=1000000000"]), tmp_path / "r")
