"""What invert, complete and drs read, at their edges (audit a138): a path named like the held-out
split, codes of a uniform prior, constant images, more held-out images than there are, and drs
on a run whose data moved."""
import tomllib
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from gankit import api
from gankit import config as C
from gankit.cli import main
from gankit.config import ConfigError
from gankit.train.inversion_inputs import load_images
from gankit.train.run import Run
from test_using_runs import digit_run  # noqa: F401 (a fixture: a tiny digits8x8 run)


def _err(capsys, args) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err, err
    return err.splitlines()[-1]


def test_a_folder_named_heldout_is_not_taken_for_the_split_in_silence(digit_run, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    for folder in ("heldout", "heldout_imgs"):
        (tmp_path / folder).mkdir()
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8), "L").save(tmp_path / folder / f"m{i}.png")
    np.save(tmp_path / "heldout.npy", rng.integers(0, 256, (2, 8, 8), dtype=np.uint8))
    line = _err(capsys, ["invert", str(digit_run), "--images", "heldout", "--steps", "1", "--out", "o1"])
    assert "both the run's held-out split and a file or folder here" in line and "./heldout" in line, line
    # names that only begin with the word are paths: read, not refused as a malformed heldout:N
    for spec, n in (("heldout_imgs", 3), ("heldout.npy", 2), ("./heldout", 3)):
        assert main(["invert", str(digit_run), "--images", spec, "--steps", "1", "--out", f"o-{n}-{len(spec)}"]) == 0
        assert f"inverted {n} images" in capsys.readouterr().out
    assert len(api.invert(digit_run, "heldout.npy", steps=1).z) == 2


def test_heldout_beyond_the_split_says_how_many_it_holds(digit_run):
    ds = Run.open(digit_run).dataset
    held = len(ds.split("heldout"))
    with pytest.warns(UserWarning, match=rf"holds {held} images, fewer than 99999; all {held} are used"):
        assert len(load_images("heldout:99999", ds)) == held
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(load_images(f"heldout:{held}", ds)) == held


def test_constant_images_get_no_hint_about_their_scale(digit_run):
    ds = Run.open(digit_run).dataset
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.equal(load_images(np.ones((2, 8, 8), np.float32), ds), torch.ones(2, 1, 8, 8))   # white
        assert torch.equal(load_images(np.zeros((2, 8, 8), np.uint8), ds), -torch.ones(2, 1, 8, 8))  # black
    with pytest.warns(UserWarning, match=r"float values all in \[0, 1\]"):
        load_images(np.linspace(0, 1, 128, dtype=np.float32).reshape(2, 8, 8), ds)
    with pytest.warns(UserWarning, match=r"values all in \[0, 1\] are read as pixels in \[0, 255\]"):
        load_images((np.arange(128) % 2).astype(np.uint8).reshape(2, 8, 8), ds)


@pytest.fixture(scope="module")
def uniform_run(tmp_path_factory):
    from conftest import TINY_IMG
    path = tmp_path_factory.mktemp("uni") / "r"
    Run.create(C.load("mnist-dcgan", TINY_IMG + ["data.name=digits8x8", 'eval.metrics=["class_hist"]',
                                                  "noise.dist=uniform"]), path).train().close()
    return path


def test_a_uniform_prior_keeps_the_codes_in_its_box(uniform_run):
    """A G trained on z ~ U(-1, 1) never saw codes outside it; a fit that leaves the box credits
    G with outputs there (27% of the codes left it on mnist-ssgan, MSE 0.341 against 0.368 clamped)."""
    inv = api.invert(uniform_run, "heldout:8", steps=40, lr=0.5)
    assert float(inv.z.abs().max()) <= 1.0
    assert float((inv.z.abs() == 1).float().mean()) > 0      # the box binds: the test can fail
    from gankit.train.inversion import eval_mode
    run = Run.open(uniform_run)
    with torch.no_grad(), eval_mode(run.modules):          # G on its running statistics, as inversion runs it
        recon = run.objective.generate(inv.z)
    assert torch.allclose(recon, inv.recon, atol=1e-6)       # the error is G's at the codes returned


def test_drs_takes_the_place_the_data_moved_to(tmp_path, capsys):
    from conftest import TINY
    rng = np.random.default_rng(0)
    pts = tmp_path / "pts.npy"
    np.save(pts, rng.normal(size=(512, 2)).astype(np.float32))
    run = tmp_path / "r"
    Run.create(C.load("ring-vanilla", TINY + ["data.name=points", f"data.path={pts}"]), run).train().close()
    moved = tmp_path / "moved.npy"
    pts.rename(moved)
    line = _err(capsys, ["drs", str(run), "--steps", "2"])
    assert "--set data.path=NEW" in line and "drs" in line, line
    for other in ("train.steps=3", "generator.temperature=0.5"):      # D is fitted to G as it trained
        refused = _err(capsys, ["drs", str(run), "--set", other])
        assert f"--set {other}: this command takes only data." in refused, refused
        assert "generator" not in refused.split("takes only")[1].split("(")[0], refused
    assert main(["drs", str(run), "--steps", "2", "--set", f"data.path={moved}"]) == 0, capsys.readouterr().err
    assert tomllib.loads((run / "config.toml").read_text())["data"]["path"] == str(moved)
    assert main(["sample", str(run), "-n", "5", "--out", str(tmp_path / "s.npy")]) == 0, capsys.readouterr().err


def test_report_takes_where_the_data_are_not_gs_temperature(digit_run, capsys):
    """The report draws no samples: a temperature given to it would change nothing on the page (audit a139)."""
    line = _err(capsys, ["report", str(digit_run), "--set", "generator.temperature=0.5"])
    assert "--set generator.temperature=0.5: this command takes only data." in line, line
    assert main(["help", "report"]) == 0
    assert "generator.temperature" not in capsys.readouterr().out
