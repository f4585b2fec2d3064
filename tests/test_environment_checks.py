"""A damaged environment (a declared dependency missing or broken) is one line before any work,
not a traceback at the end of a training; the installed package's messages name no file a wheel
user lacks; the sdist ships its tests whole; a Ctrl-C while Python shuts down is ignored."""
import signal
import subprocess
import sys
import warnings
from importlib import metadata
from pathlib import Path

import pytest

from gankit import cli, list_cli
from gankit.config import ConfigError
from gankit.kernels import load_kernels

ROOT = Path(__file__).resolve().parents[1]


def declared(monkeypatch, requirements, hidden=(), version=None):
    """gankit's metadata (of ``version``: the running gankit's by default) declares
    ``requirements``; the distributions in ``hidden`` look uninstalled."""
    import types

    import gankit
    real, real_one = metadata.distributions, metadata.distribution
    fake = types.SimpleNamespace(version=version or gankit.__version__, requires=list(requirements))
    monkeypatch.setattr(metadata, "distribution", lambda name: fake if name == "gankit" else real_one(name))
    monkeypatch.setattr(metadata, "distributions",
                        lambda **kw: iter([]) if kw.get("name") in hidden else real(**kw))


def no_work(monkeypatch):
    def refused(*a, **k):
        raise AssertionError("the command started although a dependency is missing")
    monkeypatch.setattr(cli, "build_parser", refused)


def test_missing_declared_dependencies_are_one_line_before_any_work(monkeypatch, capsys):
    declared(monkeypatch, ["numpy>=1.24", "scipy>=1.10", "nltk>=3.8", "jinja2>=3.0",
                           'tensorboard>=2.10; extra == "test"'], hidden={"scipy", "nltk", "tensorboard"})
    no_work(monkeypatch)
    assert cli.main(["list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("gankit: error: gankit's declared dependencies scipy, nltk are not installed")
    assert "pip install 'scipy>=1.10' 'nltk>=3.8', or reinstall gankit" in err
    assert "tensorboard" not in err and "jinja2" not in err      # an extra's; installed


def test_one_missing_dependency_and_markers(monkeypatch, capsys):
    declared(monkeypatch, ["matplotlib>=3.7", 'no-such-pkg-x; python_version < "3"', "no_such_pkg_y"],
             hidden={"matplotlib"})
    assert cli.missing_dependencies() == ["matplotlib>=3.7", "no_such_pkg_y"]    # the other is for Python 2
    declared(monkeypatch, ["matplotlib>=3.7"], hidden={"matplotlib"})
    no_work(monkeypatch)
    assert cli.main(["train", "ring"]) == 2
    assert "dependency matplotlib is not installed" in capsys.readouterr().err


def test_gankit_not_installed_as_a_distribution_checks_nothing(monkeypatch, capsys):
    def absent(name):
        raise metadata.PackageNotFoundError(name)
    monkeypatch.setattr(metadata, "distribution", absent)
    assert cli.missing_dependencies() == []
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().err == ""


def test_another_gankits_metadata_or_a_missing_numba_refuses_nothing(monkeypatch):
    # a source tree run over an older install reads that install's metadata; numba has a torch route
    declared(monkeypatch, ["visdom>=0.2"], hidden={"visdom"}, version="0.0.9")
    assert cli.missing_dependencies() == []
    declared(monkeypatch, ["numba>=0.59", "scipy>=1.10"], hidden={"numba", "scipy"})
    assert cli.missing_dependencies() == ["scipy>=1.10"]


def test_the_installed_gankit_has_its_dependencies():
    assert cli.missing_dependencies() == []


@pytest.mark.parametrize("error, said", [
    (ModuleNotFoundError("No module named 'PIL._imaging'", name="PIL._imaging"),
     "cannot import PIL._imaging (No module named 'PIL._imaging'): pip install --force-reinstall pillow"),
    (ImportError("cannot import name 'x' from 'sklearn.utils'", name="sklearn.utils"),
     "pip install --force-reinstall scikit-learn"),
    (ModuleNotFoundError("No module named 'tomli_w'", name="tomli_w"), "pip install --force-reinstall tomli-w"),
    (ModuleNotFoundError("No module named 'nltk'", name="nltk"), "pip install --force-reinstall nltk"),
    ("numpy", "cannot import numpy (a broken build): pip install --force-reinstall numpy"),
    ("__main__", "cannot import a module (a broken build): pip install --force-reinstall gankit"),
])
def test_a_broken_package_met_during_the_command_is_one_line(monkeypatch, capsys, error, said):
    def command(a):
        if isinstance(error, str):    # an ImportError without a name, raised by that module's own code
            exec(compile("raise ImportError('a broken build')", "init.py", "exec"), {"__name__": error})
        raise error
    monkeypatch.setattr(list_cli, "_cmd_list", command)
    assert cli.main(["list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and said in err, err


MINE = """
def build():
    import f92_not_beside_me            # line 3: a factory's lazy import of a helper that is missing
def wrong_name():
    from f92_helper_here import nothing_called_this
def through_helper():
    import f92_helper_here
    f92_helper_here.deeper()
"""


@pytest.mark.parametrize("given", ["path", "name"])
@pytest.mark.parametrize("call, said", [
    ("build", "cannot import f92_not_beside_me (No module named 'f92_not_beside_me'), which your module "
              "{d}/f92_mine.py:3 imports: put f92_not_beside_me.py (or the package folder f92_not_beside_me/) "
              "beside that file, or install the package that provides it"),
    ("wrong_name", "cannot import f92_helper_here (cannot import name 'nothing_called_this' from 'f92_helper_here' "
                   "({d}/f92_helper_here.py)) in your module {d}/f92_mine.py:5: correct that import there"),
    ("through_helper", "which your module {d}/f92_helper_here.py:2 imports: put f92_missing_too.py"),
], ids=["lazy", "name", "helper"])
def test_an_import_failing_in_the_users_own_module_names_their_file_not_a_reinstall(tmp_path, monkeypatch, capsys,
                                                                                    given, call, said):
    """A module given as a path or found in the working directory (and a file beside it) that
    imports what is nowhere: the user's to mend, where `pip install --force-reinstall X` is no fix."""
    from gankit import environment
    from gankit.builtins import import_modules
    (tmp_path / "f92_mine.py").write_text(MINE)
    (tmp_path / "f92_helper_here.py").write_text("def deeper():\n    import f92_missing_too\n")
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(environment, "_USER_FILES", set(), raising=False)
    for name in ("f92_mine", "f92_helper_here"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.chdir(tmp_path)
    import_modules([str(tmp_path / "f92_mine.py") if given == "path" else "f92_mine"])
    monkeypatch.setattr(list_cli, "_cmd_list", lambda a: getattr(sys.modules["f92_mine"], call)())
    assert cli.main(["list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and said.format(d=tmp_path) in err and "force-reinstall" not in err, err
    for name in ("f92_mine", "f92_helper_here"):
        sys.modules.pop(name, None)


def test_missing_numba_advises_installing_it_not_a_cache_folder(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def without_numba(name, *args, **kw):
        if args and args[2] and "parzen_numba" in args[2]:
            raise ModuleNotFoundError("No module named 'numba'", name="numba")
        return real_import(name, *args, **kw)
    load_kernels.cache_clear()
    monkeypatch.setattr(builtins, "__import__", without_numba)
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            assert load_kernels("parzen_numba", "Parzen window", "torch (same values, slower)") is None
    finally:
        monkeypatch.undo()
        load_kernels.cache_clear()
    [w] = seen
    assert "pip install numba" in str(w.message) and "NUMBA_CACHE_DIR" not in str(w.message)
    assert "using torch (same values, slower)" in str(w.message)


def test_list_names_the_source_repository_for_the_timing_script(capsys):
    assert cli.main(["list"]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert "benchmarks/preset_times.py in gankit's source repository" in header


def test_a_missing_classifier_names_the_source_repository_for_its_script():
    from gankit.metrics.features import load_classifier
    with pytest.raises(ConfigError, match="train_eval_classifier.py .*gankit's source repository"):
        load_classifier("no-such-data")


def test_the_sdist_ships_the_tests_fixtures_and_data(monkeypatch):
    from setuptools.command.egg_info import FileList
    manifest = ROOT / "MANIFEST.in"
    assert manifest.is_file(), "no MANIFEST.in: the sdist would leave out tests/conftest.py and tests/data"
    monkeypatch.chdir(ROOT)
    files = FileList()
    for line in manifest.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            files.process_template_line(line)
    assert {"tests/conftest.py", "tests/data/preset_identities.json"} <= set(files.files)
    assert not [f for f in files.files if f.endswith(".pyc")]


def test_main_ignores_sigint_once_the_process_command_returned(monkeypatch, capsys):
    before = signal.getsignal(signal.SIGINT)
    # from Ctrl-C's default (conftest's _default_signals): started ignored, "is SIG_IGN" held already
    assert before is signal.default_int_handler, before
    assert cli.main(["--version"]) == 0
    assert signal.getsignal(signal.SIGINT) is before      # in-process callers keep their Ctrl-C
    monkeypatch.setattr(sys, "argv", ["gankit", "--version"])
    try:
        assert cli.main() == 0
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_ctrl_c_during_shutdown_prints_nothing():
    # a child started with SIGINT ignored prints nothing whatever gankit does: it must start from
    # the default (conftest's _default_signals), and says so itself if it does not
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    code = ("import atexit, os, signal, sys, time\n"
            "if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:\n"
            "    sys.exit(f'SIGINT started as {signal.getsignal(signal.SIGINT)}, not the default')\n"
            "atexit.register(lambda: (os.kill(os.getpid(), signal.SIGINT), time.sleep(0.3)))\n"
            "from gankit.cli import main\n"
            "sys.argv = ['gankit', '--version']\n"
            "sys.exit(main())\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0 and done.stdout.startswith("gankit ") and done.stderr == "", done.stderr
