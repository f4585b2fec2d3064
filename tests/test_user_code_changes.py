"""A user's metric edited in one process (audit a92): the real-data reference row is measured by
the code that runs, in the cache and in the run folder; a parts file passed again after an edit
is imported again; a bad sample count with a label is the one-line error it is without."""
import json
import shutil
import sys
from pathlib import Path

import pytest

from gankit import api
from gankit import config as C
from gankit.builtins import import_modules
from gankit.metrics import reference as R
from gankit.registry import METRICS
from gankit.train.run import Run


def _cell(source: str, **names) -> dict:
    """Run ``source`` as a notebook cell does: its functions have no file to read."""
    scope = {"__name__": "user_notebook_cell", "api": api, **names}
    exec(source, scope)
    return scope


METRIC = """
@api.register_metric("spread_t", lambda ds: True, "spread", reads=("n_samples",))
def spread_t(ctx):
    x = ctx.generate(ctx.settings.n_samples, "samples")
    return {{"spread_t": float({body})}}
"""


@pytest.fixture(scope="module")
def ring():
    return C.load("ring", ["eval.n_samples=50"])


def _key(cfg):
    from gankit.data import build_dataset
    return R.reference_key(build_dataset(cfg), C.to_dict(cfg.data), C.to_dict(cfg.eval), 0, ["spread_t"])


def test_a_notebook_metric_edited_to_other_calls_gets_a_new_key(ring):
    """x.std() -> x.var(): the same bytecode and constants, other names."""
    _cell(METRIC.format(body="x.std()"))
    std = _key(ring)
    _cell(METRIC.format(body="x.std()"))
    assert _key(ring) == std                # the same code again keeps its row
    _cell(METRIC.format(body="x.var()"))
    assert _key(ring) != std


def test_the_helpers_globals_and_closures_a_metric_uses_are_in_its_key(ring):
    keys = []
    for helper, scale in (("x * SCALE", 2.0), ("x * SCALE", 3.0), ("x * SCALE + 1", 3.0)):
        _cell(f"SCALE = {scale}\ndef helper(x):\n    return {helper}\n" + METRIC.format(body="helper(x).std()"))
        keys.append(_key(ring))
    for power in (2, 3):      # a value the metric's function closes over
        body = METRIC.format(body="(x ** p).mean()").replace("\n", "\n    ")
        _cell(f"def make(p):\n    {body}\n    return spread_t\nmake({power})")
        keys.append(_key(ring))
    assert len(set(keys)) == len(keys)


def test_an_installed_plug_ins_metric_is_keyed_by_its_code(ring, monkeypatch):
    """A plug-in's package lies among the libraries; its own code is still followed."""
    import sysconfig
    import types
    from gankit.metrics import user_code as R_
    plugin = types.ModuleType("gankit_plugin_t")
    plugin.__file__ = str(Path(sysconfig.get_paths()["purelib"]) / "gankit_plugin_t" / "__init__.py")
    monkeypatch.setitem(sys.modules, "gankit_plugin_t", plugin)
    keys = []
    for body in ("x.std()", "x.var()"):
        exec(METRIC.format(body=body), {**vars(plugin), "__name__": "gankit_plugin_t", "api": api})
        keys.append(_key(ring))
    assert not R_._users("gankit_plugin_t") and keys[0] != keys[1]


def test_a_metric_using_an_object_of_unknown_state_keeps_no_row_on_disk(ring, tmp_path, monkeypatch):
    """A generator's state is no code nor value gankit can read: its row is measured, not kept."""
    import torch
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
    _cell("RNG = torch.Generator().manual_seed(0)\n" + METRIC.format(body="torch.rand(1, generator=RNG)"),
          torch=torch)
    assert _key(ring) is None
    from gankit.data import build_dataset
    row = R.cached_reference(build_dataset(ring), ring.eval, 0, ["spread_t"], data_cfg=C.to_dict(ring.data),
                             settings_dict=C.to_dict(ring.eval))
    assert 0 <= row["spread_t"] <= 1 and not list(tmp_path.rglob("*.json"))


PARTS = """
from gankit.api import register_metric
@register_metric("spr_t", lambda ds: True, "spread")
def spr_t(ctx):
    return {{"spr_t": {value}}}
"""


def test_a_parts_file_edited_and_passed_again_is_imported_again(tmp_path, ring):
    parts = tmp_path / "myparts_t.py"
    parts.write_text(PARTS.format(value="1.0"))
    import_modules([str(parts)])
    from gankit.data import build_dataset
    data = build_dataset(ring)

    def key():
        return R.reference_key(data, C.to_dict(ring.data), C.to_dict(ring.eval), 0, ["spr_t"])
    before = key()
    parts.write_text(PARTS.format(value="2.0"))     # the same size and, likely, second
    assert key() == before                  # the key follows the code that runs, not the file on disk
    with pytest.warns(UserWarning, match="changed since this process imported it; importing it again"):
        import_modules([str(parts)])
    assert METRICS.build("spr_t").fn(None) == {"spr_t": 2.0} and key() != before
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        import_modules([str(parts)])        # unchanged since: nothing said, nothing run again


def test_a_run_records_a_new_reference_after_its_users_metric_changed(tiny_run_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run_dir, run)

    def references():
        return [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
                if r.get("kind") == "reference"]
    _cell(METRIC.format(body="1.0"))
    api.evaluate(run, ["spread_t"])
    api.evaluate(run, ["spread_t"])         # the same code: its reference is not measured again
    assert [r["spread_t"] for r in references()] == [1.0]
    _cell(METRIC.format(body="2.0"))
    assert api.evaluate(run, ["spread_t"])["spread_t"] == 2.0
    assert [r["spread_t"] for r in references()] == [1.0, 2.0]


@pytest.fixture(scope="module")
def cgan(tmp_path_factory):
    from conftest import TINY
    run = Run.create(C.load("ring-cgan", TINY), tmp_path_factory.mktemp("cgan") / "r")
    yield run
    run.close()


@pytest.mark.parametrize("n", [2.5, -2, 0, True])
def test_a_bad_sample_count_with_a_label_is_the_error_it_is_without(cgan, n):
    with pytest.raises(C.ConfigError) as without:
        api.sample(cgan, n)
    with pytest.raises(C.ConfigError) as labelled:
        api.sample(cgan, n, label=1)
    assert str(labelled.value) == str(without.value)


def test_a_numpy_count_with_a_label_samples(cgan):
    import numpy as np
    assert tuple(api.sample(cgan, np.int64(3), label=1).shape) == (3, 2)


def test_a_final_evaluation_is_not_reused_after_its_users_metric_changed(tmp_path):
    """--resume of a finished run reused the last step's evaluation record, measured by the metric's
    old code (its settings matched: the code was in none of them)."""
    from conftest import TINY
    _cell(METRIC.format(body="1.0"))
    run = Run.create(C.load("ring", TINY + ["train.steps=10", "objective.drs=false", 'eval.metrics=["spread_t"]']),
                     tmp_path / "r")
    run.train()
    assert api.final_evaluation(run, log=None)["spread_t"] == 1.0
    assert api.final_evaluation(run, log=None)["spread_t"] == 1.0          # the same code: reused
    assert len(run.folder.records("eval")) == 1
    _cell(METRIC.format(body="2.0"))
    assert api.final_evaluation(run, log=None)["spread_t"] == 2.0
    run.close()


def test_a_metric_naming_a_library_object_records_the_same_code_in_every_process(tmp_path):
    """A module-level numpy Generator was keyed by this process's id of it: every process recorded
    another user_code for unchanged code, so compare ranked no two runs and the reference was
    measured again each time."""
    import subprocess
    import sys
    parts = tmp_path / "rngparts.py"
    parts.write_text("import numpy as np\nfrom gankit.api import register_metric\nRNG = np.random.default_rng(0)\n"
                     "@register_metric('np_gap_t', lambda ds: True, 'gap')\n"
                     "def np_gap_t(ctx):\n    return {'np_gap_t': float(RNG.random())}\n")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import rngparts; "
            "from gankit.metrics.user_code import _user_code; print(_user_code(['np_gap_t'])[0])")
    seen = {subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                           check=True).stdout for _ in range(2)}
    assert len(seen) == 1 and "metric np_gap_t" in seen.pop()


def test_one_evaluation_of_a_users_metric_and_gankits_is_no_mix_of_settings():
    """The report said "These numbers were measured with different eval settings: user_code
    {'metric cls_gap': ...} (cls_gap); user_code unrecorded (mmd2, ...)" for a single record."""
    from gankit.builtins import load_builtins
    from gankit.report import mixed_settings_note
    from gankit.report.metricinfo import key_infos
    load_builtins()
    rec = {"step": 2, "kind": "eval", "mmd2": 0.1, "mine_t": 1.0,
           "settings": {"n_samples": 100, "user_code": {"metric mine_t": "abc"}}}
    assert mixed_settings_note({"mmd2": rec, "mine_t": rec}, key_infos()) == ""
