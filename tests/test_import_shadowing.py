"""A run folder's imports neither put the folder gankit runs in on sys.path (its files would then
shadow every later lazy import: tomli_w, cProfile, sympy), nor import what cannot be located or a
program's __main__ (gankit/builtins.py import_modules, gankit/trusted_imports.py)."""
import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

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
    yield
    for name in [m for m in sys.modules if m.split(".")[0] in ("f86_trusted_parts", "f86_here_parts", "pkg_f86")]:
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


def test_a_module_named_by_the_user_is_imported_from_the_working_directory_which_is_taken_off_after(
        tmp_path, monkeypatch):
    (tmp_path / "f86_here_parts.py").write_text("X = 1\n")
    monkeypatch.chdir(tmp_path)
    assert main(["--import", "f86_here_parts", "list"]) == 0
    assert sys.modules["f86_here_parts"].X == 1
    assert str(tmp_path) not in sys.path
    # recorded as the file found there: a run folder naming it later imports it again
    assert trusted_imports.untrusted(["f86_here_parts"]) == []


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
