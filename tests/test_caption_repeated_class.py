"""A caption that names the same class twice names one class (as a repeated attribute word names
one attribute): parse counts distinct classes; two different classes are still refused."""
import pytest
import torch

from gankit.config import ConfigError
from gankit.data.conditional import ConditionalData
from gankit.data.images import ImageDataset


def _captions():
    x = torch.randint(0, 255, (40, 1, 16, 16), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    return ConditionalData(ImageDataset(x, torch.tensor([3, 7] * 20), holdout=0), "text")


def test_a_class_named_twice_is_one_class_two_classes_are_refused():
    ds = _captions()
    assert ds.parse("a thick seven seven") == (7, {"thickness": 1})
    assert ds.parse("a thick seven seven") == ds.parse("a thick seven")
    assert ds.parse("a thick thick seven")[0] == 7          # a repeated attribute word, as before
    with pytest.raises(ConfigError, match=r"'a thick seven three' must name exactly one class"):
        ds.parse("a thick seven three")
    with pytest.raises(ConfigError, match=r"'a thick seven three seven' must name exactly one class"):
        ds.parse("a thick seven three seven")
