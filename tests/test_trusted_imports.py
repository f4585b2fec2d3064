"""A run folder's imports run only where the user imported that code with gankit before
(gankit/trusted_imports.py, gankit/runfolder/config_file.py)."""
import shutil
import sys

import pytest

from gankit import trusted_imports
from gankit.cli import main

MARKER_MODULE = 'import pathlib\npathlib.Path(__file__).with_suffix(".ran").write_text("ran")\n'


def _folder_naming(tmp_path, run_dir, entry: str):
    """A copy of a trained run whose config.toml names ``entry`` in its imports."""
    run = tmp_path / "sent"
    shutil.copytree(run_dir, run)
    cfg = run / "config.toml"
    text = cfg.read_text()
    assert "imports = []" in text
    cfg.write_text(text.replace("imports = []", f"imports = [{entry!r}]"))
    return run


def test_a_folder_from_elsewhere_runs_none_of_its_code(tmp_path, tiny_run_dir, capsys):
    evil = tmp_path / "evil.py"
    evil.write_text(MARKER_MODULE)
    run = _folder_naming(tmp_path, tiny_run_dir, str(evil))
    with pytest.warns(UserWarning, match=r"names imports '.*evil\.py', code that runs when imported .* not "
                                         r"imported .* if you trust it: gankit --import .*evil\.py COMMAND"):
        assert main(["report", str(run)]) == 0
        assert main(["compare", str(run), str(tiny_run_dir), "--text"]) == 0
        assert main(["eval", str(run), "--no-record", "--metrics", "energy"]) == 0
        from gankit import api
        api.open_run(run).close()
    assert not evil.with_suffix(".ran").exists()
    # the user's explicit yes: imported now, and from then on
    assert main(["--import", str(evil), "report", str(run)]) == 0
    assert evil.with_suffix(".ran").read_text() == "ran"
    evil.with_suffix(".ran").unlink()
    sys.modules.pop("evil", None)
    assert main(["report", str(run)]) == 0
    assert evil.with_suffix(".ran").exists()


def test_a_module_name_is_located_without_running_it(tmp_path, monkeypatch):
    (tmp_path / "their_parts.py").write_text(MARKER_MODULE)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text(MARKER_MODULE)
    monkeypatch.chdir(tmp_path)
    assert trusted_imports.locate("their_parts") == str((tmp_path / "their_parts.py").resolve())
    assert trusted_imports.locate("pkg.sub") == str((tmp_path / "pkg" / "__init__.py").resolve())
    assert trusted_imports.locate("no_such_module_here") is None      # nothing to run: left to the import
    assert trusted_imports.locate("../x y") is None
    assert not list(tmp_path.rglob("*.ran")) and "their_parts" not in sys.modules
    assert trusted_imports.untrusted(["their_parts", "pkg.sub", "no_such_module_here"]) == ["their_parts", "pkg.sub"]
    trusted_imports.trust(["their_parts"])
    assert trusted_imports.untrusted(["their_parts", "pkg.sub"]) == ["pkg.sub"]


def test_the_users_own_imports_reopen_their_run(tmp_path, tiny_cli, monkeypatch):
    (tmp_path / "my_parts.py").write_text("from gankit.metrics.base import Output, register_metric\n"
                                          "@register_metric('my_count', lambda ds: True, 'samples', "
                                          "{'my_count': Output('count', 'higher', '.0f')})\n"
                                          "def _m(ctx):\n    return {'my_count': 1.0}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(trusted_imports.CONFIG_ENV, str(tmp_path / "cfg"))     # nothing trusted yet
    assert main(["--import", "my_parts", "train", "ring", "--out", str(tmp_path / "r"), *tiny_cli,
                 "--set", 'eval.metrics=["my_count"]']) == 0
    sys.modules.pop("my_parts", None)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # trusted at training: imported again, without a word
        assert main(["eval", str(tmp_path / "r"), "--no-record", "--metrics", "my_count"]) == 0
    assert "my_parts" in sys.modules
