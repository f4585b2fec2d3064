"""Stacked MNIST from IDX files (gankit/data/images.py): a source without digit labels is named."""
import struct

import numpy as np
import pytest

from gankit.data.image_files import ImageDataError
from gankit.registry import DATASETS


def test_idx_images_without_labels_name_the_folder_and_the_label_file(tmp_path):
    """It said "stacked-mnist needs a one-channel labelled digit source", naming neither the folder
    nor the file missing."""
    x = np.random.default_rng(0).integers(0, 256, (30, 28, 28), dtype=np.uint8)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">3I", 30, 28, 28)
                                                       + x.tobytes())
    with pytest.raises(ImageDataError) as e:
        DATASETS.build("stacked-mnist", {"source": "mnist", "root": str(tmp_path), "n_fixed": 100})
    msg = str(e.value)
    assert repr(str(tmp_path)) in msg and "train-labels-idx1-ubyte(.gz)" in msg
    assert "--set data.source=mnist5k" in msg
