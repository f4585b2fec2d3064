"""The classifier gankit trains for labelled images is cached as safetensors, which keeps no
checksum: damaged weight bytes, a file an older gankit wrote without a digest, or NaN weights
must be retrained with a warning, never loaded as they are."""
import struct
import warnings

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from gankit.metrics import own_classifier as OC


class _Labelled:
    """Just what dataset_classifier reads of an image dataset: two classes, dark and bright."""
    kind, classifier, channel_classes, n_classes = "image", None, None, 2
    shape = (1, 28, 28)

    def __init__(self):
        g = torch.Generator().manual_seed(0)
        self.labels = torch.arange(24) % 2
        self.x = (self.labels.float() * 1.2 - 0.6).view(-1, 1, 1, 1) + 0.2 * torch.randn(24, 1, 28, 28, generator=g)
        self.heldout = self.x[:8]

    def split(self, part):
        return self.x if part == "train" else self.heldout

    def split_labels(self, part):
        return self.labels if part == "train" else self.labels[:8]


@pytest.fixture
def cached(tmp_path, monkeypatch):
    """A dataset, its freshly trained classifier's weights, and the cache file holding them."""
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
    monkeypatch.setattr(OC, "STEPS", 3)
    ds = _Labelled()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        OC.dataset_classifier(ds)
    (path,) = (tmp_path / "classifiers").glob("*.safetensors")
    fresh = OC.train_classifier(ds.x, ds.labels, 2).state_dict()
    return ds, fresh, path


def _weights_equal(net, fresh):
    got = net.state_dict()
    return got.keys() == fresh.keys() and all(torch.equal(got[k], fresh[k]) for k in fresh)


def _verifies_afterwards(ds, fresh, path, monkeypatch):
    """The rewritten file loads silently, without training, as the fresh weights."""
    monkeypatch.setattr(OC, "train_classifier", None)      # would fail if called
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = OC.dataset_classifier(ds)
    assert _weights_equal(again, fresh)
    assert [p.name for p in path.parent.iterdir()] == [path.name]     # no temp file left behind


def _retrained(cached, monkeypatch, said: str):
    ds, fresh, path = cached
    with pytest.warns(UserWarning, match=f"classifier cache .* {said}; retraining it"):
        net = OC.dataset_classifier(ds)
    assert _weights_equal(net, fresh)
    _verifies_afterwards(ds, fresh, path, monkeypatch)


@pytest.mark.parametrize("fill", [b"\x7f", b"\x00"])
def test_damaged_weight_bytes_are_retrained(cached, monkeypatch, fill):
    path = cached[2]
    b = bytearray(path.read_bytes())
    start = 8 + struct.unpack("<Q", b[:8])[0]
    if fill == b"\x00":
        b[start:] = bytes(len(b) - start)                  # every weight zeroed
    else:
        mid = start + (len(b) - start) // 2
        b[mid:mid + 4096] = fill * 4096
    path.write_bytes(bytes(b))
    _retrained(cached, monkeypatch, r"is damaged \(digest mismatch\)")


def test_a_cache_without_digest_is_retrained(cached, monkeypatch):
    path = cached[2]
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    old = {k: meta[k] for k in ("key", "arch", "heldout_accuracy", "recipe")}   # as gankit wrote it before digests
    save_file(load_file(str(path)), str(path), metadata=old)
    _retrained(cached, monkeypatch, "has no digest .*")


def test_nan_weights_are_retrained_even_with_a_matching_digest(cached, monkeypatch):
    path = cached[2]
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    tensors = load_file(str(path))
    tensors["head.weight"][0, 0] = float("nan")
    meta[OC.DIGEST] = OC._digest(meta["key"], tensors)
    save_file(tensors, str(path), metadata=meta)
    _retrained(cached, monkeypatch, r"holds NaN or inf in \['head.weight'\]")
