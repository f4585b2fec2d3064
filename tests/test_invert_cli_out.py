"""gankit invert / complete on the command line (audit F84): an --out that cannot be made or
written is refused before any image is fitted, naming --out; a failed command leaves no empty
folder it made; --set names only what these commands take; a glob pattern, quoted or expanded
by the shell, is read as its image files."""
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gankit.cli import main
from test_using_runs import digit_run  # noqa: F401 (a fixture: a tiny digits8x8 run)

COMMANDS = [["invert"], ["complete", "--mask", "top"]]


def _err(capsys, args) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and err.splitlines()[-1].startswith("gankit: error: "), err
    return err.splitlines()[-1]


def _no_fitting(monkeypatch):
    """Inversion that fails the test if it starts: a refusal must come before it."""
    import gankit.train.inversion as inversion

    def fitted(*a, **k):
        raise AssertionError("the images were fitted before --out was checked")
    monkeypatch.setattr(inversion, "invert_run", fitted)
    monkeypatch.setattr(inversion, "complete", fitted)


def _pngs(folder: Path, names=("b", "a", "c")) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in names:
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8), "L").save(folder / f"{name}.png")
    return folder


@pytest.mark.parametrize("cmd", COMMANDS)
def test_an_out_that_cannot_be_made_is_refused_before_any_fitting_naming_out(digit_run, capsys, monkeypatch, cmd):
    _no_fitting(monkeypatch)
    out = "/proc/gankit-no-such/out"        # nobody, root included, makes a folder in /proc
    line = _err(capsys, [cmd[0], str(digit_run), "--images", "heldout:2", "--out", out, "--steps", "1", *cmd[1:]])
    assert f"{cmd[0]}: cannot create --out {out}: " in line and line.endswith("give a writable folder"), line


@pytest.mark.parametrize("cmd", COMMANDS)
def test_a_folder_that_cannot_be_written_is_refused_before_any_fitting(digit_run, tmp_path, capsys, monkeypatch, cmd):
    """A read-only folder (os.access says so: root may write anywhere), the default RUN/inversion's
    run folder or an --out: refused up front, and the default folder made for the check removed."""
    import gankit.io
    _no_fitting(monkeypatch)
    default = digit_run / ("inversion" if cmd[0] == "invert" else "completion")
    theirs = tmp_path / "ro"
    theirs.mkdir()
    monkeypatch.setattr(gankit.io.os, "access", lambda p, mode, *a, **k: Path(p) not in (default, theirs))
    line = _err(capsys, [cmd[0], str(digit_run), "--images", "heldout:2", "--steps", "1", *cmd[1:]])
    assert f"cannot write in {default}, the default output folder: the folder is not writable" in line, line
    assert line.endswith("give --out a writable folder") and not default.exists(), line
    line = _err(capsys, [cmd[0], str(digit_run), "--images", "heldout:2", "--out", str(theirs), "--steps", "1", *cmd[1:]])
    assert f"cannot write in --out {theirs}: the folder is not writable" in line, line
    assert theirs.is_dir()                  # the user's own folder is kept


def test_a_command_that_fails_after_making_out_leaves_no_empty_folder(digit_run, tmp_path, capsys):
    out = tmp_path / "new" / "deep" / "o"
    line = _err(capsys, ["invert", str(digit_run), "--images", str(tmp_path / "none.npy"), "--out", str(out)])
    assert "no such file" in line, line
    assert not (tmp_path / "new").exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    _err(capsys, ["invert", str(digit_run), "--images", str(tmp_path / "none.npy"), "--out", str(kept)])
    assert kept.is_dir()                    # there before: not the command's to remove


def test_set_lists_only_the_datas_location(digit_run, tmp_path, capsys):
    """An image run's G has no temperature: invert does not offer it, and says what it takes."""
    for item in ("generator.temperature=0.8", "data.foo=1"):
        line = _err(capsys, ["invert", str(digit_run), "--images", "heldout:2", "--steps", "1",
                             "--out", str(tmp_path / "o"), "--set", item])
        assert f"--set {item}: this command takes only data.path or data.root (" in line, line


def test_a_glob_quoted_or_expanded_by_the_shell_is_read_as_its_files(digit_run, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _pngs(tmp_path / "imgs")
    (tmp_path / "imgs" / "notes.txt").write_text("not an image")
    want = "index,file,mse\n0,imgs/a.png,"
    for n, images in enumerate((["imgs/*.png"], sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "imgs").iterdir()))):
        assert main(["invert", str(digit_run), "--images", *images, "--steps", "1", "--out", f"o{n}"]) == 0
        assert "inverted 3 images" in capsys.readouterr().out
        rows = Path(f"o{n}/errors.csv").read_text()
        assert rows.startswith(want) and [r.split(",")[1] for r in rows.splitlines()[1:]] == [
            "imgs/a.png", "imgs/b.png", "imgs/c.png"], rows
    assert np.array_equal(np.load("o0/z.npy"), np.load("o1/z.npy"))
    line = _err(capsys, ["invert", str(digit_run), "--images", "imgs/*.jpg", "--steps", "1", "--out", "o2"])
    assert line.endswith("--images imgs/*.jpg: the pattern matches no files; give a pattern that matches image "
                         "files, a folder of images, a .npy file or heldout[:N]"), line
    line = _err(capsys, ["invert", str(digit_run), "--images", "imgs/a.png", "imgs/z.png", "--steps", "1", "--out", "o2"])
    assert "--images imgs/a.png ... (2 paths): no such file: imgs/z.png;" in line, line
    assert not os.path.exists("o2")


def test_the_run_folder_may_come_after_the_images(digit_run, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _pngs(tmp_path / "imgs")
    for n, args in enumerate((["--images", "imgs/*.png", str(digit_run)],
                              ["--images", "imgs/a.png", "imgs/b.png", "imgs/c.png", str(digit_run)])):
        assert main(["invert", *args, "--steps", "1", "--out", f"o{n}"]) == 0
        assert "inverted 3 images" in capsys.readouterr().out
    assert np.array_equal(np.load("o0/z.npy"), np.load("o1/z.npy"))
    line = _err(capsys, ["complete", "--images", "imgs/a.png", "--mask", "top", "--out", "o2"])
    assert "complete: give the run folder: gankit complete RUN --images IMAGES" in line, line
