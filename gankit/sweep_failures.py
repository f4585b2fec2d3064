"""What a sweep says when a job's worker cannot run it: a worker that died (killed, out of
memory, or before starting any run: a script without its main guard), a run whose temporary
folder filled the disk, and parts a notebook registered that the workers cannot see (refused
before any training)."""
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
    """Parts a job names that were registered in an interactive session (a notebook: module
    __main__ without a file): the workers are new processes, which cannot import them again,
    so each would fail with "unknown dataset"."""
    if _script():     # a script: each worker imports it again
        return
    from gankit.registry import REGISTRIES
    unseen = {(r.kind, e.name) for r in REGISTRIES.values() for e in r._entries.values() if e.module == "__main__"}
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
        used.update(("metric", m) for m in asked) if asked else used.update(k for k in unseen if k[0] == "metric")
    hit = sorted(unseen & used)
    if hit:
        raise ConfigError(f"{', '.join(f'{k} {n!r}' for k, n in hit)}: registered in this interactive session, "
                          "which the sweep's workers (new processes) cannot see; put the code in a module file "
                          "and give it to each job: Job(..., imports=['my_parts.py'])")


def death(proc) -> str:
    code = getattr(proc, "exitcode", None)
    if code is not None and code < 0:
        name = signal.Signals(-code).name if -code in signal.valid_signals() else f"signal {-code}"
        why = "killed, likely out of memory: try fewer --workers" if -code == signal.SIGKILL else "killed"
        return f"worker process died ({name}: {why})"
    return "worker process died" + (f" (exit code {code})" if code is not None else " (killed? out of memory?)")


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
