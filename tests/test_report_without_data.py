"""`gankit report` of a run whose data are gone (moved or deleted): the page is built from the run
folder alone, with a note and one warning naming what is left out (a points run's real points, a
text run's held-out lines and copy marks) and the --set that brings them back; data that are there
but changed, or a place the reader gives that holds nothing, are said as before."""
import itertools
import re
import shutil
import warnings

import numpy as np
import pytest

from gankit.cli import main
from gankit.data import DataChanged
from gankit.report import write_report
from gankit.report.data_gone import DataGone


def _sets(items):
    return [a for kv in items for a in ("--set", kv)]


def _page(out, gone=None):
    """The report of ``out``: one DataGone warning matching ``gone``, or none (None)."""
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        page = write_report(out).read_text()
    notes = [str(w.message) for w in said if issubclass(w.category, DataGone)]
    if gone is None:
        assert notes == []
    else:
        assert len(notes) == 1 and re.search(gone, notes[0]), notes
    return page


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_a_points_run_whose_file_is_gone_is_drawn_without_the_real_points(tmp_path, tiny, capsys, dim):
    data = tmp_path / "data"
    data.mkdir()
    np.save(data / "p.npy", np.random.default_rng(0).normal(size=(300, dim)).astype(np.float32))
    out = tmp_path / "run"
    assert main(["train", "ring-vanilla", "--out", str(out), *_sets(tiny + [
        "data.name='points'", f"data.path='{data / 'p.npy'}'", "train.steps=10", "train.sample_every=5",
        "eval.metrics=['mmd']", "eval.n_samples=100"])]) == 0
    data.rename(tmp_path / "elsewhere")
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    err = capsys.readouterr().err
    assert (f"data.path = '{data / 'p.npy'}' is missing (moved or deleted?): this report is built from the run "
            "folder alone and leaves out the real points drawn with G's samples; --set data.path=NEW gives their "
            "new place") in " ".join(err.split())
    page = (out / "report.html").read_text()
    assert "is missing (moved or deleted?)" in page and "No real data (missing: see above)." in page
    assert 'id="samples"' in page and "<img" in page[page.index('id="samples"'):]
    # the new place given: drawn with the real points, no note
    assert main(["report", str(out), "--set", f"data.path='{tmp_path / 'elsewhere' / 'p.npy'}'"]) == 0
    assert "is missing" not in (out / "report.html").read_text()


def test_a_place_the_reader_gives_that_holds_nothing_is_refused_as_before(tmp_path, tiny, capsys):
    data = tmp_path / "p.npy"
    np.save(data, np.random.default_rng(0).normal(size=(300, 2)).astype(np.float32))
    out = tmp_path / "run"
    assert main(["train", "ring-vanilla", "--out", str(out), *_sets(tiny + [
        "data.name='points'", f"data.path='{data}'", "train.steps=10", "eval.metrics=['mmd']",
        "eval.n_samples=100"])]) == 0
    data.unlink()
    capsys.readouterr()
    assert main(["report", str(out), "--set", f"data.path='{tmp_path / 'typo.npy'}'"]) == 2
    assert "nothing at data.path" in capsys.readouterr().err
    # data that are there but changed: said as before (DataChanged), not drawn around as gone
    np.save(data, np.random.default_rng(1).normal(size=(300, 2)).astype(np.float32))
    with pytest.warns(DataChanged), warnings.catch_warnings():
        warnings.simplefilter("error", DataGone)
        page = write_report(out).read_text()
    assert "is missing" not in page


TEXT = ["data.name='textfile'", "data.level='char'", "data.max_len=5", "data.test_fraction=0.25", "noise.dim=6",
        "generator.hidden=8", "generator.embed_dim=8", "discriminator.hidden=8", "discriminator.embed_dim=8",
        "objective.pretrain_steps=1", "objective.d_pretrain_steps=1", "train.steps=2", "train.batch_size=4",
        "train.log_every=1", "train.sample_every=1", "train.checkpoint_every=100", "train.n_fixed=4",
        "train.progress=false", "train.live_report=false", "eval.n_samples=8", "eval.metrics=['novelty']"]


def _samples(page):
    """The decoded samples of the page's first column, without the marks of copies."""
    part = page[page.index('id="samples"'):]
    return [s.removesuffix(" *") for s in re.findall(r"<li><code>(.*?)</code></li>", part)[:4]]


def test_a_text_run_whose_file_is_gone_decodes_its_samples_with_the_checkpoints_vocabulary(tmp_path):
    f = tmp_path / "lines.txt"
    f.write_text("\n".join("".join(p) for p in itertools.permutations("abcd")) + "\n")
    out = tmp_path / "run"
    assert main(["train", "words", "--out", str(out), *_sets(TEXT + [f"data.path='{f}'"])]) == 0
    whole = _page(out)
    assert "held-out real" in whole
    f.unlink()
    page = _page(out, r"leaves out the held-out lines and the marks of samples that copy a training line; "
                      r"--set data.path=NEW gives their new place")
    assert _samples(page) == _samples(whole) and len(_samples(page)) == 4
    assert "held-out real" not in page and "is missing: the held-out lines" in page
    for p in (out / "checkpoints").glob("*.pt"):      # no vocabulary left to decode with
        p.unlink()
    page = _page(out, r"leaves out the samples \(no checkpoint holds the vocabulary that decodes them\)")
    assert _samples(page) == [] and "leaves out the samples" in page[page.index('id="samples"'):]


def test_an_image_run_whose_folder_is_gone_draws_everything_from_the_run_folder(tmp_path):
    from conftest import TINY_FOLDER, class_folders
    sets = TINY_FOLDER + [f"data.path='{class_folders(tmp_path / 'imgs', ('cat', 'dog'))}'"]
    out = tmp_path / "run"
    assert main(["train", "fashion-cgan", "--out", str(out), *_sets(sets)]) == 0
    whole = _page(out)
    shutil.rmtree(tmp_path / "imgs")
    page = _page(out, r"which holds all it shows \(gankit eval, sample and train --resume need the data: "
                      r"--set data.path=NEW gives their new place\)")

    def headings(p):
        return re.findall(r"<h2[^>]*>(.*?)</h2>", p)
    assert headings(page) == headings(whole) and "One row per condition" in headings(page)
