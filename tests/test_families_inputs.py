"""The model families and ``gankit invert`` / ``gankit complete`` on inputs a user brings: their
own image folders (odd sizes, RGB), batch sizes the nets cannot take, and image and mask files
of the wrong shape, kind or content.  Every refusal is one ``gankit: error:`` line naming the
problem and the fix, never a traceback."""
import json

import numpy as np
import pytest
import torch

from gankit import config as C
from gankit.cli import main
from gankit.config import ConfigError
from gankit.runfolder import RunFolder
from gankit.train.run import Run

FAST = ["train.steps=2", "train.batch_size=4", "train.log_every=1", "train.sample_every=2",
        "train.checkpoint_every=2", "train.n_fixed=4", "train.progress=false", "train.live_report=false",
        "eval.n_samples=16", "eval.metrics=[\"image_stats\"]", "noise.dim=4"]
DC = ["generator.width=4", "discriminator.width=4"]     # the DCGAN presets' nets, small


def _folder(root, n, side, mode="RGB", seed=0):
    from PIL import Image
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    shape = (side, side, 3) if mode == "RGB" else (side, side)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(root / f"im{i:02d}.png")
    return root


def _folder_sets(path, channels):
    return ["data.name=image-folder", f'data.path="{path}"', f"data.channels={channels}"]


def _sets(items):
    return [a for kv in items for a in ("--set", kv)]


def _error_line(capsys):
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.startswith("gankit: error:")]
    assert len(lines) == 1, err
    return lines[0]


# ---------------------------------------------------------------- the nets on a user's folder

def test_dcgan_resolution_error_names_the_image_folders_own_resize_option(tmp_path):
    folder = _folder(tmp_path / "imgs", 6, 36, "L")
    with pytest.raises(ConfigError) as e:
        Run(C.load("mnist-ae", FAST + DC + _folder_sets(folder, 1)), tmp_path / "r")
    msg = str(e.value)
    # image folders are resized by data.size (they have no data.resolution); 32 and 40 fit DCGAN
    assert "data.size=32" in msg and "data.resolution" not in msg and "32 and 40" in msg, msg
    # the fix it names works
    Run(C.load("mnist-ae", FAST + DC + _folder_sets(folder, 1) + ["data.size=32", "data.resize=stretch"]),
        tmp_path / "r2")
    with pytest.raises(ConfigError, match=r"data\.resolution=28"):     # the IDX-style sets keep theirs
        Run(C.load("mnist-ae", FAST + DC + ["data.name=digits8x8", "data.resolution=30"]), tmp_path / "r3")


@pytest.mark.parametrize("preset, sets, fix", [
    ("mnist-vae", DC, "generator.batchnorm=false"),
    ("mnist-ae", DC, "generator.batchnorm=false"),
    ("mnist-bigan", DC + ["objective.z_hidden=[4]"], "generator.batchnorm=false"),
    ("mnist-infogan", DC + ["noise.dim=16", "generator.fc=0", "discriminator.fc=8"], "discriminator.norm=layer"),
    ("mnist-infogan", DC + ["noise.dim=16", "generator.fc=0", "discriminator.fc=0", "generator.batchnorm=false",
                            "objective.q_batchnorm=true"], "objective.q_batchnorm=false"),
    ("mnist-ssgan", ["generator.hidden=[4]", "discriminator.hidden=[4]", "objective.labels_per_class=1"],
     "generator.norm=none"),
    ("mnist-ebm", ["discriminator.name=mlp", "discriminator.hidden=[4]", "discriminator.norm=batch",
                   "noise.dim=64"], "discriminator.norm=none"),
    ("mnist-dcgan", DC, "generator.batchnorm=false"),     # the plain GAN objective too
])
def test_batch_of_one_with_batch_norm_is_refused_before_training(tmp_path, preset, sets, fix):
    over = FAST + ["data.name=digits8x8", "train.batch_size=1"] + sets
    with pytest.raises(ConfigError, match="batch_size=1") as e:
        Run(C.load(preset, over), tmp_path / "r")
    assert fix in str(e.value) and "train.batch_size=2" in str(e.value)


def test_batch_of_one_trains_once_batch_norm_is_off(tmp_path):
    over = FAST + DC + ["data.name=digits8x8", "train.batch_size=1", "generator.batchnorm=false"]
    run = Run.create(C.load("mnist-vae", over), tmp_path / "r").train()
    assert torch.isfinite(run.generate(3)).all()


def test_families_train_on_an_rgb_folder_of_three_unequal_classes(tmp_path, capsys):
    root = tmp_path / "classes"
    for k, n in (("cat", 12), ("dog", 7), ("fox", 3)):
        _folder(root / k, n, 8, seed=n)
    for preset, extra in (("mnist-ssgan", ["objective.labels_per_class=5", "generator.hidden=[8]",
                                           "discriminator.hidden=[8]"]),
                          ("mnist-infogan", DC + ["noise.dim=12", "generator.fc=0", "discriminator.fc=0",
                                             "objective.categories=3", "objective.continuous=0"])):
        run = tmp_path / preset
        assert main(["train", preset, "--out", str(run), *_sets(FAST + _folder_sets(root, 3) + extra)]) == 0
        capsys.readouterr()
        assert main(["eval", str(run), "--json", "--metrics", "classify"]) == 0
        assert ("cluster_accuracy" if preset == "mnist-infogan" else "test_accuracy") in capsys.readouterr().out
        assert main(["sample", str(run), "-n", "3", "--out", str(tmp_path / "x.npy")]) == 0
        assert np.load(tmp_path / "x.npy").shape == (3, 3, 8, 8)


def test_ssgan_refuses_a_folder_of_one_class(tmp_path):
    _folder(tmp_path / "imgs" / "cats", 6, 8)        # one sub-folder: labels, but a single class
    over = FAST + _folder_sets(tmp_path / "imgs", 3) + ["generator.hidden=[4]", "discriminator.hidden=[4]"]
    with pytest.raises(ConfigError, match="at least 2") as e:
        Run(C.load("mnist-ssgan", over), tmp_path / "r")
    assert "'cats'" in str(e.value) and "sub-folder per class" in str(e.value)


def test_ssgan_on_a_points_file_with_a_label_column_says_why_it_has_no_labels(tmp_path):
    """The refusal said only "the data have no labels", though the file has a 'label' column (a160);
    the conditional GAN's says why: every column of a points file is a coordinate."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 2))
    np.savetxt(tmp_path / "lab.csv", np.c_[x, x[:, 0] > 0], delimiter=",", header="x,y,label", comments="")
    over = FAST + ["data.name=points", f"data.path={tmp_path / 'lab.csv'}", "generator.hidden=[4]",
                   "discriminator.hidden=[4]", 'eval.metrics=["jsd"]']
    with pytest.warns(UserWarning, match="read as a coordinate"), pytest.raises(ConfigError) as e:
        Run(C.load("mnist-ssgan", over), tmp_path / "r")
    msg = str(e.value)
    assert msg.startswith("objective ssgan: the points file 'lab.csv' has no labels (every column of a points "
                          "file is a coordinate, a 'label' column too); ssgan takes labelled images"), msg
    assert not (tmp_path / "r").exists()


# ---------------------------------------------------------------- invert / complete inputs

@pytest.fixture(scope="module")
def rgb_run(tmp_path_factory):
    """A 2-step VAE on a folder of 24 RGB 8x8 images (so 2 are held out)."""
    tmp = tmp_path_factory.mktemp("rgb")
    folder = _folder(tmp / "imgs", 24, 8)
    run = tmp / "run"
    torch.set_num_threads(1)
    assert main(["train", "mnist-vae", "--out", str(run), *_sets(FAST + DC + _folder_sets(folder, 3))]) == 0
    return run


def _invert(run, tmp_path, *args, cmd="invert"):
    return main([cmd, str(run), *map(str, args), "--steps", "2", "--out", str(tmp_path / "out")])


def test_invert_reads_the_layouts_people_save_and_single_image_files(rgb_run, tmp_path, capsys):
    from PIL import Image
    rng = np.random.default_rng(1)
    one = rng.integers(0, 256, (3, 8, 8), dtype=np.uint8)
    np.save(tmp_path / "one.npy", one)                              # one image (C, H, W)
    np.save(tmp_path / "hwc.npy", np.stack([one.transpose(1, 2, 0)] * 2))   # channels last
    Image.fromarray(rng.integers(0, 256, (20, 12, 3), dtype=np.uint8)).save(tmp_path / "photo.png")
    for name, n in (("one.npy", 1), ("hwc.npy", 2), ("photo.png", 1)):
        capsys.readouterr()
        assert _invert(rgb_run, tmp_path, "--images", tmp_path / name) == 0, name
        assert f"inverted {n} image{'s' * (n != 1)}:" in capsys.readouterr().out
        assert np.load(tmp_path / "out" / "reconstructions.npy").shape == (n, 3, 8, 8)
    both = torch.as_tensor(np.load(tmp_path / "hwc.npy")).permute(0, 3, 1, 2).float() / 127.5 - 1
    from gankit.train.inversion_inputs import load_images
    assert torch.equal(load_images(str(tmp_path / "hwc.npy"), Run.open(rgb_run).dataset), both)


def test_integer_pixel_arrays_of_any_width_read_as_uint8_and_unit_floats_are_questioned(rgb_run, tmp_path):
    from gankit.train.inversion_inputs import load_images
    ds = Run.open(rgb_run).dataset
    px = np.random.default_rng(2).integers(0, 256, (2, 3, 8, 8))
    want = torch.as_tensor(px).float() / 127.5 - 1
    for dt in (np.uint8, np.int16, np.uint16, np.int64):
        np.save(tmp_path / "px.npy", px.astype(dt))
        assert torch.equal(load_images(str(tmp_path / "px.npy"), ds), want), dt
    np.save(tmp_path / "unit.npy", (px / 255).astype(np.float32))
    with pytest.warns(UserWarning, match=r"all in \[0, 1\] are read as pixels in \[-1, 1\].*x \* 2 - 1"):
        load_images(str(tmp_path / "unit.npy"), ds)


def _bad_images(tmp_path, kind):
    p = tmp_path / kind
    if kind == "objects.npy":
        np.save(p, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    elif kind == "damaged.npy":
        p.write_bytes(b"\x93NUMPY not really")
    elif kind == "damaged.png":
        p.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    elif kind == "nan.npy":
        np.save(p, np.full((2, 3, 8, 8), np.nan, np.float32))
    elif kind == "size.npy":
        np.save(p, np.zeros((2, 3, 6, 6), np.uint8))
    elif kind == "grey.npy":
        np.save(p, np.zeros((2, 1, 8, 8), np.uint8))
    elif kind == "floats255.npy":
        np.save(p, np.full((2, 3, 8, 8), 200.0, np.float32))
    elif kind == "int300.npy":
        np.save(p, np.full((2, 3, 8, 8), 300, np.int64))
    return p


@pytest.mark.parametrize("images, words", [
    ("objects.npy", ["not a readable .npy"]),
    ("damaged.npy", ["not a readable .npy"]),
    ("damaged.png", ["not a readable image"]),
    ("missing.npy", ["no such file"]),
    ("missing-folder", ["no such file or folder"]),
    ("nan.npy", ["nan"]),
    ("size.npy", ["(3, 8, 8)", "a folder or an image file"]),
    ("grey.npy", ["(3, 8, 8)", "c=3"]),
    ("floats255.npy", ["uint8", "[-1, 1]"]),
    ("int300.npy", ["int64 values in [300, 300]", "[0, 255]"]),
    ("heldout:abc", ["heldout:n with n >= 1"]),
    ("heldout:0", ["heldout:n with n >= 1"]),
])
def test_invert_refuses_bad_images_with_one_clear_line(rgb_run, tmp_path, capsys, images, words):
    spec = images if images.startswith("heldout") else _bad_images(tmp_path, images)
    assert _invert(rgb_run, tmp_path, "--images", spec) == 2
    line = _error_line(capsys).lower()
    assert all(w.lower() in line for w in words), line


def test_invert_without_held_out_images_says_what_to_give(tmp_path, capsys):
    folder = _folder(tmp_path / "few", 5, 8, "L")       # under 20 images: nothing is held out
    run = tmp_path / "run"
    assert main(["train", "mnist-vae", "--out", str(run), *_sets(FAST + DC + _folder_sets(folder, 1))]) == 0
    capsys.readouterr()
    assert _invert(run, tmp_path, "--images", "heldout:2") == 2
    assert "hold no images out" in _error_line(capsys)
    assert _invert(run, tmp_path, "--images", folder) == 0        # the fix it names works


@pytest.mark.parametrize("mask, words", [
    (np.zeros((6, 6)), ["shape (6, 6)", "(8, 8)"]),
    (np.zeros((2, 8, 8)), ["shape (2, 8, 8)", "(3, 8, 8)"]),
    (np.zeros((4, 1, 8, 8)), ["one mask for all images"]),
    (np.full((8, 8), 255.0), ["0 (known) or 1 (missing)", "divide it by 255"]),
    (np.full((8, 8), 0.5), ["0 (known) or 1 (missing)", "e.g. 0.5"]),      # a fraction weighed the errors unevenly
    (np.zeros((8, 8)), ["no pixel as missing"]),
    (np.ones((8, 8)), ["every pixel"]),
    ("damaged", ["not a readable .npy"]),
    ("missing", ["no such file"]),
])
def test_complete_refuses_bad_masks_with_one_clear_line(rgb_run, tmp_path, capsys, mask, words):
    p = tmp_path / "mask.npy"
    if isinstance(mask, np.ndarray):
        np.save(p, mask)
    elif mask == "damaged":
        p.write_bytes(b"\x93NUMPY not really")
    assert _invert(rgb_run, tmp_path, "--images", "heldout", "--mask", p, cmd="complete") == 2
    line = _error_line(capsys)
    assert all(w.lower() in line.lower() for w in words), line


def test_complete_takes_a_mask_of_one_image_for_all_channels(rgb_run, tmp_path, capsys):
    m = np.zeros((8, 8), bool)
    m[:, :3] = True
    np.save(tmp_path / "mask.npy", m)
    assert _invert(rgb_run, tmp_path, "--images", "heldout", "--mask", tmp_path / "mask.npy", cmd="complete") == 0
    filled = np.load(tmp_path / "out" / "completions.npy")
    known = Run.open(rgb_run).dataset.split("heldout").numpy()
    assert np.allclose(filled[..., 3:], known[..., 3:]) and not np.allclose(filled[..., :3], known[..., :3])


@pytest.mark.parametrize("args, words", [(["--restarts", "0"], ["restarts=0", "--restarts 1"]),
                                         (["--lr", "0"], ["lr=0", "positive"]),
                                         (["--lr", "inf"], ["lr=inf", "finite"])])
def test_invert_refuses_impossible_options(rgb_run, tmp_path, capsys, args, words):
    assert _invert(rgb_run, tmp_path, "--images", "heldout", *args) == 2
    line = _error_line(capsys)
    assert all(w in line for w in words), line


def test_the_energy_models_chains_live_in_the_units_the_net_sees(tmp_path):
    """Points far from 0 with data.standardize: the Langevin box was taken in data units while D
    saw standardised points, so samples came out ~100x outside the data."""
    rng = np.random.default_rng(0)
    np.save(tmp_path / "far.npy", np.concatenate([rng.normal(m, 5, (300, 3)) for m in (900, 1100)]).astype("f4"))
    cfg = C.load("mnist-ebm", ["data.name=points", f'data.path="{tmp_path / "far.npy"}"',
                               "data.standardize=global", "discriminator.name=mlp", "discriminator.hidden=[16]",
                               "noise.dim=3", "train.steps=3", "train.batch_size=16", "train.progress=false",
                               "train.live_report=false", "objective.langevin_steps=5",
                               "objective.sample_steps=5", "objective.buffer_size=64"])
    run = Run.create(cfg, tmp_path / "run").train()
    x = run.generate(50, seed=1)
    lo, hi = run.dataset.bounds()
    assert (x >= lo - 1e-3).all() and (x <= hi + 1e-3).all(), (x.min(0), x.max(0))
    assert run.objective.buffer.x.abs().max() < 10          # the replay buffer in standardised units
    run.close()


def test_image_files_given_to_invert_are_prepared_as_the_runs_own(tmp_path):
    """--images files went through a stretch to the run's size, whatever the run's data.resize
    (pad: black bars) or data.resolution (28 -> 32: a zero pad) had done to its own images."""
    from PIL import Image
    from gankit.data import build_dataset
    from gankit.data.image_files import digits_8x8
    from gankit.train.inversion_inputs import load_images
    rng = np.random.default_rng(0)
    folder = tmp_path / "wide"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (24, 40, 3), dtype=np.uint8), "RGB").save(folder / f"im{i}.png")
    ds = build_dataset(C.load("mnist-vae", _folder_sets(folder, 3) + ["data.resize=pad", "data.size=20", "train.batch_size=2"]))
    got = load_images(str(folder / "im1.png"), ds)
    assert torch.equal(got[0], ds.x[1].float() / 127.5 - 1) and got[0, :, 0].max() == -1   # the black bar
    assert torch.equal(load_images(str(folder), ds), ds.x.float() / 127.5 - 1)
    raw = digits_8x8()[0][0]                                 # a digit as the data hold it, 8 x 8
    Image.fromarray(raw.reshape(8, 8).astype(np.uint8), "L").save(tmp_path / "digit.png")
    ds = build_dataset(C.load("mnist-vae", ["data.name=digits8x8", "data.resolution=12"]))
    got = load_images(str(tmp_path / "digit.png"), ds)[0, 0]
    assert got.shape == (12, 12) and (got[:2] == -1).all() and (got[:, :2] == -1).all()
    assert torch.equal(got[2:10, 2:10], torch.as_tensor(raw.reshape(8, 8)).float() / 127.5 - 1)


def test_a_checkpoint_that_no_longer_fits_says_what_changed(tmp_path, capsys):
    """A class folder added after training, or InfoGAN's categories changed on --resume: the error
    named neither ("written by a run with another config", cut mid-word)."""
    root = tmp_path / "classes"
    for k in ("cat", "dog", "fox"):
        _folder(root / k, 6, 8, seed=len(k))
    ss = tmp_path / "ss"
    assert main(["train", "mnist-ssgan", "--out", str(ss), *_sets(FAST + _folder_sets(root, 3) + [
        "objective.labels_per_class=2", "generator.hidden=[8]", "discriminator.hidden=[8]"])]) == 0
    _folder(root / "owl", 6, 8, seed=9)
    capsys.readouterr()
    assert main(["eval", str(ss)]) == 2      # the run records its class folders: the added one is named
    err = _error_line(capsys)
    assert "class 3 was none, is now 'owl'" in err
    info = tmp_path / "info"
    sets = FAST + _folder_sets(root, 3) + DC + ["noise.dim=12", "generator.fc=0", "discriminator.fc=0",
                                                "objective.categories=3", "objective.continuous=0"]
    assert main(["train", "mnist-infogan", "--out", str(info), *_sets(sets)]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(info), "--set", "objective.categories=4",
                 "--set", "train.steps=4"]) == 1
    err = _error_line(capsys)
    assert "objective.categories (3 -> 4)" in err and "in the checkpoint" in err


def test_batch_norm_on_one_image_of_data_offers_only_what_can_work(tmp_path):
    folder = _folder(tmp_path / "one", 1, 8)
    over = FAST + DC + ["data.name=image-folder", f"data.path={folder}", "data.channels=3", "train.batch_size=1"]
    with pytest.raises(ConfigError, match=r"the data hold one sample.*turn the batch norm off: generator.batchnorm=false") as e:
        Run(C.load("mnist-dcgan", over), tmp_path / "r")
    assert "batch_size=2" not in str(e.value)


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 32, 32)])
def test_an_image_an_identity_generator_makes_is_reconstructed_and_completed_at_any_size(shape):
    """The prior's pull on z must not grow with the number of pixels (at 16x16 RGB it shrank
    every reconstruction to 0.72 x the image)."""
    from gankit.train.inversion import invert
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, *shape, generator=g) * 2 - 1
    G = lambda z: z.view(len(z), *shape)                     # noqa: E731
    z0 = torch.randn(3, x[0].numel(), generator=g)
    inv = invert(G, x, z0)
    assert inv.error.max() < 1e-5 and torch.allclose(inv.recon, x, atol=2e-3)
    known = torch.ones(shape)
    known[..., : shape[-2] // 2, :] = 0                      # `complete` fits the known half alone
    inv = invert(G, x, z0, mask=known)
    assert inv.error.max() < 1e-5 and torch.allclose(inv.recon * known, x * known, atol=2e-3)


def test_infogan_with_other_code_and_class_counts_warns_and_reports_purity(tmp_path, capsys):
    """10 codes on a folder of 3 classes: no word at training, and the many-to-one score (0.60 for a
    code carrying nothing) was reported under the one-to-one score's name, which compare ranked."""
    root = tmp_path / "classes"
    for k, n in (("cat", 12), ("dog", 7), ("fox", 3)):
        _folder(root / k, n, 8, seed=n)
    base = FAST + _folder_sets(root, 3) + DC + ["noise.dim=14", "generator.fc=0", "discriminator.fc=0",
                                                "objective.continuous=0"]
    assert main(["train", "mnist-infogan", "--out", str(tmp_path / "k10"), *_sets(base)]) == 0
    err = capsys.readouterr().err
    assert "has 10 values (objective.categories) but the data has 3 classes" in err and \
        "set objective.categories=3" in err, err
    assert main(["eval", str(tmp_path / "k10"), "--json", "--metrics", "classify"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "cluster_purity" in out and "cluster_accuracy" not in out
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)     # as many codes as classes: no warning
        Run.create(C.load("mnist-infogan", base + ["objective.categories=3"]), tmp_path / "k3").close()


def test_metrics_the_objective_cannot_give_are_refused_before_training(tmp_path, capsys):
    """classify on a VAE trained, then recorded an empty evaluation; a resume naming a metric that
    does not apply trained its steps, then failed and kept the list for every later resume."""
    root = tmp_path / "classes"
    for k, n in (("cat", 12), ("dog", 7), ("fox", 3)):
        _folder(root / k, n, 8, seed=n)
    run = tmp_path / "vae"
    vae = FAST + _folder_sets(root, 3) + DC
    rc = main(["train", "mnist-vae", "--out", str(run), *_sets(vae + ['eval.metrics=["classify"]'])])
    err = capsys.readouterr().err
    assert rc == 2 and "'classify' measures a part this run's objective (vae) does not have" in err, err
    assert not (run / "checkpoints").exists()
    assert main(["train", "mnist-vae", "--out", str(run), *_sets(vae)]) == 0
    step = max(s for s, _ in RunFolder(run).checkpoints())
    capsys.readouterr()
    rc = main(["train", "--resume", "--out", str(run), *_sets([f"train.steps={step + 10}",
                                                                'eval.metrics=["energy"]'])])
    err = capsys.readouterr().err
    assert rc == 2 and "'energy' cannot measure this data" in err, err
    assert max(s for s, _ in RunFolder(run).checkpoints()) == step          # refused before training
    assert "energy" not in (run / "config.toml").read_text()
    assert "--set 'eval.metrics=[]'" in err


def test_a_stored_metric_list_an_older_gankit_accepted_still_resumes_with_other_settings(tmp_path, capsys):
    """Only a list given now is checked on --resume: config.toml's own (accepted when the run was
    made, e.g. classify on a GAN) does not refuse a resume that changes train.steps."""
    root = tmp_path / "classes"
    for k, n in (("cat", 12), ("dog", 7), ("fox", 3)):
        _folder(root / k, n, 8, seed=n)
    run = tmp_path / "vae"
    assert main(["train", "mnist-vae", "--out", str(run), *_sets(FAST + _folder_sets(root, 3) + DC)]) == 0
    import tomllib

    import tomli_w
    raw = tomllib.loads((run / "config.toml").read_text())
    raw["eval"]["metrics"] = ["classify"]
    (run / "config.toml").write_text(tomli_w.dumps(raw))
    assert tomllib.loads((run / "config.toml").read_text())["eval"]["metrics"] == ["classify"]
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(run), "--set", "train.steps=4"]) == 0, capsys.readouterr().err


def test_a_wrong_size_grey_array_is_named_in_the_shape_it_was_given():
    """(3, 28, 28) for a 20 x 20 run was reported as "array of shape (3, 1, 28, 28)"."""
    from gankit.train.inversion_inputs import _to_run_shape
    with pytest.raises(ConfigError, match=r"array of shape \(3, 28, 28\), but the run's images are \(1, 20, 20\)"):
        _to_run_shape(torch.zeros(3, 28, 28), (1, 20, 20), "g28.npy")
    assert _to_run_shape(torch.zeros(3, 20, 20), (1, 20, 20), "g.npy").shape == (3, 1, 20, 20)


def test_a_run_started_again_from_step_0_checks_its_metrics_against_new_data(tmp_path, capsys):
    """--resume of a run stopped before its first checkpoint trains from step 0 with the new
    settings: data it names now could no longer be measured by the stored list, found only after
    training (and kept in config.toml)."""
    run = tmp_path / "r"
    Run.create(C.load("ring-vanilla", ['eval.metrics=["modes"]', "train.progress=false"]), run).close()
    assert not RunFolder(run).checkpoints()
    rc = main(["train", "--resume", "--out", str(run), "--set", "data=swissroll", "--set", "train.steps=5"])
    err = capsys.readouterr().err
    assert rc == 2 and "'modes' cannot measure this data" in err, err
    assert not RunFolder(run).checkpoints()
