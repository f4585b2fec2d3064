"""NLL_test in the real-data reference row (audit a157 F5): real data have no likelihood under G;
the metric returned {} instead of saying so, so the row did not list it as skipped and the
report's "real data" cell was empty, not "no real counterpart" (docs/watching.md)."""
import itertools

import pytest


def test_nll_test_is_skipped_in_the_reference_row_and_said_so():
    from gankit import config as C
    from gankit.builtins import load_builtins
    from gankit.data.text import lines_dataset
    from gankit.metrics import reference as R
    from gankit.report.metricinfo import groups, key_infos
    load_builtins()
    ds = lines_dataset(["".join(p) for p in itertools.permutations("abcdef", 4)][:150], "char", 5, 1, 0,
                       0.3, 0, "test")
    cfg = C.load("words", ["eval.n_samples=20"])
    row = R.evaluate_reference(ds, cfg.eval, 0, ["nll_test", "bleu"])
    assert "nll_test" in row.get("skipped", []) and "nll_test" not in row, row
    assert "bleu" not in row.get("skipped", []) and "bleu2" in row       # the other metric measured
    cells = {r["key"]: r["reference"] for g in groups({"step": 5, "kind": "eval", "nll_test": 2.1}, row, key_infos())
             for r in g["rows"]}
    assert cells["nll_test"] == "no real counterpart"


def test_nll_test_named_for_a_g_without_a_likelihood_says_so():
    """Named (gankit eval --metrics nll_test) on a G without token_logp it recorded nothing, silently."""
    import torch

    from gankit import config as C
    from gankit.config import ConfigError
    from gankit.data.text import lines_dataset
    from gankit.metrics import evaluate
    from gankit.metrics.context import EvalContext
    ds = lines_dataset(["".join(p) for p in itertools.permutations("abcdef", 4)][:150], "char", 5, 1, 0,
                       0.3, 0, "test")
    cfg = C.load("words", ["eval.n_samples=20"])
    ctx = EvalContext(dataset=ds, settings=cfg.eval, seed=0, device=torch.device("cpu"), step=0,
                      sample=lambda n, seed=None, y=None, c=None: (ds.test[:n], None), likelihood=None)
    with pytest.raises(ConfigError, match="nll_test.*token_logp.*leave nll_test out of eval.metrics"):
        evaluate(ctx, ["nll_test"])
