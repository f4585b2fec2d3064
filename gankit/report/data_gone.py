"""A report whose run's data are gone (moved or deleted, config.toml's absolute place empty), or
whose class folders changed since it trained: built from the run folder alone, with a note on what
only the data hold."""
from __future__ import annotations

import os
import warnings
from types import SimpleNamespace

import numpy as np
import torch

class DataGone(UserWarning):
    """A run's data are not where config.toml says (moved or deleted): its report is built from
    the run folder alone, leaving out what only the data hold."""


def gone_place(cfg, overrides) -> tuple[str, str] | None:
    """(key, value) of a data location config.toml records, absolute, where nothing is now; None
    where the data are there, or the place is the reader's own --set (a mistyped place is said,
    not drawn around) or relative (gankit.data.refuse_relative_recorded says why)."""
    from gankit.identity import DATA_LOCATION_KEYS
    given = {str(o).partition("=")[0].strip() for o in overrides or []}
    params = cfg.data.params if isinstance(cfg.data.params, dict) else {}
    for k in DATA_LOCATION_KEYS:
        v = params.get(k)
        full = os.path.expanduser(v) if isinstance(v, str) and v else None
        if full and os.path.isabs(full) and not os.path.exists(full) and not given & {"data", f"data.{k}"}:
            return k, v
    return None


def _stand_in(folder, cfg, snaps):
    """(a stand-in for the run's data from its folder alone, its kind, the checkpoint's vocabulary):
    their kind and dimension (the newest snapshot's), the class names the checkpoint recorded, no
    sample (a text run's decodes with the vocabulary of the newest checkpoint)."""
    from gankit.data import trained_on
    seen = trained_on(folder)
    last = snaps.last()
    x = np.asarray(last[0]["samples"]) if last else np.zeros((0, 0), np.float32)
    kind = "image" if x.ndim == 4 else "text" if seen.get("text") or x.dtype.kind in "iu" else "points"
    dataset = SimpleNamespace(kind=kind, dim=int(x.shape[1]) if x.ndim > 1 else 0, gone=True, modes=None,
                              mode_weights=None, classes=None, has_density=False,
                              class_names=seen.get("class_names"), condition_kind=cfg.condition.kind)
    vocab = seen.get("vocab")
    if kind == "text" and vocab:
        from gankit.data.text_dataset import END, TextDataset
        params = cfg.data.params if isinstance(cfg.data.params, dict) else {}
        dataset = TextDataset(torch.zeros(0, 1, dtype=torch.long), torch.zeros(0, 1), vocab,
                              params.get("level", "char"), None, vocab.index(END) if END in vocab else None, None)
    return dataset, kind, vocab


def without_data(folder, cfg, gone: tuple[str, str], snaps) -> tuple[object, str]:
    """A stand-in for data that are gone (``_stand_in``), and the page's note on what is left out,
    said once as a DataGone warning: a points run's real points, a text run's held-out lines and
    copy marks (with no vocabulary, its samples); an image run's sections read its snapshots alone."""
    key, where = gone
    dataset, kind, vocab = _stand_in(folder, cfg, snaps)
    lost = {"image": "", "points": "the real points drawn with G's samples" + (
                " and the per-condition panels" if cfg.condition.kind != "none" else ""),
            "text": "the held-out lines and the marks of samples that copy a training line" if vocab else
                    "the samples (no checkpoint holds the vocabulary that decodes them)"}[kind]
    note = (f"data.{key} = {where!r} is missing (moved or deleted?): this report is built from the run folder "
            "alone" + (f" and leaves out {lost}; --set data.{key}=NEW gives their new place" if lost else
                       f", which holds all it shows (gankit eval, sample and train --resume need the data: "
                       f"--set data.{key}=NEW gives their new place)"))
    warnings.warn(note, DataGone, stacklevel=3)
    return dataset, note


def classes_changed(folder, cfg, snaps, refusal, overrides) -> tuple[object, str]:
    """The report of a conditional run whose class folders were renamed, added or removed since it
    trained (``refusal``: refuse_other_classes's OtherClasses): built as for data that are gone,
    its class numbers named as the checkpoint recorded them, with a note (a DataChanged warning).
    Data the reader named (--set data.path=...) are refused: a mistyped place is said, not drawn around."""
    from gankit.data import DataChanged
    from gankit.identity import DATA_LOCATION_KEYS
    given = {str(o).partition("=")[0].strip() for o in overrides or []}
    if given & {"data", *(f"data.{k}" for k in DATA_LOCATION_KEYS)}:
        raise refusal
    dataset, kind, _ = _stand_in(folder, cfg, snaps)
    lost = " and leaves out the real points drawn with G's samples" if kind == "points" else ""
    note = (f"{refusal.changed}: this report is built from the run folder alone{lost}, each class named as "
            "the run's checkpoint recorded it (gankit eval, sample and train --resume refuse these data: they "
            "need the class folders the run trained on)")
    warnings.warn(note, DataChanged, stacklevel=3)
    return dataset, note
