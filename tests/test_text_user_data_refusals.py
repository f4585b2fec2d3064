"""Text data a user brings: seqgan refuses the mlp D before training (and DCGAN's refusal
names the sequence nets, not the mlp), a read error on data.path names the file and the setting,
and a few far-too-long lines are named as outliers instead of offered as data.max_len."""
import errno
import os
import warnings
from pathlib import Path

import pytest

from gankit import config as C
from gankit.config import ConfigError
from gankit.data import idx_files
from gankit.data.text import lines_dataset, textfile
from gankit.nets.dcgan import dcgan_discriminator, dcgan_generator

WORDS = "the cat sat on mat dog ran far away big small red".split()


def _lines(n=40):
    return [" ".join(WORDS[(i + j) % len(WORDS)] for j in range(2 + i % 5)) for i in range(n)]


def _text_data():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lines_dataset(_lines(), "word", 12, 1, 0, 0.25, 0, "f.txt")


# ------------------------------------------------------------------ 1. seqgan refuses the mlp D

def test_dcgan_refusal_on_text_names_the_sequence_nets_not_the_mlp():
    ds = _text_data()
    with pytest.raises(ConfigError) as d:
        dcgan_discriminator(ds)
    assert "discriminator.name=cnn" in str(d.value) and "lstm_step" in str(d.value)
    assert "objective.name=seqgan" in str(d.value)
    assert "name=mlp" not in str(d.value)
    with pytest.raises(ConfigError) as g:
        dcgan_generator(16, ds)
    assert "generator.name=seq" in str(g.value) and "name=mlp" not in str(g.value)


def test_dcgan_refusal_on_points_still_offers_the_mlp():
    points = type("Points", (), {"kind": "points", "shape": (2,)})()
    with pytest.raises(ConfigError, match=r"for points use the mlp discriminator.*discriminator.name=mlp"):
        dcgan_discriminator(points)


def test_seqgan_run_with_mlp_discriminator_is_refused_before_training(tmp_path):
    from gankit.train.run import Run
    p = tmp_path / "plain.txt"
    p.write_text("\n".join(_lines(60)) + "\n")
    cfg = C.load("words", ["data.name=textfile", f"data.path={p}", "data.max_len=12", "train.steps=4",
                           "objective.pretrain_steps=2", "train.batch_size=16",
                           'discriminator.name="mlp"'])
    # before the fix: MLE pretraining ran, then D's first step died with a dtype RuntimeError
    with pytest.raises(ConfigError, match=r"objective 'seqgan': discriminator 'mlp' .*not token sequences.*"
                                          r"discriminator.name=cnn .*lstm_step"):
        Run.create(cfg, tmp_path / "run").train().close()


def test_seqgan_trains_a_users_subclass_of_the_mlp_d_that_reads_token_ids(tmp_path):
    """Only gankit's own mlp D is refused: a subclass that embeds the token ids first reads them
    (the refusal tested isinstance, and refused it by the name 'mlp' it was not registered under)."""
    import dataclasses

    from torch import nn

    from gankit import api
    from gankit.nets.mlp import MLPDiscriminator
    from gankit.train.run import Run

    class TokenMLP(MLPDiscriminator):
        def __init__(self, vocab, seq_len, embed_dim):
            super().__init__(seq_len * embed_dim, [16], "relu", 2, 0.2, 0.0, "none", 0.0, False)
            self.emb = nn.Embedding(vocab, embed_dim)

        def features(self, x):
            return self.body(self.emb(x.long()).flatten(1))

    @dataclasses.dataclass
    class P:
        embed_dim: int = 4

    api.register_discriminator("token_mlp_subclass", P, "embedding + MLP over token ids")(
        lambda data, embed_dim: TokenMLP(data.vocab_size, data.seq_len, embed_dim))
    p = tmp_path / "plain.txt"
    p.write_text("\n".join(_lines(60)) + "\n")
    cfg = C.load("words", ["data.name=textfile", f"data.path={p}", "data.max_len=12", "train.steps=3",
                           "objective.pretrain_steps=2", "objective.d_pretrain_steps=1", "objective.rollouts=1",
                           "train.batch_size=16", "train.checkpoint_every=3", "train.n_fixed=8",
                           'eval.metrics=["bleu"]', "eval.n_samples=50", 'discriminator.name="token_mlp_subclass"'])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = Run.create(cfg, tmp_path / "run").train()
    assert run.step == 3 and isinstance(run.objective.D, TokenMLP)
    run.close()


def test_other_objectives_on_text_with_mlp_discriminator_keep_their_own_refusal(tmp_path):
    """The memory estimate builds the nets before the objective: the mlp D must not refuse text
    there, or vae's clearer "models images or points, not text" would never be seen."""
    from gankit.train.run import Run
    p = tmp_path / "plain.txt"
    p.write_text("\n".join(_lines(60)) + "\n")
    cfg = C.load("words", ["data.name=textfile", f"data.path={p}", "objective.name=vae", "train.batch_size=16",
                           'discriminator.name="mlp"', "noise.dist=normal", "noise.dim=21"])
    with pytest.raises(ConfigError, match=r"objective vae models images or points, not text"):
        Run(cfg, tmp_path / "run")


# ------------------------------------------------------------------ 2. read errors name file and setting

@pytest.mark.skipif(not os.path.exists("/proc/self/mem"), reason="needs Linux /proc")
def test_unreadable_data_path_names_the_setting_and_the_file():
    with pytest.raises(ConfigError, match=r"^data.path: '/proc/self/mem' could not be read "
                                          r"\(Input/output error\); give data.path = a text file"):
        textfile("/proc/self/mem", "word", 12, 1, 0, False, 0.1, 0)


def test_read_error_on_data_path_names_the_file(tmp_path, monkeypatch):
    p = tmp_path / "t.txt"
    p.write_text("a b\nc d\n")

    def fail(self):
        raise OSError(errno.EIO, os.strerror(errno.EIO))   # read()'s error: no file name in it
    monkeypatch.setattr(Path, "read_bytes", fail)
    with pytest.raises(ConfigError) as e:
        textfile(str(p), "word", 12, 1, 0, False, 0.1, 0)
    msg = str(e.value)
    assert msg.startswith(f"data.path: {str(p)!r} could not be read (Input/output error)")
    assert "give data.path" in msg and "[Errno" not in msg


def test_idx_read_error_names_the_file_without_errno_noise(tmp_path, monkeypatch):
    p = tmp_path / "train-images-idx3-ubyte"
    p.write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x01\x00")

    def fail(self):
        raise OSError(errno.EIO, os.strerror(errno.EIO))
    monkeypatch.setattr(Path, "read_bytes", fail)
    with pytest.raises(idx_files.ImageDataError) as e:
        idx_files.read_idx(p)
    assert f"cannot read {str(p)!r} (Input/output error)" in str(e.value)


# ------------------------------------------------------------------ 3. outlier lines are named as such

def _long_warning(lines, max_len):
    with pytest.warns(UserWarning) as got:
        lines_dataset(lines, "word", max_len, 1, 0, 0.25, 0, "f.txt")
    msgs = [str(w.message) for w in got if "data.max_len" in str(w.message)]
    assert len(msgs) == 1
    return msgs[0]


def test_one_far_too_long_line_is_named_an_outlier_not_offered_as_max_len():
    lines = _lines(300) + [" ".join(["w"] * 5000)]
    msg = _long_warning(lines, 12)
    assert "1 of the 301 lines of f.txt" in msg
    assert "outliers of up to 5,000 tokens" in msg
    assert "max_len=5000" not in msg and "keeps them all" not in msg


def test_outliers_beside_lines_within_reach_offer_the_reachable_max_len():
    lines = _lines(300) + [" ".join(["w"] * 5000), " ".join(["v"] * 20)]
    msg = _long_warning(lines, 12)
    assert "2 of the 302 lines" in msg and "1 of them are outliers of up to 5,000 tokens" in msg
    assert "--set data.max_len=20 keeps the other 1" in msg


def test_a_line_just_beyond_max_len_keeps_the_old_advice():
    msg = _long_warning(_lines(300) + [" ".join(["w"] * 30)], 12)
    assert "--set data.max_len=30 keeps them all" in msg and "outlier" not in msg
