"""The ranks of a torchrun run compare the user's own parts (each process imports its own machine's
copy of an --import file) and a mixture's centres (a user's dataset may draw them at random): both
trained silently on different code or data.  Rank 1 stands in this process (``as_rank_0_of_2``:
gather answers for it), so no process is spawned; one subprocess checks that the same file hashes
alike in another process (else every run with --import parts would be refused)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import imported_parts
from gankit import config as C
from gankit.data.toy import GaussianMixture
from gankit.metrics.user_code import code_record
from gankit.rank_agreement import data_fingerprint
from gankit.train import distributed
from gankit.train.run import Run

REPO = Path(__file__).parents[1]

PARTS = '''
import math
from dataclasses import dataclass
import torch
from torch import nn
from gankit import api
from gankit.config import opt
from gankit.data.toy import GaussianMixture


@dataclass
class W:
    width: int = opt(8, "hidden width", ge=1)


class SkipG(nn.Module):
    def __init__(self, noise_dim, out_dim, width):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(noise_dim, width), nn.ReLU(), nn.Linear(width, out_dim))
        self.skip = nn.Linear(noise_dim, out_dim)

    def forward(self, z):
        return self.body(z) + SCALE * self.skip(z)


SCALE = 0


@api.register_generator("f106_skip", W, "a generator with a skip")
def f106_skip(noise_dim, data, width):
    return SkipG(noise_dim, math.prod(data.shape), width)


@dataclass
class S:
    std: float = opt(0.05, "std")


CENTRES = [0]       # what this process's dataset seeds its centres with (rank 1 gives another)


@api.register_dataset("f106_drawn", S, "six centres drawn from CENTRES[0]")
def f106_drawn(std):
    return GaussianMixture(torch.randn(6, 2, generator=torch.Generator().manual_seed(CENTRES[0])), std)
'''


def as_rank_0_of_2(monkeypatch, rank_1):
    """This process as rank 0 of 2; ``rank_1(value)``: what rank 1 sends where this one sends value."""
    world = distributed.World(size=2, rank=0, local_rank=0, local_size=2, backend="gloo")
    monkeypatch.setattr(distributed, "setup", lambda device: world)
    monkeypatch.setattr(distributed, "gather", lambda w, value: [value, rank_1(value)])


def own_generator(tiny: list[str]) -> list[str]:
    """``tiny`` with the parts file's generator (which takes a width, not mlp's hidden)."""
    return [o for o in tiny if not o.startswith("generator.")] + ["generator.name=f106_skip"]


def other_code(record: dict, part: str) -> dict:
    """``record`` as a rank whose copy of the file holds other code for ``part``."""
    assert part in record["trained_code"], record        # else the test would compare nothing
    return {**record, "trained_code": {**record["trained_code"], part: "0" * 40}}


def test_a_rank_whose_imported_generator_is_other_code_is_warned_naming_it(monkeypatch, tmp_path, tiny):
    """Two machines' copies of an --import file differed in a generator's forward: both ranks
    trained (rc 0), each its own generator, the checkpoints recording rank 0's code only, without
    a word.  Warned, not refused: the record holds the values the code reads too, and a part may
    read the rank's own on purpose (RANK)."""
    imported_parts(tmp_path, "f106_parts", PARTS)
    cfg = C.load("ring-vanilla", [*own_generator(tiny)])

    def rank_1(value):          # the parts check (and its details): rank 1's record says other code
        if isinstance(value, dict) and "trained_code" in value:
            return other_code(value, "generator f106_skip")
        return value
    as_rank_0_of_2(monkeypatch, rank_1)
    with pytest.warns(UserWarning) as said:
        with pytest.raises(Exception):      # past the check: the first real collective (no process group)
            Run.create(cfg, tmp_path / "run")
    lines = [str(w.message) for w in said if "f106_skip" in str(w.message)]
    assert lines == ["rank 1's generator 'f106_skip': other code than rank 0's, or other values its code reads (a "
                     "global); unless such a value is the rank's own on purpose (RANK, a device), give every "
                     "process the same file (the same --import, the same contents)"], lines


def test_a_user_dataset_drawing_other_centres_on_each_rank_is_refused(monkeypatch, tmp_path, tiny):
    """A user's dataset seeded its centres by the process id: each rank trained on its own six
    modes, and the fingerprint skipped mixtures ("drawn by code")."""
    imported_parts(tmp_path, "f106_drawn_parts", PARTS)
    cfg = C.load("ring-vanilla", [*tiny, "data.name=f106_drawn", "data.std=0.05"])
    rank_1_data = GaussianMixture(torch.randn(6, 2, generator=torch.Generator().manual_seed(1)), 0.05)

    def rank_1(value):          # the code agrees; the data rank 1 drew from its own seed does not
        return data_fingerprint(rank_1_data) if isinstance(value, dict) else value
    as_rank_0_of_2(monkeypatch, rank_1)
    with pytest.raises(distributed.DistributedError) as refused:
        Run.create(cfg, tmp_path / "run")
    said = str(refused.value)
    assert said.startswith("the processes drew other data from data.name = 'f106_drawn' (mixture: 6 modes in 2-D "
                           "sha1 "), said
    assert " on rank 0, 6 modes in 2-D sha1 " in said and said.count(" on rank 1") == 1, said
    assert said.endswith("a dataset drawn by code must draw the same on every process; seed its random parts "
                         "from its options, not the clock or the process id"), said


def test_a_mixtures_fingerprint_follows_its_means_stds_and_weights():
    from gankit.data import build_dataset
    ring = C.load("ring-vanilla", [])
    assert data_fingerprint(build_dataset(ring)) == data_fingerprint(build_dataset(ring))   # drawn alike
    means = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    base = data_fingerprint(GaussianMixture(means, 0.1))
    assert base["mixture"].startswith("2 modes in 2-D sha1 "), base
    for other in (GaussianMixture(means + 1e-3, 0.1), GaussianMixture(means, 0.2),
                  GaussianMixture(means, 0.1, weights=[1.0, 2.0])):
        assert data_fingerprint(other)["mixture"] != base["mixture"]


def test_the_same_parts_file_records_the_same_code_in_another_process(tmp_path, tiny):
    """The ranks compare code_record across processes: were it keyed by this process (an id, a
    module's name), every multi-process run of the user's parts would be refused."""
    path = imported_parts(tmp_path, "f106_same_parts", PARTS)
    cfg = C.to_dict(C.load("ring-vanilla", [*own_generator(tiny), "data.name=f106_drawn", "data.std=0.05"]))
    here = code_record(cfg)
    assert set(here["trained_code"]) == {"generator f106_skip", "dataset f106_drawn"}, here
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    ask = ("import json, sys; from gankit.builtins import import_modules; import_modules([sys.argv[1]]); "
           "from gankit.metrics.user_code import code_record; "
           "print(json.dumps(code_record(json.load(open(sys.argv[2])))))")
    p = subprocess.run([sys.executable, "-c", ask, str(path), str(tmp_path / "cfg.json")], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO)))
    assert p.returncode == 0, p.stderr[-2000:]
    assert json.loads(p.stdout.strip().splitlines()[-1]) == here
