"""The processes of a torchrun run agree: every rank builds its own Run from its own command, gankit
and data, so the ranks compare a digest of each (gankit.train.run checks) and, where they differ,
say which ranks and what."""
from __future__ import annotations

import functools
import hashlib
import json

from gankit.identity import DATA_LOCATION_KEYS, flat_config, hashed_form, json_hash


@functools.cache
def code_digest() -> str:
    """16 hex digits of sha1 over gankit's own .py sources (paths and contents): ``__version__``
    stays the same across commits, these change with the code.  Read once per process (156
    files, 5 to 10 ms)."""
    from pathlib import Path
    return sources_digest(Path(__file__).parent)


def sources_digest(root) -> str:
    """code_digest of the package in ``root``: its .py files, but hidden ones and those in hidden
    folders (an editor's lock file, Emacs' ``.#run.py``: a link to nothing; .ipynb_checkpoints)
    and those that are no readable file (a dangling link, no read permission), which no import
    reads: one on a rank's machine failed the whole run."""
    h = hashlib.sha1()
    for p in sorted(root.rglob("*.py"), key=lambda p: p.relative_to(root).as_posix()):
        name = p.relative_to(root).as_posix()
        if any(part.startswith(".") for part in p.relative_to(root).parts) or not p.is_file():
            continue        # is_file: a fifo named x.py would block the read
        try:
            text = p.read_bytes()
        except OSError:
            continue
        h.update(name.encode() + b"\0")
        h.update(text.replace(b"\r\n", b"\n") + b"\0")   # a Windows checkout's line ends
    return h.hexdigest()[:16]


def code_details() -> dict:
    """How a message names this process's gankit: version, sources digest and, in a git
    checkout, its commit (an installed copy has none).  Asked only when the ranks disagree."""
    import subprocess
    from pathlib import Path

    from gankit import __version__
    checkout = Path(__file__).parent.parent
    rev = None
    if (checkout / ".git").exists():      # not the commit of a project whose venv holds an installed copy
        try:
            rev = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
                                 capture_output=True, text=True, timeout=5).stdout.strip() or None
        except Exception:        # no git
            pass
    return {"version": __version__, "sources": code_digest(), "git": rev}


def _tensor_digest(t) -> str:
    a = t.detach().cpu().contiguous().numpy()
    return f"{tuple(a.shape)} {a.dtype} sha1 {hashlib.sha1(a).hexdigest()[:12]}"


_MIXTURE = ("means", "stds", "weights")


def _plain_array(v):
    """``v`` (a tensor, an array, a number or a list of them) as a C-ordered numpy array whose
    bytes are its values, or None for anything else (None, a method, objects whose bytes would
    be addresses, which differ per process)."""
    import numpy as np
    import torch
    try:
        if isinstance(v, torch.Tensor):
            v = v.detach().cpu()
            v = v.float() if v.dtype == torch.bfloat16 else v      # numpy has no bfloat16; float32 holds it exactly
            a = v.contiguous().numpy()
        elif isinstance(v, (np.ndarray, np.generic, int, float, bool, list, tuple)):
            a = np.asarray(v)
        else:
            return None
    except (TypeError, ValueError, RuntimeError):      # a ragged list, a sparse or meta tensor
        return None
    return None if a.dtype.hasobject else np.ascontiguousarray(a)


def data_fingerprint(ds) -> dict:
    """What the ranks compare of the data each one built from the same config (files are read on
    each machine): a points file's data_digest, a text file's held-out cut and lines, vocabulary
    and training sequences, images' cut, pixels and labels, class names; a dataset of another
    kind held in memory, its rows.  A sha1 of tensors already built: 0.035 s for 63,000 28x28
    training images.  A Gaussian mixture, its means, stds and weights: a built-in one is drawn by
    code (code_digest), a user's dataset may draw its centres at random (differing per process)."""
    out: dict = {}
    text = getattr(ds, "kind", None) == "text"
    digest = getattr(ds, "data_digest", None)
    digest = digest if isinstance(digest, dict) and "rows" in digest else None     # images: their tensors below
    if digest is not None:
        out["points"] = f"{digest.get('rows')} rows sha256 {digest.get('sha256')}"
    cut = getattr(ds, "cut", None)
    if isinstance(cut, tuple):
        out["held-out cut"] = f"{cut[1]} of {cut[0]} {'distinct lines' if text else 'images'}"
    if getattr(ds, "split_digest", None):
        out["held-out lines"] = f"sha256 {ds.split_digest}"
    vocab = getattr(ds, "vocab", None)
    if isinstance(vocab, list):
        out["vocabulary"] = f"{len(vocab)} tokens sha1 {json_hash(vocab)[:12]}"
    names = getattr(ds, "class_names", None)
    if names:
        shown = " ".join(map(str, names))
        out["classes"] = shown if len(shown) <= 60 else f"{len(names)} names sha1 {json_hash(list(map(str, names)))[:12]}"
    import torch
    train = getattr(ds, "train" if text else "x", None)
    if not isinstance(train, torch.Tensor) and digest is None:
        train = ds.rows() if callable(getattr(ds, "rows", None)) else None
    if isinstance(train, torch.Tensor) and digest is None:
        out["training data"] = _tensor_digest(train)
    labels = getattr(ds, "labels", None)
    if isinstance(labels, torch.Tensor):
        out["labels"] = _tensor_digest(labels)
    stats = {k: _plain_array(getattr(ds, k, None)) for k in _MIXTURE}
    stats = {k: a for k, a in stats.items() if a is not None}
    if stats:       # K x d floats (a mixture's) or a user's own statistics: cheap either way
        h = hashlib.sha1()
        for k, a in stats.items():     # name, shape and dtype too: the same bytes in another shape differ
            h.update(f"{k} {a.shape} {a.dtype}".encode() + b"\0" + a.tobytes() + b"\0")
        m, s, w = (stats.get(k) for k in _MIXTURE)
        # a user's dataset may name other things means/stds/weights (a feature's mean and std, one
        # weight per row): only a K x d mixture is described as one, the rest is still compared
        if m is not None and s is not None and w is not None and m.ndim == 2 and s.ndim in (1, 2) \
                and w.ndim >= 1 and s.shape[0] == w.shape[0] == m.shape[0]:
            out["mixture"] = f"{m.shape[0]} modes in {m.shape[1]}-D sha1 {h.hexdigest()[:12]}"
        else:
            out[", ".join(stats)] = f"sha1 {h.hexdigest()[:12]}"
    return out


_UNSET = object()      # a key one rank's dict lacks


def _shown(v) -> str:
    return "unset" if v is _UNSET else v if isinstance(v, str) else json.dumps(v)


def ranks_of(values: list) -> dict[str, list[int]]:
    """Each distinct value of ``values`` (one per rank, shown as messages show it) -> its ranks."""
    groups: dict[str, list[int]] = {}
    for r, v in enumerate(values):
        groups.setdefault(_shown(v), []).append(r)
    return groups


def _named(ranks: list[int]) -> str:
    return f"rank{'s' if len(ranks) > 1 else ''} {', '.join(map(str, ranks))}"


def rank_differences(per_rank: list[dict]) -> list[str]:
    """"key: A on rank 0, B on rank 1" for each key whose value differs between the ranks' dicts."""
    keys = list(dict.fromkeys(k for d in per_rank for k in d))
    out = []
    for k in keys:
        groups = ranks_of([d.get(k, _UNSET) for d in per_rank])
        if len(groups) > 1:
            out.append(f"{k}: " + ", ".join(f"{v} on {_named(r)}" for v, r in groups.items()))
    return out


def ranks_parts_mismatch(records: list[dict]) -> str:
    """What differs between the ranks' code_record()s (the user's own parts, each --import'ed on
    its own machine), warned: "rank 1's generator 'myskip': other code than rank 0's, or ..."."""
    byte: dict[str, list[int]] = {}
    for rank, rec in enumerate(records):       # a rank with none of the user's parts has no bytecode
        if rec.get("trained_code_bytecode"):
            byte.setdefault(rec["trained_code_bytecode"], []).append(rank)
    if len(byte) > 1:          # every part's code differs under another Python's bytecode
        return ("the processes run other Python versions (bytecode " + ", ".join(f"{v} on {_named(r)}" for v, r
                in byte.items()) + "): install the same Python on every machine")
    parts = [r.get("trained_code") or {} for r in records]
    said = []
    for part in dict.fromkeys(k for p in parts for k in p):
        groups = ranks_of([p.get(part, _UNSET) for p in parts])
        others = [r for ranks in groups.values() if 0 not in ranks for r in ranks]
        if others:
            kind, _, name = part.partition(" ")
            said.append(f"{_named(others)}'s {kind} {name!r}")
    return (", ".join(said) + ": other code than rank 0's, or other values its code reads (a global); unless "
            "such a value is the rank's own on purpose (RANK, a device), give every process the same file "
            "(the same --import, the same contents)")


def ranks_config_mismatch(per_rank: list[tuple[dict, dict]]) -> str:
    """Why the ranks' (resolved config, code_details()) pairs differ, in one line: other gankit
    code first (it may explain the rest: new options' defaults), then the config keys that differ."""
    said = []
    codes = ranks_of([code["sources"] for _, code in per_rank])
    if len(codes) > 1:
        others = [r for v, ranks in codes.items() if 0 not in ranks for r in ranks]
        each = "; ".join(f"rank {r}: gankit {c['version']}, sources {c['sources']}"
                         + (f", git {c['git']}" if c.get("git") else "") for r, (_, c) in enumerate(per_rank))
        said.append(f"{_named(others)} run{'s' if len(others) == 1 else ''} other gankit code than rank 0 "
                    f"({each}); install the same gankit (one commit, no local edits) on every machine")
    diff = rank_differences([flat_config(hashed_form(cfg)) for cfg, _ in per_rank])
    if diff:
        shown = "; ".join(diff[:6]) + ("; ..." if len(diff) > 6 else "")
        where = {f"data.{k}" for k in DATA_LOCATION_KEYS} | {"eval.inception_weights"}
        places = [d.partition(":")[0] for d in diff if d.partition(":")[0] in where]
        fixes = ([f"a relative path is read against each process's current folder: give {' and '.join(places)} "
                  "as an absolute path, the same on every machine"] if places else []) + \
            (["start every process with the same preset, config file and --set options"]
             if len(places) < len(diff) else [])
        fix = "; ".join(fixes)
        said.append(f"the processes' configs differ: {shown}; {fix}")
    return "; and ".join(said) or "the processes disagree on the run's config; start every process the same way"


def ranks_data_mismatch(per_rank: list[dict], cfg) -> str:
    """Why the ranks' data_fingerprint()s of ``cfg``'s data differ, in one line."""
    from gankit.data import data_named
    where = data_named(cfg)
    where = f"data.name = {cfg.data.name!r}" if where == "the data" else where
    diff = rank_differences(per_rank)
    shown = "; ".join(diff)
    if diff and all(d.startswith("mixture:") for d in diff):       # drawn by code, not read from a file
        return (f"the processes drew other data from {where} ({shown}): a dataset drawn by code must draw the "
                "same on every process; seed its random parts from its options, not the clock or the process id")
    return (f"the processes read other data from {where} ({shown}): every machine must hold the same data; "
            "copy rank 0's to the others (or give each a path to an identical copy) and start again")
