"""What a sweep says when a job's worker cannot run it: a worker that died (killed, out of
memory, also at start-up; or every worker before starting any run: a script without its main
guard) and the run its death fails (blame), a run whose temporary folder filled the disk, and
parts a notebook registered that the workers cannot see or metrics its runs would refuse (both
refused before any training)."""
from __future__ import annotations

import shutil
import signal
import sys
from pathlib import Path

from gankit.config import ConfigError


def tmp_full(e: Exception, tmp_root: str) -> str | None:
    """A run that failed because the sweep's temporary folders (TMPDIR) filled: what to fix; None
    for another failure.  Its run folder is deleted: the run folder's own advice would point there."""
    from gankit.io import disk_full_cause
    if not (disk_full_cause(e) and tmp_root in str(e)):
        return None
    try:
        free = f"{shutil.disk_usage(tmp_root).free / 2**20:.1f} MB free"
    except OSError:
        free = "free space unknown"
    return (f"disk full in the sweep's temporary run folders under TMPDIR={Path(tmp_root).parent} ({free}); "
            "free some space there or point TMPDIR at a drive with room, then rerun with --resume "
            "(TMPDIR=DIR gankit sweep ... --resume)")


def refuse_unseen_parts(jobs, metrics):
    """Parts a job names that the workers (new processes, which import the job's ``imports`` and
    gankit's plug-ins, and in a script the script again) cannot register: those of an interactive
    session (a notebook: module __main__ without a file), and those of a module the session
    imported but the job does not list.  Each run would fail with "unknown dataset"."""
    if _script():     # a script: each worker imports it again, and the modules it imports
        return
    from gankit.registry import REGISTRIES, is_gankit
    where = {(r.kind, e.name): e.module for r in REGISTRIES.values() for e in r._entries.values()
             if e.module and not is_gankit(e.module) and _top(e.module) not in _plugins()}
    unseen = {k for k, m in where.items() if m == "__main__"}
    used = set()
    for j in jobs:
        if j.imports:       # the job's own modules register its parts in each worker
            continue
        cfg = j.resolved or {}
        for section, kind in (("data", "dataset"), ("generator", "generator"), ("discriminator", "discriminator"),
                              ("loss", "loss"), ("objective", "objective")):
            used.add((kind, (cfg.get(section) or {}).get("name")))
        asked = [*((cfg.get("eval") or {}).get("metrics") or []), *(metrics or [])]
        # none asked: every metric that applies, a session's own among them
        used.update(("metric", m) for m in asked) if asked else used.update(k for k in where if k[0] == "metric")
    hit = sorted(unseen & used)
    if hit:
        raise ConfigError(f"{', '.join(f'{k} {n!r}' for k, n in hit)}: registered in this interactive session, "
                          "which the sweep's workers (new processes) cannot see; put the code in a module file "
                          "and give it to each job: Job(..., imports=['my_parts.py'])")
    modules = sorted({where[k] for k in used & set(where)})
    if modules:
        parts = ", ".join(f"{k} {n!r} ({where[(k, n)]})" for k, n in sorted(used & set(where)))
        listed = ", ".join(repr(_importable(m)) for m in modules)
        raise ConfigError(f"{parts}: registered by a module this session imported, which the sweep's workers (new "
                          f"processes) do not import; give it to each job: Job(..., imports=[{listed}])")


def refuse_uninvertible(jobs, metrics):
    """recon_error (asked by ``metrics`` or a job's eval.metrics) for a job whose G cannot be
    inverted (a conditional run, an objective without a latent code): each run would refuse it
    only once built or trained, so refused here, naming the variant, by the rule a run applies."""
    from gankit.metrics.run_parts import uninvertible_by_config
    off, fixes = {}, {}
    for j in jobs:
        cfg = j.config()
        for where, names in (("--metrics", metrics or []), ("eval.metrics", cfg.eval.metrics)):
            for name, why in uninvertible_by_config(names, cfg).items():
                named = f"variant {j.label}: {'' if where == '--metrics' else 'eval.metrics: '}metric {name!r}"
                off[named] = f"{named} cannot measure its runs: {why}"      # once per variant, not per seed
                fixes[where] = _DROP[where]
    if off:
        raise ConfigError("; ".join([*off.values(), *fixes.values()]))


# how to drop a metric that cannot measure a variant, by where it was named (as gankit.sweep_cli says it)
_DROP = {"--metrics": "drop it from --metrics, or sweep that variant separately",
         "eval.metrics": "drop it from the variant's eval.metrics (its @eval.metrics=[...] or --set 'eval.metrics=[...]')"}


def _top(module: str) -> str:
    return str(module).split(".")[0]


def _plugins() -> set[str]:
    """The packages of gankit's installed plug-ins, which every worker loads."""
    from importlib.metadata import entry_points

    from gankit.builtins import ENTRY_POINT_GROUP
    return {_top(ep.module) for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _importable(module: str) -> str:
    """What Job.imports names ``module`` by: its file (found from any folder), a package's module
    by name (its relative imports need the package)."""
    path = getattr(sys.modules.get(module), "__file__", None)
    return path if path and "." not in module and path.endswith(".py") else module


def refuse_stdin() -> None:
    """A program read from standard input (``python - < script.py``): each spawned worker starts by
    running the program's file again, "<stdin>", and dies, so every run would be lost."""
    main = sys.modules.get("__main__")
    name = getattr(main, "__file__", None)
    if isinstance(name, str) and name.startswith("<") and getattr(getattr(main, "__spec__", None), "name", None) is None:
        raise ConfigError(f"a sweep cannot run from a program read from standard input ({name}, e.g. python - < "
                          "script.py): each worker process starts by reading the program's file again; save it "
                          "as a file and run that (python script.py), its run_sweep call under "
                          "`if __name__ == \"__main__\":`")


def death(proc, before_run: bool = False) -> str:
    """How a worker ended; ``before_run``: it held no run (killed starting up or between runs), and
    a run not begun fails in its place."""
    code = getattr(proc, "exitcode", None)
    died = "worker process died" + (" before this run began" if before_run else "")
    if code is not None and code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else f"signal {-code}"
        why = "killed, likely out of memory: try fewer --workers" if -code == signal.SIGKILL else "killed"
        return f"{died} ({name}: {why})"
    return died + (f" (exit code {code})" if code is not None else " (killed? out of memory?)")


def killed_by_signal(proc) -> bool:
    """Ended by a signal other than the SIGTERM a broken pool sends the workers it stops."""
    code = getattr(proc, "exitcode", None)
    return code is not None and code < 0 and code != -signal.SIGTERM


def _script() -> str | None:
    """The file of the program's main module, which each spawned worker imports again; None for an
    interactive session, a notebook, ``python -c`` or a program read from stdin ("<stdin>")."""
    script = getattr(sys.modules.get("__main__"), "__file__", None)
    return script if script and not str(script).startswith("<") else None


def died_starting() -> str:
    main = sys.modules.get("__main__")
    script = _script()
    users = script and Path(script).stem != "gankit" and getattr(getattr(main, "__spec__", None), "name",
                                                                   "") != "gankit.__main__"
    hint = ("; a script that calls run_sweep must call it under `if __name__ == \"__main__\":` (each worker "
            "process starts by importing the script again)") if users else ""
    return f"worker process died before starting any run{hint}"


def blame(pending: dict, procs: dict, tmp_root: str, fail) -> None:
    """After a worker died: fail the run it held; the runs beside it (stopped by the pool) and
    those not started stay pending.  A run whose worker handled the pool's SIGTERM wrote its end
    marker; the dead one could not.  A worker killed by a signal before it started a run (the
    out-of-memory killer during its imports) fails one run all the same, so workers killed at
    each start still end the sweep; every worker dead at start-up without a signal (a script
    without its main guard, which each one imports again) fails every run: it would die again."""
    root = Path(tmp_root)
    held = {}
    for i in list(pending):
        start = root / f"started-{i}"
        if start.exists():
            held[i] = procs.get(int(start.read_text() or 0))
            start.unlink()
            ended = root / f"ended-{i}"
            if ended.exists():
                ended.unlink()
                held.pop(i)
    said = {}
    dead = {i: p for i, p in held.items() if getattr(p, "exitcode", None) != -signal.SIGTERM}
    if not dead:
        # the pool's own SIGTERM ended the others; a run no worker had started is the one charged
        killed = [p for p in procs.values() if p not in held.values() and killed_by_signal(p)]
        runs = sorted(pending, key=lambda i: i in held)
        dead = dict(zip(runs, killed))
        said = {i: death(p, before_run=True) for i, p in dead.items()}
    dead = dead or held
    if not dead:    # died before starting any run, not killed (its start-up failed): it would die again
        dead = {i: None for i in pending}
    for i, p in dead.items():
        fail(pending.pop(i), "WorkerDied", said.get(i) or (death(p) if held else died_starting()))
