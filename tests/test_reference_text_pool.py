"""The text reference row's real lines and BLEU orders (audit a167).

1. A test split of 201-249 lines drew the row's real lines from the 1-49 past BLEU's first
   200 references: at 201 lines one real line stood for G's samples (BLEU-2 = 1.000), and
   self-BLEU's ValueError on one line was caught by a bare ``except Exception`` and read as
   "no real counterpart".
2. The row's leave-one-out BLEU never asked ``measurable_orders``: it recorded BLEU-5 (and on
   one-token lines BLEU-2..5 = 0.0) where the run's own BLEU leaves those orders out.
"""
import itertools
import warnings

import pytest

from gankit import config as C
from gankit.builtins import load_builtins
from gankit.data.text import lines_dataset
from gankit.metrics import reference as R
from gankit.metrics.text import BLEU_REFERENCES, bleu_scores, measurable_orders

WORDS = "alpha beta gamma delta eps zeta eta theta iota kappa lam mu nu".split()


def _ds(lines, fraction, level="word"):
    load_builtins()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lines_dataset(lines, level, 8, 1, 0, fraction, 0, "test")


def _settings(n):
    return C.load("words", [f"eval.n_samples={n}"]).eval


def _without_itself(ds, n, orders):
    """BLEU of the n real lines drawn from the whole test split, each against the first
    BLEU_REFERENCES test lines less itself, at ``orders``."""
    ctx, _ = R.reference_context(ds, _settings(n), 0)
    lines = ds.token_lists(ds.test)
    refs = lines[:BLEU_REFERENCES]
    drawn = R._drawn(len(lines), n, ctx.stream("samples")).tolist()
    return {o: sum(bleu_scores([lines[i]], refs[:i] + refs[i + 1:], orders)[o] for i in drawn) / n
            for o in orders}


def test_a_test_split_of_201_lines_draws_its_real_lines_from_all_of_it():
    lines = [" ".join(p) for p in itertools.product(WORDS, repeat=3)][:2010]      # 3 words each, distinct
    ds = _ds(lines, 0.1)
    assert len(ds.test) == 201      # one line past BLEU's references
    row = R.evaluate_reference(ds, _settings(6), 0, ["bleu", "self_bleu"])
    assert "past its first" not in row["source"], row
    assert "self_bleu" not in row.get("skipped", []) and "self_bleu2" in row, row
    want = _without_itself(ds, 6, (2, 3))
    assert row["bleu2"] == pytest.approx(want[2]) and row["bleu3"] == pytest.approx(want[3])
    assert row["bleu3"] < 0.99       # no line is scored against itself (distinct lines)


def test_a_test_split_with_enough_lines_past_the_references_still_draws_from_there():
    lines = [" ".join(p) for p in itertools.product(WORDS, repeat=3)][:1728]
    ds = _ds(lines, 0.15)
    assert len(ds.test) - BLEU_REFERENCES >= 50
    pool, source = R._pool(ds)
    assert len(pool) == len(ds.test) - BLEU_REFERENCES and "past its first 200" in source


def test_the_reference_bleu_leaves_out_the_orders_the_run_leaves_out():
    lines = [" ".join(p) for p in itertools.product("a b c d e f".split(), repeat=3)]    # 216 lines of 3 words
    ds = _ds(lines, 0.3)
    assert len(ds.test) <= BLEU_REFERENCES        # the leave-one-out path
    row = R.evaluate_reference(ds, _settings(10), 0, ["bleu"])
    hyps = ds.token_lists(ds.test)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert measurable_orders("bleu", hyps, hyps) == (2, 3)        # what the run's BLEU measures
    assert sorted(k for k in row if k.startswith("bleu")) == ["bleu2", "bleu3"], row
    want = _without_itself(ds, 10, (2, 3))
    assert row["bleu2"] == pytest.approx(want[2]) and row["bleu3"] == pytest.approx(want[3])


def test_one_token_lines_record_no_reference_bleu():
    """One token a line: no order is measured (the docs, and the run's BLEU), not BLEU-2..5 = 0.0."""
    ds = _ds([a + b for a, b in itertools.product("abcdefghij", repeat=2)], 0.3)     # 100 one-word lines
    row = R.evaluate_reference(ds, _settings(10), 0, ["bleu"])
    assert not [k for k in row if k.startswith("bleu")], row


def test_self_bleu_on_one_real_test_line_is_skipped():
    ds = _ds([" ".join(p) for p in itertools.permutations("abcd", 3)], 0.01)
    assert len(ds.test) == 1
    row = R.evaluate_reference(ds, _settings(5), 0, ["bleu", "self_bleu"])
    assert set(row["skipped"]) == {"bleu", "self_bleu"}


def test_an_error_in_gankits_own_metric_surfaces(monkeypatch):
    """A bug was caught whole and read "no real counterpart" in the report."""
    from gankit.metrics import text as T

    def broken(*a, **k):
        raise RuntimeError("boom")
    monkeypatch.setattr(T, "self_bleu_scores", broken)
    ds = _ds([" ".join(p) for p in itertools.permutations("abcdef", 3)], 0.3)
    with pytest.raises(RuntimeError, match="boom"):
        R.evaluate_reference(ds, _settings(5), 0, ["self_bleu"])


def test_a_users_metric_that_fails_on_real_data_is_skipped_with_a_warning():
    from gankit.metrics.base import Metric

    def mine(ctx):
        raise KeyError("no such field")
    m = Metric("mine", mine, lambda ds: True, "a user's metric")
    ds = _ds([" ".join(p) for p in itertools.permutations("abcdef", 3)], 0.3)
    ctx, _ = R.reference_context(ds, _settings(5), 0)
    out, skipped = {}, []
    with pytest.warns(UserWarning, match="metric 'mine'.*failed on real data: KeyError"):
        R._measure(m, ctx, out, skipped)
    assert skipped == ["mine"] and out == {}
