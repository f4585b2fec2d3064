"""Image sizes a user's data come in (audit a117): the DCGAN sizes b * 2^L down to 6 = 3 * 2, the
fixes its refusals name (data.resolution for non-square IDX images, the mlp nets with a tanh
output), a folder of several sizes said as such, and `is` on features that have no classes."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from gankit.config import ConfigError


@pytest.mark.parametrize("r", [6, 10, 12, 14])
def test_dcgan_takes_every_b_times_2_to_the_l(r):
    """6 = 3 * 2 was refused as "not b * 2^L": the halving stopped at sizes of 7 or less."""
    from gankit.nets.dcgan import DCGANDiscriminator, DCGANGenerator, base_and_levels
    b, levels = base_and_levels(r)
    assert b * 2 ** levels == r and 3 <= b <= 7 and levels >= 1
    G, D = DCGANGenerator(8, 1, r, width=4), DCGANDiscriminator(1, r, width=4)
    x = G(torch.randn(3, 8))
    assert tuple(x.shape) == (3, 1, r, r) and D.in_shape == (1, r, r)
    assert tuple(D(x).shape) == (3,)


def test_a_size_dcgan_refuses_names_the_mlp_nets_with_a_tanh_output():
    from gankit.nets.dcgan import base_and_levels
    for r in (2, 4, 5):
        with pytest.raises(ConfigError, match=r"nearest that are: 6\b"):
            base_and_levels(r)
    with pytest.raises(ConfigError) as e:
        base_and_levels(7)
    msg = str(e.value)
    assert "6 and 8" in msg and "--set generator.name=mlp --set discriminator.name=mlp" in msg, msg
    assert "--set generator.output=tanh" in msg, msg


def test_non_square_idx_images_name_the_resolution_that_makes_them_square():
    """24x20 IDX images were refused "use an mlp" without the data.resolution that works."""
    from gankit.data.images import _idx_dataset
    from gankit.registry import DISCRIMINATORS, GENERATORS
    x = np.random.default_rng(0).integers(0, 255, (30, 24, 20), dtype=np.uint8)
    ds = _idx_dataset({"train_x": x}, 0, None, "mnist")
    with pytest.raises(ConfigError) as e:
        GENERATORS.build("dcgan", {}, noise_dim=4, data=ds)
    msg = str(e.value)
    assert "(1, 24, 20)" in msg and "--set data.resolution=24" in msg and "generator.output=tanh" in msg, msg
    fixed = _idx_dataset({"train_x": x}, 24, None, "mnist")        # the fix it names works
    assert fixed.shape == (1, 24, 24)
    G = GENERATORS.build("dcgan", {"width": 4}, noise_dim=4, data=fixed)
    D = DISCRIMINATORS.build("dcgan", {"width": 4}, data=fixed)
    assert tuple(D(G(torch.randn(2, 4))).shape) == (2,)
    # a 30x26 image: the nearest size DCGAN takes below the long side
    odd = SimpleNamespace(shape=(1, 30, 26), resize_hint=lambda s: f"--set data.resolution={s}")
    with pytest.raises(ConfigError, match=r"--set data.resolution=28;"):
        GENERATORS.build("dcgan", {}, noise_dim=4, data=odd)
    points = SimpleNamespace(shape=(3,))              # points: the mlp nets, no tanh (data not in [-1, 1])
    with pytest.raises(ConfigError) as e:
        GENERATORS.build("dcgan", {}, noise_dim=4, data=points)
    assert "--set generator.name=mlp" in str(e.value) and "tanh" not in str(e.value)


def test_a_folder_of_several_sizes_is_said_so_and_offers_no_data_size(tmp_path):
    """28x28 and 32x32 images: "set data.size=32", then with it "set data.size=28"."""
    from PIL import Image

    from gankit.data.image_decode import ImageDataError, fit_image
    first, odd = tmp_path / "000.png", tmp_path / "001.png"
    with pytest.raises(ImageDataError) as e:
        fit_image(Image.new("L", (32, 32)), 28, "error", odd, first=first)
    msg = str(e.value)
    assert "several sizes" in msg and "000.png is 28x28" in msg and "001.png is 32x32" in msg, msg
    assert "data.resize=stretch|crop|pad" in msg and "data.size" not in msg, msg
    # class folders: the names say which folder
    with pytest.raises(ImageDataError, match=r"a/0.png is 28x28 and b/1.png is 32x32"):
        fit_image(Image.new("L", (32, 32)), 28, "error", tmp_path / "b" / "1.png", first=tmp_path / "a" / "0.png")
    # the first image read, against a data.size given: its own size fits every image seen
    with pytest.raises(ImageDataError, match=r"not 32x32; .* or set data.size=28$"):
        fit_image(Image.new("L", (28, 28)), 32, "error", first, first=first)
    assert fit_image(Image.new("L", (28, 28)), 28, "error", odd, first=first).size == (28, 28)


def test_is_says_it_cannot_score_random_features_before_measuring(monkeypatch):
    """`is` was listed among the metrics that apply to an unlabelled folder, then failed when named."""
    from gankit.data.images import ImageDataset
    from gankit.metrics.features import INCEPTION_ENV
    from gankit.metrics.images import no_classes
    monkeypatch.delenv(INCEPTION_ENV, raising=False)
    ds = ImageDataset(np.zeros((30, 1, 8, 8), dtype=np.uint8), name="pics")
    settings = SimpleNamespace(features="classifier", inception_weights="", n_samples=10)
    assert "random conv net's" in no_classes(SimpleNamespace(dataset=ds, settings=settings))
    settings.features = "inception"           # Inception's classes: it can score them
    assert no_classes(SimpleNamespace(dataset=ds, settings=settings)) is None


def test_a_folder_of_two_sizes_names_both_whatever_data_size_says(tmp_path):
    from PIL import Image

    from gankit.data.image_files import ImageDataError, load_image_folder
    for i, s in enumerate((28, 32, 28)):
        Image.new("L", (s, s)).save(tmp_path / f"{i:03d}.png")
    with pytest.raises(ImageDataError) as e:
        load_image_folder(tmp_path)
    assert "several sizes, e.g. 000.png is 28x28 and 001.png is 32x32" in str(e.value)
    assert "data.size" not in str(e.value)
    with pytest.raises(ImageDataError, match=r"000.png is 28x28, not 32x32; .* or set data.size=28$"):
        load_image_folder(tmp_path, size=32)


def test_is_is_not_offered_on_random_features_and_is_refused_before_measuring(monkeypatch):
    from gankit.config import ConfigError
    from gankit.data.images import ImageDataset
    from gankit.metrics import applying_said, refuse_not_applying
    from gankit.metrics.features import INCEPTION_ENV
    monkeypatch.delenv(INCEPTION_ENV, raising=False)
    ds = ImageDataset(np.zeros((30, 1, 8, 8), dtype=np.uint8), name="pics")
    ctx = SimpleNamespace(dataset=ds, settings=SimpleNamespace(features="classifier", inception_weights=""))
    said = applying_said(ds, ctx)
    assert "fid" in said and " is," not in said and not said.endswith(" is"), said
    with pytest.raises(ConfigError, match=r"metric 'is': .*random conv net's.*metrics that apply to this data: fid"):
        refuse_not_applying(["fid", "is"], ds, ctx)
    ctx.settings.features = "inception"
    assert "is" in applying_said(ds, ctx).split(": ")[1].split(", ")
    refuse_not_applying(["fid", "is"], ds, ctx)


def test_tall_images_are_made_square_by_data_resolution_too():
    """20 wide x 24 tall: the resize was skipped when the width already equalled the resolution,
    so the fix the DCGAN's refusal names did nothing for this orientation."""
    from gankit.data.images import ImageDataset
    ds = ImageDataset(np.zeros((12, 1, 24, 20), dtype=np.uint8), name="tall", resolution=20)
    assert tuple(ds.x.shape[-2:]) == (20, 20)
