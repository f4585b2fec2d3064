"""A run folder's imports run only where the user imported that code with gankit before
(gankit/trusted_imports.py, gankit/runfolder/config_file.py)."""
import re
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
    assert main(["report", str(run)]) == 0
    assert re.search(r"names imports '.*evil\.py' \(here .*evil\.py\): code that runs when imported .* not "
                     r"imported .* if you trust that file: gankit --import .*evil\.py COMMAND", capsys.readouterr().err)
    assert main(["compare", str(run), str(tiny_run_dir), "--text"]) == 0
    assert main(["eval", str(run), "--no-record", "--metrics", "energy"]) == 0
    from gankit import api
    api.open_run(run).close()
    assert not evil.with_suffix(".ran").exists()
    assert "names imports" not in capsys.readouterr().err     # said once a process
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
    assert trusted_imports.locate("no_such_module_here") is None
    assert trusted_imports.locate("../x y") is None
    assert not list(tmp_path.rglob("*.ran")) and "their_parts" not in sys.modules
    # what cannot be located is left out too (tests/test_import_shadowing.py)
    assert trusted_imports.untrusted(["their_parts", "pkg.sub", "no_such_module_here"]) == \
        ["their_parts", "pkg.sub", "no_such_module_here"]
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


def test_a_left_out_import_stays_in_the_folders_record_and_the_final_evaluation_runs_none(tmp_path, tiny_cli,
                                                                                          monkeypatch, capsys):
    """A resume with --set rewrote config.toml without the entry (lost for good), and the final
    evaluation's look at the session records imported it anyway, then trusted it."""
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "extra_mod.py").write_text("X = 1\n")
    monkeypatch.chdir(tmp_path / "theirs")
    monkeypatch.setenv(trusted_imports.CONFIG_ENV, str(tmp_path / "their-cfg"))
    run = tmp_path / "run"
    # one metric: what the final evaluation imports is checked, not what it measures
    assert main(["--import", "extra_mod", "train", "ring", "--out", str(run), *tiny_cli,
                 "--set", 'eval.metrics=["modes"]']) == 0
    sys.modules.pop("extra_mod", None)
    (tmp_path / "mine").mkdir()                   # the user's folder, a module of that name in it
    (tmp_path / "mine" / "extra_mod.py").write_text(MARKER_MODULE)
    monkeypatch.chdir(tmp_path / "mine")
    monkeypatch.setenv(trusted_imports.CONFIG_ENV, str(tmp_path / "my-cfg"))
    assert main(["train", "--resume", "--out", str(run), "--set", "train.steps=14"]) == 0
    assert "names imports 'extra_mod'" in capsys.readouterr().err
    assert not (tmp_path / "mine" / "extra_mod.ran").exists()
    import tomllib
    assert tomllib.loads((run / "config.toml").read_text())["imports"] == ["extra_mod"]
    assert not (tmp_path / "my-cfg" / trusted_imports.STORE).exists()


def _trust_one(args):
    import os
    os.environ[trusted_imports.CONFIG_ENV] = args[0]
    trusted_imports.trust([args[1]])


def test_processes_started_together_each_keep_their_entry(tmp_path, monkeypatch):
    import multiprocessing
    files = []
    for i in range(8):
        (tmp_path / f"m{i}.py").write_text("")
        files.append(str(tmp_path / f"m{i}.py"))
    with multiprocessing.get_context("fork").Pool(8) as pool:
        pool.map(_trust_one, [(str(tmp_path / "cfg"), f) for f in files])
    assert set((tmp_path / "cfg" / trusted_imports.STORE).read_text().splitlines()) == set(files)


def test_the_users_word_holds_where_the_store_cannot_be_written_and_that_is_said(tmp_path, monkeypatch):
    (tmp_path / "blocked").write_text("a file where the folder would be")
    monkeypatch.setenv(trusted_imports.CONFIG_ENV, str(tmp_path / "blocked" / "cfg"))
    (tmp_path / "mymod.py").write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(trusted_imports, "_UNRECORDED", set())
    with pytest.warns(UserWarning, match=r"could not record the imported code .*mymod\.py .* will ask for --import"):
        trusted_imports.given(["mymod"])
    assert trusted_imports.untrusted(["mymod"]) == []


def test_a_trusted_file_is_imported_itself_not_a_namesake_first_on_the_path(tmp_path, monkeypatch):
    """The check looked at the file, the import took the first mymod.py on sys.path: a sent
    folder's, from the working directory or PYTHONPATH."""
    from gankit.builtins import import_modules
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "mymod_t.py").write_text("WHO = 'mine'\n")
    (tmp_path / "sent").mkdir()
    (tmp_path / "sent" / "mymod_t.py").write_text(MARKER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path / "proj"))    # on the path (PYTHONPATH), behind the sent folder
    monkeypatch.syspath_prepend(str(tmp_path / "sent"))
    monkeypatch.delitem(sys.modules, "mymod_t", raising=False)
    import_modules([str(tmp_path / "proj" / "mymod_t.py")])
    assert sys.modules["mymod_t"].WHO == "mine" and not (tmp_path / "sent" / "mymod_t.ran").exists()


def test_the_warning_names_the_file_and_the_users_own_namesake(tmp_path, monkeypatch):
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "parts_x.py").write_text("")
    (tmp_path / "sent").mkdir()
    (tmp_path / "sent" / "parts_x.py").write_text(MARKER_MODULE)
    trusted_imports.trust([str(tmp_path / "proj" / "parts_x.py")])
    monkeypatch.chdir(tmp_path / "sent")
    with pytest.warns(UserWarning, match=rf"'parts_x' \(here {tmp_path}/sent/parts_x\.py, not the "
                                         rf"{tmp_path}/proj/parts_x\.py you imported before\)"):
        assert trusted_imports.leave_out(["parts_x"], "config.toml") == ["parts_x"]


def test_api_imports_are_the_users_word_after_a_folder_left_them_out(tmp_path, monkeypatch, tiny):
    from gankit import api
    (tmp_path / "later_mod.py").write_text("LOADED = True\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "later_mod", raising=False)
    quick = ['eval.metrics=["modes"]', "objective.drs_steps=20"]     # the imports are checked, not the numbers
    api.train("ring", out=tmp_path / "r", overrides=tiny + ["train.steps=2"] + quick).close()
    trusted_imports.LEFT_OUT.add("later_mod")          # a folder read earlier in this process named it
    api.train(out=tmp_path / "r", resume=True, overrides=["train.steps=3"], imports=["later_mod"]).close()
    assert sys.modules["later_mod"].LOADED
