"""Text data: the SeqGAN oracle, text files and the word list."""
import math
from pathlib import Path

import pytest
import torch

from gankit.registry import DATASETS
from gankit.config import ConfigError
from gankit.data.text import OracleLSTM, lines_dataset, valid_mask


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
