"""A class-folder run's class names: how a folder's name maps to a class number (its place in
sorted name order, which --label, the report and the class metrics use), what a checkpoint records
of them, and the refusal when the data's classes differ from those a run trained on."""
from __future__ import annotations

import re
import unicodedata
import warnings

from gankit.config import ConfigError


class ClassNumbering(UserWarning):
    """Class folders named by numbers that are not their class numbers (positions in sorted name order)."""


def _refuse_same_names(names: list[str]):
    """Two class folders whose names are one name once normalised (NFC): 'café' spelt composed and
    decomposed look alike everywhere a class is named (--label, the report, messages)."""
    seen: dict[str, int] = {}
    for k, n in enumerate(names):
        if n in seen:
            raise ConfigError(f"class folders {seen[n]} and {k} are both named {n!r} once Unicode is normalised "
                              "(NFC; macOS and zip files spell names decomposed): one name cannot tell two classes "
                              "apart; rename or merge them")
        seen[n] = k


def folder_number(name: str) -> int | None:
    """The number a folder's name is where --label reads it as one (digits, a sign), else None."""
    return int(name) if re.fullmatch(r"\s*[+-]?[0-9]+\s*", name) else None


def _warn_numbered_names(names: list[str]):
    """Folders named 0..11 (or 3, 7, 100) are numbered by their place in sorted name order, so class
    2 may be folder '10': said once, listing the first pairs (the numbering itself stays, old runs
    keep their meaning).  Among other names ('2', 'apple', 'banana') a folder whose number is another
    class's number is said too: --label 2 is class 2, 'banana', not folder '2'."""
    numbers = [folder_number(n) for n in names]
    if None not in numbers:
        if numbers == list(range(len(names))):
            return
        pairs = ", ".join(f"{k} ({n})" for k, n in enumerate(names[:6])) + (", ..." if len(names) > 6 else "")
        warnings.warn(f"class folders are named by numbers, but class numbers are positions in sorted name order: "
                      f"{pairs}; --label, the report and the class metrics use these numbers (gankit sample names "
                      "the class it drew)", ClassNumbering, stacklevel=3)
        return
    clash = [(k, n, v) for k, (n, v) in enumerate(zip(names, numbers)) if v in range(len(names)) and v != k]
    if not clash:
        return
    pairs = "; ".join(f"folder {n!r} is class {k}, class {v} is {names[v]!r}" for k, n, v in clash[:3])
    more = f" (and {len(clash) - 3} more)" if len(clash) > 3 else ""
    k, n, _ = clash[0]
    warnings.warn(f"class folders named by numbers that are other classes' numbers ({pairs}{more}): class numbers "
                  f"are positions in sorted name order, and a number given to --label is always one (folder {n!r} "
                  f"is --label {k}); the report and the class metrics use these numbers too (gankit sample names "
                  "the class it drew)", ClassNumbering, stacklevel=3)


def class_names_record(dataset) -> dict:
    """{"class_names": [...]} for a checkpoint of a run whose data's classes have names, else {}:
    a class's number is its place among them, so the same numbers on other names mean other classes.
    Unconditional runs too: ssgan's D is a classifier of those classes, and a folder's images are in
    class-folder order, which decides which of them its held-out split holds."""
    if getattr(dataset, "condition_kind", None) not in (None, "none"):
        names = getattr(dataset, "folder_names", None)      # a caption run's class_names are its words
    else:
        raw = getattr(dataset, "class_names", None)
        named = bool(raw) and all(isinstance(n, str) for n in raw)
        names = [unicodedata.normalize("NFC", n) for n in raw] if named else None     # as folder_names
    out = {"class_names": list(names)} if names else {}
    vocab = getattr(dataset, "vocab", None) if getattr(dataset, "condition_kind", None) == "text" else None
    from gankit.data.conditional import Vocab
    if isinstance(vocab, Vocab):      # a caption's word ids: each word's embedding was trained as that word
        out["caption_words"] = list(vocab.words)
    return out


def refuse_other_classes(state: dict, dataset, where: str = "the data"):
    """A run opened on data whose class names or their order differ from those it trained on (a
    folder renamed, data moved), or whose caption words have other ids: G's (or ssgan's D's) class k
    (or word k) would be sampled, measured and trained as another.  Checkpoints that recorded neither
    (older runs, unconditional ones before they recorded names) are accepted as before."""
    now = class_names_record(dataset)
    for key, what in (("class_names", "class"), ("caption_words", "caption word")):
        was, have = state.get(key), now.get(key)
        if not was or not have or list(was) == have:
            continue

        def shown(names, k):
            return repr(names[k]) if k < len(names) else "none"
        diff = [k for k in range(max(len(was), len(have))) if k >= len(was) or k >= len(have) or was[k] != have[k]]
        said = "; ".join(f"{what} {k} was {shown(was, k)}, is now {shown(have, k)}" for k in diff[:3])
        more = f" (and {len(diff) - 3} more)" if len(diff) > 3 else ""
        cut = getattr(dataset, "cut", None)
        held = (", and its held-out split (cut from the images in class-folder order) other images"
                if what == "class" and isinstance(cut, tuple) and len(cut) == 2 and cut[1] > 0 else "")
        changed = f"{where} holds other class folders than this run trained on ({said}{more})"
        if what == "class" and getattr(dataset, "condition_kind", None) in (None, "none"):
            # G draws no class here: the numbers matter to a semi-supervised D and the class metrics
            meaning = "the class numbers (a semi-supervised D's outputs, the class metrics) would mean other classes"
        else:
            meaning = f"its {what} numbers would mean other {'classes' if what == 'class' else what + 's'}"
        raise OtherClasses(f"{changed}: {meaning}{held}; point data.path at the data the run trained on "
                           "(--set data.path=...), or train a new run on these data", changed)


class OtherClasses(ConfigError):
    """``refuse_other_classes``'s refusal; ``changed``: what differs, in words (the report says it)."""

    def __init__(self, message: str, changed: str):
        super().__init__(message)
        self.changed = changed
