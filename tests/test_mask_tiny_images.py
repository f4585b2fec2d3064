"""Named --mask parts of a tiny image: a half or the centre that covers every pixel or none was
not refused, and gankit complete reported MSE 0.0000 over an empty set (audit a162)."""
import pytest
import torch

from gankit.config import ConfigError
from gankit.train.inversion_inputs import make_mask


@pytest.mark.parametrize("spec, shape, which", [("top", (1, 1, 1), "no"), ("bottom", (1, 1, 1), "every"),
                                                 ("centre", (1, 3, 3), "every"), ("left", (3, 1, 1), "no")])
def test_a_named_mask_that_covers_every_pixel_or_none_is_refused_naming_it_and_the_size(spec, shape, which):
    with pytest.raises(ConfigError) as e:
        make_mask(spec, shape)
    msg = str(e.value)
    side = f"{shape[1]}x{shape[2]}"
    assert f"--mask {spec}" in msg and side in msg and f"marks {which} pixel" in msg, msg


def test_named_masks_on_images_they_split_still_work():
    m = make_mask("top", (1, 4, 4))
    assert m.shape == (1, 4, 4) and m[:, :2].eq(1).all() and m[:, 2:].eq(0).all()
    c = make_mask("centre", (3, 8, 8))
    assert 0 < float(c.mean()) < 1 and torch.equal(c[0], c[2])
