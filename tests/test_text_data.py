"""Text data: the SeqGAN oracle, text files and the word list."""
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from gankit.registry import DATASETS
from gankit.config import ConfigError
from gankit.data.oracle import OracleLSTM
from gankit.data.text import lines_dataset
from gankit.data.text_dataset import valid_mask


def small_oracle(seed=3, vocab=5000, n=64):
    return DATASETS.build("oracle", {"vocab": vocab, "seq_len": 20, "hidden": 32, "n_train": n,
                                     "n_test": 16, "seed": seed})


def test_oracle_reproducible_from_seed(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))    # draw afresh, not from a cache
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    o1, o2 = OracleLSTM(100, 8, g1), OracleLSTM(100, 8, g2)
    x1, x2 = o1.generate(30, 10, g1), o2.generate(30, 10, g2)
    assert torch.equal(x1, x2)
    o3 = OracleLSTM(100, 8, torch.Generator().manual_seed(6))
    assert not torch.equal(o1.out.weight, o3.out.weight)
    a = small_oracle(seed=11, vocab=200)
    assert a.train.shape == (64, 20) and a.test.shape == (16, 20)
    assert int(a.train.min()) >= 0 and int(a.train.max()) < 200


def test_oracle_parameters_standard_normal():
    o = OracleLSTM(5000, 32, torch.Generator().manual_seed(0))
    w = torch.cat([p.reshape(-1) for p in o.parameters()])
    assert abs(float(w.mean())) < 0.01 and abs(float(w.std()) - 1.0) < 0.01


def test_oracle_own_samples_beat_uniform_model(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
    ds = small_oracle(vocab=5000, n=200)
    nll = float(ds.oracle_nll(ds.train).mean())
    assert nll < math.log(5000)                         # 8.52: the uniform model's NLL
    # and a uniformly random sequence is far less likely under the oracle than its own samples
    rand = torch.randint(0, 5000, (200, 20), generator=torch.Generator().manual_seed(0))
    assert float(ds.oracle_nll(rand).mean()) > nll + 1.0


def test_tokeniser_round_trip_char_and_word():
    words = ["cat", "dog", "bird", "mouse", "catdog", "go"]
    ds = lines_dataset(words, "char", 8, 1, 0, 0.3, 0, "test")
    assert ds.vocab[:3] == ["<pad>", "<end>", "<unk>"]
    assert ds.decode(ds.encode(["cat", "go"])) == ["cat", "go"]
    assert set(ds.decode(ds.train)) <= set(words) and len(ds.train) + len(ds.test) == len(words)
    # unknown characters become <unk>; every row ends with <end> then <pad>
    enc = ds.encode(["cZt"])
    assert int(enc[0, 1]) == ds.unk_id and int(enc[0, 3]) == ds.end_id and int(enc[0, 4]) == ds.pad_id
    sents = ["the cat sat", "a dog ran", "the dog sat", "a cat ran"]
    dw = lines_dataset(sents, "word", 5, 1, 0, 0.25, 0, "test")
    assert dw.decode(dw.encode(["the cat ran"])) == ["the cat ran"]
    assert valid_mask(dw.encode(["a cat"]), dw.end_id).sum() == 3


def test_textfile_and_clear_errors(tmp_path):
    f = tmp_path / "lines.txt"
    f.write_text("hello world\nhello there\n\ngood day\nhi\n")
    ds = DATASETS.build("textfile", {"path": str(f), "level": "word", "max_len": 4, "test_fraction": 0.25})
    assert ds.kind == "text" and ds.shape == (5,) and len(ds.train) + len(ds.test) == 4
    with pytest.raises(ConfigError, match="not a file"):
        DATASETS.build("textfile", {"path": str(tmp_path / "missing.txt")})
    with pytest.raises(ConfigError, match="wamerican"):
        DATASETS.build("words", {"path": str(tmp_path / "no-words")})


def test_words_dataset():
    assert Path("/usr/share/dict/words").is_file(), "wamerican is missing: apt-get install wamerican (.ci/run does)"
    ds = DATASETS.build("words", {"max_len": 6})
    lines = ds.decode(ds.train[:50])
    assert all(w.isalpha() and w.islower() and len(w) <= 6 for w in lines)
    assert not (ds.train_lines & set(ds.decode(ds.test)))


def _textfile(tmp_path, data: bytes, **kw):
    f = tmp_path / "user.txt"
    f.write_bytes(data)
    return DATASETS.build("textfile", {"path": str(f), **kw})


def test_bom_and_windows_line_endings_are_not_text(tmp_path):
    data = "\ufeffcafé crème\r\nnaïve 😀 x\r\n中文 字符\r\nhello world\r\n".encode("utf-8")
    for level in ("char", "word"):
        ds = _textfile(tmp_path, data, level=level, max_len=12, test_fraction=0.25)
        assert not any("\ufeff" in t or "\r" in t for t in ds.vocab), ds.vocab
        assert ds.train_lines <= {"café crème", "naïve 😀 x", "中文 字符", "hello world"}, ds.train_lines
    # one sample per line: a form feed or U+2028 inside a line does not split it
    ds = _textfile(tmp_path, "a\u2028b\nc\x0cd\nef\n".encode(), level="char", max_len=3, test_fraction=0.3)
    assert len(ds.train) + len(ds.test) == 3


def test_invalid_utf8_reads_as_unk_with_a_warning(tmp_path):
    with pytest.warns(UserWarning, match=r"not UTF-8 \(the first on line 2\).*iconv"):
        ds = _textfile(tmp_path, b"good day\nbad \xff\xfeday\ngood \xc3 night\nday night\n",
                       level="word", max_len=4, test_fraction=0.25)
    assert not any("\ufffd" in t for t in ds.vocab), ds.vocab
    assert ds.token_lists(ds.encode(["\ufffd\ufffdday"])) == [["<unk>"]]


def test_files_with_too_few_usable_lines_say_why(tmp_path):
    for data, want in [(b"", "no non-blank line"), (b"\n  \n\r\n", "no non-blank line"),
                       (b"only one line\n", "at least 2 different"), (b"same\nsame\nsame\n", "at least 2 different"),
                       (b"a b c d e\nf g h i j k l\n", r"--set data.max_len=7")]:
        with pytest.raises(ConfigError, match=want):
            _textfile(tmp_path, data, level="word", max_len=3)


def test_every_split_keeps_a_training_line(tmp_path):
    ds = _textfile(tmp_path, b"ab\ncd\n", level="char", max_len=3, test_fraction=0.9)
    assert len(ds.train) == 1 and len(ds.test) == 1 and ds.vocab_size > 3


def test_a_vocabulary_cut_to_nothing_is_refused(tmp_path):
    data = b"the cat sat\nthe dog ran\na cat ran\nthe end\n"
    for mv in (1, 2, 3):
        with pytest.raises(ConfigError, match="data.max_vocab"):
            _textfile(tmp_path, data, max_vocab=mv, test_fraction=0.25)
    with pytest.raises(ConfigError, match=r"data.min_count = 50.*occurs \d+ time"):
        _textfile(tmp_path, data, min_count=50, test_fraction=0.25)
    one = _textfile(tmp_path, data, max_vocab=4, test_fraction=0.25)    # one token besides the specials
    assert one.vocab_size == 4 and one.vocab[3] in ("the", "cat", "ran")


def test_literal_special_tokens_are_not_control_tokens(tmp_path):
    # e.g. the Penn Treebank writes <unk> in its text
    ds = _textfile(tmp_path, b"the <unk> sat\na <unk> ran <end> x\nthe cat <pad>\nthe dog\n",
                   max_len=6, test_fraction=0.25)
    assert len(ds.vocab) == len(set(ds.vocab)) and ds.vocab.count("<unk>") == 1
    x = ds.encode(["the <unk> <end> <pad> the"])
    assert x[0, :5].tolist() == [ds.index["the"], ds.unk_id, ds.unk_id, ds.unk_id, ds.index["the"]]
    assert int(x[0, 5]) == ds.end_id


def test_token_lists_keep_a_character_unk_whole():
    ds = lines_dataset(["abc", "bca", "cab"], "char", 4, 1, 0, 0.3, 0, "test")
    x = ds.encode(["aZc"])
    assert ds.token_lists(x) == [["a", "<unk>", "c"]]
    assert ds.decode(x) == ["a<unk>c"]


def test_words_whose_lines_the_lowercase_filter_drops_say_so(tmp_path):
    f = tmp_path / "unicode.txt"
    f.write_text("\n".join(["café", "日本語", "Apple", "über", "naïve"] * 10) + "\n")
    with pytest.raises(ConfigError, match="lowercase_only keeps 0 of the 50 lines.*lowercase_only=false"):
        DATASETS.build("words", {"path": str(f)})


def test_repeated_lines_keep_their_weight_and_stay_on_one_side(tmp_path):
    """A file of 90 "yes" and 10 "no" is 90% "yes": every copy is a sample; the split is on
    distinct lines, so no held-out line is a training line (novelty keeps its meaning)."""
    import itertools
    from collections import Counter

    from gankit.metrics.text import novelty_scores
    others = ["".join(p) for p in itertools.permutations("yesno", 3)]
    lines = ["yes"] * 90 + ["no"] * 10 + others
    ds = _textfile(tmp_path, ("\n".join(lines) + "\n").encode(), level="char", max_len=3, test_fraction=0.2)
    train, test = Counter(ds.decode(ds.train)), Counter(ds.decode(ds.test))
    assert train + test == Counter(lines)                    # nothing dropped, nothing invented
    assert not set(train) & set(test)                        # every copy on the same side
    assert len(test) == round(0.2 * (len(others) + 2))       # the share of distinct lines held out
    assert ds.train_lines == set(train)
    seen = next(s for s in ("yes", "no") if s in train)
    assert novelty_scores([seen, seen], ds.train_lines, set(test))["novelty"] == 0.0
    # the copies are spread through the split (BLEU's references are its first lines)
    side = ds.decode(ds.train if "yes" in train else ds.test)
    assert side[:90].count("yes") < 90


@pytest.mark.parametrize("bad", ["same_token", "ids_out_of_range", "dict", "float", "junk", "digest"])
def test_oracle_cache_that_is_not_the_oracles_samples_is_redrawn(tmp_path, monkeypatch, bad):
    import warnings

    from gankit.data.oracle import _oracle_data
    params = dict(vocab=50, seq_len=8, hidden=8, n_train=30, n_test=10, seed=4)
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "fresh"))
    _oracle_data.cache_clear()
    _, train, test = _oracle_data(**params)
    drawn = torch.cat([train, test])
    cache = tmp_path / "cache"
    monkeypatch.setenv("GANKIT_CACHE", str(cache))
    _oracle_data.cache_clear()
    _oracle_data(**params)                                   # writes the cache file
    files = list(cache.glob("oracle-*.pt"))
    assert len(files) == 1
    fake = {"same_token": torch.full((40, 8), 3, dtype=torch.long),
            "ids_out_of_range": torch.full((40, 8), 99999, dtype=torch.long),
            "dict": {"a": 1}, "float": drawn.float(),
            "digest": {"format": "gankit-oracle-samples", "samples": torch.full((40, 8), 3, dtype=torch.long),
                       "sha256": "0" * 64}}.get(bad)
    if fake is None:
        files[0].write_bytes(b"junk")
    else:
        torch.save(fake, files[0])
    _oracle_data.cache_clear()
    with pytest.warns(UserWarning, match=rf"{files[0].name}: .*drawn again"):
        _, train, test = _oracle_data(**params)
    assert torch.equal(torch.cat([train, test]), drawn)      # the same seed's samples, not the file's
    _oracle_data.cache_clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")                       # rewritten whole: read without a word
        _, train, _ = _oracle_data(**params)
    assert torch.equal(train, drawn[:30])


def test_oracle_cache_of_the_old_unchecked_format_is_not_trusted(tmp_path, monkeypatch):
    from gankit.data.oracle import _oracle_data
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
    _oracle_data.cache_clear()
    # a bare tensor of the right shape and ids: nothing tells it from the oracle's own samples
    torch.save(torch.full((40, 8), 3, dtype=torch.long), tmp_path / "oracle-v1-50-8-8-30-10-4.pt")
    _, train, _ = _oracle_data(50, 8, 8, 30, 10, 4)
    assert not bool((train == 3).all())
    _oracle_data.cache_clear()


ORACLE = dict(vocab=50, seq_len=8, hidden=8, n_train=30, n_test=10, seed=4)


def test_oracle_cache_in_gankit_cache_needs_no_home_folder(tmp_path, monkeypatch, no_home):
    """The default ~/.cache was computed even with GANKIT_CACHE set, and raised without a home."""
    from gankit.data.oracle import _oracle_data
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
    _oracle_data.cache_clear()
    _oracle_data(**ORACLE)
    _oracle_data.cache_clear()
    assert len(list(tmp_path.glob("oracle-v2-*.pt"))) == 1


def test_oracle_without_a_home_folder_or_gankit_cache_draws_its_samples_with_one_warning(tmp_path, monkeypatch, no_home):
    from gankit.data.oracle import _oracle_data
    monkeypatch.delenv("GANKIT_CACHE")
    monkeypatch.chdir(tmp_path)
    _oracle_data.cache_clear()
    with pytest.warns(UserWarning, match="GANKIT_CACHE") as record:
        _, a, _ = _oracle_data(**ORACLE)
        _oracle_data.cache_clear()
        _, b, _ = _oracle_data(**ORACLE)
    _oracle_data.cache_clear()
    assert torch.equal(a, b) and a.shape == (30, 8)
    assert len([w for w in record if "HOME" in str(w.message)]) == 1
    assert list(tmp_path.iterdir()) == []


def test_oracle_cache_with_an_empty_gankit_cache_goes_to_the_default_folder(tmp_path, monkeypatch):
    """GANKIT_CACHE= wrote the oracle's samples into the current folder."""
    from gankit.data.oracle import _oracle_data
    monkeypatch.setenv("GANKIT_CACHE", "")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    _oracle_data.cache_clear()
    _oracle_data(**ORACLE)
    _oracle_data.cache_clear()
    assert list((tmp_path / "cwd").iterdir()) == []
    assert len(list((tmp_path / "home" / ".cache" / "gankit").glob("oracle-v2-*.pt"))) == 1


def test_an_unk_matches_no_line_in_the_novelty_shares(tmp_path):
    """At data.min_count=2 each rare word reads <unk>: "cat <unk>" equalled every real "cat X"
    with a rare X, and G raised real_share by emitting <unk> (29 of its 67.7 points in a run)."""
    from gankit.metrics import text as T
    from gankit.metrics.context import EvalContext
    lines = [f"cat w{i}" for i in range(40)] + ["cat sat", "cat sat", "dog sat", "dog sat"] * 10
    ds = _textfile(tmp_path, ("\n".join(lines) + "\n").encode(), level="word", max_len=4, test_fraction=0.2,
                   min_count=2)
    assert "cat <unk>" in ds.train_lines
    fake = ds.encode(["cat <unk>"] * 6 + ["cat sat"] * 4)       # <unk> as G samples it: the token itself
    ctx = EvalContext(dataset=ds, settings=SimpleNamespace(n_samples=10, text_protocol="split"), seed=0,
                      device=torch.device("cpu"), step=0, sample=lambda n, seed=None, y=None, c=None: (fake, None))
    out = T._novelty(ctx)
    assert out["real_share"] == pytest.approx(0.4) and out["novelty"] == pytest.approx(0.6), out
