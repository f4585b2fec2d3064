"""gankit from Python: train, open, sample, evaluate, report, and register your own parts.

    from gankit import api
    run = api.train("ring", out="runs/ring", overrides=["train.steps=2000"])
    x = api.sample(run, 500)                    # a (500, 2) tensor of G's samples
    scores = api.evaluate(run)                  # {"modes_covered": 8, ...}, appended to metrics.jsonl
    run = api.open_run("runs/ring")             # a trained run, later
    page = api.report("runs/ring")              # runs/ring/report.html
    inv = api.invert("runs/mnist", images)      # an image run's codes, reconstructions, errors
    filled, inv = api.complete("runs/mnist", images, mask="left")

Your own components register into the same registries the presets use (see
examples/custom_parts.py):

    from gankit.api import register_dataset, register_generator, register_metric, Output
    api.unregister("metric", "my_metric")       # drop one of yours (a notebook cell renamed, run again)

A run folder is the contract: what these functions write, ``gankit report``,
``gankit compare`` and ``gankit eval`` read.
"""
from __future__ import annotations

import contextlib
import copy
import json
import os
import reprlib
import sys
import warnings
from pathlib import Path

from gankit.api_inversion import complete, invert  # noqa: F401  (re-exported)
from gankit.api_eval import (NO_RECORD, _as_opened, _numbers, _opening_sets, _refuse_stale,  # noqa: F401 (tests import some)
                             _tensorboard_view, _warnings_seen, _why_skipped)
from gankit.api_reference import _holds_keys, record_reference  # noqa: F401  (_holds_keys re-exported: tests import it)
from gankit.metrics.base import Output, register_metric  # noqa: F401  (re-exported)
from gankit.eval_records import eval_settings, protocols  # noqa: F401 (eval_settings re-exported)
from gankit.identity import defines_run
from gankit.process_state import holding
from gankit.wording import api_words as _api_words
from gankit.metrics import draws_said, refuse_not_applying
from gankit.registry import DATASETS, DISCRIMINATORS, GENERATORS, LOSSES, METRICS, OBJECTIVES, unregister  # noqa: F401
from gankit.train.sampling import condition_args  # noqa: F401  (re-exported: gankit sample calls it here)

register_dataset = DATASETS.register              # @register_dataset(name, ParamsDataclass, help)
register_generator = GENERATORS.register          # factory(noise_dim, data, **params) -> nn.Module
register_discriminator = DISCRIMINATORS.register  # factory(data, **params) -> nn.Module (logits)
register_loss = LOSSES.register
register_objective = OBJECTIVES.register

__all__ = ["train", "open_run", "sample", "evaluate", "report", "invert", "complete", "final_evaluation",
           "record_reference", "Output", "register_dataset", "register_generator", "register_discriminator",
           "register_loss", "register_metric", "register_objective", "unregister"]


def _run(run_or_dir, name: str = "run_or_dir"):
    from gankit.train.run import Run
    return run_or_dir if isinstance(run_or_dir, Run) else open_run(_folder(run_or_dir, name, run_too=True))


def _folder(value, name: str, run_too: bool = False):
    """A run folder's path; a number or a list is refused in words, not with posixpath's TypeError,
    and an empty string too: Path("") is the current folder (a run written among the caller's files)."""
    from gankit.config import ConfigError
    if isinstance(value, str) and not value.strip():
        raise ConfigError(f"{name}={value!r} names no folder (an unset variable?); give "
                          + "a Run (from api.train or api.open_run) or " * run_too + "a run folder's path"
                          + ", or omit out= for the default" * (name == "out"))
    if isinstance(value, (str, os.PathLike)):
        return value
    raise ConfigError(f"{name}: got {type(value).__name__} {reprlib.repr(value)}; give "
                      + "a Run (from api.train or api.open_run) or " * run_too + "a run folder's path (str or Path)")


def open_run(run_dir: str | Path, overrides: list[str] | None = None):
    """A trained run (its config.toml + newest checkpoint) as a ``gankit.train.run.Run``."""
    from gankit.train.run import Run
    _listed("overrides", overrides, '["eval.n_samples=10000"]')
    _folder(run_dir, "run_dir")
    with _api_words():
        return Run.open(run_dir, overrides)


def _stderr(msg: str):
    print(msg, file=sys.stderr)


def _listed(name: str, value, example: str):
    """A list argument as one string or a dict (read item by item) or with items not strings (a TypeError): refused."""
    from gankit.config import ConfigError
    bad = [value] if isinstance(value, (str, bytes)) or hasattr(value, "keys") else [
        v for v in value if not isinstance(v, str)] if isinstance(value, (list, tuple, set, frozenset)) else []
    if bad:
        got = f"the string {value!r}" if isinstance(value, (str, bytes)) else \
            f"{type(bad[0]).__name__} {reprlib.repr(bad[0])}" + " in it" * (bad[0] is not value)
        raise ConfigError(f"{name}: a list of strings, e.g. {example}; got {got}")


def _as_recorded(modules: list) -> list:
    """Imports as config.toml records them, each once: a .py file absolute (the run opens from anywhere)."""
    return list(dict.fromkeys(str(Path(m).expanduser().resolve()) if isinstance(m, str) and m.endswith(".py")
                              else m for m in modules))


def _new_imports(out, imports: list[str] | None) -> list[str]:
    """A resume's ``imports=[...]`` override adding the modules config.toml does not list: recorded
    once a step trains, as a fresh train records them, so eval and sample find their components;
    no part of the model's identity (gankit.identity.MODEL_KEYS), so the checkpoints still load."""
    from gankit.runfolder import RunFolder
    held = RunFolder(out).read_config().get("imports", []) if imports else []
    # another type than a list: the config's own error says what is wrong with it
    now = list(dict.fromkeys([*held, *_as_recorded(imports)])) if imports and isinstance(held, list) else held
    return [f"imports={json.dumps(now)}"] if now != held else []


@holding
def train(config: str | Path | dict | None = None, out: str | Path | None = None, overrides: list[str] | None = None,
          resume: bool = False, evaluate: bool = True, report: bool = True, progress: bool | None = None,
          imports: list[str] | None = None, log=_stderr):
    """Train a preset, a TOML file or a config dict (default: the ring preset) into the run folder ``out``
    (``resume``: continue ``out`` with its own config.toml, changed only by ``overrides`` such as
    ``["train.steps=4000"]``; a ``config`` then is refused, not ignored), then run the final evaluation and write the
    report.  Returns the Run; ``run.final_result``: the final evaluation's numbers (None with ``evaluate=False``)."""
    from gankit import config as C
    from gankit.builtins import import_modules
    from gankit.train.run import Run
    _listed("overrides", overrides, '["train.steps=2000"]')
    _listed("imports", imports, '["my_parts.py"]')
    _folder("." if out is None else out, "out")      # a number or a list: said, not posixpath's TypeError
    if not isinstance(config, (str, os.PathLike, dict, type(None))):
        raise C.ConfigError(f"config: got {type(config).__name__} {reprlib.repr(config)}; give a preset's name, a "
                            "TOML file's path (str or Path) or a config dict")
    if isinstance(config, str) and not config.strip():     # Path("") is ".": "config file '.' is a folder"
        raise C.ConfigError(f"config={config!r} names no preset or file (an unset variable?); give a preset's name, "
                            "a TOML file's path or a config dict, or omit config for the ring preset")
    from gankit import trusted_imports
    trusted_imports.given(list(imports or []))      # the user's own word, also after a folder left them out
    import_modules(list(imports or []))
    if resume:
        if out is None:
            raise C.ConfigError("resume needs out= (the run folder to continue)")
        if config is not None:
            what = "a config dict" if isinstance(config, dict) else f"the config {str(config)!r}"
            raise C.ConfigError(f"resume continues {out} with its own config.toml, so {what} would be "
                                "ignored; drop it (change options with overrides, e.g. train.steps=N)")
        with _api_words():
            run = Run.open(out, _new_imports(out, imports) + list(overrides or []), write=True)
        if log and run.is_main:
            log(f"resuming {out} at step {run.step} of {run.cfg.train.steps}")
    else:
        config = "ring" if config is None else config
        if out is not None and not isinstance(config, dict):
            from gankit.runfolder import RunFolder
            with _api_words():
                RunFolder(out).refuse_own_config(config)       # the run's config.toml would replace it
        raw = C.resolve_source(str(config)) if not isinstance(config, dict) else dict(config)
        # imports are recorded in config.toml, so eval/sample/resume find the components again; a file
        # given relative to here (--import, or the config's own imports) is recorded absolute: opened from anywhere
        listed = raw.get("imports", [])
        if isinstance(listed, list) and (imports or listed):     # another type: the config's own error
            raw["imports"] = _as_recorded([*listed, *(imports or [])])
            if all(isinstance(m, str) for m in raw["imports"]):    # the user's own config: their word
                trusted_imports.given(raw["imports"])
        from gankit.runfolder import default_run_dir, gone_if_left_empty
        with _api_words():
            cfg = C.load(raw, overrides or [])
            made = None if out is not None else \
                default_run_dir(Path(str(config)).stem if not isinstance(config, dict) else "run", cfg.seed)
            with gone_if_left_empty(made):
                run = Run.create(cfg, out if made is None else made)
        run.overrides = list(overrides or [])
    from gankit.train.loop import NonFiniteLoss
    from gankit.train.signals import TrainingInterrupted
    run.final_result = None
    try:   # the folder stays locked until the evaluation record and the report are written
        finished = wait_for_report = False
        try:
            run.train(progress, final_report=not report)
            if not run.is_main:   # with several processes, rank 0 alone evaluates and reports
                return run
            if evaluate:     # the run's result, as measured or as the record reused holds it
                run.final_result = final_evaluation(run, log=log)
            finished = True
        except (NonFiniteLoss, TrainingInterrupted) as e:
            # every rank stops at the same step; one that left at once would have torchrun stop
            # rank 0 while it writes the stop checkpoint or the report (as a second signal: the
            # checkpoint was lost).  A second signal stops one rank anywhere: no waiting then
            wait_for_report = run.world.parallel and not getattr(e, "at_once", False)
            raise
        finally:
            if report and run.is_main:   # also when stopped or failed: no page left saying LIVE
                _final_report(run, quiet=not finished)
            if wait_for_report:
                from gankit.train import distributed
                distributed.gather(run.world, None)
    finally:
        run.close()
    return run


def _final_report(run, quiet: bool):
    """report.html without the reload; ``quiet``: training or its evaluation is already failing, so a report
    that fails too only warns, and the first error is the one raised."""
    from gankit.report import write_report
    from gankit.runfolder import RunFolderError
    try:
        run.folder.still_here()
    except RunFolderError:
        if quiet:      # moved or deleted while training: the error raised says so and where
            return
        raise
    try:
        write_report(run.dir, dataset=run.dataset)
    except Exception as e:
        # a page that cannot be written (a full disk: the run folder's RunFolderError) is no failed
        # training: the run and its numbers are kept, and the page is built from them later
        unwritable = isinstance(e, (OSError, RunFolderError))
        if not (quiet or unwritable):
            raise
        said = " ".join(str(e).split()) if unwritable else f"{type(e).__name__}: {' '.join(str(e).split())}"
        if quiet:     # the error training stops with comes next, and says what to do
            warnings.warn(f"report.html not rebuilt ({said.split('; ')[0]})", stacklevel=2)
            return
        # the folder's advice ends ", then continue with gankit train --resume": nothing is left to train
        warnings.warn(f"report.html not written: {said.split(', then ')[0]}; the run and its numbers are kept: "
                      f"gankit report {run.dir} writes it", stacklevel=2)


@holding
def final_evaluation(run, log=_stderr) -> dict:
    """The evaluation at the end of training: the metrics of eval.metrics (empty: every one that applies), once:
    an evaluation of this very step already recorded that measured the same thing (gankit.eval_records.reusable_eval)
    is reused.  Records the real-data reference once per run (and eval settings).  ``run``: a Run or a run folder."""
    run = _run(run, "run")
    names = list(run.cfg.eval.metrics) or None
    from gankit.eval_records import reusable_eval
    found = reusable_eval(run, names, eval_settings(run, names))
    if found is not None:
        if log:
            said = (f"measured during training (train.eval_every = {run.cfg.train.eval_every})"
                    if found.get("source") == "train.eval_every"
                    else "recorded by an earlier session with the same settings; not repeated")
            log(f"evaluation of step {run.step}: {said}")
        from gankit.io import unjsonable
        # the record is the process's cached one (RunFolder.records): the caller gets lists of its own
        kept = {k: v for k, v in found.items() if k not in ("step", "kind", "settings", "source")}
        result = unjsonable(copy.deepcopy(kept))
        record_reference(run, names, log, keys=result)
        return result
    return evaluate(run, None, source="final", log=log)      # eval.metrics, not named by a caller


@holding
def evaluate(run_or_dir, metrics: list[str] | None = None, overrides: list[str] | None = None,
             record: bool = True, reference: bool = True, source: str = "evaluate", log=None,
             strict: bool = False) -> dict:
    """Metrics of a run's current weights (``metrics``: names; default eval.metrics, else all that apply).
    ``overrides`` change eval settings for this evaluation only (``["eval.n_samples=10000"]``, or a table
    ``["eval={n_samples=50}"]``); config.toml is left as it is; names set there (eval.metrics) count as named.  Given a
    folder, they may also name the data's new place (``data.path``, ``data.root``) and ``generator.temperature``,
    which open the run, as ``gankit eval --set`` does (a Run: open it with them, ``open_run``).  ``record``: append
    {"kind": "eval", "step", "source", "settings", ...numbers} to metrics.jsonl; ``reference``: also measure and
    record the real-data reference when none with these settings is recorded yet.  ``strict``: metrics named that
    measure nothing on this data are a ConfigError, not an empty record."""
    from gankit import config as C
    from gankit.config.overrides import items_key_by_key
    from gankit.config.schema import reading, reading_runs
    if metrics and not reading():   # other metrics than eval.metrics: one it names not registered here is said
        with reading_runs():
            return evaluate(run_or_dir, metrics, overrides, record, reference, source, log, strict)
    _listed("metrics", metrics, '["modes", "jsd"]')
    _listed("overrides", overrides, '["eval.n_samples=10000"]')
    with _api_words():     # a table (eval={n_samples=50}) is its keys one by one, as gankit eval --set reads it
        keyed = [kv for o in overrides or [] for kv in items_key_by_key(o, "eval.n_samples=10000")]
    # as gankit eval: the data's new place and G's temperature open the run; the rest is eval.*
    where = _opening_sets([o for _, o in keyed], sampling=True)
    bad = [(k, o) for k, o in keyed if o not in where and not k.startswith("eval.")]
    if bad:     # open_run takes the others, not those of the model identity (it refuses them too)
        fixed, rest = ([o for k, o in bad if defines_run(k) is d] for d in (True, False))
        raise C.ConfigError(f"evaluate: overrides {[o for _, o in bad]}: an evaluation changes only eval.* settings, "
                            "the data's place (data.path, data.root) and generator.temperature; " + "; ".join(
            [f"{fixed} define the run (its model identity): train a new run with them"] * bool(fixed)
            + [f"open the run with {rest}: api.open_run(run_dir, overrides)"] * bool(rest)))
    from gankit.train.run import Run
    if where and isinstance(run_or_dir, Run):
        raise C.ConfigError(f"evaluate: overrides {where} open the run, and this Run is open already; open it with "
                            f"them (api.open_run(run_dir, {where!r})) and evaluate that Run")
    overrides = [o for _, o in keyed if o not in where]
    if metrics:     # a name given twice was measured twice, then refused as a clash of keys
        metrics = list(dict.fromkeys(metrics))
    run = open_run(_folder(run_or_dir, "run_or_dir", True), where) if where else _run(run_or_dir)
    METRICS.refuse_unknown(metrics, "evaluate: metrics")     # after open_run: the run's imports register theirs
    saved = run.cfg
    try:
        if overrides:   # eval settings are read when the metrics run: swap them in for this evaluation
            with _api_words():     # their errors in overrides=[...] words, not --set's
                run.cfg = C.load(C.to_dict(saved), list(overrides))
                from gankit.data import absolute_data_location
                absolute_data_location(run.cfg, list(overrides))    # weights given relative: recorded absolute
                from gankit.train.budget import check_memory
                # the Run checked the config it was built with; check this one, for the metrics asked
                asked = [f"eval.metrics={json.dumps(list(metrics))}"] if metrics else []
                check_memory(C.load(C.to_dict(run.cfg), asked), run.dataset, run.device)
        # eval.metrics set here (gankit eval --set) names them as ``metrics`` does: refused where they do not apply
        metrics = metrics or (any(k == "eval.metrics" for k, _ in keyed) and list(dict.fromkeys(run.cfg.eval.metrics)))
        return _evaluate(run, metrics or None, record, reference, source, log, strict)
    finally:
        run.cfg = saved


def _evaluate(run, metrics, record, reference, source, log, strict=False) -> dict:
    from gankit import config as C
    from gankit.runfolder import RunFolderError
    names = list(metrics or []) or list(run.cfg.eval.metrics) or None
    if record:      # found before measuring (FID takes minutes), not when the numbers are in
        run.folder.check_records_writable(f"; {NO_RECORD} measures without recording")
        _refuse_stale(run)
    if metrics:   # a metric of a part the run lacks (classifier, encoder, ELBO): refused before any line or draw
        refuse_not_applying(names, run.dataset, run.eval_context(), run.cfg.objective.name)
    if log:
        what = ", ".join(names) if names else "every metric that applies (eval.metrics is empty)"
        # each metric draws the sample count it reads (jsd: eval.jsd_samples, not eval.n_samples)
        draws = draws_said(names, run.dataset, run.cfg.eval)
        log(f"evaluating step {run.step}: {what}" + (f"; {draws}" if draws else ""))
    # metrics the caller named: a user's metric that fails is an error; the config's or every
    # one that applies (a training's final evaluation): left out with a warning, the rest kept
    from gankit.metrics.progress import silenced
    shown: list[str] = []
    # no log: the caller asked for no messages; strict: the metrics skipped are named in its error
    with silenced(log is None), (_warnings_seen(shown) if strict else contextlib.nullcontext()):
        result = run.evaluate(names, named=bool(metrics))
    if strict and metrics and not result:
        raise C.ConfigError(f"metrics {list(metrics)}: nothing measured; {_why_skipped(shown, run.cfg.eval.n_samples)}")
    if record:
        from gankit.train.watch import tensorboard_record
        settings = eval_settings(run, names)
        temperature = settings.get("temperature")
        rec = {"step": run.step, "kind": "eval", "source": source, "settings": settings, **result}
        try:
            run.log(rec)
        except (OSError, RunFolderError) as e:     # a disk that filled meanwhile: keep the numbers
            raise RunFolderError(f"{' '.join(str(e).split())}; measured, not recorded: {_numbers(result)} "
                                 f"({NO_RECORD} measures without recording)") from None
        try:
            tensorboard_record(run, _tensorboard_view(run, rec, temperature))
            if reference:
                record_reference(run, names, log, keys=result)
        except (OSError, RunFolderError) as e:      # a disk that filled after the eval record
            raise RunFolderError(f"{' '.join(str(e).split())}; the evaluation of step {run.step} was recorded "
                                 f"({_numbers(result)}), only the reference row was not (run again, the command "
                                 "records the evaluation once more)") from None
        except KeyboardInterrupt as e:   # Ctrl-C or SIGTERM: the record is in, its numbers unseen
            e.evaluation_recorded = (run.step, _numbers(result))    # gankit.cli_errors.interrupted_line
            e.add_note(f"the evaluation of step {run.step} was recorded ({_numbers(result)}); the reference "
                       "row was not measured")
            raise
    return result


@holding
def sample(run_or_dir, n: int, seed: int | None = None, label: int | None = None, text: str | None = None):
    """n samples from G as a CPU tensor (fixed noise unless ``seed``; ``label``: a class of
    a conditional run, ``text``: a caption of a text-conditioned one)."""
    from gankit.config.schema import reading_runs
    with reading_runs():    # an eval.metrics name not registered here is said, not refused
        run = _run(run_or_dir)
    return run.generate(n, seed=seed, **condition_args(run, n, label, text))


def report(run_or_dir) -> Path:
    """Write RUN_DIR/report.html from the run folder; returns its path.  A Run opened with the
    data's new place (``api.open_run(dir, ["data.path=NEW"])``) reports with it, as
    ``gankit report RUN --set data.path=NEW`` does."""
    from gankit.config.schema import reading_runs
    from gankit.report import write_report
    with reading_runs():    # an eval.metrics name not registered here is said, not refused
        if hasattr(run_or_dir, "dir"):
            where = _opening_sets(getattr(run_or_dir, "overrides", None) or [], sampling=False)
            return write_report(run_or_dir.dir, overrides=[_as_opened(run_or_dir, o) for o in where] or None)
        return write_report(_folder(run_or_dir, "run_or_dir", run_too=True))
