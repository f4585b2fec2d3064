"""A text run's held-out split is the same lines on every reopening: a file whose lines were
reordered (``sort -o``) or edited keeps its distinct-line count and often its vocabulary, yet
its split holds other lines, so eval, sample and --resume refuse it; and a byte-order mark
inside the file is no character."""
import itertools
import warnings

import torch

from gankit.cli import main
from gankit.data.text import lines_dataset
from gankit.data.text_encoding import read_lines

# every line holds each of a, b, c, d once: whichever lines train, the vocabulary is the same
PERMS = ["".join(p) for p in itertools.permutations("abcd")]


def _args(data, steps=3):
    return ["--set", "data.name='textfile'", "--set", f"data.path='{data}'", "--set", "data.level='char'",
            "--set", "data.max_len=5", "--set", "data.test_fraction=0.25", "--set", "noise.dim=6",
            "--set", "generator.hidden=8", "--set", "generator.embed_dim=8", "--set", "discriminator.hidden=8",
            "--set", "discriminator.embed_dim=8", "--set", "objective.pretrain_steps=1",
            "--set", "objective.d_pretrain_steps=1", "--set", f"train.steps={steps}",
            "--set", "train.batch_size=4", "--set", "train.log_every=1", "--set", "train.sample_every=100",
            "--set", "train.checkpoint_every=100", "--set", "train.n_fixed=4", "--set", "train.progress=false",
            "--set", "train.live_report=false", "--set", "eval.n_samples=8", "--set", "eval.metrics=['novelty']"]


def _ds(lines):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lines_dataset(lines, "char", 5, 1, 0, 0.25, 0, "f")


def test_reordered_lines_keep_count_and_vocabulary_but_not_the_split():
    a, b = _ds(PERMS), _ds(PERMS[::-1])
    assert a.cut == b.cut and a.vocab == b.vocab                 # what the older guards compared
    assert set(a.decode(a.test)) != set(b.decode(b.test))        # the hazard: other lines held out
    assert a.split_digest != b.split_digest
    # the same lines in the same order, or a copy of a line added, hold out the same lines
    assert _ds(list(PERMS)).split_digest == a.split_digest
    assert _ds(PERMS + [PERMS[3]]).split_digest == a.split_digest


def test_the_split_of_existing_runs_is_unchanged():
    """Recording the split must not move it: the held-out lines of a fixed file as before."""
    lines = ["the cat sat", "a dog ran", "the dog sat", "a cat ran", "the cat ran far", "a dog sat on",
             "on the mat", "the mat sat", "far away", "a cat", "the dog ran away", "dog sat"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = lines_dataset(lines, "word", 5, 1, 0, 0.25, 0, "f")
    assert ds.decode(ds.test) == ["far away", "the cat sat", "a dog sat on"]
    assert _ds(PERMS).decode(_ds(PERMS).test) == ["dbac", "adcb", "acdb", "cabd", "badc", "acbd"]


def test_sample_eval_and_resume_refuse_a_reordered_file(tmp_path, capsys):
    f = tmp_path / "lines.txt"
    f.write_text("\n".join(PERMS) + "\n")
    out = tmp_path / "run"
    assert main(["train", "words", "--out", str(out)] + _args(f)) == 0
    assert main(["sample", str(out), "-n", "2"]) == 0                  # untouched: opens
    f.write_text("\n".join(sorted(PERMS, reverse=True)) + "\n")         # as `sort -r -o` leaves it
    capsys.readouterr()
    for argv in (["sample", str(out), "-n", "2"], ["eval", str(out), "--no-record"],
                 ["train", "--resume", "--out", str(out), "--set", "train.steps=5"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert "held-out split (6 of 24 distinct lines" in err and "reordered or edited" in err, err
        assert "order decides the split" in err
    f.write_text("\n".join(PERMS) + "\n")                              # restored: opens again
    assert main(["sample", str(out), "-n", "2"]) == 0


def test_a_checkpoint_without_the_record_opens_as_before(tmp_path):
    from gankit.runfolder import RunFolder
    f = tmp_path / "lines.txt"
    f.write_text("\n".join(PERMS) + "\n")
    out = tmp_path / "run"
    assert main(["train", "words", "--out", str(out)] + _args(f)) == 0
    _, path = RunFolder(out).load_checkpoint()
    state = torch.load(path, weights_only=True)
    assert len(state.pop("data_split")) == 16
    torch.save(state, path)
    f.write_text("\n".join(PERMS[::-1]) + "\n")
    assert main(["sample", str(out), "-n", "2"]) == 0       # an older run: nothing to compare with


def test_a_byte_order_mark_inside_the_file_is_dropped(tmp_path):
    """Two files that began with a mark, joined by `cat`: the second mark is no character."""
    f = tmp_path / "joined.txt"
    f.write_bytes("\ufeffthe cat sat\n".encode() + "\ufeffa dog ran\nthe\ufeff dog\n".encode())
    assert read_lines(str(f), False, "", "") == ["the cat sat", "a dog ran", "the dog"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = lines_dataset(read_lines(str(f), False, "", "") * 2, "word", 5, 1, 0, 0.5, 0, "f")
    assert not any("\ufeff" in t for t in ds.vocab)


def test_compare_ranks_no_runs_whose_held_out_lines_differ(tmp_path, capsys):
    """Two runs on one text file, its lines reordered between them: the same data.* keys, other
    held-out lines, so their NLL_test and novelty are not comparable."""
    from gankit.report import compare as CMP
    f = tmp_path / "lines.txt"
    f.write_text("\n".join(PERMS) + "\n")
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["train", "words", "--out", str(a)] + _args(f)) == 0
    f.write_text("\n".join(sorted(PERMS, reverse=True)) + "\n")
    assert main(["train", "words", "--out", str(b)] + _args(f)) == 0
    note = CMP.compare_data([a, b])["note"]
    assert note.startswith("no value is marked better") and "the held-out lines" in note, note
