"""Audit a167 on sequence GANs trained on a user's text: a split on distinct lines that holds out
most of the file says so (900 "yes" / 100 "no" held out every "yes"), the <unk> NLL_test warning
gives the fix that fits training's own <unk> share, and a seqgan run too short to reach its
adversarial steps says so at training start.  Audit a168: the <unk> advice only where training
holds none (never "lower data.min_count" at the recommended 2, never the run's own setting), the
held-out warning suggests a seed only where one can help and reads its share to a tenth, and a
lowered train.steps is no cause of resuming an older checkpoint (it is refused)."""
from pathlib import Path
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
    with pytest.warns(UserWarning, match=r"held-out split is 900 of the 1000 samples of yn\.txt \(90\.0%; "
                                         r"data\.test_fraction = 0\.1\) and training never sees 'yes' "
                                         r"\(900 copies, 90\.0% of them\): the split holds out 1 line, the "
                                         r"minimum, = 50\.0% of the 2 distinct lines, with every copy; add "
                                         r"distinct lines \(or try another data\.seed\)"):
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


def _held_out_warnings(lines, test_fraction, seed=0):
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        ds = lines_dataset(lines, "word", 20, 1, 0, test_fraction, seed, "f.txt")
    return ds, [str(w.message) for w in said if "held-out split" in str(w.message)]


def test_evenly_repeated_lines_are_not_told_to_try_another_seed():
    lines = [f"line {i}" for i in range(4)] * 25
    # every seed holds out the same 25 of the 100 samples: no seed can help
    assert {len(_held_out_warnings(lines, 0.1, seed)[0].test) for seed in range(6)} == {25}
    ds, msgs = _held_out_warnings(lines, 0.1)
    assert len(msgs) == 1, msgs
    assert "(25.0%; data.test_fraction = 0.1)" in msgs[0]
    assert "holds out 1 line, the minimum, = 25.0% of the 4 distinct lines" in msgs[0]
    assert "data.seed" not in msgs[0] and "at least 1" not in msgs[0]
    # lines of different copy counts: a seed can change the share, so it is suggested
    _, msgs = _held_out_warnings([f"line {i}" for i in range(3)] * 25 + ["x y"] * 5, 0.1, seed=1)
    assert len(msgs) == 1 and msgs[0].endswith("add distinct lines (or try another data.seed)"), msgs


def test_a_share_just_over_twice_test_fraction_reads_to_a_tenth():
    ds, msgs = _held_out_warnings([f"line {i}" for i in range(40)], 0.01)
    assert len(ds.test) == 1 and len(msgs) == 1, msgs
    # 2.5% against a 2% limit, not "2%"; the one line is the split's minimum, not test_fraction's ask
    assert "(2.5%; data.test_fraction = 0.01)" in msgs[0]
    assert "holds out 1 line, the minimum, = 2.5% of the 40 distinct lines; add distinct lines" in msgs[0]
    assert "data.seed" not in msgs[0]


# ------------------------------------------------------------------ 2. the <unk> advice of NLL_test

class _UniformG(torch.nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.vocab, self.w = vocab, torch.nn.Parameter(torch.zeros(1))

    def token_logp(self, x, temperature=1.0):
        return torch.full(x.shape, -float(torch.log(torch.tensor(float(self.vocab)))))


def _nll_test_warnings(lines, min_count, max_vocab):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = lines_dataset(lines, "word", 20, min_count, max_vocab, 0.1, 0, "f")
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        T._nll_test(SimpleNamespace(likelihood=_UniformG(ds.vocab_size), dataset=ds))
    return ds, [str(w.message) for w in said if str(w.message).startswith("nll_test:")]


def test_no_unk_advice_where_a_vocabulary_cap_puts_unk_in_training():
    r = random.Random(0)
    words = "the cat dog ran sat on mat a big small red blue Café 42 hello, world! fox".split()
    lines = [" ".join(r.choice(words) for _ in range(r.randint(2, 9))) for _ in range(300)]
    ds, msgs = _nll_test_warnings(lines, 2, 8)
    assert unk_share(ds, ds.train) > 0.5 and unk_share(ds, ds.test) > 0   # both splits hold <unk>
    assert msgs == []      # it told this run to lower min_count, and min_count = 1 runs to raise it


def test_no_unk_advice_where_training_holds_far_fewer_unk():
    # each rare word r_k is on 2 lines: <unk> in training only where its other line is held out
    ds, msgs = _nll_test_warnings([f"a b c r{i // 2} x{i % 2}" for i in range(200)], 2, 0)
    assert 0 < 2 * unk_share(ds, ds.train) < unk_share(ds, ds.test)
    assert msgs == []      # min_count is 2 already, as docs/sequence.md recommends


def test_zipf_text_is_told_to_raise_min_count_at_1_and_nothing_at_2_or_3():
    r = random.Random(0)
    vocab, weights = [f"w{i}" for i in range(5000)], [1 / (i + 1) for i in range(5000)]
    lines = [" ".join(r.choices(vocab, weights, k=r.randint(3, 10))) for _ in range(3000)]
    ds, msgs = _nll_test_warnings(lines, 1, 0)
    assert unk_share(ds, ds.train) == 0 < unk_share(ds, ds.test)
    assert len(msgs) == 1 and "raise data.min_count (e.g. 2)" in msgs[0], msgs
    for min_count in (2, 3):
        ds, msgs = _nll_test_warnings(lines, min_count, 0)
        # training's share about half the held-out one: it said "lower data.min_count" at 2 and 3
        assert 0 < unk_share(ds, ds.train) < unk_share(ds, ds.test)
        assert msgs == [], (min_count, msgs)


def test_min_count_advice_never_names_the_run_s_own_setting():
    # every line holds its own word twice: at min_count = 2 training keeps all of them and holds
    # no <unk>, while the held-out lines' own words are <unk>
    ds, msgs = _nll_test_warnings([f"a b u{i} u{i}" for i in range(50)], 2, 0)
    assert unk_share(ds, ds.train) == 0 < unk_share(ds, ds.test)
    assert len(msgs) == 1, msgs
    assert "raise data.min_count (e.g. 3: every training token occurs 2 times or more)" in msgs[0]
    assert "(e.g. 2)" not in msgs[0] and "max_vocab" not in msgs[0]


# ------------------------------------------------------------------ 3. the causes of an older resume

def test_a_lowered_train_steps_is_no_cause_of_resuming_an_older_checkpoint():
    # run_checks.refuse_going_back refuses it; the docs row and the comment listed it as a cause
    root = Path(__file__).resolve().parents[1]
    row, = [r for r in (root / "docs/reliability.md").read_text().splitlines()
            if r.startswith("| `--resume` from a checkpoint older than the run's records")]
    assert "a kill between checkpoints" in row and "`--set train.steps` lowered" not in row
    code = (root / "gankit/train/run_training.py").read_text()
    assert "a kill between checkpoints" in code and "train.steps lowered" not in code


# ------------------------------------------------------------------ 4. a seqgan run too short for its game

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
