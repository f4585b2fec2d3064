"""The extension examples in docs/architecture.md work as printed."""
import pathlib
import re

import pytest

from gankit import config as C
from gankit.builtins import import_modules
from gankit.train.run import Run

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


@pytest.fixture
def examples(tmp_path_factory):
    # per test, not per module: a module fixture is set up before conftest's registry snapshot,
    # so its components (softplus_hinge) stayed registered for every later test in the process
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 3, "docs/architecture.md should hold the loss, metric and objective examples"
    folder = tmp_path_factory.mktemp("doc_examples")
    paths = []
    for i, code in enumerate(blocks):
        p = folder / f"architecture_doc_example_{i}.py"
        p.write_text(code)
        paths.append(str(p))
    import_modules(paths)
    return paths


def test_the_documented_loss_metric_and_objective_train_and_evaluate(tmp_path, examples, tiny):
    cfg = C.load({"imports": examples}, tiny + ["loss.name=softplus_hinge", "objective.name=lsq_gan",
                                               'eval.metrics=["mean_gap"]'])
    run = Run.create(cfg, tmp_path / "r").train()
    assert run.cfg.loss.name == "softplus_hinge" and type(run.objective).__name__ == "LeastSquaresGAN"
    rec = run.folder.records("train")[-1]
    assert {"loss_d", "loss_g"} <= set(rec)
    out = run.evaluate(["mean_gap", "modes"])
    assert out["mean_gap"] >= 0 and "modes_covered" in out
    from gankit.metrics.base import output_info
    assert output_info("mean_gap").better == "lower"
    reopened = Run.open(tmp_path / "r")      # the config's imports bring the components back
    assert reopened.step == run.step
