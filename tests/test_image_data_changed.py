"""Image data changed since training, and warnings of reading the data said again (audit F82).

Each checkpoint of an image run records a digest of the images as trained (pixels, order, the
held-out split, labels), so eval, sample and --resume refuse images overwritten or renamed at
the run's data.path, as a replaced points file is refused; and the commands that open a run
do not repeat the warnings (with their advice on settings that define the run) said when it
was made."""
import re
import shutil
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from gankit import config as C
from gankit.cli import main
from gankit.runfolder import RunFolder

TINY = ["data.name=image-folder", "train.steps=4", "train.eval_every=0", "eval.metrics=['image_stats']",
        "eval.n_samples=100", "train.batch_size=4", "train.checkpoint_every=2", "train.progress=false",
        "generator.name=mlp", "discriminator.name=mlp", "generator.output=tanh",
        "generator.hidden=[8]", "discriminator.hidden=[8]"]


def _pngs(folder, seed: int, n: int = 25, mode: str = "L"):
    folder.mkdir(parents=True, exist_ok=True)
    r = np.random.default_rng(seed)
    shape = (8, 8) if mode == "L" else (8, 8, 3)
    for i in range(n):
        Image.fromarray(r.integers(0, 256, shape, dtype=np.uint8)).save(folder / f"i{i:02d}.png")


def _train(run, data, *extra):
    sets = [a for kv in TINY + [f"data.path={data}", *extra] for a in ("--set", kv)]
    assert main(["train", "mnist-dcgan", "--out", str(run), *sets]) == 0


@pytest.fixture
def image_run(tmp_path):
    data, kept = tmp_path / "d" / "chg", tmp_path / "kept"
    _pngs(data, 1)
    shutil.copytree(data, kept)
    _train(tmp_path / "run", data)
    return tmp_path / "run", data, kept


def _commands(run, tmp_path):
    return (["sample", str(run), "-n", "4", "--out", str(tmp_path / "s.png")],
            ["eval", str(run), "--no-record", "--metrics", "image_stats"],
            ["train", "--resume", "--out", str(run), "--set", "train.steps=6"])


def test_the_digest_follows_pixels_order_held_out_split_and_labels():
    from gankit.data.digest import images_digest
    g = torch.Generator().manual_seed(0)
    x, h = (torch.randint(0, 256, (n, 1, 4, 4), dtype=torch.uint8, generator=g) for n in (20, 5))
    y = torch.arange(20) % 3
    same = images_digest(x, h, y)
    assert same == images_digest(x.clone(), h.clone(), y.clone()) and same["images"] == 25
    other = [images_digest(x.flip(0), h, y.flip(0)),                     # another order
             images_digest(torch.cat([x[1:], h[:1]]), torch.cat([h[1:], x[:1]]), y),   # other held out
             images_digest(x, h, (y + 1) % 3),                           # other labels
             images_digest(x, h),                                        # labels gone
             images_digest(x ^ (torch.arange(16).reshape(1, 1, 4, 4) == 3).to(torch.uint8), h, y)]   # one pixel
    assert len({d["sha256"] for d in other + [same]}) == len(other) + 1


def test_images_overwritten_or_renamed_since_training_are_refused(image_run, tmp_path, capsys):
    run, data, kept = image_run
    assert torch.load(RunFolder(run).checkpoints()[-1][1], weights_only=True)["data_digest"]["images"] == 25
    _pngs(data, 2)                      # the same names and count, other pixels
    for command in _commands(run, tmp_path):
        assert main(command) == 2, command
        err = capsys.readouterr().err
        assert f"data.path = '{data}': the images changed since training (25 then and now; other pixels, or " \
               "files renamed" in err, err
        assert "restore them as they were (or give a copy of them with --set data.path=...), or train a new run " \
               "on the images as they are" in err, err
        assert "points" not in err and "rows" not in err
    shutil.rmtree(data)                 # the same images under other names: another held-out split
    shutil.copytree(kept, data)
    for i, f in enumerate(sorted(data.iterdir())):
        f.rename(data / f"j{24 - i:02d}.png")
    assert main(_commands(run, tmp_path)[1]) == 2
    assert "the images changed since training" in capsys.readouterr().err
    # the images as trained open it, at a copy too
    assert main(_commands(run, tmp_path)[0] + ["--set", f"data.path={kept}"]) == 0
    shutil.rmtree(data)
    shutil.copytree(kept, data)
    for command in _commands(run, tmp_path):
        assert main(command) == 0, command


def test_a_report_says_the_images_changed_and_older_checkpoints_open_as_before(image_run, tmp_path):
    from gankit.data import DataChanged
    from gankit.report import write_report
    run, data, _ = image_run
    _pngs(data, 2)
    with pytest.warns(DataChanged, match=r"the images changed since training .*any real images the report draws"):
        page = write_report(run).read_text()
    assert "any real images drawn here are the data&#39;s now" in page
    for _, path in RunFolder(run).checkpoints():       # written before the record
        state = torch.load(path, weights_only=True)
        del state["data_digest"]
        torch.save(state, path)
    assert main(_commands(run, tmp_path)[0]) == 0


def test_compare_ranks_nothing_across_two_contents_of_one_folder(tmp_path):
    from gankit.report import compare as CMP
    data = tmp_path / "d"
    _pngs(data, 1)
    _train(tmp_path / "a", data)
    _pngs(data, 2)
    _train(tmp_path / "b", data)
    out = CMP.compare_data([tmp_path / "a", tmp_path / "b"])
    assert "the images (pixels, order or labels) (a: 25 images, digest" in out["note"], out["note"]


def test_warnings_of_reading_the_images_are_said_when_the_run_is_made_only(tmp_path, capsys):
    """Colour read as grey (advice: --set data.channels=3, which sample and --resume refuse) and
    unreadable files were said again by every sample, eval, report and resume."""
    data = tmp_path / "rgb"
    _pngs(data, 1, mode="RGB")
    for i in range(3):
        (data / f"z{i}.png").write_bytes(b"")
    run = tmp_path / "run"
    _train(run, data)
    made = capsys.readouterr().err
    assert "data.channels=3" in made and "z0.png" in made, made
    for command in _commands(run, tmp_path) + (["report", str(run)],):
        assert main(command) == 0, command
        err = capsys.readouterr().err
        assert str(data) not in err and "channels" not in err, (command, err)


def _idx(path, arr):
    path.write_bytes(bytes([0, 0, 8, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes())


def test_idx_files_changed_since_training_are_refused_naming_data_root(tmp_path):
    """IDX files (data.root) can change too: here only a held-out (t10k) image, which the digest
    covers as it does the training images and labels."""
    from gankit.config import ConfigError
    from gankit.data import build_dataset, data_named, refuse_changed_data
    r = np.random.default_rng(0)
    x, y = r.integers(0, 256, (30, 28, 28), dtype=np.uint8), (np.arange(30) % 10).astype(np.uint8)
    for part, images, labels in (("train", x, y), ("t10k", x[:10], y[:10])):
        _idx(tmp_path / f"{part}-images-idx3-ubyte", images)
        _idx(tmp_path / f"{part}-labels-idx1-ubyte", labels)
    cfg = C.load("mnist-dcgan", ["data.name=mnist", f"data.root={tmp_path}"])
    seen = {"data_digest": build_dataset(cfg, check_batch=False).data_digest}
    assert seen["data_digest"]["images"] == 40
    refuse_changed_data(seen, build_dataset(cfg, check_batch=False), data_named(cfg))     # the same: opens
    x[3, 0, 0] ^= 1
    _idx(tmp_path / "t10k-images-idx3-ubyte", x[:10])
    with pytest.raises(ConfigError, match=re.escape(f"data.root = '{tmp_path}': the images changed since training "
                                                    "(40 then and now; ") + r".*--set data\.root=\.\.\."):
        refuse_changed_data(seen, build_dataset(cfg, check_batch=False), data_named(cfg))


def test_a_file_damaged_since_training_is_named_where_the_changed_data_are_refused(image_run, tmp_path, capsys):
    """A PNG cut short after training: eval and --resume said only "holds 24 images now, 25 when this
    run was trained", never which file was left out (every data-loading warning was silenced when
    a run was opened); the skip is said with the refusal, and with the report's warning."""
    from gankit.data import DataChanged
    from gankit.report import write_report
    run, data, _ = image_run
    capsys.readouterr()
    damaged = data / "i05.png"
    damaged.write_bytes(damaged.read_bytes()[:30])
    for command in _commands(run, tmp_path)[1:]:          # eval, --resume
        assert main(command) == 2, command
        err = capsys.readouterr().err
        assert f"{damaged} is not a readable image" in err and err.count("; skipped") == 1, (command, err)
        assert "holds 24 images now, 25 when this run was trained" in err, (command, err)
    with pytest.warns(UserWarning) as said:
        write_report(run)
    lines = [(w.category, str(w.message)) for w in said]
    assert any(c is DataChanged and "25 then, 24 now" in m for c, m in lines), lines
    assert any(f"{damaged} is not a readable image" in m for _, m in lines), lines
