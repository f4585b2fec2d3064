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


@pytest.mark.parametrize("sets, advice", [
    (["generator.hidden=16,16"], ["generator.hidden=[16, 16]"]),
    (["train.device=1"], ['train.device="1"']),
    (["eval.metrics=(modes,jsd)"], ['eval.metrics=["modes", "jsd"]']),
])
def test_the_overrides_an_error_advises_are_python_that_loads(tmp_path, sets, advice):
    """The command line's advice is shell-quoted (--set 'generator.hidden=[16, 16]'): its quotes were
    kept and the item cut at the first space or comma, overrides=["'generator.hidden=[16"], 16]'."""
    import ast
    import re

    from gankit import config as C
    with pytest.raises(ConfigError) as e:
        api.train("ring", out=tmp_path / "run", overrides=sets, log=None)
    said = re.search(r"overrides=(\[.*?\])(?:$|;| \()", str(e.value))
    assert said and ast.literal_eval(said.group(1)) == advice, str(e.value)
    assert said.group(1) == (f"[{advice[0]!r}]" if '"' in advice[0] else f'["{advice[0]}"]')   # as gankit writes them
    C.load("ring", advice)          # the advice itself is taken


def test_quoted_set_items_become_one_python_list():
    from gankit.api import _api_words
    with pytest.raises(ConfigError) as e, _api_words():
        raise ConfigError("""x: drop it: --set 'eval.metrics=["modes"]'; or --set 'data.path=it'\\''s here' """
                          "--set data.std=0.1 (see gankit train --set 'a=1')")
    assert str(e.value) == ("""x: drop it: overrides=['eval.metrics=["modes"]']; or overrides=["data.path=it's here", """
                            '"data.std=0.1"] (see gankit train --set \'a=1\')')


def test_metrics_named_in_an_eval_metrics_override_are_refused_before_anything_is_recorded(tmp_path, digits, capsys):
    """gankit eval RUN --set 'eval.metrics=["elbo"]' on a GAN run warned "left out", said "no metric
    applies to this data" and recorded an eval row without numbers; --metrics elbo was refused."""
    from gankit import config as C
    from gankit.cli import main
    from gankit.train.run import Run
    out = tmp_path / "run"
    Run.create(C.load("mnist-dcgan", digits), out).train().close()
    before = (out / "metrics.jsonl").read_text()
    lacks = r"metric 'elbo' measures a part this run's objective \(gan\) does not have"
    for item in ['eval.metrics=["elbo"]', 'eval={metrics=["elbo"]}']:      # the table form too
        with pytest.raises(ConfigError, match=lacks):
            api.evaluate(out, overrides=[item], log=None)
        assert main(["eval", str(out), "--set", item]) != 0
        err = capsys.readouterr().err
        assert "does not have" in err and "left out" not in err, err
    assert (out / "metrics.jsonl").read_text() == before


def test_evaluate_takes_an_eval_table_as_gankit_eval_set_does(run_dir):
    """overrides=["eval={n_samples=50}"] was refused ("changes only eval.* settings"), though the
    command line takes it (a156)."""
    api.evaluate(run_dir, ["jsd"], overrides=["eval={n_samples=150, jsd_samples=120}"], log=None)
    settings = api.open_run(run_dir).folder.records("eval")[-1]["settings"]
    assert (settings["n_samples"], settings["jsd_samples"]) == (150, 120)


@pytest.mark.parametrize("metrics", [[["fid"]], ["jsd", 3]])
def test_evaluate_refuses_metrics_that_are_not_strings_in_words(run_dir, metrics):
    """[["fid"]] raised a bare TypeError: unhashable type 'list'."""
    with pytest.raises(ConfigError, match=r"metrics: a list of strings, e.g. .*; got (list \['fid'\]|int 3) in it"):
        api.evaluate(run_dir, metrics, record=False, log=None)
