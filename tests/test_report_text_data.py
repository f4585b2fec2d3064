"""The report's text samples against the data file: a sample holding <unk> is no copy of a
training line (novelty's rule), and a file whose held-out split changed since training is said,
its held-out lines and copy marks left out, the page still built from the run folder."""
import itertools
import warnings

import pytest

from gankit.cli import main
from gankit.data import DataChanged
from gankit.data.text import lines_dataset
from gankit.data.text_dataset import UNK
from gankit.metrics.text import novelty_scores
from gankit.report import write_report
from gankit.report.text import text_sections

# every line holds each of a, b, c, d once: whichever lines train, the vocabulary is the same
PERMS = ["".join(p) for p in itertools.permutations("abcd")]


def _args(data):
    return ["--set", "data.name='textfile'", "--set", f"data.path='{data}'", "--set", "data.level='char'",
            "--set", "data.max_len=5", "--set", "data.test_fraction=0.25", "--set", "noise.dim=6",
            "--set", "generator.hidden=8", "--set", "generator.embed_dim=8", "--set", "discriminator.hidden=8",
            "--set", "discriminator.embed_dim=8", "--set", "objective.pretrain_steps=1",
            "--set", "objective.d_pretrain_steps=1", "--set", "train.steps=2", "--set", "train.batch_size=4",
            "--set", "train.log_every=1", "--set", "train.sample_every=1", "--set", "train.checkpoint_every=100",
            "--set", "train.n_fixed=4", "--set", "train.progress=false", "--set", "train.live_report=false",
            "--set", "eval.n_samples=8", "--set", "eval.metrics=['novelty']"]


def test_a_sample_holding_unk_is_no_copy_as_novelty_says():
    lines = ["cat purred", "cat yawned", "cat sat", "cat sat", "dog sat", "dog sat", "dog ran", "dog ran",
             "bird sang", "bird flew"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = lines_dataset(lines, "word", 5, 2, 0, 0.1, 0, "f")
    assert f"cat {UNK}" in ds.train_lines              # a rare word of training became <unk>
    x = ds.encode(["cat sat", "cat sat"])
    x[1, 1] = ds.unk_id                                 # G's "cat <unk>": the <unk> token itself
    decoded = ds.decode(x)
    assert decoded == ["cat sat", f"cat {UNK}"]
    assert novelty_scores(decoded[1:], ds.train_lines, set(), [True])["novelty"] == 1.0
    column = text_sections(ds, [{"step": 0, "samples": x.numpy()}])[0].columns[0][1]
    assert column == ["cat sat *", f"cat {UNK}"]


def test_a_char_level_literal_unk_line_is_a_copy(tmp_path):
    """Five characters "<unk>" in the file are a line like any other, not the <unk> token."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = lines_dataset(["<unk>", "<unk>", "ab", "ab", "ba"], "char", 6, 1, 0, 0.0, 0, "f")
    x = ds.encode(["<unk>"])
    assert ds.token_lists(x)[0] == list("<unk>")
    assert text_sections(ds, [{"step": 0, "samples": x.numpy()}])[0].columns[0][1] == ["<unk> *"]


def test_a_changed_split_leaves_out_the_marks_and_the_held_out_lines():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = lines_dataset(PERMS, "char", 5, 1, 0, 0.25, 0, "f")
    x = ds.encode(sorted(ds.train_lines)[:2])
    shown = text_sections(ds, [{"step": 0, "samples": x.numpy()}])[0]
    assert [h for h, _ in shown.columns] == ["step 0", "held-out real"]
    assert all(line.endswith(" *") for line in shown.columns[0][1])
    left = text_sections(ds, [{"step": 0, "samples": x.numpy()}], changed="the file changed")[0]
    assert left.columns == [("step 0", sorted(ds.train_lines)[:2])]
    assert "the file changed: the held-out lines" in left.paragraphs[0]


def _trained(tmp_path):
    f = tmp_path / "lines.txt"
    f.write_text("\n".join(PERMS) + "\n")
    out = tmp_path / "run"
    assert main(["train", "words", "--out", str(out)] + _args(f)) == 0
    return f, out


def _page(out):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataChanged)     # an untouched file: nothing to say
        return write_report(out).read_text()


def test_report_of_a_reordered_file_says_so_and_leaves_out_what_the_file_gives(tmp_path):
    f, out = _trained(tmp_path)
    assert "held-out real" in _page(out)
    f.write_text("\n".join(sorted(PERMS, reverse=True)) + "\n")         # as `sort -r -o` leaves it
    assert main(["sample", str(out), "-n", "2"]) == 2                   # what sample refuses
    with pytest.warns(DataChanged, match=r"held-out split \(6 of 24 distinct lines, as many as when this run was trained\) now holds other lines"):
        page = write_report(out).read_text()
    assert "held-out real" not in page
    assert "leaves out the held-out lines" in page and "are left out" in page
    f.write_text("\n".join(PERMS) + "\n")                              # restored: shown again
    assert "held-out real" in _page(out)


def test_report_of_a_file_with_another_line_count_says_so(tmp_path, capsys):
    f, out = _trained(tmp_path)
    f.write_text("\n".join(PERMS + ["abc"]) + "\n")                    # the same vocabulary, 25 lines
    capsys.readouterr()
    assert main(["report", str(out)]) == 0                              # the CLI prints its warnings
    assert "holds 25 distinct lines now, 24 when this run was trained" in capsys.readouterr().err
    page = (out / "report.html").read_text()
    assert "held-out real" not in page and "leaves out the held-out lines" in page
