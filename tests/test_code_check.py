"""A user's part re-registered under its name with other code (audit a161): a notebook cell edited
and run again, or a parts file edited, changed the data or nets a run resumed on, was sampled and
measured with, without a word.  Each checkpoint records the sha1 of the code of the user's own
parts (gankit/train/code_check.py): a resume on other code is refused, a reader warns once."""
import os
import subprocess
import sys
import warnings

import pytest
import torch

from gankit import api
from gankit.builtins import import_modules
from gankit.config import ConfigError
from gankit.metrics.user_code import changed_since_training, code_record
from gankit.train.code_check import CodeChanged

STEPS = ["train.steps=10", "train.batch_size=16", "train.checkpoint_every=10", "train.log_every=10",
         "train.sample_every=10", "train.n_fixed=16", "train.progress=false"]
NETS = {"generator": {"name": "mlp", "hidden": [8]}, "discriminator": {"name": "mlp", "hidden": [8]}}

CELL = """
import math, torch
from gankit import api
from gankit.data.toy import GaussianMixture
@api.register_dataset("f90hex", None, "my data")
def f90hex():
    a = 2 * math.pi * torch.arange(MODES) / MODES
    return GaussianMixture(RADIUS * torch.stack([a.cos(), a.sin()], 1), 0.05)
"""


def _cell(modes: int, radius: float = 2.0):
    """The notebook cell run (again): its function has no file; its globals are the cell's."""
    exec(CELL, {"__name__": "f90_notebook", "MODES": modes, "RADIUS": radius})


def _train(out, **kw):
    return api.train(out=out, evaluate=False, report=False, log=None, **kw)


def _newest(out) -> dict:
    path = sorted((out / "checkpoints").iterdir())[-1]
    return torch.load(path, map_location="cpu", weights_only=True)


def test_a_dataset_cell_run_again_with_other_code_is_said_by_a_resume_and_a_reader(tmp_path):
    _cell(6)
    out = tmp_path / "run"
    _train(out, config={"data": {"name": "f90hex"}, **NETS}, overrides=STEPS).close()
    _cell(6)                               # the same cell run again: the same code, no word
    with warnings.catch_warnings():
        warnings.simplefilter("error", CodeChanged)
        api.sample(out, 4)
    trained = _newest(out)["trained_code"]
    _cell(4, 10.0)                         # edited: 4 modes of radius 10 under the same name
    with pytest.warns(CodeChanged, match=r"^dataset 'f90hex' runs other code than when this run was "
                                         r"trained: what is measured or drawn now") as seen:
        api.sample(out, 4)
    assert len([w for w in seen if w.category is CodeChanged]) == 1
    # gankit report reads the folder without a Run: the same comparison, for its own warning
    assert changed_since_training(out, {"data": {"name": "f90hex"}}) == ["dataset 'f90hex'"]
    with pytest.warns(CodeChanged, match=r"^dataset 'f90hex' runs other code"):
        page = api.report(out)
    assert "dataset &#39;f90hex&#39; runs other code than when this run was trained" in page.read_text()
    with pytest.warns(CodeChanged, match=r"^dataset 'f90hex' runs other code than when this run was "
                                         r"trained: the steps from here train with the code registered now"):
        assert _train(out, resume=True, overrides=["train.steps=20"]).step == 20
    assert _newest(out)["trained_code"] != trained          # its checkpoints now record the new code
    with warnings.catch_warnings():
        warnings.simplefilter("error", CodeChanged)
        api.sample(out, 4)


def test_a_global_the_code_reads_changing_while_it_trains_is_no_other_code(tmp_path):
    """A counter of draws the dataset keeps: the next Run of this process (a notebook continuing
    its run) found other code and refused the resume (audit a163)."""
    source = CELL.replace("def f90hex():", "def f90hex():\n    global DRAWS\n    DRAWS += 1")
    space = {"__name__": "f90_notebook", "MODES": 6, "RADIUS": 2.0, "DRAWS": 0}
    exec(source, space)
    out = tmp_path / "run"
    _train(out, config={"data": {"name": "f90hex"}, **NETS}, overrides=STEPS).close()
    assert space["DRAWS"] >= 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", CodeChanged)
        assert _train(out, resume=True, overrides=["train.steps=20"]).step == 20
        api.sample(out, 4)


def test_a_file_run_as_a_script_and_imported_is_the_same_code():
    """examples/custom_parts.py trains as a script (__main__), the README goes on with
    gankit --import custom_parts.py: the module's name is no part of the record (audit a163)."""
    codes = []
    for module in ("__main__", "f90_parts_mod"):      # one name is registered from one module only
        exec(CELL.replace("f90hex", "f90hex_as"), {"__name__": module, "MODES": 6, "RADIUS": 2.0})
        codes.append(code_record({"data": {"name": "f90hex_as"}})["trained_code"])
        from gankit.registry import DATASETS
        del DATASETS._entries["f90hex_as"]          # the registries are restored after each test
    assert codes[0] == codes[1] and codes[0].keys() == {"dataset f90hex_as"}


def test_a_large_array_a_part_reads_is_keyed_by_its_shape_not_read(monkeypatch):
    """A memory map of data larger than RAM, read whole to hash it at every Run (audit a163)."""
    import numpy as np

    import gankit.metrics.feature_nets as F
    big = np.zeros((2_000_000,), np.float32)
    source = CELL.replace("return GaussianMixture", "BIG.shape\n    return GaussianMixture")
    exec(source, {"__name__": "f90_notebook", "MODES": 6, "RADIUS": 2.0, "BIG": big})
    monkeypatch.setattr(F, "tensor_hash", lambda v: pytest.fail("a large array read to key a checkpoint"))
    was = code_record({"data": {"name": "f90hex"}})
    exec(source, {"__name__": "f90_notebook", "MODES": 6, "RADIUS": 2.0, "BIG": np.zeros((3, 2), np.float32)})
    monkeypatch.undo()
    assert code_record({"data": {"name": "f90hex"}}) != was       # another shape: other code


PARTS = """
from torch import nn
from gankit import api

@api.register_generator("f90_g", None, "a generator of the user's")
def f90_g(noise_dim, data):
    return nn.Sequential(nn.Linear(noise_dim, 8), nn.ReLU(), nn.Linear(8, 2))
"""

RESUME = """
import sys
from gankit import api
run = api.train(out=sys.argv[1], resume=True, imports=[sys.argv[2]], overrides=["train.steps=20"],
                evaluate=False, report=False, log=None)
print("step", run.step)
"""


def test_a_parts_file_resumes_in_a_new_process_and_an_edit_of_it_is_said(tmp_path):
    """The code's hash is the same in another process (other string hashes, another import); the
    same shapes with another activation loaded silently before."""
    parts = tmp_path / "f90_parts.py"
    parts.write_text(PARTS)
    out = tmp_path / "run"
    _train(out, config={"data": {"name": "ring"}, **NETS, "generator": {"name": "f90_g"}}, overrides=STEPS,
           imports=[str(parts)]).close()
    trained = _newest(out)["trained_code"]
    assert list(trained) == ["generator f90_g"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "random"}
    done = subprocess.run([sys.executable, "-c", RESUME, str(out), str(parts)], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "step 20" in done.stdout
    assert _newest(out)["step"] == 20 and _newest(out)["trained_code"] == trained
    parts.write_text(PARTS.replace("nn.ReLU()", "nn.Tanh()"))
    with warnings.catch_warnings():        # "changed since this process imported it": meant here
        warnings.simplefilter("ignore")
        import_modules([str(parts)])       # passed again after an edit: imported again
    with pytest.warns(CodeChanged, match=r"^generator 'f90_g' runs other code than when this run was trained"):
        assert _train(out, resume=True, overrides=["train.steps=30"]).step == 30


def test_gankit_parts_record_nothing_and_a_checkpoint_without_the_record_opens(tmp_path):
    _train(tmp_path / "ring", config={"data": {"name": "ring"}, **NETS}, overrides=STEPS).close()
    assert not any(k.startswith("trained_code") for k in _newest(tmp_path / "ring"))
    _cell(6)
    out = tmp_path / "run"
    _train(out, config={"data": {"name": "f90hex"}, **NETS}, overrides=STEPS).close()
    path = sorted((out / "checkpoints").iterdir())[-1]
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert state["trained_code"].keys() == {"dataset f90hex"}
    for k in ("trained_code", "trained_code_bytecode"):     # as written before the record
        del state[k]
    torch.save(state, path)
    _cell(4, 10.0)
    assert _train(out, resume=True, overrides=["train.steps=20"]).step == 20


def test_the_code_is_hashed_once_per_run_not_per_step_or_checkpoint(tmp_path, monkeypatch):
    import gankit.train.run as R
    calls = []
    real = R.code_record
    monkeypatch.setattr(R, "code_record", lambda cfg: calls.append(1) or real(cfg))
    _cell(6)
    out = tmp_path / "run"
    _train(out, config={"data": {"name": "f90hex"}, **NETS},
           overrides=[*STEPS, "train.steps=30", "train.checkpoint_every=5"]).close()
    assert len(list((out / "checkpoints").iterdir())) >= 2 and len(calls) == 1
    assert _newest(out)["trained_code"].keys() == {"dataset f90hex"}


def test_an_upgrade_of_gankit_or_torch_is_no_other_code(monkeypatch):
    """The cell names gankit's GaussianMixture: a version in the hash would refuse every resume
    after a pip upgrade, with advice to restore code the user never changed."""
    import gankit
    _cell(6)
    cfg = {"data": {"name": "f90hex"}}
    was = code_record(cfg)
    assert was["trained_code"].keys() == {"dataset f90hex"}
    monkeypatch.setattr(gankit, "__version__", "9.9.9")
    monkeypatch.setattr(torch, "__version__", "9.9.9")
    assert code_record(cfg) == was
    _cell(6, 3.0)                          # a value the cell's function reads: other code
    assert code_record(cfg) != was


LAZY = """
from gankit.registry import DATASETS

@DATASETS.register("f90lazy", None, "a dataset a helper beside it builds")
def f90lazy():
    import f90_lazy_helpers
    return f90_lazy_helpers.make()
"""

HELPERS = """
import math, torch
from gankit.data.toy import GaussianMixture

def make():
    a = 2 * math.pi * torch.arange(6) / 6
    return GaussianMixture(2 * torch.stack([a.cos(), a.sin()], 1), 0.05)
"""


def test_a_helper_module_the_factory_imports_when_it_runs_is_part_of_its_code(tmp_path, monkeypatch):
    """docs/architecture.md's pattern, a factory's lazy `import helpers`: an edit of the helper
    file trained on without a word (the import binds a local name, no global; audit a164)."""
    import importlib

    from conftest import imported_parts

    from gankit.data import build_dataset
    from gankit.metrics import user_code
    (tmp_path / "f90_lazy_helpers.py").write_text(HELPERS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "f90_lazy_helpers", raising=False)
    imported_parts(tmp_path, "f90_lazy_parts", LAZY)
    from gankit import config as C
    build_dataset(C.load("ring", ["data.name=f90lazy"]))          # the factory runs: the helper imported
    was = code_record({"data": {"name": "f90lazy"}})
    (tmp_path / "f90_lazy_helpers.py").write_text(HELPERS.replace("arange(6) / 6", "arange(4) / 4"))
    importlib.reload(sys.modules["f90_lazy_helpers"])            # as a new process imports the edit
    monkeypatch.setattr(user_code, "_RECORDED", {})                # a new process: hashed anew
    assert code_record({"data": {"name": "f90lazy"}}) != was
