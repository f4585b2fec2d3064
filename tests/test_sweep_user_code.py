"""A sweep and the user's own parts (audit a132): a record measured with other code of the user's
dataset is run again on --resume, a notebook's jobs find the parts their imports register, a part
the workers would not import is refused before any training, as is a program read from stdin."""
import json
import subprocess
import sys

import pytest

from gankit import sweep as S
from gankit.config import ConfigError

TINY = ["train.steps=5", "train.batch_size=16", "generator.hidden=[8, 8]",
        "discriminator.hidden=[8, 8]", "eval.n_samples=100"]

PARTS = """
import torch
from gankit import api
from gankit.data.toy import GaussianMixture

@api.register_dataset("{name}", None, "two modes")
def {name}():
    return GaussianMixture(torch.tensor([[0.0, 0.0], [{x}, {x}]]), 0.05)
"""


@pytest.fixture
def parts(tmp_path, monkeypatch):
    """parts(name): a module file registering dataset NAME, not yet imported; its registration
    and module end with the test."""
    from gankit.registry import DATASETS
    monkeypatch.setattr(DATASETS, "_entries", dict(DATASETS._all()))
    made = []

    def make(name, x=2.0):
        path = tmp_path / f"{name}.py"
        path.write_text(PARTS.format(name=name, x=x))
        made.append(name)
        return path
    yield make
    for name in made:
        sys.modules.pop(name, None)


def test_a_record_of_other_user_code_is_measured_again_on_resume(tmp_path, parts):
    """--resume reused the numbers of a dataset the user has edited since, without a word."""
    from gankit.builtins import import_modules
    path = parts("f55_code_pts")
    import_modules([str(path)])          # as gankit --import does in the main process
    job = S.Job("p", "ring-vanilla", [*TINY, "data.name=f55_code_pts"], 0, imports=[str(path)])
    results, logs = tmp_path / "r.jsonl", []
    S.run_sweep([job], results, workers=3, metrics=["modes"], log=logs.append)
    assert logs[0] == "1 runs on 1 workers"       # the pool starts one worker for one run
    record = json.loads(results.read_text())
    assert record["user_code"] == {"dataset f55_code_pts": job.user_code(["modes"])["dataset f55_code_pts"]}
    results.write_text(json.dumps({**record, "user_code": {"dataset f55_code_pts": "0" * 40},
                                   "modes_covered": 99}) + "\n")     # measured before an edit
    logs.clear()
    got = S.run_sweep([job], results, workers=1, metrics=["modes"], resume=True, log=logs.append)
    assert "1 recorded runs were measured with other code of your dataset f55_code_pts" in logs[0]
    assert logs[1] == "1 runs on 1 workers" and got[0]["modes_covered"] != 99
    logs.clear()    # measured with the code loaded now: reused
    assert S.run_sweep([job], results, workers=1, metrics=["modes"], resume=True, log=logs.append) == got
    assert logs == ["0 runs, 1 reused"]


def test_a_record_without_user_code_is_reused_as_before(tmp_path):
    job = S.Job("a", "ring-vanilla", TINY, 0).resolve()
    results = tmp_path / "r.jsonl"
    results.write_text(json.dumps({"label": "a", "seed": 0, "config_hash": job.identity, "modes_covered": 3}) + "\n")
    found, todo = S.reuse([job], results, code=lambda j: {"dataset x": "1" * 40})
    assert [r["modes_covered"] for r in found] == [3] and todo == []


def test_a_notebook_that_named_its_imports_only_resolves_its_jobs(tmp_path, parts, monkeypatch):
    """Job(imports=[...]) without importing them here: every job failed "unknown dataset" at
    resolve, before the workers that import them were started."""
    class Resolved(Exception):
        pass

    def stop(jobs, metrics):      # the next check after resolving: no training
        raise Resolved
    monkeypatch.setattr(S, "refuse_unseen_parts", stop)
    path = parts("f55_nb_pts")
    job = S.Job("p", "ring-vanilla", [*TINY, "data.name=f55_nb_pts"], 0, imports=[str(path)])
    with pytest.raises(Resolved):
        S.run_sweep([job], tmp_path / "r.jsonl", workers=1, metrics=["modes"], log=lambda m: None)
    assert job.resolved["data"]["name"] == "f55_nb_pts"


def test_a_notebook_part_from_a_module_the_job_does_not_import_is_refused(tmp_path, parts, monkeypatch):
    """A notebook that imported my_parts but gave no imports=: each run failed in its worker."""
    from gankit import sweep_failures
    from gankit.builtins import import_modules
    monkeypatch.setattr(sweep_failures, "_script", lambda: None)     # an interactive session
    path = parts("f55_seen_pts")
    import_modules([str(path)])
    job = S.Job("p", "ring-vanilla", [*TINY, "data.name=f55_seen_pts"], 0)
    with pytest.raises(ConfigError) as e:
        S.run_sweep([job], tmp_path / "r.jsonl", workers=1, metrics=["modes"], log=lambda m: None)
    assert "dataset 'f55_seen_pts' (f55_seen_pts)" in str(e.value)
    assert f"Job(..., imports=[{str(path)!r}])" in str(e.value)
    assert not (tmp_path / "r.jsonl").exists()


def test_a_program_read_from_stdin_is_refused_before_any_run(tmp_path):
    """python - < script.py: every spawned worker died reading "<stdin>", every run was lost."""
    program = (f"from gankit import sweep as S\n"
               f"S.run_sweep([S.Job('a', 'ring-vanilla', {TINY!r}, 0)], {str(tmp_path / 'r.jsonl')!r}, workers=1)\n")
    r = subprocess.run([sys.executable, "-"], input=program, capture_output=True, text=True, timeout=300,
                       cwd=tmp_path, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode != 0
    assert "ConfigError: a sweep cannot run from a program read from standard input (<stdin>" in r.stderr
    assert "runs on" not in r.stderr


def test_the_table_says_when_reused_records_did_not_keep_the_users_code():
    from gankit.sweep_cli import mixed_code_note
    note = mixed_code_note([{"metrics_code": "a", "user_code": {"dataset x": "1" * 40}}, {"metrics_code": "a"}],
                           "r.jsonl")
    assert note.startswith("the table averages 1 runs reused from records that did not keep") and "r.jsonl" in note
    assert mixed_code_note([{"metrics_code": "a", "user_code": {}}, {"metrics_code": "a"}], "r.jsonl") == ""


def test_the_code_a_job_trains_with_covers_the_users_nets_losses_and_objectives(monkeypatch):
    """Only the user's dataset and metrics were keyed: a sweep resumed after an edit of the user's
    own loss (or generator, objective) reused the old numbers."""
    from gankit.metrics.user_code import trained_code
    from gankit.registry import LOSSES
    monkeypatch.setattr(LOSSES, "_entries", dict(LOSSES._all()))

    def first(**params):
        return 1.0
    LOSSES.register("f55_loss", None, "mine")(first)
    cfg = {"loss": {"name": "f55_loss"}, "generator": {"name": "mlp"}, "data": {"name": "ring"}}
    code = trained_code(cfg)
    assert list(code) == ["loss f55_loss"]           # gankit's own mlp and ring are gankit's version's
    assert trained_code({**cfg, "loss": {"name": "minimax"}}) == {}

    def edited(**params):
        return 2.0
    LOSSES._entries.pop("f55_loss")
    LOSSES.register("f55_loss", None, "mine")(edited)
    assert trained_code(cfg) != code
    assert S.Job("a", "ring-vanilla", [*TINY, "loss.name=f55_loss"], 0).user_code(["modes"]) == trained_code(cfg)
    assert S.Job("a", "ring-vanilla", TINY, 0).user_code(["modes"]) == {}
