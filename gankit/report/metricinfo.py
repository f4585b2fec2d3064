"""What the report and `gankit compare` know about recorded numbers: which metric declared
each one, its label, whether higher or lower is better, and its format; all read from the
registered metrics' ``outputs`` (gankit.metrics.base), never from a list of names here."""
from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

from gankit.io import INF_STRINGS   # how gankit.io.jsonable writes infinities

# keys of eval / reference records that are bookkeeping, not measurements
META_KEYS = {"step", "kind", "settings", "source", "time", "n", "mode_counts", "metrics", "user_code"}
# eval settings that never change a number: which metrics were asked, CPU threads, and the
# sampling temperature (a G setting: records at another one than the run's are set apart)
NOT_MEASURING = {"metrics", "threads", "temperature"}


@dataclass
class KeyInfo:
    key: str
    metric: str          # the registered metric that declares it ("other" when none does)
    metric_help: str
    label: str
    better: str | None   # "higher", "lower" or None
    fmt: str
    order: int           # registration order, for a stable layout
    # the eval settings that change it (gankit.metrics.base.reads_of_key); None: every one may
    reads: frozenset[str] | None = None
    headline: bool = False   # a key result, shown first (Output.headline)


def key_infos() -> dict[str, KeyInfo]:
    from gankit.metrics.base import reads_of_key
    from gankit.registry import METRICS
    out, i = {}, 0
    for entry in METRICS.entries():
        m = entry.factory()
        for key, o in m.outputs.items():
            was = out.get(key)
            if was is not None and was.metric != entry.name:
                # a key two metrics write (prdc on image features, prdc_points on points): the
                # record does not say which, so the group names both (it named the last alone)
                out[key] = dataclasses.replace(was, metric=f"{was.metric} / {entry.name}",
                                               metric_help=f"{was.metric_help}; {entry.name}: {entry.help}")
                continue
            out[key] = KeyInfo(key, entry.name, entry.help, o.label, o.better, o.fmt, i, reads_of_key(key),
                               getattr(o, "headline", False))
            i += 1
    return out


def info(key: str, infos: dict[str, KeyInfo]) -> KeyInfo:
    return infos.get(key) or KeyInfo(key, "other", "recorded numbers no registered metric declares",
                                     key, None, ".4g", 10 ** 6)


class Measuring:
    """Which recorded eval settings change which recorded number: those its metric declares it
    reads (``register_metric(reads=...)``: jsd never reads eval.n_samples), every one for a
    number of a metric that declares none or of no registered metric, and for every number
    the settings no metric declares (a newer gankit's); never NOT_MEASURING."""

    def __init__(self, infos: dict[str, KeyInfo] | None = None):
        from gankit.metrics.base import declared_settings
        self.infos = key_infos() if infos is None else infos
        self.declared = declared_settings()

    def counts(self, key: str, name: str) -> bool:
        if name in NOT_MEASURING:
            return False
        reads = info(key, self.infos).reads
        return reads is None or name in reads or name not in self.declared

    def of(self, key: str, settings) -> dict | None:
        """The settings of a record that change ``key``'s number; None when it holds none (older records)."""
        if not isinstance(settings, dict):
            return None
        out = {k: v for k, v in settings.items() if self.counts(key, k)}
        code = out.get("user_code")
        metric = info(key, self.infos).metric
        if isinstance(code, dict) and metric != "other":   # only the code that measured this number
            out["user_code"] = {n: h for n, h in code.items() if n == f"metric {metric}" or n.startswith("dataset ")}
            if not out["user_code"]:
                del out["user_code"]
        return out


def is_number(v) -> bool:
    """An int or float that converts to a float: an integer of 400 digits (a hand-made record)
    is not one, so ``float(v)`` after this check never raises."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    return isinstance(v, float) or not _huge(v)


def _huge(v: int) -> bool:
    try:
        float(v)
    except OverflowError:
        return True
    return False


def is_measured(v) -> bool:
    """A number, or an infinity as the records write it: a reverse KL of "inf" is a result.
    An integer too big for a float is shown too (as text: it is never ranked nor drawn)."""
    return (is_number(v) or (isinstance(v, str) and v in INF_STRINGS)
            or (isinstance(v, int) and not isinstance(v, bool)))


def as_float(v) -> float | None:
    """The record value as a float (infinities included); None when it is not a measurement."""
    if is_number(v):
        return float(v)
    return INF_STRINGS.get(v) if isinstance(v, str) else None


MIN_SIGNIFICANT = 3
_FIXED = re.compile(r"^(?P<head>.*\.)(?P<prec>\d+)(?P<type>[f%])$")


def _format(v, fmt: str) -> str:
    """``format(v, fmt)``, except that a fixed-point format (".1f", ".1%") gets more decimals
    where the declared ones would leave a small value fewer than MIN_SIGNIFICANT digits
    (0.1289 at ".1f" is not "0.1"); values large enough for the declared precision print as
    declared, and tiny ones switch to exponent notation rather than a dozen zeros."""
    m = _FIXED.match(fmt)
    if not m or not is_number(v) or not math.isfinite(v) or v == 0:
        return format(v, fmt)
    pct = m["type"] == "%"
    shown = v * 100 if pct else v
    need = MIN_SIGNIFICANT - 1 - math.floor(math.log10(abs(shown)))
    if need <= int(m["prec"]):
        return format(v, fmt)
    if need > 6:
        return format(shown, f".{MIN_SIGNIFICANT}g") + ("%" if pct else "")
    return format(v, f"{m['head']}{need}{m['type']}")


def fmt_value(v, fmt: str = ".4g") -> str:
    if v is None:
        return "n/a"
    if isinstance(v, str):                       # "inf" / "-inf" as jsonable writes them
        return v
    if isinstance(v, int) and not isinstance(v, bool) and _huge(v):
        from decimal import Decimal
        return format(Decimal(v), ".4g")         # 1.000e+400: no float holds it
    try:
        if fmt.endswith("d"):
            return format(int(round(v)), fmt)
        return _format(v, fmt)
    except (TypeError, ValueError, OverflowError):     # NaN or inf at a "d" format
        return str(v)


def numeric_keys(records: list[dict], skip=()) -> list[str]:
    """Keys holding a measurement (a number or "inf"/"-inf") in any record, in first-seen order."""
    seen = {}
    for r in records:
        for k, v in r.items():
            if k not in seen and k not in META_KEYS and k not in skip and is_measured(v):
                seen.setdefault(k, None)
    return list(seen)


def final_step(evals: list[dict]):
    """The newest evaluated step (by step, not by place in the file: a Run object opened before
    a resume could append an older step's evaluation after the newer one)."""
    steps = [r.get("step") for r in evals]
    numbers = [s for s in steps if isinstance(s, (int, float)) and not isinstance(s, bool)]
    return max(numbers) if numbers else steps[-1]


def final_eval(evals: list[dict]) -> dict | None:
    """The evaluation of the newest evaluated step: its records merged in order, so a later
    ``gankit eval --metrics X`` adds (or re-measures) X and the other metrics stay shown."""
    if not evals:
        return None
    step, out = final_step(evals), {}
    for r in evals:
        if r.get("step") == step:
            out.update(r)
    return out


def final_sources(evals: list[dict]) -> dict[str, dict]:
    """For each key of ``final_eval(evals)``, the record that supplied its value: its settings
    are those that number was measured with (the merged record's are the last record's only)."""
    if not evals:
        return {}
    step, out = final_step(evals), {}
    for r in evals:
        if r.get("step") == step:
            out.update(dict.fromkeys(r, r))
    return out


def record_temperature(record: dict) -> float | None:
    """The sampling temperature an eval record was measured at (its settings' ``temperature``,
    e.g. from ``gankit eval --set generator.temperature=T``), or None when it says none."""
    settings = record.get("settings")
    t = settings.get("temperature") if isinstance(settings, dict) else None
    return float(t) if is_number(t) else None


def own_temperature(generator) -> float:
    """A run's own sampling temperature from its generator's settings (config.toml's
    ``[generator]`` or ``cfg.generator.params``): 1.0, the sequence G's default, when unset."""
    t = generator.get("temperature") if isinstance(generator, dict) else None
    return float(t) if is_number(t) else 1.0


def by_temperature(evals: list[dict], own: float) -> tuple[list[dict], list[dict]]:
    """(the eval records at the run's own sampling temperature, those at another): a point
    measured at T = 0.5 is not the result of a run that samples at 1.  A record without a
    temperature was taken at the run's own (evaluations during training, older records)."""
    mine, other = [], []
    for r in evals:
        t = record_temperature(r)
        (mine if t is None or math.isclose(t, own) else other).append(r)
    return mine, other


def eval_keys(evals: list[dict], infos: dict[str, KeyInfo]) -> list[str]:
    """Every measured key of the eval records: scored ones first, in registration order."""
    keys = numeric_keys(evals)
    return sorted(keys, key=lambda k: (info(k, infos).better is None, info(k, infos).order, k))


# values this close (relative) are a tie: a JSD of ln 2 computed in two runs differs by ~1e-13
TIE_REL_TOL = 1e-9


def better_of(values: list, better: str | None) -> list[int]:
    """Indices of the best value(s) under the direction: every run that ties for it (within
    TIE_REL_TOL); none when there is no direction, fewer than two values, or all tie.  The
    worst infinity (+inf where lower is better, -inf where higher is; "inf" / "-inf" as the
    records write them) is a result that any finite value beats; NaN and the opposite
    infinity (a reverse KL of -inf) are no measurement and never rank."""
    if better not in ("higher", "lower"):
        return []
    worst = math.inf if better == "lower" else -math.inf
    idx, nums = [], []
    for i, v in enumerate(values):
        x = as_float(v)
        if x is not None and (math.isfinite(x) or x == worst):
            idx.append(i)
            nums.append(x)
    if len(idx) < 2:
        return []
    best = max(nums) if better == "higher" else min(nums)
    tied = [i for i, x in zip(idx, nums) if math.isclose(x, best, rel_tol=TIE_REL_TOL)]
    return [] if len(tied) == len(idx) else tied


ARROW = {"higher": "\u2191 higher is better", "lower": "\u2193 lower is better", None: "descriptive"}


def groups(record: dict, reference: dict | None, infos: dict[str, KeyInfo]) -> list[dict]:
    """The eval record's numbers grouped by the metric that declares them, with labels,
    direction, formatted value and the real-data reference where one was measured."""
    out: dict[str, dict] = {}
    for key in eval_keys([record], infos):
        ki = info(key, infos)
        g = out.setdefault(ki.metric, {"metric": ki.metric, "help": ki.metric_help, "rows": [],
                                        "order": ki.order})
        ref = reference.get(key) if reference else None
        skipped = reference is not None and any(m in (reference.get("skipped") or []) for m in ki.metric.split(" / "))
        g["rows"].append({"key": key, "label": ki.label, "better": ki.better, "direction": ARROW[ki.better],
                          "value": fmt_value(record[key], ki.fmt),
                          # a metric with no real counterpart (G's likelihood, given conditions) says so
                          "reference": fmt_value(ref, ki.fmt) if is_measured(ref) else
                          "no real counterpart" if skipped else ""})
    return sorted(out.values(), key=lambda g: g["order"])
