"""gankit.api's errors in its own words (audit a132): a program has resume=True, out= and
overrides=, not --resume, --out and --set; the command line's words stay the command line's."""
import shutil

import pytest

from gankit import api
from gankit.config import ConfigError
from gankit.runfolder import RunFolderError


@pytest.fixture
def run_dir(tmp_path, tiny_run_dir):
    return shutil.copytree(tiny_run_dir, tmp_path / "run")


def test_training_into_a_trained_run_says_resume_true_and_out(run_dir):
    with pytest.raises(RunFolderError) as e:
        api.train("ring", out=run_dir, log=None)
    msg = str(e.value)
    assert "resume=True" in msg and "another out= folder" in msg and "--" not in msg


def test_a_resume_override_that_changes_the_run_says_overrides_and_out(run_dir):
    with pytest.raises(RunFolderError) as e:
        api.train(out=run_dir, resume=True, overrides=["seed=5"], log=None)
    msg = str(e.value)
    assert msg.startswith("overrides seed:") and "resume=True" in msg and "(out=NEW)" in msg and "--" not in msg


def test_the_command_lines_own_words_are_unchanged(run_dir):
    from gankit.train.run import Run
    with pytest.raises(RunFolderError, match=r"^--set seed: .*--resume.*\(--out NEW\)"):
        Run.open(run_dir, ["seed=5"], write=True)


def test_open_run_refuses_overrides_given_as_one_string(run_dir):
    """overrides="seed=3" was read letter by letter ("s", "e", ...)."""
    with pytest.raises(ConfigError, match="overrides: a list of strings.*got the string 'seed=3'"):
        api.open_run(run_dir, overrides="seed=3")


def test_a_command_the_error_suggests_stays_a_command():
    from gankit.api import _api_words
    with pytest.raises(RunFolderError) as e, _api_words():
        raise RunFolderError("--set seed: cannot change on --resume; start anew (gankit train 'a b.toml' --out NEW)"
                             "; or continue with gankit train --resume --out run")
    assert str(e.value) == ("overrides seed: cannot change on resume=True; start anew (gankit train 'a b.toml' "
                            "--out NEW); or continue with gankit train --resume --out run")
