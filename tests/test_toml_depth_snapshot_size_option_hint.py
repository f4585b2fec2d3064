"""Audit F138: TOML nested deeply through dotted headers or keys (tomllib reads them without
recursing) ended in a RecursionError in the walkers after it; a run's own snapshot of 2,500 RGB
samples at 256 x 256 was skipped as a "decompression bomb" (an absolute 1 GiB cap); and an unknown
option with a broken torch said "cannot import torch" instead of "unrecognized arguments"."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import warnings
import zipfile

import numpy as np
import pytest

from gankit import config as C
from gankit.cli import main
from gankit.config import ConfigError, toml_read
from gankit.runfolder import RECOVERED_CONFIG, RunFolder, RunFolderError
from gankit.runfolder import snapshot_files

DEEP = 500      # levels: past the recursion of copy.deepcopy and every other walker of a config
DOTTED = {"header": "[" + ".".join(["data"] + ["a"] * DEEP) + "]\nx = 1\n",
          "key": ".".join(["data"] + ["a"] * DEEP) + " = 1\n",
          "list": "x = " + "[" * 200 + "]" * 200 + "\n"}     # shallow enough for tomllib itself


# ---------------------------------------------------------------- 1. nesting by dotted keys
@pytest.mark.parametrize("kind", sorted(DOTTED))
def test_a_config_nested_deeply_by_dotted_keys_is_nested_too_deeply(tmp_path, kind, capsys):
    with pytest.raises(toml_read.NestedTooDeeply):
        toml_read.loads(DOTTED[kind])
    path = tmp_path / "deep.toml"
    path.write_text(f"seed = 1\n{DOTTED[kind]}")
    with pytest.raises(ConfigError, match=r"deep\.toml: not valid TOML: nested too deeply"):
        C.load(str(path), ["train.steps=1"])
    assert main(["train", str(path), "--out", str(tmp_path / "o"), "--set", "train.steps=1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and "nested too deeply" in err and "RecursionError" not in err, err
    assert not (tmp_path / "o").exists()


def test_nesting_up_to_the_limit_still_loads():
    limit = getattr(toml_read, "MAX_DEPTH", 64)
    # the root table is level 1: a.a... = 1 with ``limit`` keys nests exactly ``limit`` tables
    doc = toml_read.loads(".".join(["a"] * limit) + " = 1\n")
    for _ in range(limit - 2):
        doc = doc["a"]
    assert doc == {"a": {"a": 1}}
    with pytest.raises(toml_read.NestedTooDeeply, match="^nested too deeply$"):
        toml_read.loads(".".join(["a"] * (limit + 1)) + " = 1\n")
    assert C.load("ring").train.steps > 0       # the presets (about 4 levels) are untouched


def test_a_run_config_nested_deeply_by_a_dotted_header_is_damaged(tiny_run_dir, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_run_dir, run)
    with open(run / "config.toml", "a", encoding="utf-8") as f:
        f.write("\n" + DOTTED["header"])
    with pytest.raises(RunFolderError, match=r"config\.toml is damaged \(nested too deeply\); each checkpoint"):
        RunFolder(run).read_config()
    assert main(["eval", str(run), "--no-record"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and "RecursionError" not in err, err
    assert f"{run / 'config.toml'} is damaged (nested too deeply)" in err and f"mv {run / RECOVERED_CONFIG}" in err, err


# ---------------------------------------------------------------- 2. a large real snapshot loads
def _packing(p) -> tuple[int, int]:
    with zipfile.ZipFile(p) as z:
        return sum(i.file_size for i in z.infolist()), p.stat().st_size


def _load_quietly(folder, step):
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        snap = folder.snapshot(step)
    return snap, [str(w.message) for w in said]


def test_a_real_snapshot_past_the_floor_loads(tiny_run_dir, tmp_path, monkeypatch):
    """The 1 GiB floor scaled to 1 MiB (as tests/test_snapshot_unpack_cap.py does): a snapshot of
    float32 samples over it packs about 1.1:1, which no bomb does, so it loads."""
    run = tmp_path / "r"
    shutil.copytree(tiny_run_dir, run)
    monkeypatch.setattr(snapshot_files, "MAX_UNPACKED", 1 << 20)
    folder = RunFolder(run)
    samples = np.tanh(np.random.default_rng(0).standard_normal((120, 3, 32, 32))).astype(np.float32)
    folder.save_snapshot(77, {"samples": samples})
    unpacked, packed = _packing(run / "samples" / "step_00000077.npz")
    assert unpacked > 1 << 20 and unpacked < 3 * packed        # past the (scaled) floor, packed as real samples
    snap, said = _load_quietly(folder, 77)
    assert not said and snap is not None and np.array_equal(snap["samples"], samples), said


def test_the_cap_is_half_the_memory_within_1_and_16_gib(monkeypatch):
    for pages, cap in ((1 << 18, 1 << 30), (6 << 18, 3 << 30), (24 << 18, 12 << 30), (256 << 18, 16 << 30)):
        monkeypatch.setattr(os, "sysconf", lambda name, pages=pages: 4096 if name == "SC_PAGE_SIZE" else pages)
        assert snapshot_files._memory_cap() == cap, (pages, cap)


def test_a_collapsed_snapshot_at_256_rgb_loads_and_a_bomb_of_tens_of_gb_does_not(tiny_run_dir, tmp_path,
                                                                                  monkeypatch):
    """All-constant samples (a collapsed run) pack about 1000:1, as a bomb's zeros do: the size
    they declare tells them apart.  The declared sizes are set on a small file of constant samples
    (inflating 1.8 GiB would make a slow test): n_fixed 2500 RGB at 256 x 256, then 30 GB."""
    run = tmp_path / "r"
    shutil.copytree(tiny_run_dir, run)
    monkeypatch.setattr(snapshot_files, "MAX_UNPACKED", 12 << 30)     # the cap of a 24 GiB machine
    folder = RunFolder(run)
    folder.save_snapshot(77, {"samples": np.full((16, 3, 8, 8), -1.0, np.float32)})
    p = run / "samples" / "step_00000077.npz"
    real_size = 2500 * 3 * 256 * 256 * 4 + 1000
    assert real_size > 1 << 30 and real_size > 100 * p.stat().st_size
    monkeypatch.setattr(snapshot_files, "_unpacked_bytes", lambda q: real_size if q == p else _packing(q)[0])
    snap, said = _load_quietly(folder, 77)
    assert not said and snap is not None and snap["samples"].shape == (16, 3, 8, 8), said

    monkeypatch.setattr(snapshot_files, "_unpacked_bytes", lambda q: 30 * 10**9 if q == p else _packing(q)[0])
    snap, said = _load_quietly(folder, 77)
    assert snap is None and len(said) == 1, said
    assert re.search(r"step_00000077\.npz: snapshot skipped: it would unpack to 28,610 MiB, more than the "
                     r"[\d,]+ MiB gankit inflates from a file packed over 100:1 \(this one: 0\.0 MiB, [\d,]+:1;"
                     r".*decompression bomb", said[0]), said[0]
    assert "\n" not in said[0]


# ---------------------------------------------------------------- 3. unknown options, torch broken
@pytest.mark.parametrize("argv", [["train", "--bogus"], ["eval", "x", "--bogus"], ["sample", "x", "--bogus"]])
def test_an_unknown_option_is_an_argument_error_with_torch_broken(tmp_path, argv):
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text('raise ImportError("a broken torch")\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])),
           "OMP_NUM_THREADS": "1"}
    broken = subprocess.run([sys.executable, "-c", "import torch"], env=env, capture_output=True, text=True)
    assert broken.returncode != 0 and "a broken torch" in broken.stderr        # the fake stands in
    out = subprocess.run([sys.executable, "-m", "gankit", *argv], env=env, capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith(f"gankit {argv[0]}: error: unrecognized arguments: --bogus"), out.stderr
    assert "torch" not in out.stderr, out.stderr
