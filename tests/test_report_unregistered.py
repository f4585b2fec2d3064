"""The report of a run whose dataset a notebook registered, opened where that code is not loaded
(audit a132): the code is missing, not config.toml wrong."""
import pytest

from gankit.config import ConfigError

TINY = ["train.steps=4", "train.batch_size=16", "generator.hidden=[8]", "discriminator.hidden=[8]",
        "train.progress=false", "eval.n_samples=64", "train.n_fixed=64"]


@pytest.fixture
def notebook_run(tmp_path, monkeypatch):
    """A run trained on a dataset registered in this process, then the registration gone (the
    notebook's kernel restarted)."""
    from gankit import config as C
    from gankit.data.toy import GaussianMixture
    from gankit.registry import DATASETS
    from gankit.train.run import Run
    monkeypatch.setattr(DATASETS, "_entries", dict(DATASETS._all()))     # the registration ends with the test

    @DATASETS.register("nbcells", None, "a notebook's")
    def nbcells():
        return GaussianMixture([[0.0, 0.0], [2.0, 2.0]], 0.1)

    path = tmp_path / "run"
    Run.create(C.load({"data": {"name": "nbcells"}}, TINY), path).train().close()
    del DATASETS._entries["nbcells"]
    return path


def test_a_part_not_registered_here_gets_the_import_advice_and_no_recovered_file(notebook_run):
    """It said config.toml was bad, wrote a config.toml.recovered identical to it and advised mv."""
    from gankit import api
    from gankit.report import report_context
    for make in (report_context, api.report):
        with pytest.raises(ConfigError) as e:
            make(notebook_run)
        msg = str(e.value)
        assert msg.startswith("data.name: unknown dataset 'nbcells'") and "gankit --import MODULE" in msg
        assert "config.toml" not in msg and "mv " not in msg
        assert not (notebook_run / "config.toml.recovered").exists()


def test_a_hand_edit_of_the_wrong_type_still_gets_the_recovered_config(tmp_path, tiny_run_dir):
    import re
    import shutil
    run = tmp_path / "run"
    shutil.copytree(tiny_run_dir, run)
    text = (run / "config.toml").read_text()
    (run / "config.toml").write_text(re.sub(r"(?m)^batch_size = \d+$", 'batch_size = "many"', text, count=1))
    from gankit.report import report_context
    with pytest.raises(ConfigError, match=r"config.toml: .*mv "):
        report_context(run)
    assert (run / "config.toml.recovered").exists()
