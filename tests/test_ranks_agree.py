"""The processes of a torchrun run must build the same run: the same config, the same gankit code
and the same data, each read on its own machine.  What differs is refused before any training,
naming the ranks and what differs.  Two real ranks (``--nproc 2``) stand for two machines: a
plug-in or a sitecustomize hook makes rank 1's machine differ (its data file, its working folder,
its gankit)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gankit import config as C
from gankit.identity import run_identity
from gankit.runfolder import RunFolder
from gankit.train import distributed
from gankit.train.run import Run

REPO = Path(__file__).parents[1]
SHORT = ["--set", "train.steps=4", "--set", "train.progress=false", "--set", "generator.hidden=[8]",
         "--set", "discriminator.hidden=[8]", "--set", "eval.n_samples=200"]

linux = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="torchrun's ranks (Linux)")


def two_ranks(args: list[str], cwd: Path, hook: str | None = None, **env) -> subprocess.CompletedProcess:
    """``gankit ARGS --nproc 2`` from ``cwd``; ``hook``: a sitecustomize.py every process
    runs at start (rank 1's machine made to differ)."""
    path = [str(REPO)]
    if hook:
        folder = cwd / "hook"
        folder.mkdir()
        (folder / "sitecustomize.py").write_text(hook)
        path.insert(0, str(folder))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(path), **env)
    return subprocess.run([sys.executable, "-m", "gankit", *args, "--nproc", "2", *SHORT],
                          cwd=cwd, capture_output=True, text=True, env=env, timeout=60)


def error_lines(p) -> list[str]:
    return [line for line in p.stderr.splitlines() if line.startswith("gankit: error:")]


def points(path: Path) -> Path:
    np.save(path, np.random.default_rng(0).normal(size=(300, 2)).astype(np.float32))
    return path


@linux
def test_a_rank_whose_data_file_holds_other_points_is_refused_before_training(tmp_path):
    """The same absolute data.path held other points on node 1: the run trained (rc 0), half of
    every batch from those points, its checkpoints recording rank 0's data only."""
    data = points(tmp_path / "pts.npy")
    shadow = tmp_path / "shadow.py"       # rank 1's machine: its copy of the file holds other points
    shadow.write_text("import os\nif os.environ.get('RANK') == '1':\n    import numpy as np\n    _load = np.load\n"
                      "    np.load = lambda *a, **k: _load(*a, **k) * 2\n")
    out = tmp_path / "run"
    p = two_ranks(["--import", str(shadow), "train", "ring-vanilla", "--out", str(out), "--set", "data.name=points",
                   "--set", f"data.path={data}"], tmp_path)
    assert p.returncode == 2, p.stderr[-3000:]
    [line] = error_lines(p)
    assert f"the processes read other data from data.path = '{data}' (points: 300 rows sha256 " in line, line
    assert " on rank 0, 300 rows sha256 " in line and line.count(" on rank 1") == 1, line
    assert "every machine must hold the same data" in line, line
    assert not (out / "config.toml").exists() and RunFolder(out).checkpoints() == []


@linux
def test_processes_started_in_other_folders_name_the_relative_data_path(tmp_path):
    """The same command from two working folders: "disagree on the run's identity (config hash)
    ... rank 0: ('454a...', '0.1.0'), rank 1: ('ba6f...', '0.1.0')", where data.path, given
    relative, was read against each one's folder."""
    for node in ("n0", "n1"):
        (tmp_path / node).mkdir()
        points(tmp_path / node / "p.npy")
    hook = "import os\nif os.environ.get('RANK') == '1':\n    os.chdir(os.environ['RANK1_CWD'])\n"
    p = two_ranks(["train", "ring-vanilla", "--out", str(tmp_path / "run"), "--set", "data.name=points",
                   "--set", "data.path=p.npy"], tmp_path / "n0", hook, RANK1_CWD=str(tmp_path / "n1"))
    assert p.returncode == 2, p.stderr[-3000:]
    [line] = error_lines(p)
    assert (f"data.path: {tmp_path / 'n0' / 'p.npy'} on rank 0, {tmp_path / 'n1' / 'p.npy'} on rank 1; a relative "
            "path is read against each process's current folder: give data.path as an absolute path, the same "
            "on every machine") in line, line
    assert "config hash" not in line and "seed" not in line, line


@linux
def test_a_rank_running_other_gankit_code_is_refused(tmp_path):
    """A node running an older clone trained beside a newer one: both said gankit 0.1.0."""
    other = tmp_path / "other"
    shutil.copytree(REPO / "gankit", other / "gankit", ignore=shutil.ignore_patterns("__pycache__"))
    with open(other / "gankit" / "train" / "loop.py", "a") as f:
        f.write("# an edit\n")
    hook = "import os, sys\nif os.environ.get('RANK') == '1':\n    sys.path.insert(0, os.environ['RANK1_GANKIT'])\n"
    p = two_ranks(["train", "ring-vanilla", "--out", str(tmp_path / "run")], tmp_path, hook, RANK1_GANKIT=str(other))
    assert p.returncode == 2, p.stderr[-3000:]
    [line] = error_lines(p)
    assert "rank 1 runs other gankit code than rank 0 (rank 0: gankit " in line, line
    from gankit.rank_agreement import code_digest
    assert f"sources {code_digest()}" in line and "; rank 1: gankit " in line, line
    assert "install the same gankit (one commit, no local edits) on every machine" in line, line


def as_rank_0_of_2(monkeypatch, rank_1):
    """This process as rank 0 of 2; ``rank_1(value)``: what rank 1 sends where this one sends value."""
    world = distributed.World(size=2, rank=0, local_rank=0, local_size=2, backend="gloo")
    monkeypatch.setattr(distributed, "setup", lambda device: world)
    monkeypatch.setattr(distributed, "gather", lambda w, value: [value, rank_1(value)])


def test_a_seed_given_to_one_rank_only_is_named_with_both_values(monkeypatch, tmp_path, tiny):
    """`--set seed=1` on one node only: the error showed two config hashes."""
    mine, theirs = C.load("ring-vanilla", tiny), C.load("ring-vanilla", [*tiny, "seed=1"])

    def rank_1(value):
        if isinstance(value[0], dict):             # what differs, asked once the hashes disagree
            return C.to_dict(theirs), value[1]
        return (run_identity(theirs), value[1]) if isinstance(value, tuple) else value
    as_rank_0_of_2(monkeypatch, rank_1)
    with pytest.raises(distributed.DistributedError) as refused:
        Run.create(mine, tmp_path / "run")
    said = str(refused.value)
    assert said == ("the processes' configs differ: seed: 0 on rank 0, 1 on rank 1; start every process with the "
                    "same preset, config file and --set options"), said


def test_the_data_fingerprint_of_each_kind_and_what_differs_between_ranks(tmp_path):
    from gankit.rank_agreement import code_details, code_digest, data_fingerprint, ranks_data_mismatch
    assert code_details()["sources"] == code_digest() and len(code_digest()) == 16
    digits = C.load("mnist-dcgan", ["data.name=digits8x8", "condition.kind=label"])
    from gankit.data import build_dataset
    held = data_fingerprint(build_dataset(digits))
    assert held["held-out cut"] == "180 of 1797 images" and "training data" in held and "labels" in held
    assert set(data_fingerprint(build_dataset(C.load("ring-vanilla", [])))) == {"mixture"}  # its means, stds and weights
    other = {**held, "training data": "(1617, 1, 8, 8) uint8 sha1 000000000000"}
    said = ranks_data_mismatch([held, held, other], digits)
    assert said.startswith("the processes read other data from data.name = 'digits8x8' (training data: "), said
    assert f"training data: {held['training data']} on ranks 0, 1, (1617, 1, 8, 8) uint8 sha1 000000000000 " \
           "on rank 2" in said, said
    # a text file's: its split, its vocabulary and its sequences, each a digest
    f = tmp_path / "lines.txt"
    f.write_text("".join(f"{w}\n" for w in ("cat sat", "dog ran", "a cat", "the dog", "a bird", "it sat")))
    text = data_fingerprint(build_dataset(C.load("words", ["data.name=textfile", f"data.path={f}",
                                                           "train.batch_size=4"])))
    assert text["vocabulary"].endswith(tuple("0123456789abcdef")) and " tokens sha1 " in text["vocabulary"], text


@linux
def test_an_editors_lock_file_or_a_hidden_folder_in_gankit_leaves_its_digest_as_it_is(tmp_path):
    """Emacs' lock file `.#run.py` (a link to nothing) in the package failed every multi-process run
    ("No such file or directory"); a fifo named x.py would have blocked it: no import reads them."""
    other = tmp_path / "other"
    shutil.copytree(REPO / "gankit", other / "gankit", ignore=shutil.ignore_patterns("__pycache__"))

    def digest() -> str:
        ask = "from gankit.rank_agreement import code_digest; print(code_digest())"
        p = subprocess.run([sys.executable, "-c", ask], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(other)))
        assert p.returncode == 0, p.stderr[-2000:]
        return p.stdout.strip()
    before = digest()
    os.symlink("user@host.1234:1700000000", other / "gankit" / "train" / ".#run.py")
    (other / "gankit" / ".ipynb_checkpoints").mkdir()
    (other / "gankit" / ".ipynb_checkpoints" / "cli-checkpoint.py").write_text("x = 1\n")
    os.mkfifo(other / "gankit" / "train" / "pipe.py")
    assert digest() == before
