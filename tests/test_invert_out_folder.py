"""Where ``gankit invert`` / ``gankit complete`` write (audit a126): not into the folder of the
images they read (its files replaced, and the grid PNG read as an input image next time), and
not into a folder holding files they do not write."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gankit.cli import main
from test_using_runs import digit_run  # noqa: F401 (a fixture: a tiny digits8x8 run)


def _images(folder: Path, n: int = 2) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8), "L").save(folder / f"m{i}.png")
    return folder


def _err(capsys, args) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and err.splitlines()[-1].startswith("gankit: error: "), err
    return err.splitlines()[-1]


@pytest.mark.parametrize("cmd", [["invert"], ["complete", "--mask", "top"]])
def test_out_in_the_images_folder_is_refused_before_anything_is_written(digit_run, tmp_path, capsys, cmd):
    imgs = _images(tmp_path / "imgs")
    before = sorted(p.name for p in imgs.iterdir())
    for out in (imgs, imgs / "results"):
        line = _err(capsys, [cmd[0], str(digit_run), "--images", str(imgs), "--out", str(out), "--steps", "1", *cmd[1:]])
        assert "--images folder" in line and "outside it" in line, line
    assert sorted(p.name for p in imgs.iterdir()) == before


def test_out_holding_other_files_is_refused_naming_them(digit_run, tmp_path, capsys):
    imgs = _images(tmp_path / "imgs")
    theirs = tmp_path / "mine"
    theirs.mkdir()
    (theirs / "z.npy").write_bytes(b"mine")
    (theirs / "notes.txt").write_text("mine")
    line = _err(capsys, ["invert", str(digit_run), "--images", str(imgs / "m0.png"), "--out", str(theirs), "--steps", "1"])
    assert "notes.txt" in line and "do not write" in line, line
    assert (theirs / "z.npy").read_bytes() == b"mine"
    # the folder of an image file given alone: its images are other files too
    line = _err(capsys, ["invert", str(digit_run), "--images", str(imgs / "m0.png"), "--out", str(imgs), "--steps", "1"])
    assert "m0.png" in line and "m1.png" in line, line


def test_an_earlier_output_folder_is_written_again(digit_run, tmp_path, capsys):
    imgs = _images(tmp_path / "imgs")
    out = tmp_path / "res"
    for cmd in (["invert"], ["invert"], ["complete", "--mask", "left"]):
        assert main([cmd[0], str(digit_run), "--images", str(imgs), "--out", str(out), "--steps", "1", *cmd[1:]]) == 0
    # the last set alone: invert's reconstructions of an earlier set do not lie beside complete's z and errors
    assert {p.name for p in out.iterdir()} == {"completions.npy", "completions.png", "z.npy", "errors.csv",
                                               "summary.json"}
    assert main(["invert", str(digit_run), "--images", str(imgs), "--out", str(out), "--steps", "1"]) == 0
    assert {p.name for p in out.iterdir()} == {"reconstructions.npy", "reconstructions.png", "z.npy", "errors.csv",
                                               "summary.json"}
    assert main(["invert", str(digit_run), "--images", str(imgs), "--steps", "1"]) == 0   # RUN/inversion
    assert (digit_run / "inversion" / "z.npy").is_file()
