"""A run folder's imports neither put the folder gankit runs in first on sys.path (its files would
then shadow every later lazy import: tomli_w, cProfile, sympy), nor import what cannot be located or
a program's __main__; a module the user names keeps it first, as `python -m` would (gankit/builtins.py
import_modules, gankit/trusted_imports.py)."""
import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

import gankit.builtins
from gankit import trusted_imports
from gankit.builtins import import_modules
from gankit.cli import main
from gankit.config import ConfigError

MARKER_MODULE = 'import pathlib\npathlib.Path(__file__).with_suffix(".ran").write_text("ran")\n'


@pytest.fixture(autouse=True)
def _own_process_state(tmp_path, monkeypatch):
    """sys.path, the trust store and this process's record of trusted and left-out entries as
    they were: other tests share the process."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv(trusted_imports.CONFIG_ENV, str(tmp_path / "cfg"))
    monkeypatch.setattr(trusted_imports, "_SESSION", set())
    monkeypatch.setattr(trusted_imports, "LEFT_OUT", set())
    monkeypatch.setattr(gankit.builtins, "_VOUCHED", set(), raising=False)
    yield
    if str(tmp_path) in str(getattr(sys.modules.get("tomli_w"), "__file__", "")):     # a test failed: not the next's
        del sys.modules["tomli_w"]
    for name in [m for m in sys.modules if m.split(".")[0] in ("f86_trusted_parts", "f86_here_parts", "pkg_f86",
                                                                "f92_helper", "f92_hexparts", "f92_hexhelpers",
                                                                "f92_folder_parts")]:
        del sys.modules[name]


def _sent_folder(tmp_path, run_dir, entries: list[str]):
    """A copy of a trained run naming ``entries`` in its imports, a lazy import's namesake in it."""
    run = tmp_path / "sent"
    shutil.copytree(run_dir, run)
    cfg = run / "config.toml"
    cfg.write_text(cfg.read_text().replace("imports = []", f"imports = {entries!r}".replace("'", '"')))
    (run / "f86_lazy_dep.py").write_text(MARKER_MODULE)
    return run


@pytest.mark.parametrize("entry", ["gankit.data.toy", "f86_trusted_parts"])
def test_a_run_folders_imports_leave_the_folder_gankit_runs_in_off_the_path(tmp_path, tiny_run_dir,
                                                                             monkeypatch, entry):
    """gankit's own module (unlocated through the editable install's finder, so imported as
    "running nothing") and the user's trusted module on PYTHONPATH each put the working
    directory first on sys.path for good."""
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "f86_trusted_parts.py").write_text("X = 1\n")
    sys.path.insert(0, str(tmp_path / "proj"))
    trusted_imports.trust([str(tmp_path / "proj" / "f86_trusted_parts.py")])
    run = _sent_folder(tmp_path, tiny_run_dir, [entry])
    monkeypatch.chdir(run)
    assert main(["sample", ".", "-n", "5", "--out", str(tmp_path / "x.npy")]) == 0
    assert entry in sys.modules          # the trusted entry was imported, from where it lives
    assert str(run) not in sys.path
    assert importlib.util.find_spec("f86_lazy_dep") is None     # what a later lazy import would find


def test_a_module_named_by_the_user_keeps_the_working_directory_first_as_python_m_would(tmp_path, monkeypatch):
    (tmp_path / "f86_here_parts.py").write_text("X = 1\n")
    (tmp_path / "f92_helper.py").write_text("Y = 2\n")
    monkeypatch.chdir(tmp_path)
    assert main(["--import", "f86_here_parts", "list"]) == 0
    assert sys.modules["f86_here_parts"].X == 1
    assert sys.path[0] == str(tmp_path)     # the user's word: a helper beside it imports later (a factory's)
    assert importlib.import_module("f92_helper").Y == 2
    # recorded as the file found there: a run folder naming it later imports it again
    assert trusted_imports.untrusted(["f86_here_parts"]) == []


HEX_PARTS = """
from dataclasses import dataclass
from gankit import api
from gankit.config import opt
@dataclass
class P:
    radius: float = opt(2.0, "radius")
@api.register_dataset("f92_hexagon", P, "six Gaussians built by a helper beside this file")
def hexagon(radius):
    import f92_hexhelpers          # imported when the data is built, not with this module
    return f92_hexhelpers.make(radius)
"""
HEX_HELPERS = """
import math, torch
from gankit.data.toy import GaussianMixture
def make(r):
    a = 2 * math.pi * torch.arange(6) / 6
    return GaussianMixture(r * torch.stack([torch.cos(a), torch.sin(a)], 1), 0.05)
"""


def test_a_users_module_imports_its_neighbours_later_when_named_and_when_its_run_is_reopened(
        tmp_path, tiny_cli, monkeypatch):
    """Named by the user: the factory's lazy import of a file beside it is found (the working
    directory stays first); a run folder naming it (sample, in a fresh process's state): the
    directory goes to the end of sys.path, so the helper is found but a tomli_w.py lying there
    never takes the place of the installed tomli_w."""
    (tmp_path / "f92_hexparts.py").write_text(HEX_PARTS)
    (tmp_path / "f92_hexhelpers.py").write_text(HEX_HELPERS)
    monkeypatch.chdir(tmp_path)
    path = list(sys.path)
    from gankit import api        # its imports=: the user's word, as --import (the test above)
    sets = [kv for kv in tiny_cli if kv != "--set"] + ["data.name=f92_hexagon", "data.radius=2.0", "train.steps=4"]
    api.train("ring", out="run", overrides=sets, imports=["f92_hexparts"], evaluate=False, report=False).close()
    assert sys.path[0] == str(tmp_path)
    sys.path[:] = path                        # as a new process: nothing imported, nothing given
    for name in ("f92_hexparts", "f92_hexhelpers"):
        del sys.modules[name]
    monkeypatch.setattr(trusted_imports, "_SESSION", set())
    (tmp_path / "tomli_w.py").write_text(MARKER_MODULE)
    monkeypatch.delitem(sys.modules, "tomli_w", raising=False)     # the sample's own lazy import finds it
    assert main(["sample", "run", "-n", "5", "--out", str(tmp_path / "x.npy")]) == 0
    assert sys.path[-1] == str(tmp_path) and sys.path.count(str(tmp_path)) == 1
    assert "f92_hexhelpers" in sys.modules
    assert importlib.util.find_spec("tomli_w").origin != str(tmp_path / "tomli_w.py")
    assert not (tmp_path / "tomli_w.ran").exists()


def test_a_run_folders_entry_found_in_the_working_directory_puts_it_last_each_time(tmp_path, monkeypatch):
    """Trusted from the store (imported at the user's word by an earlier process), never given
    in this one: the directory goes last, also once this process recorded the entry itself."""
    (tmp_path / "f92_folder_parts.py").write_text("X = 1\n")
    monkeypatch.chdir(tmp_path)
    trusted_imports.trust(["f92_folder_parts"])
    monkeypatch.setattr(trusted_imports, "_SESSION", set())
    for _ in range(2):
        import_modules(["f92_folder_parts"])
        assert sys.path[-1] == str(tmp_path) and sys.path.count(str(tmp_path)) == 1
        sys.path.remove(str(tmp_path))
        del sys.modules["f92_folder_parts"]


def test_an_entry_that_cannot_be_located_is_left_out_and_gankits_own_modules_are_found(tmp_path, monkeypatch):
    own = str(importlib.util.find_spec("gankit").origin)
    monkeypatch.chdir(tmp_path)   # not the source tree: gankit is found through its install's finder
    sys.path[:] = [p for p in sys.path if not (Path(p or ".") / "gankit").is_dir()]
    assert trusted_imports.locate("gankit.data.toy") == own
    assert trusted_imports.locate("mods/") is None and trusted_imports.locate("../x") is None
    assert trusted_imports.untrusted(["gankit.data.toy", "gankit.nets.not_imported_yet"]) == []
    assert trusted_imports.untrusted(["no_such_module_f86", "mods/x"]) == ["no_such_module_f86", "mods/x"]
    with pytest.warns(UserWarning, match=r"config.toml names imports 'no_such_module_f86', found nowhere here "
                                         r"\(moved, .*\), so not imported"):
        assert trusted_imports.leave_out(["no_such_module_f86"], "config.toml") == ["no_such_module_f86"]


def test_a_submodule_of_a_loaded_package_and_any_main_are_not_counted_as_imported(tmp_path, tiny_run_dir,
                                                                                  monkeypatch, capsys):
    (tmp_path / "pkg_f86").mkdir()
    (tmp_path / "pkg_f86" / "__init__.py").write_text("")
    (tmp_path / "pkg_f86" / "sub.py").write_text(MARKER_MODULE)
    sys.path.insert(0, str(tmp_path))
    importlib.import_module("pkg_f86")
    assert trusted_imports.untrusted(["pkg_f86", "pkg_f86.sub"]) == ["pkg_f86.sub"]
    mains = ["numpy.f2py.__main__", "gankit.__main__", "__main__", str(tmp_path / "__main__.py")]
    (tmp_path / "__main__.py").write_text(MARKER_MODULE)
    trusted_imports.trust([str(tmp_path / "__main__.py")])       # trusted code, still a command line
    assert trusted_imports.untrusted(mains) == mains
    run = _sent_folder(tmp_path, tiny_run_dir, ["pkg_f86.sub", "numpy.f2py.__main__"])
    assert main(["sample", str(run), "-n", "5", "--out", str(tmp_path / "x.npy")]) == 0
    assert not (tmp_path / "pkg_f86" / "sub.ran").exists() and "numpy.f2py.__main__" not in sys.modules
    err = capsys.readouterr().err
    assert "names imports 'numpy.f2py.__main__': a program's command line (__main__)" in err
    assert "'pkg_f86.sub' (here " in err


def test_a_path_without_py_is_said_to_be_a_path(tmp_path, monkeypatch):
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "parts_f86.py").write_text(MARKER_MODULE)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    with pytest.raises(ConfigError, match=r"'\.\./mods/parts_f86' looks like a path, not a module name: "
                                          r"give the file itself: \.\./mods/parts_f86\.py"):
        import_modules(["../mods/parts_f86"])
    with pytest.raises(ConfigError, match=r"'\.\./mods/' looks like a path, not a module name: give one of "
                                          r"its \.py files \(\.\./mods/FILE\.py\)"):
        import_modules(["../mods/"])
    with pytest.raises(ConfigError, match=r"'nowhere/x' looks like a path, not a module name: give a \.py "
                                          r"file's path \(ending in \.py\) or a module name"):
        import_modules(["nowhere/x"])
    assert not (tmp_path / "mods" / "parts_f86.ran").exists()
