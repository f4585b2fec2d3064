"""IDX data (MNIST format) whose held-out images are the t10k-* test files: a checkpoint records
where the held-out images came from, so test files removed after training (the split then cut
from the training images) or added after a run that cut its own split are refused, not measured
as held-out images or trained on by a resume; checkpoints written before the record open as before."""
import gzip
import struct

import numpy as np
import pytest
import torch

from gankit import config as C
from gankit.config import ConfigError
from gankit.data.images import HELDOUT_GIVEN
from gankit.registry import DATASETS


def _write_idx(path, arr):
    with gzip.open(path, "wb") as f:
        f.write(bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes())


def _idx(root, n=40, nt=20, test=True):
    """MNIST-format files of ``n`` training images and, with ``test``, ``nt`` test images."""
    root.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n + nt, 28, 28), dtype=np.uint8)
    y = (np.arange(n + nt) % 10).astype(np.uint8)
    _write_idx(root / "train-images-idx3-ubyte.gz", x[:n])
    _write_idx(root / "train-labels-idx1-ubyte.gz", y[:n])
    if test:
        _write_idx(root / "t10k-images-idx3-ubyte.gz", x[n:])
        _write_idx(root / "t10k-labels-idx1-ubyte.gz", y[n:])
    return root


def _drop_test_files(root):
    for p in root.glob("t10k-*"):
        p.unlink()


def _trained(tmp_path, tiny_img, test=True):
    from gankit.train.run import Run
    root = _idx(tmp_path / "idx", test=test)
    out = tmp_path / "run"
    Run.create(C.load("mnist-dcgan", tiny_img + ["data.name=mnist", f'data.root="{root}"',
                                                 "eval.metrics=['image_stats']"]), out).train().close()
    return root, out


def _opened(out):
    from gankit.train.run import Run
    Run.open(out).close()


def test_the_dataset_says_where_its_held_out_images_came_from(tmp_path):
    root = _idx(tmp_path / "idx")
    ds = DATASETS.build("mnist", {"root": str(root)})
    assert ds.cut == (60, 20, HELDOUT_GIVEN) and ds.size == 40 and len(ds.heldout) == 20
    _drop_test_files(root)
    ds = DATASETS.build("mnist", {"root": str(root)})
    assert ds.cut == (40, 4) and ds.size == 36                  # cut from the training images


def test_test_files_removed_after_training_are_refused(tmp_path, tiny_img):
    root, out = _trained(tmp_path, tiny_img)
    state = torch.load(sorted((out / "checkpoints").glob("*.pt"))[-1], weights_only=True)
    assert state["data_cut"] == [60, 20, HELDOUT_GIVEN]
    _opened(out)                                                # the data as trained on: opens
    _drop_test_files(root)
    with pytest.raises(ConfigError, match=r"held-out images were the test files; now they would be cut from the training images.*restore the data"):
        _opened(out)


def test_test_files_added_after_a_run_that_cut_its_own_split_are_refused(tmp_path, tiny_img):
    root, out = _trained(tmp_path, tiny_img, test=False)
    _opened(out)
    _idx(root)                                                  # the same training files, t10k beside them
    with pytest.raises(ConfigError, match=r"held-out images were cut from the training images; now they would be the test files"):
        _opened(out)


def test_a_checkpoint_written_before_the_record_opens_as_before(tmp_path, tiny_img):
    root, out = _trained(tmp_path, tiny_img)
    for path in (out / "checkpoints").glob("*.pt"):
        state = torch.load(path, weights_only=True)
        state.pop("data_cut", None)                             # as gankit before the record wrote it
        state.pop("data_digest", None)                          # (and before the images' digest)
        torch.save(state, path)
    _drop_test_files(root)
    _opened(out)


def test_stacked_mnist_records_its_digits_split():
    ds = DATASETS.build("stacked-mnist", {"source": "digits8x8", "n_fixed": 100})
    assert ds.cut == ds.base.cut and ds.cut[0] == 1797
