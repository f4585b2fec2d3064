"""What data a run trained on, as each checkpoint records it ("data_digest"): the points of a
points file (their rows, in any order) or the images of an image dataset (pixels, order, held-out
split and labels), so data replaced under the same path are told apart and refused by eval,
sample and --resume (gankit compare keeps such runs apart)."""
from __future__ import annotations

import hashlib

import numpy as np
import torch

from gankit.config import ConfigError


def points_digest(x: torch.Tensor) -> dict:
    """{"rows": n, "sha256": 16 hex digits} of the rows of ``x`` sorted (their order in the file
    changes no point the run trains on; copies count: they weigh a point twice)."""
    a = np.ascontiguousarray(x.numpy() + np.float32(0))          # -0.0 and 0.0 are one value
    h = hashlib.sha256(f"{a.dtype} {a.shape}".encode())
    if a.size:      # each row one value of its bytes: one sort, not one per column (1e6 x 10: 0.8 s)
        h.update(np.sort(a.view(np.dtype((np.void, a.itemsize * a.shape[1]))).ravel()).tobytes())
    return {"rows": int(a.shape[0]), "sha256": h.hexdigest()[:16]}


def images_digest(x: torch.Tensor, heldout=None, labels=None, heldout_labels=None) -> dict:
    """{"images": n, "sha256": 16 hex digits} of images as training sees them: the uint8 pixels of
    the training images, then of the held-out ones, each in their order (a resume's draws follow
    it, and files renamed change which images are held out), and their labels where known.  One
    sha256 pass over bytes already in memory: 0.04 s for Fashion-MNIST's 70,000 28x28 images."""
    h = hashlib.sha256()
    for part in (x, heldout, labels, heldout_labels):
        a = None if part is None else np.ascontiguousarray(part.numpy())
        h.update(b"none;" if a is None else f"{a.dtype} {a.shape};".encode())     # parts told apart
        if a is not None and a.size:
            h.update(a)
    return {"images": len(x) + (0 if heldout is None else len(heldout)), "sha256": h.hexdigest()[:16]}


def digest_amount(d: dict) -> str:
    """A data_digest's count in words: "600 rows" (points), "25 images"."""
    return f"{d.get('images')} images" if "images" in d else f"{d.get('rows')} rows"


def points_changed(was, ds, where: str) -> str | None:
    """What differs between the points or images a run recorded (its checkpoint's "data_digest")
    and those ``ds`` holds now, in words; None when they agree, or either has no record (a run
    saved before the record, or data that are not read from files: the built-in mixtures are
    drawn by their code)."""
    now = getattr(ds, "data_digest", None)
    if not isinstance(was, dict) or not isinstance(now, dict) or was.get("sha256") == now["sha256"]:
        return None
    if "images" in now:
        then, n = was.get("images", was.get("rows")), now["images"]
        counts = (f"{then} then, {n} now" if then != n else f"{n} then and now; other pixels, or files "
                  "renamed: the order of their names decides which images are held out")
        return f"{where}: the images changed since training ({counts})"
    rows = (f"{was.get('rows')} rows then, {now['rows']} now" if was.get("rows") != now["rows"]
            else f"{now['rows']} rows then and now, other values")
    return f"{where} holds other points than this run trained on ({rows}): the file changed since training"


def refuse_other_points(state: dict, ds, where: str) -> None:
    """Refuses points or images other than a run trained on (eval, sample, --resume): its samples
    would be measured against, and a resume trained on, another distribution under the same
    data.path (or data.root)."""
    changed = points_changed(state.get("data_digest"), ds, where)
    if not changed:
        return
    key = where.split(" = ")[0] if where.startswith("data.") else "data.path"
    if "images" in ds.data_digest:
        raise ConfigError(f"{changed}; restore them as they were (or give a copy of them with --set {key}=...), "
                          "or train a new run on the images as they are")
    raise ConfigError(f"{changed}; restore the file as it was (or give a copy of it with --set "
                      "data.path=...), or train a new run on the data as they are")
