"""A user's own text file: <unk> in BLEU and NLL_test, whitespace variants and the split,
long lines left out, single-order BLEU, and a <pad> that G samples before <end>."""
import math
import warnings
from types import SimpleNamespace

import pytest
import torch

from gankit.config import ConfigError
from gankit.data.text import lines_dataset, words
from gankit.metrics import text as T


def _quiet(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lines_dataset(*args, **kw)


# ------------------------------------------------------------------ 1. <unk> matches nothing in BLEU

def test_bleu_by_hand_counts_no_unk_as_a_match():
    ref = [["the", "cat", "<unk>"]]
    got = T.bleu_scores([["the", "cat", "<unk>"]], ref, orders=(2, 3))
    # p1 = 2/3 and p2 = 1/2 (the <unk> unigram and "cat <unk>" match nothing): sqrt(1/3)
    assert got[2] == pytest.approx(math.sqrt(1 / 3))
    # p3 = 0 -> smoothing method 1: (0 + 0.1) / 1
    assert got[3] == pytest.approx((2 / 3 * 1 / 2 * 0.1) ** (1 / 3))
    # a degenerate generator of nothing but <unk> scores 0 against references full of <unk>
    only_unk = T.bleu_scores([["<unk>"] * 4] * 3, [["<unk>"] * 4, ["<unk>", "a", "<unk>"]])
    assert all(v == 0 for v in only_unk.values())
    assert T.bleu_scores([["a", "b", "c"]], [["a", "b", "c"]], orders=(2, 3))[2] == pytest.approx(1.0)


def test_self_bleu_counts_no_unk_as_a_match():
    s = T.self_bleu_scores([["<unk>", "<unk>", "<unk>"]] * 3)
    assert all(v == 0 for v in s.values())


def test_the_reference_row_bleu_is_not_inflated_by_unk():
    from gankit import config as C
    from gankit.builtins import load_builtins
    from gankit.metrics import reference as R
    load_builtins()
    # every word occurs once: each held-out line is "<unk> <unk> <unk>"
    ds = _quiet([f"w{i}a w{i}b w{i}c" for i in range(12)], "word", 5, 1, 0, 0.25, 0, "test")
    assert {t for r in ds.token_lists(ds.test) for t in r} == {"<unk>"}
    row = R.evaluate_reference(ds, C.load("words", ["eval.n_samples=5"]).eval, 0, ["bleu"])
    assert row["bleu2"] == 0 and row["bleu3"] == 0 and "bleu5" not in row   # 3-token lines: no BLEU-5


# ------------------------------------------------------------------ 2. the split is on token sequences

def test_whitespace_variants_of_a_line_are_one_sample_on_one_side():
    lines = ["hello world", "hello  world", "hello\tworld", "good day", "good  day", "good\tday",
             "nice one", "nice  one", "nice\tone", "bye now", "bye\u00a0 now", "bye\tnow"]
    ds = _quiet(lines, "word", 20, 1, 0, 0.3, 0, "x")
    train, test = set(ds.decode(ds.train)), ds.decode(ds.test)
    assert not [t for t in test if t in train]
    assert len(ds.train) + len(ds.test) == 12          # every copy kept
    assert ds.cut == (4, len(set(test)))                # the distinct units the split is made on
    with pytest.raises(ConfigError, match="1 distinct line"):
        lines_dataset(["a b", "a  b", "a\tb"], "word", 20, 1, 0, 0.3, 0, "x")


def test_char_level_keeps_the_raw_line():
    ds = _quiet(["a b", "a  b", "ab", "ba"], "char", 5, 1, 0, 0.25, 0, "x")
    assert ds.cut[0] == 4


# ------------------------------------------------------------------ 3. NLL_test with <unk> targets

class _UniformG(torch.nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.vocab, self.w = vocab, torch.nn.Parameter(torch.zeros(1))

    def token_logp(self, x, temperature=1.0):
        return torch.full(x.shape, -math.log(self.vocab))


def test_nll_test_warns_about_unk_targets_and_keeps_its_definition():
    ds = _quiet([f"w{i}a w{i}b" for i in range(10)], "word", 5, 1, 0, 0.2, 0, "x")
    ctx = SimpleNamespace(likelihood=_UniformG(ds.vocab_size), dataset=ds)
    with pytest.warns(UserWarning, match=r"nll_test: 66\.7% of the held-out tokens are <unk>, words training never holds, "
                                         r"and training holds no <unk>.*raise data\.min_count \(e\.g\. 2\)"):
        out = T._nll_test(ctx)
    assert out["nll_test"] == pytest.approx(math.log(ds.vocab_size))    # every token still counts


def test_nll_test_is_quiet_without_unk_targets():
    ds = _quiet(["ab", "ba", "aab", "bba", "abab"], "char", 5, 1, 0, 0.2, 0, "x")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        T._nll_test(SimpleNamespace(likelihood=_UniformG(ds.vocab_size), dataset=ds))


# ------------------------------------------------------------------ 4. long lines left out say so

def test_lines_longer_than_max_len_are_counted_in_one_warning():
    lines = [f"a{i} b" for i in range(4)] + [" ".join(["w"] * (30 + i)) + f" x{i}" for i in range(16)]
    with pytest.warns(UserWarning) as got:
        ds = lines_dataset(lines, "word", 20, 1, 0, 0.25, 0, "f.txt")
    msgs = [str(w.message) for w in got if "max_len" in str(w.message)]
    assert len(msgs) == 1 and "16 of the 20 lines of f.txt" in msgs[0]
    # 95% of 20 lengths: the 19th shortest, 30 + 14 words and x14
    assert "--set data.max_len=45 keeps 95%" in msgs[0]
    assert len(ds.train) + len(ds.test) == 4
    with pytest.warns(UserWarning, match=r"1 of the 40 lines.*data.max_len=3 keeps them all"):
        lines_dataset([f"a{i} b" for i in range(39)] + ["a b c"], "word", 2, 1, 0, 0.25, 0, "f.txt")


def test_no_warning_when_every_line_fits(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lines_dataset(["a b", "b c", "c d"], "word", 2, 1, 0, 0.3, 0, "x")
        f = tmp_path / "words"
        f.write_text("cat\ndog\nelephantsandmore\n")     # a word list's max_len is a filter
        words(str(f), 5, True, 0.3, 0)


# ------------------------------------------------------------------ 5. one BLEU order

def test_bleu_and_self_bleu_with_a_single_order():
    h = [["the", "cat", "sat"], ["the", "cat", "ran"]]
    assert set(T.bleu_scores(h, h, orders=(2,))) == {2}
    assert set(T.self_bleu_scores(h, orders=[3])) == {3}


# ------------------------------------------------------------------ 6. a sampled <pad> stays visible

def test_a_pad_before_end_is_decoded_visibly():
    ds = _quiet(["dog ran", "cat sat", "dog sat", "cat ran"], "word", 5, 1, 0, 0.25, 0, "x")
    i = ds.index
    x = torch.tensor([[i["dog"], ds.pad_id, i["ran"], ds.end_id, ds.pad_id, ds.pad_id]])
    assert ds.token_lists(x) == [["dog", "<pad>", "ran"]]
    assert ds.decode(x) == ["dog <pad> ran"]
    assert T.novelty_scores(ds.decode(x), {"dog ran"}, set())["novelty"] == 1.0
    assert T.bleu_scores(ds.token_lists(x), [["dog", "ran"]], orders=(2, 3))[2] < 0.5
    # real rows (<pad> only after <end>) decode as before
    assert ds.decode(ds.encode(["dog ran"])) == ["dog ran"]
    c = _quiet(["ab", "ba"], "char", 4, 1, 0, 0.5, 0, "x")
    assert c.decode(torch.tensor([[c.index["a"], c.pad_id, c.index["b"], c.end_id, c.pad_id]])) == ["a<pad>b"]
