"""BLEU and self-BLEU on degenerate samples: samples shorter than n tokens have no n-grams, so
an order at which most are that short is left out (NLTK's smoothing would fill in a constant,
and self-BLEU would read it as diversity), all-empty samples skip both metrics, identical
samples read 1 where they are long enough, and ordinary samples keep their numbers."""
import warnings
from types import SimpleNamespace

import pytest
import torch

from gankit.data.text import lines_dataset
from gankit.metrics import text as T

SENTS = [f"{s} {i}" for i, s in enumerate(["the cat sat on the mat", "a dog ran far away",
                                           "the dog sat on the mat", "a cat ran to the door"] * 3)]


def _ctx(lines, level, samples=None, rows=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = lines_dataset(lines, level, 8, 1, 0, 0.25, 0, "f")
    x = ds.encode(samples) if rows is None else rows(ds)
    return SimpleNamespace(dataset=ds, settings=SimpleNamespace(n_samples=len(x)), generate=lambda n, name: x[:n])


def _measure(ctx):
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        out = {**T._bleu(ctx), **T._self_bleu(ctx)}
    return out, [str(w.message) for w in got]


def test_all_empty_samples_skip_bleu_and_self_bleu_with_a_warning():
    out, said = _measure(_ctx(SENTS, "word", rows=lambda ds: torch.full((10, 9), ds.end_id)))
    assert out == {}                    # self-BLEU read 0.000, its best, at every order
    assert any("metric 'self_bleu' skipped: all 10 samples are empty" in s and "most diverse" in s for s in said)
    assert any("metric 'bleu' skipped: all 10 samples are empty" in s for s in said)


def test_identical_one_token_samples_are_not_read_as_diverse():
    out, said = _measure(_ctx(SENTS, "word", ["the"] * 10))
    assert out == {}                    # self-BLEU read 0.316, 0.215, ... before
    assert any(s.startswith("metric 'self_bleu' skipped (samples shorter than n tokens: 10 of 10 at n = 2, "
                            "10 at 3, 10 at 4, 10 at 5)") for s in said), said


def test_identical_samples_read_1_at_the_orders_they_are_long_enough_for():
    out, said = _measure(_ctx(SENTS, "word", ["the cat sat"] * 10))
    assert out["self_bleu2"] == pytest.approx(1.0) and out["self_bleu3"] == pytest.approx(1.0)
    assert {"self_bleu4", "self_bleu5", "bleu4", "bleu5"}.isdisjoint(out)
    assert any("self-BLEU-4, self-BLEU-5 left out (samples shorter than n tokens: 10 of 10 at n = 4, 10 at 5)"
               in s for s in said), said


def test_bleu_on_data_of_short_lines_leaves_out_the_orders_they_lack():
    ctx = _ctx([f"w{i} x" for i in range(40)], "word", ["w1 x w2 w3 w4"] * 3)
    out, said = _measure(ctx)
    assert set(k for k in out if k.startswith("bleu")) == {"bleu2"}
    assert any("BLEU-3, BLEU-4, BLEU-5 left out (test lines shorter than n tokens: 10 of 10 at n = 3" in s
               for s in said), said


def test_one_token_data_measure_no_order():
    ctx = _ctx([f"w{i}" for i in range(40)], "word", ["w1", "w2", "w3", "w4"] * 3)
    assert _measure(ctx)[0] == {}


ORDINARY = [  # (data, level, samples, the numbers gankit gave before orders could be left out)
    (["garden", "planet", "silver", "winter", "yellow", "market", "castle", "bridge", "forest", "candle",
      "pencil", "rabbit", "ticket", "window", "button", "carpet", "dinner", "finger", "hammer", "jacket",
      "cat", "door", "tape", "river", "stone", "plant", "table", "chair"], "char",
     ["garden", "gardle", "planes", "silter", "winder", "yellow", "marker", "castle", "bridet", "cat",
      "forest", "door"],
     {"bleu2": 0.45014582208348597, "bleu3": 0.33505419406073483, "bleu4": 0.2632262087255525,
      "bleu5": 0.18266942909635328, "self_bleu2": 0.5554580018486951, "self_bleu3": 0.2814938487716509,
      "self_bleu4": 0.20889281876884025, "self_bleu5": 0.15258764027869923}),
    (["the cat sat on the mat", "a dog ran far away", "the dog sat on the mat", "a cat ran to the door",
      "the cat ran far away", "a dog sat on a chair", "on the mat the cat sat", "the mat sat on the floor",
      "far away a dog ran", "a cat sat", "the dog ran away", "dog sat on the chair"], "word",
     ["the cat sat on the floor", "a dog ran to the mat", "the dog ran", "a cat sat on the mat",
      "the mat ran far away", "on the chair a cat sat"],
     {"bleu2": 0.68677226546327, "bleu3": 0.4661929369332137, "bleu4": 0.37512040605666397,
      "bleu5": 0.3304994462268113, "self_bleu2": 0.5995077276708239, "self_bleu3": 0.420874897313378,
      "self_bleu4": 0.3063134163422736, "self_bleu5": 0.20613388172769}),
]


@pytest.mark.parametrize("data,level,samples,before", ORDINARY, ids=["char", "word"])
def test_ordinary_samples_keep_their_numbers_and_say_nothing(data, level, samples, before):
    """A few samples shorter than 5 tokens, as real samples have, leave every order in, at the
    numbers they had."""
    out, said = _measure(_ctx(data, level, samples))
    assert said == []
    assert out == pytest.approx(before, rel=1e-12)


def test_one_order_left_with_no_match_scores_0_not_a_traceback():
    """NLTK returns the int 0, not a float, for one order when no unigram matches; leaving out
    the other orders made that reachable from the metric."""
    assert T.bleu_scores([["x", "y"]], [["a", "b"]], orders=(2,)) == {2: 0.0}
    out, _ = _measure(_ctx(SENTS, "word", ["zz qq"] * 4))
    assert out["bleu2"] == 0.0 and "bleu3" not in out
