"""Audit a167 on sequence GANs trained on a user's text: a split on distinct lines that holds out
most of the file says so (900 "yes" / 100 "no" held out every "yes"), the <unk> NLL_test warning
gives the fix that fits training's own <unk> share, and a seqgan run too short to reach its
adversarial steps says so at training start."""
import random
import warnings
from types import SimpleNamespace

import pytest
import torch

from gankit.cli import main
from gankit.data.text import lines_dataset
from gankit.metrics import text as T
from gankit.metrics.text import unk_share

# ------------------------------------------------------------------ 1. the held-out share of the samples


def test_a_held_out_split_far_above_test_fraction_warns_and_keeps_the_split():
    lines = ["yes"] * 900 + ["no"] * 100
    with pytest.warns(UserWarning, match=r"held-out split is 900 of the 1000 samples of yn\.txt \(90%; "
                                         r"data\.test_fraction = 0\.1\) and training never sees 'yes' "
                                         r"\(900 copies, 90% of them\).*1 of the 2 distinct lines.*add distinct"):
        ds = lines_dataset(lines, "word", 20, 1, 0, 0.1, 0, "yn.txt")
    # the split itself is unchanged (its digest is the one runs recorded before the warning)
    assert ds.decode(ds.train) == ["no"] * 100 and len(ds.test) == 900
    assert ds.split_digest == "8a798890fe938171" and ds.cut == (2, 1)


def test_splits_near_test_fraction_stay_quiet_and_unchanged():
    files = {"distinct": ([f"w{i} x{i % 7}" for i in range(100)], "4c063fd3fda4c4c1", 10),
             "even": ([f"w{i} y" for i in range(10)] * 3, "787eec5d1d73316d", 3)}   # 10 lines, 3 copies each
    for name, (lines, digest, n_test) in files.items():
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ds = lines_dataset(lines, "word", 20, 1, 0, 0.1, 0, name)
        assert ds.split_digest == digest and len(ds.test) == n_test, name


# ------------------------------------------------------------------ 2. the <unk> advice of NLL_test

class _UniformG(torch.nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.vocab, self.w = vocab, torch.nn.Parameter(torch.zeros(1))

    def token_logp(self, x, temperature=1.0):
        return torch.full(x.shape, -float(torch.log(torch.tensor(float(self.vocab)))))


def _nll_test_warning(lines, min_count, max_vocab):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = lines_dataset(lines, "word", 20, min_count, max_vocab, 0.1, 0, "f")
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        T._nll_test(SimpleNamespace(likelihood=_UniformG(ds.vocab_size), dataset=ds))
    msgs = [str(w.message) for w in said if str(w.message).startswith("nll_test:")]
    assert len(msgs) == 1, msgs
    return ds, msgs[0]


def test_a_vocabulary_cap_is_named_where_training_holds_unk_as_often():
    r = random.Random(0)
    words = "the cat dog ran sat on mat a big small red blue Café 42 hello, world! fox".split()
    lines = [" ".join(r.choice(words) for _ in range(r.randint(2, 9))) for _ in range(300)]
    ds, msg = _nll_test_warning(lines, 2, 8)
    assert unk_share(ds, ds.train) > 0.5          # training is mostly <unk> already
    assert "vocabulary cap (data.max_vocab / data.min_count)" in msg and "raise data.max_vocab" in msg
    assert "raise data.min_count" not in msg      # min_count is 2 already: raising it cuts more words


def test_min_count_advice_where_training_holds_far_fewer_unk():
    # each rare word r_k is on 2 lines: <unk> in training only where its other line is held out
    ds, msg = _nll_test_warning([f"a b c r{i // 2} x{i % 2}" for i in range(200)], 2, 0)
    assert 0 < 2 * unk_share(ds, ds.train) < unk_share(ds, ds.test)
    assert "raise data.min_count" in msg and "(e.g. 2)" not in msg and "vocabulary cap" not in msg


# ------------------------------------------------------------------ 3. a seqgan run too short for its game

def _args(data, steps, P, Pd):
    return ["--set", "data.name='textfile'", "--set", f"data.path='{data}'", "--set", "data.level='char'",
            "--set", "data.max_len=5", "--set", "data.test_fraction=0.25", "--set", "noise.dim=6",
            "--set", "generator.hidden=8", "--set", "generator.embed_dim=8", "--set", "discriminator.hidden=8",
            "--set", "discriminator.embed_dim=8", "--set", f"objective.pretrain_steps={P}",
            "--set", f"objective.d_pretrain_steps={Pd}", "--set", f"train.steps={steps}",
            "--set", "train.batch_size=4", "--set", "train.log_every=1", "--set", "train.sample_every=100",
            "--set", "train.checkpoint_every=100", "--set", "train.n_fixed=4", "--set", "train.progress=false",
            "--set", "train.live_report=false", "--set", "eval.n_samples=8", "--set", "eval.metrics=['novelty']"]


def test_a_seqgan_run_that_never_reaches_the_game_says_so_at_training_start(tmp_path, capsys):
    data = tmp_path / "d.txt"
    data.write_text("\n".join(["abcd", "bcda", "cdab", "dabc", "acbd", "bdca", "cadb", "dbac"]) + "\n")
    run = tmp_path / "run"
    mle_only = "train.steps = 1 < objective.pretrain_steps = 2: MLE pre-training only, no adversarial step"
    assert main(["train", "words", "--out", str(run), *_args(data, 1, 2, 2)]) == 0
    assert mle_only in capsys.readouterr().err
    # exactly P steps: the MLE-only baseline, on purpose
    assert main(["train", "--resume", "--out", str(run), "--set", "train.steps=2"]) == 0
    assert "adversarial" not in capsys.readouterr().err
    # resumed to 4 = P + Pd: D steps now, still no G adversarial step
    assert main(["train", "--resume", "--out", str(run), "--set", "train.steps=4"]) == 0
    err = capsys.readouterr().err
    assert "train.steps = 4 <= objective.pretrain_steps + d_pretrain_steps = 2 + 2: MLE and D pre-training " \
           "only, no adversarial G step" in err and mle_only not in err
    # resumed past P + Pd (step 4 > P already): the game is reached, nothing to say
    assert main(["train", "--resume", "--out", str(run), "--set", "train.steps=5"]) == 0
    assert "adversarial" not in capsys.readouterr().err
    # a run that reaches the game from the start says nothing either
    assert main(["train", "words", "--out", str(tmp_path / "full"), *_args(data, 3, 1, 1)]) == 0
    assert "adversarial" not in capsys.readouterr().err
