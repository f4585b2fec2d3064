"""A text file changed since training to fewer sequences than train.batch_size: sample, eval and
--resume say that the data changed (fewer distinct lines, other held-out lines, another
vocabulary), not "train.batch_size: 16 is larger than the data", whose --set sample and eval
refuse; and the batch advice for text counts sequences and distinct lines, each by its name."""
import itertools
import warnings

import pytest

from gankit import config as C
from gankit.cli import main
from gankit.config import ConfigError
from gankit.runfolder import RunFolder

# every line holds each of a, b, c, d once: the vocabulary's order is the same whatever the copies
PERMS = ["".join(p) for p in itertools.permutations("abcd")]


def _args(data, batch):
    return ["--set", "data.name='textfile'", "--set", f"data.path='{data}'", "--set", "data.level='char'",
            "--set", "data.max_len=5", "--set", "data.test_fraction=0.25", "--set", "noise.dim=6",
            "--set", "generator.hidden=8", "--set", "generator.embed_dim=8", "--set", "discriminator.hidden=8",
            "--set", "discriminator.embed_dim=8", "--set", "objective.pretrain_steps=1",
            "--set", "objective.d_pretrain_steps=1", "--set", "train.steps=2",
            "--set", f"train.batch_size={batch}", "--set", "train.log_every=1", "--set", "train.sample_every=100",
            "--set", "train.checkpoint_every=100", "--set", "train.n_fixed=4", "--set", "train.progress=false",
            "--set", "train.live_report=false", "--set", "eval.n_samples=8", "--set", "eval.metrics=['novelty']"]


def _commands(out, tmp_path):
    return (["sample", str(out), "-n", "2", "--out", str(tmp_path / "s.txt")], ["eval", str(out), "--no-record"],
            ["train", "--resume", "--out", str(out), "--set", "train.steps=4"])


def _train(tmp_path, lines, batch):
    f = tmp_path / "lines.txt"
    f.write_text("\n".join(lines) + "\n")
    out = tmp_path / "run"
    assert main(["train", "words", "--out", str(out)] + _args(f, batch)) == 0
    return f, out


def test_a_file_cut_below_the_batch_says_it_changed_not_the_batch(tmp_path, capsys):
    f, out = _train(tmp_path, PERMS, 16)          # 24 distinct lines, 18 of them train
    f.write_text("\n".join(PERMS[:10]) + "\n")     # `head -n 10`: 8 sequences train
    capsys.readouterr()
    for argv in _commands(out, tmp_path):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert f"data.path = '{f}' holds 10 distinct lines now, 24 when this run was trained" in err, err
        assert "larger than the data" not in err, err


def test_a_vocabulary_changed_since_training_is_said_before_the_batch(tmp_path, capsys):
    """As many distinct lines and the same held-out ones, a training line edited: the vocabulary."""
    f, out = _train(tmp_path, PERMS + PERMS, 20)    # every line twice: 36 sequences train
    cfg = C.load(RunFolder(out).read_config())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from gankit.data import build_dataset
        ds = build_dataset(cfg, check_batch=False)
    train = sorted(set(ds.decode(ds.train)))
    edited = [s.replace("d", "e") if s == train[0] else s for s in PERMS]     # once each: 18 sequences
    f.write_text("\n".join(edited) + "\n")
    capsys.readouterr()
    for argv in _commands(out, tmp_path):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        # the words of the check that says it (a checkpoint's nets, when no batch is checked)
        assert "vocabulary" in err and "the data file changed since training" in err, err
        assert "larger than the data" not in err, err


def test_the_same_lines_with_fewer_copies_keep_the_batch_advice_and_opening_to_draw_skips_it(tmp_path, capsys):
    """Copies are not recorded: a resume hears of the batch (it can change it); a command that
    only samples or evaluates opens the data with check_batch=False."""
    from gankit.data import build_run_dataset
    f, out = _train(tmp_path, PERMS + PERMS, 20)
    f.write_text("\n".join(PERMS) + "\n")          # the same distinct lines, once each
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(out), "--set", "train.steps=4"]) == 2
    assert "train.batch_size: 20 is larger than the data (18 sequences" in capsys.readouterr().err
    cfg = C.load(RunFolder(out).read_config())
    with pytest.raises(ConfigError, match="larger than the data"):
        build_run_dataset(cfg, out)
    assert build_run_dataset(cfg, out, check_batch=False).size == 18


def test_the_batch_advice_for_text_names_sequences_and_distinct_lines(tmp_path):
    """50 copies of one line, 5 of another, 1 of a third held out: 55 sequences train, of 2
    distinct lines; "1 of the 3" counts distinct lines, and says so."""
    from gankit.data import build_dataset
    f = tmp_path / "dups.txt"
    f.write_text("the cat sat\n" * 50 + "a dog ran\n" * 5 + "red house\n")
    sets = ["data.name='textfile'", f"data.path='{f}'", "data.test_fraction=0.1", "data.max_len=12"]
    with pytest.raises(ConfigError) as e:
        build_dataset(C.load("words", sets + ["train.batch_size=100"]))
    assert str(e.value) == ("train.batch_size: 100 is larger than the data (55 sequences, the copies of 2 distinct "
                            "lines; 1 of the 3 distinct lines is held out of training by data.test_fraction = 0.1); "
                            "use --set train.batch_size=55 or less")
    f.write_text("".join(f"line {i}\n" for i in range(10)))
    with pytest.raises(ConfigError) as e:
        build_dataset(C.load("words", sets + ["train.batch_size=16"]))
    assert ("larger than the data (9 sequences, one per distinct line; 1 of the 10 distinct lines is held out "
            "of training by data.test_fraction = 0.1); use --set train.batch_size=9 or less") in str(e.value)


def test_sample_and_eval_draw_no_batch_so_fewer_copies_open(tmp_path, capsys):
    """The same distinct lines with fewer copies (records unchanged): sample and eval open the run
    (Run.open(write=False) builds the data with check_batch=False); a resume still hears of the batch."""
    f, out = _train(tmp_path, PERMS + PERMS, 20)
    f.write_text("\n".join(PERMS) + "\n")
    sample, evaluate, resume = _commands(out, tmp_path)
    assert main(sample) == 0 and main(evaluate) == 0
    assert main(resume) == 2
    assert "train.batch_size: 20 is larger than the data (18 sequences" in capsys.readouterr().err
