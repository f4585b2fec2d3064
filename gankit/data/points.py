"""A user's own points: a .npy array or a .csv of comma-separated values, one point a row.

Read as a user makes them (a header or none, pandas' row index, blank lines) and refused with
a one-line message naming the row or the fix when they cannot be read as points.
"""
from __future__ import annotations

import functools
import math
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from gankit.config import ConfigError
from gankit.data.base import Dataset, padded_box
from gankit.data.digest import points_digest


def _amount(n: int) -> str:
    """A byte count as people read it: "64 bytes", "1.46 TiB"."""
    if n < 1024:
        return f"{n} bytes"
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        n /= 1024
        if n < 1024:
            break
    return f"{n:.3g} {unit}"


def npy_shortfall(path: Path) -> str | None:
    """What a .npy file's header declares and the file holds, in words, where it declares more
    (a damaged or cut file, or a crafted header); else None.  Checked before np.load, which first
    allocates what the header declares: (1e11, 2) float64 in a 192-byte file would end in "out of
    memory".  A header numpy cannot parse is left to np.load to report."""
    fmt = np.lib.format
    try:
        with open(path, "rb") as f:
            version = fmt.read_magic(f)
            # version 3.0 differs from 2.0 only in the header's encoding (UTF-8, for field names)
            read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, _, dtype = read(f)
            held = os.fstat(f.fileno()).st_size - f.tell()
    except (OSError, ValueError, EOFError, SyntaxError):
        return None
    if dtype.hasobject:      # pickled objects: no size to check (np.load refuses them)
        return None
    declared = math.prod(shape) * dtype.itemsize
    if declared <= held:
        return None
    return (f"declares {_amount(declared)} of data (shape {tuple(shape)}, {dtype}) but holds {_amount(held)}: "
            "the file is damaged or cut")


def _is_number(field: str) -> bool:
    try:
        float(field)
        return True
    except ValueError:
        return False


def _loadtxt(lines: list[str]) -> np.ndarray:
    with warnings.catch_warnings():     # no rows is reported by _read_csv, in its own words
        warnings.filterwarnings("ignore", "loadtxt: input contained no data")
        return np.loadtxt(lines, delimiter=",", ndmin=2)


def _other_separator(field: str) -> str | None:
    """The separator that splits a non-number into numbers ('1;2': semicolons), else None."""
    for sep, name in ((";", "semicolons"), ("\t", "tabs"), (None, "spaces")):
        parts = field.split(sep)
        if len(parts) > 1 and all(_is_number(f) for f in parts):
            return name
    return None


def _fields(lines: list[str]):
    """(line number, fields) of each line that holds data, as loadtxt reads them."""
    for no, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].strip()
        if line:
            yield no, [f.strip() for f in line.split(",")]


def _text_column(rows: list[tuple[int, list[str]]], col: int, names) -> ValueError | None:
    """A column of text (labels, names): no number in any of the rows read (two at least: one
    bad cell of a one-row file is no column), or a header naming it like labels (LABEL_NAMES).
    Every row holds text there, so the fix is the column, not a row; None for a column of numbers
    with a bad cell."""
    cells = [f[col - 1] for _, f in rows if len(f) >= col]
    name = names[col - 1] if names and col <= len(names) else ""
    if not _label_named(name) and (len(cells) < 2 or any(_is_number(c) for c in cells)):
        return None
    shown = list(dict.fromkeys(c for c in cells if not _is_number(c)))
    return ValueError(f"column {_column(col - 1, names)} holds text ({', '.join(map(repr, shown[:3]))}"
                      f"{', ...' * (len(shown) > 3)}): a points file holds coordinates only, no labels (class "
                      "labels come from image folders or the labelled data sets: docs/conditional.md); "
                      "drop that column")


def _row_fault(rows: list[tuple[int, list[str]]], names=None) -> ValueError | None:
    """The first row of another width, or the first field that is not a number: its column's
    when that column holds text throughout (None: neither, loadtxt's own error stands)."""
    widths = [len(f) for _, f in rows]
    width = max(set(widths), key=lambda w: (widths.count(w), -widths.index(w)))   # the most common
    ref = rows[widths.index(width)][0]
    for no, fields in rows:
        if len(fields) != width:
            return ValueError(f"line {no} holds {len(fields)} values but {widths.count(width)} of the "
                              f"{len(rows)} rows hold {width} (line {ref} is one); give every row the "
                              "same number of values")
        for col, f in enumerate(fields, 1):
            if _is_number(f):
                continue
            sep = _other_separator(f)
            if sep:
                return ValueError(f"line {no}: {f!r} is separated by {sep}, but gankit reads commas; "
                                  "save the points comma-separated "
                                  "(np.savetxt(path, x, delimiter=',')) or as .npy")
            return _text_column(rows, col, names) or ValueError(
                f"line {no}, column {col}: {f!r} is not a number; fix or remove that row")
    return None


def _read_csv(p: Path) -> tuple[np.ndarray, list[str] | None, list[int] | None]:
    """Comma-separated points, the header's names (None: no header) and each row's line number
    in the file.  The first line is a header only when none of its fields is a number and one
    is a word (holding a letter): a first line of numbers with a fault ("NA", "12O") is an
    error, never a header to drop.  Faults are named by the file's own line numbers (1-based)."""
    # utf-8-sig: the byte-order mark spreadsheets write would make the first value unreadable
    lines = [line.rstrip("\r") for line in p.read_text(encoding="utf-8-sig").split("\n")]
    skip, first = next(_fields(lines), (0, []))
    names = None
    # numbers in another separator ("9.7e-01;1.2e+00": letters too) are a row, not names
    if (first and not any(_is_number(f) or _other_separator(f) for f in first)
            and any(c.isalpha() for f in first for c in f)):
        names = first
    else:
        skip = 0
    try:
        arr = _loadtxt(lines[skip:])
    except ValueError as e:
        raise _row_fault([r for r in _fields(lines) if r[0] > skip], names) or e from None
    if arr.size == 0:
        raise ConfigError(f"data.path: {str(p)!r} holds {'a header but ' * bool(names)}no rows of "
                          "numbers; give one point a row")
    if names and names[0] == "" and arr.shape[1] > 1:
        # pandas' df.to_csv() writes its row index as a first column with no name
        if not np.array_equal(arr[:, 0], np.arange(len(arr))):
            raise ConfigError(f"data.path: {str(p)!r}: the header's first name is empty, as pandas "
                              "writes its row index, but that column is not 0..n-1; save the points "
                              "with df.to_csv(path, index=False)")
        arr, names = arr[:, 1:], names[1:]
    # loadtxt skips what _fields skips (blank lines, comments), so row i is the i-th line it yields
    line_nos = [no for no, _ in _fields(lines) if no > skip]
    return arr, names, line_nos if len(line_nos) == len(arr) else None


def _float32_damage(x: np.ndarray, x32: np.ndarray, names) -> list[str]:
    """The columns that float32 rounding merges (distinct values become one) or whose spread it
    changes, each described.  A merge counts when float32's step is not negligible against the
    column's std (large files of plain floats merge a few neighbours harmlessly), and always
    for whole numbers, which are exact by nature (float32 holds every integer only up to 2^24)."""
    out = []
    if np.array_equal(x, x32):
        return out
    for j in range(x.shape[1]):
        col, col32 = x[:, j], x32[:, j].astype(np.float64)
        std, std32 = col.std(), col32.std()
        spread_changed = bool(abs(std32 - std) > 0.01 * std)
        coarse = bool(np.abs(col32 - col).max() > 1e-4 * std) or bool((col == np.round(col)).all())
        if std == 0 or not (coarse or spread_changed):
            continue
        n, n32 = len(np.unique(col)), len(np.unique(col32))
        if n32 < 0.99 * n or spread_changed:
            big = np.float32(np.abs(col).max())
            name = f" ({names[j]!r})" if names and names[j] else ""
            std_note = f", its std {std:.3g} becomes {std32:.3g}" * spread_changed
            out.append(f"column {j + 1}{name}: its {n} distinct values become {n32}{std_note} (values "
                       f"near {big:.3g} round to steps of {np.spacing(big):.3g})")
    return out


def _column(j: int, names) -> str:
    return f"{j + 1}" + (f" ({names[j]!r})" if names and j < len(names) and names[j] else "")


def _columns(cols: list[int], names) -> str:
    return ("column " if len(cols) == 1 else "columns ") + ", ".join(_column(j, names) for j in cols)


def _kinds(values: np.ndarray) -> str:
    return " and ".join(k for k, bad in (("NaN", np.isnan), ("inf", np.isinf)) if bad(values).any())


def _non_finite(p: Path, arr: np.ndarray, names, line_nos) -> str:
    """Where the points hold NaN or inf, in one line: how many rows, the first (its line in a
    .csv), the columns; a column that is non-finite in every row is one to drop, not rows."""
    bad = ~np.isfinite(arr)
    head = f"data.path: {str(p)!r} holds NaN or infinite values"
    whole = [j for j in range(arr.shape[1]) if bad[:, j].all()]
    if len(whole) == arr.shape[1]:
        return f"{head} only ({_kinds(arr)}), no finite value; save the points again"
    part = [j for j in range(arr.shape[1]) if bad[:, j].any() and j not in whole]
    said = []
    if whole:
        said.append(f"{_columns(whole, names)} {'is' if len(whole) == 1 else 'are'} {_kinds(arr[:, whole])} "
                    f"in every row; drop {'that column' if len(whole) == 1 else 'those columns'} "
                    "and save the points again")
    if part:
        rows = bad[:, part].any(1)
        first, n = int(rows.argmax()), int(rows.sum())
        where = f"line {line_nos[first]}" if line_nos else f"row {first}, counting from 0"
        said.append(f"{n} of its {len(arr)} rows {'holds' if n == 1 else 'hold'} {_kinds(arr[:, part])} in "
                    f"{_columns(part, names)} (the first: {where}); remove or fix those rows")
    return f"{head}: " + "; also ".join(said)


# Beyond these magnitudes float32 training of the data as it is fails, whatever the learning
# rate.  Large: squares of values past sqrt(float32 max) = 1.8e19 overflow (batch-norm
# variances, Adam's second moments, squared-error losses, gradient norms), and hidden units and
# sums over a batch or a layer run a few orders above the input (measured: D's batch-norm
# running_var turns inf at data std 1e19, not at 1e18), so 1e16 leaves a margin of ~1e3.
# Small: squares below float32's smallest normal (1.2e-38) flush to zero, and nets whose outputs
# start near 0.1-1 cannot resolve such points; 1e-16 mirrors the large bound.
TOO_LARGE, TOO_SMALL = 1e16, 1e-16


def _scale_problem(big: float) -> str:
    """Why training the points as they are fails at magnitude ``big`` ("" when it does not)."""
    if big > TOO_LARGE:
        return (f"values up to {big:.3g}: trained as they are, their squares (batch statistics, Adam's "
                "moments, squared losses) overflow float32 (max 3.4e38) and training stops with "
                "non-finite values however low the learning rate")
    if 0 < big < TOO_SMALL:
        return (f"values no larger than {big:.3g}: trained as they are, their squares underflow float32 "
                "to zero and nets whose outputs start near 1 cannot resolve them")
    return ""


# The presets' recipes (learning rates, noise, G's initial outputs near 0) were tuned near unit
# scale: points whose overall std lies outside these bounds, or whose mean lies further than
# OFF_CENTRE of those stds from 0, train as they are to little (measured: a file centred at 1e4
# with spread 1e3 gave a G centred near 4.7e3, prdc precision 0.03; 0.98 standardised: docs/metrics.md)
UNIT_STD, OFF_CENTRE = (1e-2, 1e2), 100


def _off_scale(mean: np.ndarray, var: np.ndarray) -> str:
    """How points of these per-coordinate moments lie far from unit scale ("" when they do not,
    or have no spread for standardising to fix)."""
    std, far = float(np.sqrt(var.mean())), float(np.abs(mean).max())
    if not std > 0 or (UNIT_STD[0] <= std <= UNIT_STD[1] and far <= OFF_CENTRE * std):
        return ""
    return f"values far from unit scale (overall std {std:.3g}, a coordinate's mean {far:.3g})"


# header names a user gives a column of classes: read as a coordinate like any other column (a
# points file has no labels), which a user may not expect.  Not "y": a common coordinate name
LABEL_NAMES = {"label", "labels", "class", "classes", "target", "targets", "category", "categories"}


def _label_named(name: str) -> bool:
    return name.strip().strip('"\'').strip().lower() in LABEL_NAMES


def _warn_label_columns(p: Path, names) -> None:
    """One warning naming the header's columns named like labels (each is trained as a coordinate)."""
    cols = [j for j, n in enumerate(names or []) if _label_named(n)]
    if cols:
        one = len(cols) == 1
        warnings.warn(f"data.path: {p.name!r}: {_columns(cols, names)} {'is' if one else 'are'} read as "
                      f"{'a coordinate' if one else 'coordinates'}; points files carry no labels "
                      f"(docs/conditional.md): drop {'that column' if one else 'those columns'} to train "
                      "on the others alone", stacklevel=3)


class ScaleAdvice(UserWarning):
    """The points' scale and data.standardize = none: said when a run is made, not again by the
    commands that open it (its standardisation is part of what it is)."""


class PointsFile(Dataset):
    """A user's points: .npy (n, d) or .csv (one point a row, optional header)."""

    _standardize = "none"

    @property
    def standardize(self) -> str:
        """data.standardize, set by the registration once the points are loaded: a warning
        then when the nets would see points whose scale float32 cannot train, or that lie far
        from the unit scale the recipes were tuned at (once: the first that applies)."""
        return self._standardize

    @standardize.setter
    def standardize(self, mode: str):
        self._standardize = mode
        if mode != "none":
            return
        if self.scale_problem:
            warnings.warn(f"data.path: {self.path.name!r} holds {self.scale_problem}; set "
                          "--set data.standardize=global (samples and metrics stay in the data's "
                          "units)", ScaleAdvice, stacklevel=2)
        elif self.off_scale:
            warnings.warn(f"data.path: {self.path.name!r} holds {self.off_scale} and data.standardize = "
                          "none trains them as they are, where recipes tuned near unit scale may learn "
                          "little; set --set data.standardize=global (samples and metrics stay in the "
                          "data's units)", ScaleAdvice, stacklevel=2)

    def __init__(self, path):
        p = Path(path).expanduser()
        if p.is_dir():
            raise ConfigError(f"data.path: {str(p)!r} is a folder; give a .npy or .csv file with "
                              "one point per row")
        if not p.is_file():
            raise ConfigError(f"data.path: file {str(p)!r} does not exist; give a .npy or .csv "
                              "file with one point per row")
        if p.suffix not in (".npy", ".csv"):
            raise ConfigError(f"data.path: {p.suffix!r} files are not supported; give a .npy array or "
                              "a .csv of comma-separated values, one point a row")
        if p.suffix == ".npy" and (short := npy_shortfall(p)) is not None:
            raise ConfigError(f"data.path: cannot read {str(p)!r} as numbers: it {short}; save the points "
                              "again with numpy.save")
        names = line_nos = None
        try:
            if p.suffix == ".npy":
                arr = np.load(p, allow_pickle=False)
            else:
                arr, names, line_nos = _read_csv(p)
        except ConfigError:
            raise
        except (ValueError, OSError, EOFError, UnicodeDecodeError) as e:
            raise ConfigError(f"data.path: cannot read {str(p)!r} as numbers: {e}") from None
        if arr.dtype.kind not in "biuf":   # strings, objects, complex, dates: not points
            raise ConfigError(f"data.path: {str(p)!r} holds {arr.dtype} values, not numbers; save "
                              "the points as a float array")
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim > 2:        # images, most often: say how to give them (gankit/data/image_arrays.py)
            from gankit.data.image_arrays import image_array_advice
            raise ConfigError(image_array_advice(p, arr))
        if arr.ndim != 2 or len(arr) == 0:
            raise ConfigError(f"data.path: {str(p)!r} holds an array of shape {arr.shape}; save the points "
                              "as an (n_points, dim) array, one point a row")
        if arr.shape[1] == 0:
            raise ConfigError(f"data.path: {str(p)!r} holds {len(arr)} rows with no columns (shape "
                              f"{arr.shape}); save the points as an (n_points, dim) array, dim >= 1")
        if not np.isfinite(arr).all():
            raise ConfigError(_non_finite(p, arr, names, line_nos))
        _warn_label_columns(p, names)
        big = float(np.abs(arr).max())
        if big > np.finfo(np.float32).max:   # training is in float32
            raise ConfigError(f"data.path: {str(p)!r} holds {big:.3g}, beyond float32's range "
                              "(3.4e38); rescale the points")
        x64 = arr.astype(np.float64)
        x32 = arr.astype(np.float32)
        # standardisation divides by these: float32's rounding would inflate (or zero) the std
        # of a column with a large offset
        mean, var = x64.mean(0), x64.var(0)
        self.exact_moments = (torch.from_numpy(mean), torch.from_numpy(var))
        damage = _float32_damage(x64, x32, names)
        if damage:
            warnings.warn(f"data.path: {p.name!r} is trained in float32 (about 7 significant digits), "
                          f"which blurs {'; '.join(damage)}; subtract that column's offset before "
                          "saving (e.g. time since the first timestamp: t - t.min())", stacklevel=2)
        self.x = torch.from_numpy(x32)
        self.size, self.dim = self.x.shape
        self.path, self.scale_problem = p, _scale_problem(big)
        self.off_scale = _off_scale(mean, var)
        # the header's names, for the samples' .csv (gankit sample); None: the file had none
        self.column_names = names if names and len(names) == self.dim else None

    @functools.cached_property
    def data_digest(self) -> dict:
        """Which points the file holds, as training sees them (float32, before standardising),
        whatever their order: each checkpoint records it, so a file replaced at the same path is
        told apart (refuse_other_points; gankit compare)."""
        return points_digest(self.x)

    def sample(self, n, generator):
        return self.x[torch.randint(0, self.size, (n,), generator=generator)]

    def rows(self):
        return self.x

    def bounds(self):
        return padded_box(self.x.min(0).values, self.x.max(0).values)
