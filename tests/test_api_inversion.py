"""gankit.api.invert / complete: the command line's inversion for a program, on its arrays."""
import numpy as np
import pytest
import torch

from gankit import api
from gankit.cli import main
from gankit.config import ConfigError
from test_using_runs import digit_run, ring_run  # noqa: F401 (fixtures: tiny digits8x8 and ring runs)


def _pixels(n: int = 3) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (n, 8, 8), dtype=np.uint8)


def test_invert_of_an_array_is_the_command_lines_on_the_same_pixels(digit_run, tmp_path, capsys):
    x = _pixels()
    np.save(tmp_path / "x.npy", x)
    assert main(["invert", str(digit_run), "--images", str(tmp_path / "x.npy"), "--steps", "5",
                 "--out", str(tmp_path / "inv")]) == 0, capsys.readouterr().err
    inv = api.invert(digit_run, x, steps=5)
    assert inv.z.shape[0] == 3 and inv.recon.shape == (3, 1, 8, 8) and inv.error.shape == (3,)
    assert np.array_equal(inv.recon.numpy(), np.load(tmp_path / "inv" / "reconstructions.npy"))
    assert np.array_equal(inv.z.numpy(), np.load(tmp_path / "inv" / "z.npy"))
    want = ((inv.recon - torch.as_tensor(x, dtype=torch.float32)[:, None] / 127.5 + 1) ** 2).flatten(1).mean(1)
    assert torch.allclose(inv.error, want, atol=1e-6)
    # the same pixels as a tensor in [-1, 1] (any layout the command line takes), and from a path
    as_float = torch.as_tensor(x, dtype=torch.float64)[..., None] / 127.5 - 1         # (n, H, W, 1)
    assert torch.allclose(api.invert(digit_run, as_float, steps=5).recon, inv.recon, atol=1e-5)
    assert torch.equal(api.invert(str(digit_run), str(tmp_path / "x.npy"), steps=5).recon, inv.recon)


def test_complete_with_a_mask_array_keeps_the_known_pixels_and_fills_the_rest(digit_run, tmp_path):
    x = _pixels(2)
    mask = np.zeros((8, 8), dtype=bool)
    mask[:, :4] = True                                    # the left half, as "left" marks it
    filled, inv = api.complete(digit_run, x, mask, steps=4)
    named, _ = api.complete(digit_run, x, "left", steps=4)
    assert torch.equal(filled, named)
    given = torch.as_tensor(x, dtype=torch.float32)[:, None] / 127.5 - 1
    assert torch.equal(filled[..., 4:], given[..., 4:])
    assert torch.equal(filled[..., :4], inv.recon[..., :4]) and not torch.equal(filled[..., :4], given[..., :4])


@pytest.mark.parametrize("call, said", [
    (lambda r: api.invert(r, np.zeros((2, 9, 9), np.uint8)), r"^images: array of shape \(2, 9, 9\)"),
    (lambda r: api.invert(r, [[1, 2], [3]]), r"^images: not an array of numbers"),
    (lambda r: api.invert(r, np.array(["a"])), r"^images: expected an array of numbers, got <U1"),
    (lambda r: api.invert(r, np.full((1, 8, 8), 2.0)), r"^images: values in \[2, 2\]"),
    (lambda r: api.invert(r, "nowhere.png"), r"^images='nowhere.png': no such file or folder"),
    (lambda r: api.invert(r, "heldout:0"), r"^images='heldout:0': write heldout"),
    (lambda r: api.invert(r, _pixels(1), restarts=0), r"restarts=0; give at least 1 start per image \(restarts=1\)"),
    (lambda r: api.invert(r, _pixels(1), lr=float("nan")), r"\(lr=0.05\)$"),
    (lambda r: api.invert(r, _pixels(1), steps=2.5), r"^api.invert: steps=2.5; give a whole number \(steps=300\)$"),
    (lambda r: api.invert(r, _pixels(1), seed=None), r"^api.invert: seed=None; give a whole number \(seed=0\)$"),
    (lambda r: api.invert(r, _pixels(1), seed=2 ** 64), r"^api.invert: seed=18446744073709551616; give a whole "),
    (lambda r: api.invert(r, _pixels(1), seed=-5), r"^api.invert: seed=-5; give a whole number in \[0, 2\^64 - 1\] "
                                                    r"\(seed=0\)$"),
    (lambda r: api.invert(r, _pixels(1), restarts=True), r"^api.invert: restarts=True; give a whole number"),
    (lambda r: api.invert(r, _pixels(1), lr="0.1"), r"^api.invert: lr='0.1'; give a number \(lr=0.05\)$"),
    (lambda r: api.complete(r, _pixels(1), "left", steps="5"), r"^api.complete: steps='5'; give a whole number \(steps=300\)$"),
    (lambda r: api.complete(r, _pixels(1), np.full((8, 8), 0.5)), r"^mask: values must be 0 \(known\) or 1"),
    (lambda r: api.complete(r, _pixels(1), np.ones((8, 8))), r"^mask: marks every pixel as missing"),
    (lambda r: api.complete(r, _pixels(1), np.ones((4, 4))), r"^mask: shape \(4, 4\), but one mask"),
    (lambda r: api.complete(r, _pixels(1), "middle"), r"^mask='middle': one of top, bottom"),
])
def test_wrong_inputs_are_refused_in_the_apis_words(digit_run, call, said):
    with pytest.raises(ConfigError, match=said) as e:
        call(digit_run)
    assert "--" not in str(e.value), e.value              # no command-line option named to a program


def test_the_command_lines_seed_is_the_apis(digit_run, tmp_path, capsys):
    """invert --seed: the prior's starts of api.invert(seed=...), refused below 0 as its message says."""
    np.save(tmp_path / "x.npy", _pixels(2))
    args = ["invert", str(digit_run), "--images", str(tmp_path / "x.npy"), "--steps", "0", "--out", str(tmp_path / "i")]
    assert main(args + ["--seed", "-5"]) == 2
    assert capsys.readouterr().err.strip().endswith("invert: seed=-5; give a whole number in [0, 2^64 - 1] (--seed 0)")
    assert main(args + ["--seed", "7"]) == 0, capsys.readouterr().err
    seven = api.invert(digit_run, _pixels(2), steps=0, seed=7).z
    assert np.array_equal(np.load(tmp_path / "i" / "z.npy"), seven.numpy())
    assert not torch.equal(seven, api.invert(digit_run, _pixels(2), steps=0).z)


def test_a_run_of_points_is_told_inversion_needs_images(ring_run):
    with pytest.raises(ConfigError, match="invert and complete fit G to images"):
        api.invert(ring_run, np.zeros((2, 2), np.float32))


@pytest.mark.parametrize("call, said", [
    (lambda r: api.complete(r, _pixels(1), None), "mask: got NoneType; give one of top, bottom, left, right, centre, "
     "a path to a .npy file, or an array of (H, W), (1, H, W) or (C, H, W) with 1 = missing, 0 = known"),
    (lambda r: api.invert(r, None), "images: got NoneType; give an array or tensor of images, a path to a .npy file"),
])
def test_an_input_of_no_accepted_kind_lists_the_kinds(digit_run, call, said):
    with pytest.raises(ConfigError) as e:
        call(digit_run)
    assert str(e.value).startswith(said), e.value


def test_a_glob_pattern_and_a_list_of_files_are_the_command_lines(digit_run, tmp_path):
    from PIL import Image
    for i, x in enumerate(_pixels(3)):
        Image.fromarray(x, "L").save(tmp_path / f"m{i}.png")
    pattern = api.invert(digit_run, str(tmp_path / "m*.png"), steps=1)
    listed = api.invert(digit_run, [tmp_path / f"m{i}.png" for i in range(3)], steps=1)
    assert torch.equal(pattern.z, listed.z)
    assert torch.equal(pattern.z, api.invert(digit_run, _pixels(3), steps=1).z)


def test_an_images_fit_does_not_depend_on_the_images_inverted_with_it(digit_run):
    """Its prior starts come from (seed, its index, the restart): the same with more images after
    it, or in batches of another size (one draw of n rows gave row 1 other numbers for n = 2 and 3)."""
    from gankit.train.inversion import invert_run
    x = _pixels(3)
    three, two = (api.invert(digit_run, xs, steps=10, restarts=2) for xs in (x, x[:2]))
    assert torch.allclose(three.z[:2], two.z, atol=1e-6) and torch.allclose(three.error[:2], two.error, atol=1e-7)
    filled3, inv3 = api.complete(digit_run, x, "left", steps=5)
    filled2, inv2 = api.complete(digit_run, x[:2], "left", steps=5)
    assert torch.allclose(inv3.z[:2], inv2.z, atol=1e-6) and torch.allclose(filled3[:2], filled2, atol=1e-6)
    run = api.open_run(digit_run)
    images = torch.as_tensor(x, dtype=torch.float32)[:, None] / 127.5 - 1
    whole, one_by_one = (invert_run(run, images, steps=10, restarts=2, batch=b) for b in (3, 1))
    assert torch.allclose(whole.z, one_by_one.z, atol=1e-6) and torch.allclose(whole.error, one_by_one.error, atol=1e-7)
    starts = api.invert(digit_run, x, steps=0).z         # not one start for all: each image its own
    assert not torch.equal(starts[0], starts[1]) and not torch.equal(starts[1], starts[2])
    assert not torch.equal(starts, api.invert(digit_run, x, steps=0, seed=1).z)
