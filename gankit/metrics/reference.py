"""The real-data reference: each metric measured with real samples in G's place.

It tells what a perfect generator would score under the same protocol (the same sample
sizes, features and seeds), so a run's numbers read against it: FID of real held-out
images against the training statistics is not 0 at n = 2,500, the mode count of real
samples is the ceiling, and so on.

Where the real samples come from: the dataset's held-out split when it has one (image
data: ``split("heldout")``; text: ``test``), else fresh draws from the data
distribution (toy mixtures: ``sample``), drawn with the evaluation stream "reference".
Metrics that generate for given conditions (conditional runs) or need G's likelihood
are left out: they have no real-data counterpart here.  Metrics that themselves compare
against the held-out split (Parzen, memorisation) read optimistic on held-out samples;
their reference says so in its ``source``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from gankit.metrics.context import EvalContext
from gankit.metrics.code_stamp import code_hash as _code_hash  # noqa: F401  (tests)
from gankit.metrics.user_code import _hash_of, _user_code, _user_code_hash, user_code  # noqa: F401  (api, tests)


class NoReference(Exception):
    """This metric has no real-data counterpart (conditions, likelihood)."""


def _pool(dataset):
    """Held-out real samples, or None (then the distribution is sampled)."""
    split = getattr(dataset, "split", None)
    if callable(split):
        try:
            return split("heldout"), "held-out split"
        except (ValueError, TypeError, AttributeError):
            pass
    test = getattr(dataset, "test", None)
    if isinstance(test, torch.Tensor):
        from gankit.metrics.text import BLEU_HYPOTHESES, BLEU_REFERENCES
        if getattr(dataset, "kind", None) == "text":
            # BLEU scores against test[:BLEU_REFERENCES]: a real line scored against references
            # holding itself would score 1.  Past them only where as many lines lie there as BLEU
            # draws: a few lines there (201-249) were the row's every number (one line: BLEU 1.000,
            # no self-BLEU); else the whole split, BLEU scoring each line without itself
            # (_bleu_without_itself)
            if len(test) - BLEU_REFERENCES >= BLEU_HYPOTHESES:
                return test[BLEU_REFERENCES:], f"test split past its first {BLEU_REFERENCES} lines (BLEU's references)"
            if len(test) > BLEU_REFERENCES:
                return test, (f"test split (BLEU: each line against the other lines of its first "
                              f"{BLEU_REFERENCES}, BLEU's references)")
            return test, "test split (BLEU: each line against the other test lines)"
        return test, "test split"
    rows = dataset.rows() if callable(getattr(dataset, "rows", None)) else None
    if rows is not None:
        return rows, "the data's own points (the set against itself: a ceiling)"
    if getattr(dataset, "kind", None) == "image":     # a finite set with no held-out split
        return None, (f"training images drawn again, {_why_no_heldout(dataset)}: the set "
                      "against itself, a ceiling only a copy of it reaches")
    return None, "fresh draws from the data distribution"


def _why_no_heldout(dataset) -> str:
    """Why an image set holds no held-out split, from how it was cut (ImageDataset.cut): (n, 0) is
    data.holdout > 0 over too few images, or over classes of one image each (each went back to
    training); no cut is data.holdout = 0."""
    from gankit.data.images import MIN_HOLDOUT_IMAGES
    cut = getattr(dataset, "cut", None)
    if cut and cut[1] == 0:
        n = cut[0]
        if n < MIN_HOLDOUT_IMAGES:
            return (f"{n} image{' is' if n == 1 else 's are'} too few to hold any out "
                    f"(data.holdout needs {MIN_HOLDOUT_IMAGES} or more)")
        return ("no image held out (those data.holdout took were the only images of their classes and "
                "went back to training)")
    return "no held-out split (data.holdout = 0)"


def _drawn(size: int, n: int, seed) -> torch.Tensor:
    """Positions in a pool of ``size`` of the n real samples drawn with ``seed``: at most the
    pool's size, drawn without replacement (repeats would shrink every nearest-neighbour
    radius to 0: recall and coverage near 0 for real data)."""
    g = torch.Generator().manual_seed(0 if seed is None else int(seed))
    return torch.randperm(size, generator=g)[:n]


def _bleu_without_itself(ctx) -> dict:
    """The reference row's BLEU where the real lines are drawn from the whole test split (fewer
    than BLEU_HYPOTHESES lines past BLEU_REFERENCES): each line against the references less its
    own position (a line past them, against all of them).  Another copy of the same text stays:
    it is another sample of the data.  An <unk> matches nothing (``bleu_scores``): a test split
    of unseen words scores 0, not 1.  The orders are the run's BLEU's (``measurable_orders``): one
    at which most lines are shorter than n measures nothing, and the run leaves it out too."""
    from gankit.metrics.text import BLEU_HYPOTHESES, BLEU_REFERENCES, bleu_scores, measurable_orders
    ds = ctx.dataset
    lines = ds.token_lists(ds.test)
    refs = lines[:BLEU_REFERENCES]
    if len(lines) < 2:
        raise NoReference("one test line: no other line to score it against")
    idx = _drawn(len(lines), min(ctx.settings.n_samples, BLEU_HYPOTHESES), ctx.stream("samples")).tolist()
    orders = measurable_orders("bleu", [lines[i] for i in idx], refs)
    if not orders:
        return {}
    sums = dict.fromkeys(orders, 0.0)
    for i in idx:
        for n, v in bleu_scores([lines[i]], refs[:i] + refs[i + 1:], orders).items():
            sums[n] += v
    return {f"bleu{n}": v / len(idx) for n, v in sums.items()}


def _for_reference(m, dataset):
    """The metric as the reference row measures it: gankit's BLEU on real lines drawn from the
    whole test split (its first lines are BLEU's references) scores each line without itself;
    every other metric as it is."""
    from gankit.metrics import text as T
    if m.fn is T._bleu and _pool(dataset)[0] is getattr(dataset, "test", None):
        return dataclasses.replace(m, fn=_bleu_without_itself)
    return m


def reference_context(dataset, settings, seed: int, step: int = 0) -> tuple[EvalContext, str]:
    pool, source = _pool(dataset)

    def sample(n, seed_=None, y=None, c=None):
        if y is not None or c is not None:
            raise NoReference("conditions")
        if pool is None:
            return dataset.sample(n, torch.Generator().manual_seed(0 if seed_ is None else int(seed_))), None
        return pool[_drawn(len(pool), n, seed_)], None

    ctx = EvalContext(dataset=dataset, settings=settings, seed=seed, device=torch.device("cpu"), step=step,
                      sample=sample, likelihood=None, real=True)
    return ctx, source


def measures_real(names: list[str] | None) -> bool:
    """Whether the reference row of metrics ``names`` (None: every one that applies) can hold a
    number: not where each measures a part of the run (gankit.metrics.RUN_PARTS: a classifier, an
    encoder, an ELBO), which real data lack (``reference_context`` holds none): each is skipped."""
    from gankit.metrics import RUN_PARTS
    return not names or any(n not in RUN_PARTS for n in names)


def evaluate_reference(dataset, settings, seed: int, names: list[str] | None = None) -> dict:
    """{key: value} of every applicable metric (or the named ones) on real samples, plus
    ``source``; metrics without a real counterpart are skipped."""
    from gankit.registry import METRICS
    ctx, source = reference_context(dataset, settings, seed)
    out = {}
    skipped = []
    from gankit.metrics.progress import Progress
    metrics = [METRICS.build(name, where="eval.metrics") for name in names or METRICS.names()]
    metrics = [_for_reference(m, dataset) for m in metrics if m.applies(dataset)]
    from gankit import seeds
    from gankit.metrics import seed_for_metric
    # as evaluate: each metric's global stream seeded from the seed and its name, the caller's
    # put back (api.evaluate measures a reference row between the user's own draws)
    with seeds.forked(torch.device("cpu")), Progress(len(metrics), "reference (real data)") as bar:
        for m in metrics:
            bar.step(m.name)
            seed_for_metric(m.name, ctx)
            _measure(m, ctx, out, skipped)
            bar.advance()
    out["source"] = source
    if skipped:
        out["skipped"] = skipped
    return out


def _measure(m, ctx, out: dict, skipped: list):
    from gankit.metrics import _checked, _user, _where
    from gankit.metrics.base import NotForThisRun, TooFewSamples
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = _checked(m, m(ctx))
    except (NoReference, NotForThisRun, TooFewSamples):
        # no real counterpart (conditions, G's likelihood, a part of the run) or too few real samples
        skipped.append(m.name)
        return
    except Exception as e:
        # any other error of gankit's own metric is a bug: caught, it read "no real counterpart"
        if not _user(m):
            raise
        # a user's metric (--import): left out, as evaluate() leaves it out, but said
        warnings.warn(f"metric {m.name!r} ({_where(m)}) failed on real data: {type(e).__name__}: {e}; "
                      "left out of the reference row", stacklevel=3)
        skipped.append(m.name)
        return
    out.update({k: v for k, v in res.items() if k != "mode_counts"})


# ------------------------------------------------------------------ the row, cached on disk
#
# A reference row depends on the data, the evaluation settings, the seed and the code that
# measures it, never on G; on Fashion-MNIST it costs ~100 s (memorisation and Parzen against
# 60,000 images), repeated by every run of a sweep at the same seed.  It is kept as JSON in
# $GANKIT_CACHE/reference/, keyed by all of these.

_METRICS_CODE: list[str] = []


def metrics_code() -> str:
    """16 hex digits of ``_code_hash``: the version of the code that measures every metric, kept
    in each eval and reference record's settings (gankit/eval_records.py protocols), so numbers measured
    by an older gankit, whose definitions may differ (reverse KL's cap, mmd2's bandwidth), are
    told apart from this one's.  Hashed once per process: the code that runs is the code loaded
    (a source tree updated during a long training does not change what measures its evaluations)."""
    if not _METRICS_CODE:
        _METRICS_CODE.append(_code_hash()[:16])
    return _METRICS_CODE[0]


def reference_key(dataset, data_cfg: dict, settings: dict, seed: int, names: list[str] | None) -> str | None:
    """The cache key of a reference row: the dataset's class and every tensor or array it and the
    datasets it wraps hold (content hashes, so a folder whose images changed gets a new row), the data and
    eval settings, the seed, the metric names, torch/numpy versions, gankit's code and the user's
    metrics' and dataset's (``_user_code``).  None where the user's code can be keyed for this
    process alone: such a row is never found again on disk, so it is not kept."""
    from gankit.metrics.feature_nets import tensor_hash
    user, opaque = _user_code(names, data_cfg.get("name"))
    if opaque:
        return None
    parts = ["reference-v1", type(dataset).__module__ + "." + type(dataset).__qualname__,
             torch.__version__, np.__version__, _code_hash(), _hash_of(user),
             json.dumps(data_cfg, sort_keys=True, default=str), json.dumps(settings, sort_keys=True, default=str),
             str(int(seed)), ",".join(sorted(names)) if names else "*"]
    parts += [f"{k}={tensor_hash(v)}" for k, v in _held_tensors(dataset)]
    return hashlib.sha1("\x00".join(parts).encode()).hexdigest()


def _held_tensors(dataset) -> list[tuple[str, object]]:
    """(name, tensor or array) of all a dataset holds, and all the datasets it wraps hold (``base``:
    a conditional run's labels or captions around the images, stacked MNIST's triples around the
    digits it draws from): a wrapper's own attributes need not hold the data it serves.  A plain
    dataset's names are its attributes' (the keys of rows measured before stay theirs)."""
    found, seen, prefix = [], set(), ""
    while dataset is not None and id(dataset) not in seen:
        seen.add(id(dataset))
        own = getattr(dataset, "__dict__", {})     # its own: a wrapper's __getattr__ forwards to the base
        found += [(prefix + k, v) for k, v in sorted(own.items()) if isinstance(v, (torch.Tensor, np.ndarray))]
        dataset, prefix = own.get("base"), prefix + "base."
    return found


def _value_fault(key: str, v) -> str | None:
    """Why ``v`` cannot be the recorded value of ``key``, or None.  A row holds what
    ``jsonable`` writes: finite numbers (or booleans), null for NaN, "inf"/"-inf"; strings
    only where the metric declares one (fmt "s", e.g. fid's ``features``); ``source`` a
    string and ``skipped`` a list of metric names.  A key no registered metric declares (a user's
    metric without outputs) may hold any JSON scalar or list of them."""
    import math

    from gankit.metrics.base import output_info

    def number(x):
        try:
            return x is None or x in ("inf", "-inf") or (isinstance(x, (int, float)) and math.isfinite(x))
        except OverflowError:       # an integer of hundreds of digits: no measurement writes one
            return False

    def scalar(x):
        return x is None or isinstance(x, (bool, int, float, str))
    if key == "source":
        ok = isinstance(v, str)
    elif key == "skipped":
        ok = isinstance(v, list) and all(isinstance(e, str) for e in v)
    else:
        info = output_info(key)
        if info is None:
            ok = scalar(v) or (isinstance(v, list) and all(scalar(e) for e in v))
        else:
            ok = number(v) or (info.fmt == "s" and isinstance(v, str))
    if ok:
        return None
    s = json.dumps(v)
    return f"holds {key} = {s if len(s) <= 40 else s[:40] + '...'}, not a value a measurement writes"


def _row_fault(row) -> str | None:
    """Why a cached row is not a reference row as ``evaluate_reference`` writes it, or None."""
    if not isinstance(row, dict) or not all(isinstance(k, str) for k in row):
        return "is not a row of {name: value}"
    if "source" not in row:
        return "lacks source"
    for k, v in row.items():
        fault = _value_fault(k, v)
        if fault:
            return fault
    return None


def _valid_row(row) -> bool:
    return _row_fault(row) is None


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()


def cached_reference(dataset, settings, seed: int, names: list[str] | None, *, data_cfg: dict,
                     settings_dict: dict) -> dict:
    """``evaluate_reference``, read from $GANKIT_CACHE/reference/ when the same row was
    measured before (see ``reference_key``; ``data_cfg`` and ``settings_dict``: the run's
    data and eval settings as plain dicts); a damaged or foreign file is measured again and
    replaced, never trusted.  Without a cache folder (``gankit.io.cache_folder``) it is measured.

    Beside each <key>.json lies <key>.sha1, the digest of the row as written: a row with a
    key deleted or a value changed no longer matches it (which keys a measurement yields
    depends on the data and feature net, so only the row as measured can tell), and every
    value must also be of its key's kind (``_row_fault``)."""
    from gankit.io import cache_folder, jsonable, write_text_atomic
    folder = cache_folder("reference")
    key = None if folder is None else reference_key(dataset, data_cfg, settings_dict, seed, names)
    if key is None:
        return jsonable(evaluate_reference(dataset, settings, seed, names))
    path = folder / f"{key}.json"
    # first without the lock (a row measured before costs no wait); a row missing or failing
    # its digest is read again under it, where no writer is half done, and only then warned of
    row, _ = _read_row(path)
    if row is not None:
        return row
    from gankit.io.locks import computing
    with computing(path, "the data's reference row"):
        row, fault = _read_row(path)
        if row is not None:
            return row
        if fault:
            warnings.warn(f"reference cache {path} {fault}; measuring again", stacklevel=2)
        row = jsonable(evaluate_reference(dataset, settings, seed, names))
        try:
            text = json.dumps(row)
            # the digest first: a reader without the lock then finds the row with its digest, or no row
            write_text_atomic(path.with_suffix(".sha1"), _sha1(text))
            write_text_atomic(path, text)
        except OSError as e:
            warnings.warn(f"cannot write the reference cache {path}: {e}; the row is not kept, and is measured "
                          "again next time", stacklevel=2)
        return row


def reference_cache_where() -> Path | None:
    """Where reference rows are kept, or None where none can be (no cache folder, or one that
    cannot be written): what ``gankit eval`` names before it measures the row."""
    from gankit.io import cache_folder
    folder = cache_folder("reference")
    if folder is None:
        return None
    there = folder
    while not there.exists() and there != there.parent:     # made at the first write: its nearest folder
        there = there.parent
    return folder if there.is_dir() and os.access(there, os.W_OK | os.X_OK) else None


def _read_row(path: Path) -> tuple[dict | None, str | None]:
    """(the reference row cached at ``path``, None) (its digest beside it, ``.sha1``); (None, None)
    where it is missing; (None, why) where it is damaged, edited or not a row."""
    if not path.is_file():
        return None, None
    digest = path.with_suffix(".sha1")
    try:
        text = path.read_text(encoding="utf-8")
        row = json.loads(text)
        fault = _row_fault(row)
        if fault is None and (not digest.is_file() or digest.read_text(encoding="utf-8").strip() != _sha1(text)):
            fault = "does not match its digest (edited, cut short or written without one)"
        return (row, None) if fault is None else (None, fault)
    except (OSError, ValueError, UnicodeDecodeError) as e:
        return None, f"is damaged ({type(e).__name__})"
