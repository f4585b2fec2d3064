"""What the model families and ``gankit invert`` / ``gankit complete`` tell a user: refusals of
data a family cannot model, warnings only where they concern the command run, and one-line
errors that name what the user ran and wrote."""
import re
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from gankit import config as C
from gankit.cli import main
from gankit.config import ConfigError
from gankit.train.run import Run

from test_families_inputs import FAST, _error_line, _folder, rgb_run  # noqa: F401 (rgb_run: a fixture)


# ---------------------------------------------------------------- text data

@pytest.mark.parametrize("objective", ["vae", "ae", "bigan", "infogan", "ssgan", "ebm"])
def test_families_of_images_and_points_refuse_text_before_building_nets(tmp_path, objective):
    """An MLP encoder trunk took token ids as numbers and failed at the first snapshot."""
    text = tmp_path / "text.txt"
    text.write_text("the cat sat\na dog ran\nthe cat ran\na dog sat\n" * 10)
    over = ["data.name=textfile", f'data.path="{text}"', f"objective.name={objective}",
            "discriminator.name=mlp", "noise.dist=normal", "noise.dim=21", *FAST[:1], "train.batch_size=8",
            "train.progress=false", "train.live_report=false"]
    with pytest.raises(ConfigError) as e:
        Run(C.load("words", over), tmp_path / "r")
    msg = str(e.value)
    assert f"objective {objective} models images or points, not text" in msg and "objective.name=seqgan" in msg, msg
    assert not (tmp_path / "r").exists()


# ---------------------------------------------------------------- SS-GAN's training-time warning

def test_ssgan_labels_warning_is_given_when_training_not_when_the_run_is_opened(tmp_path):
    root = tmp_path / "classes"
    for k in ("cat", "dog", "fox"):
        _folder(root / k, 6, 8, seed=len(k) + ord(k[0]))
    over = FAST + ["data.name=image-folder", f'data.path="{root}"', "data.channels=3",
                   "objective.labels_per_class=100", "generator.hidden=[8]", "discriminator.hidden=[8]"]
    torch.set_num_threads(1)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        Run.create(C.load("mnist-ssgan", over), tmp_path / "r").train(final_report=False)
    assert sum("labels_per_class=100 is not below" in str(w.message) for w in said) == 1
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        Run.open(tmp_path / "r")                # what sample, eval, invert and complete do
    assert not [str(w.message) for w in said if "labels_per_class" in str(w.message)]


# ---------------------------------------------------------------- invert / complete

def _cli(cmd, run, tmp_path, *args):
    return main([cmd, str(run), *map(str, args), "--steps", "2"])


def test_an_objective_with_no_code_is_refused_in_the_name_of_the_command_run():
    from gankit.train.inversion import complete, invert_run
    ebm = SimpleNamespace(objective=SimpleNamespace(has_latent=False), conditional=False,
                          cfg=SimpleNamespace(objective=SimpleNamespace(name="ebm")))
    x = torch.zeros(1, 1, 4, 4)
    with pytest.raises(ConfigError, match=r"^complete: the 'ebm' objective has no latent code"):
        complete(ebm, x, torch.ones(1, 4, 4))
    with pytest.raises(ConfigError, match=r"^invert: the 'ebm' objective has no latent code"):
        invert_run(ebm, x)


def test_complete_names_itself_in_its_option_errors(rgb_run, tmp_path, capsys):
    out = tmp_path / "o"
    assert _cli("complete", rgb_run, tmp_path, "--images", "heldout", "--mask", "top", "--restarts", "0",
                "--out", out) == 2
    line = _error_line(capsys)
    assert "complete: restarts=0" in line and "invert" not in line, line


def test_one_image_is_counted_in_the_singular(rgb_run, tmp_path, capsys):
    np.save(tmp_path / "one.npy", np.random.default_rng(1).integers(0, 256, (3, 8, 8), dtype=np.uint8))
    capsys.readouterr()
    assert _cli("invert", rgb_run, tmp_path, "--images", tmp_path / "one.npy", "--out", tmp_path / "a") == 0
    assert "inverted 1 image:" in capsys.readouterr().out
    assert _cli("complete", rgb_run, tmp_path, "--images", "heldout:1", "--mask", "top", "--out", tmp_path / "b") == 0
    assert "completed 1 image (" in capsys.readouterr().out
    assert _cli("invert", rgb_run, tmp_path, "--images", "heldout:2", "--out", tmp_path / "c") == 0
    assert "inverted 2 images:" in capsys.readouterr().out


def test_out_of_range_integer_pixels_are_named_by_the_dtype_written(rgb_run, tmp_path, capsys):
    np.save(tmp_path / "u16.npy", np.full((2, 3, 8, 8), 3084, np.uint16))
    assert _cli("invert", rgb_run, tmp_path, "--images", tmp_path / "u16.npy", "--out", tmp_path / "o") == 2
    line = _error_line(capsys)
    assert "uint16 values in [3084, 3084]" in line and "int64" not in line, line


@pytest.mark.parametrize("content, words", [
    (b"0 0 1 1\n0 0 1 1\n", "not a numpy array file"),      # numpy would call it pickled data
    (b"", "not a numpy array file"),
    ("objects", "python objects"),
])
def test_a_npy_that_numpy_cannot_read_is_described_without_numpys_pickle_advice(
        rgb_run, tmp_path, capsys, content, words):
    p = tmp_path / "mask.npy"
    if content == "objects":
        np.save(p, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    else:
        p.write_bytes(content)
    for args in (["--images", "heldout", "--mask", p], ["--images", p, "--mask", "top"]):
        assert _cli("complete", rgb_run, tmp_path, *args, "--out", tmp_path / "o") == 2
        line = _error_line(capsys)
        assert words in line.lower() and "not a readable .npy" in line, line
        assert "pickle" not in line.lower(), line


def test_out_naming_a_file_says_out_must_be_a_folder_before_any_work(rgb_run, tmp_path, capsys):
    f = tmp_path / "afile.npy"
    f.write_text("hi\n")
    for cmd, extra in (("invert", []), ("complete", ["--mask", "top"])):
        for out in (f, f / "sub"):
            assert _cli(cmd, rgb_run, tmp_path, "--images", "heldout", *extra, "--out", out) == 2
            line = _error_line(capsys)
            assert f"{cmd} --out {out}" in line and "--out must be a folder" in line, line
    assert f.read_text() == "hi\n"


# ---------------------------------------------------------------- the VAE's sigma on --resume

def test_vae_sigma_switched_between_learned_and_fixed_on_resume_is_refused_naming_the_option(tmp_path, tiny):
    """It failed with PyTorch's words: a missing key of LogSigma (fixed -> learned), or "a
    parameter group that doesn't match the size of optimizer's group" (learned -> fixed)."""
    from gankit.train.run_state import RunError
    fast = tiny + ["train.steps=2", "train.checkpoint_every=2", "train.live_report=false"]
    for sigma in (0.5, 0.0):
        Run.create(C.load("ring-vae", fast + [f"objective.sigma={sigma}"]), tmp_path / str(sigma)).train(
            final_report=False).close()
    with pytest.raises(ConfigError) as e:        # fixed -> learned: the checkpoint holds no sigma to go on from
        Run.open(tmp_path / "0.5", ["objective.sigma=0", "train.steps=4"], write=True)
    assert str(e.value) == ("objective.sigma cannot switch between learned (0) and fixed (> 0) on --resume: "
                            "drop it, or train a new run (--out NEW)")
    with pytest.raises(RunError) as e:           # learned -> fixed: the optimizer's state counts it
        Run.open(tmp_path / "0.0", ["objective.sigma=0.5", "train.steps=4"], write=True)
    msg = str(e.value)
    assert "objective.sigma (0.0 -> 0.5); drop it, or train a new run (--out NEW)" in msg, msg
    counts = re.search(r"optimizer updates (\d+) parameter tensors, this run's (\d+)", msg)
    assert counts and int(counts[1]) == int(counts[2]) + 1 and "doesn't match" not in msg, msg    # sigma's
    run = Run.open(tmp_path / "0.5", ["objective.sigma=0.3", "train.steps=4"], write=True)    # fixed -> fixed
    assert run.objective.S().exp().item() == pytest.approx(0.3)
    run.close()
