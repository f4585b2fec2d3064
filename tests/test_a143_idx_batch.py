"""The batch advice for IDX data: the t10k-* test files are held-out images given apart from the
training images, not "held out of training by the dataset" from them."""
import re

import pytest

from gankit import config as C
from gankit.config import ConfigError
from gankit.data import build_dataset
from test_idx_test_files import _drop_test_files, _idx


def _refused(root, batch: int = 64) -> str:
    with pytest.raises(ConfigError) as e:
        build_dataset(C.load("mnist-dcgan", ["data.name=mnist", f'data.root="{root}"', f"train.batch_size={batch}"]))
    return str(e.value)


def test_the_test_files_are_said_apart_from_the_training_images(tmp_path):
    root = _idx(tmp_path / "idx", n=40, nt=20)
    assert _refused(root) == ("train.batch_size: 64 is larger than the data (40 samples; the 20 held-out images are "
                              "read from the test files, t10k-*); use --set train.batch_size=40 or less")


def test_a_split_cut_from_the_training_images_is_said_as_before(tmp_path):
    root = _idx(tmp_path / "idx", n=40, nt=20)
    _drop_test_files(root)
    assert re.fullmatch(r"train\.batch_size: 64 is larger than the data \(36 samples: 4 of the 40 are held out of "
                        r"training by the dataset\); use --set train\.batch_size=36 or less", _refused(root))
