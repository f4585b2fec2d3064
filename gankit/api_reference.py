"""gankit.api's real-data reference row: the same metrics measured on real data
(gankit.metrics.reference), recorded once per run and eval settings as {"kind": "reference"}
beside the evaluations, so the report sets G's numbers against what the data themselves give."""
from __future__ import annotations

from gankit.eval_records import protocols
from gankit.metrics import _user
from gankit.registry import METRICS


def record_reference(run, names: list[str] | None, log=None, keys=None) -> dict | None:
    """Measure the metrics on real data (gankit.metrics.reference) and record them as {"kind": "reference"},
    unless a reference with the same eval settings is recorded or every metric measures a part of the run that
    real data lack (elbo, code_nn, classify).  ``keys``: the keys of the evaluation this row goes with; a recorded
    reference then covers it only where it holds each of them that a metric declares (one measured before the
    metric gained a key, e.g. c2st_gap, is measured again), bar the metrics it skipped.  ``run``: a Run or a folder."""
    from gankit.api import _run      # at the call: gankit.api imports this module
    run = _run(run, "run")
    from gankit import config as C
    from gankit.metrics.reference import cached_reference, measures_real, reference_cache_where, user_code
    if not measures_real(names):     # a row of skipped metrics only: nothing said, nothing written
        return None
    settings = C.to_dict(run.cfg.eval) | protocols(run)
    from gankit.eval_records import same_where_read, settings_read
    read = settings_read(names)
    # one measured by other code of the user's metrics or dataset (edited since) is not this one (no user_code: none)
    code = user_code(names, C.to_dict(run.cfg.data).get("name"))
    done = [r for r in run.folder.records("reference") if same_where_read(r.get("settings"), settings, read)
            and (not r.get("metrics") or (names and set(r["metrics"]) >= set(names)))
            and all(isinstance(r.get("user_code"), dict) and r["user_code"].get(k) == v for k, v in code.items())
            and _holds_keys(r, keys)]
    if done:
        return None
    if log:
        kept = reference_cache_where()      # None where the row cannot be kept
        log("the same metrics on real data for the report's reference row (measured once per data, seed and "
            + ("eval settings; kept in " + str(kept) + ")" if kept else "eval settings)"))
    from gankit.metrics.progress import silenced
    with silenced(log is None):
        ref = cached_reference(run.dataset, run.cfg.eval, run.cfg.seed, names, data_cfg=C.to_dict(run.cfg.data),
                               settings_dict=settings)
    rec = {"step": run.step, "kind": "reference", "settings": settings, "metrics": names or [], **ref}
    if code:
        rec["user_code"] = code
    run.log(rec)
    return rec


def _holds_keys(ref: dict, keys) -> bool:
    """Whether a reference record holds the outputs among ``keys`` (an eval result's) of each metric it measured:
    one that holds some of a metric's outputs but not all of these was measured before the metric gained a key
    (c2st_gap; gankit's metrics only).  A metric it holds none of measured nothing on real data (skipped, or
    nll_test without G's likelihood); a key no metric declares (a user's metric without outputs) is not asked for."""
    from gankit.metrics.base import RESERVED_KEYS
    missing = [k for k in keys or () if k not in ref and k not in RESERVED_KEYS]
    if not missing:
        return True
    # gankit's own metrics only: a user's metric may give some of its outputs on real data and
    # not others (an inverse-dependent key), and an edit of it is caught by its code's hash
    outputs = [set(m.outputs or {}) for e in METRICS.entries() if not _user(m := e.factory())]
    return not any(k in out and any(o in ref for o in out) for k in missing for out in outputs)
