"""What the benchmark scripts share on the command line: a user's mistake (an unknown name, a
missing file, a config or run-folder error) ends the script with one line on stderr and exit
status 2, not a traceback.  Scripts run as `python benchmarks/X.py`, so this folder is on
sys.path and `import _cli` finds this module."""
from __future__ import annotations

import sys
from typing import Callable, Iterable


def user_errors() -> tuple:
    """gankit's errors whose message already tells the user what to fix; imported late, and only
    those this checkout has (eval_speed.py times other checkouts through PYTHONPATH)."""
    found = []
    for module, name in (("gankit.config", "ConfigError"), ("gankit.runfolder.errors", "RunFolderError")):
        try:
            found.append(getattr(__import__(module, fromlist=[name]), name))
        except (ImportError, AttributeError):
            pass
    return tuple(found)


def fail(message: str, status: int = 2):
    """End the script with ``error: message`` on stderr."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(status)


def choose(given: str | Iterable[str], valid: Iterable[str], what: str) -> list[str]:
    """The names in ``given`` (a list, or one comma-separated string), each checked against
    ``valid`` before any work starts; an unknown one ends the script naming the valid ones."""
    names = given.split(",") if isinstance(given, str) else list(given)
    valid = list(valid)
    unknown = [n for n in names if n not in valid]
    if unknown:
        fail(f"unknown {what} {', '.join(repr(n) for n in unknown)}; "
             f"choose from {', '.join(repr(v) for v in valid)}")
    return names


def at_least(parser, args, **least: int):
    """Counts checked right after parsing, before any work: each option named must be at least its
    value (a list option: each of its values); a count of 0 would divide by zero or fail later."""
    for opt, low in least.items():
        given = getattr(args, opt)
        for value in given if isinstance(given, list) else [given]:
            if value is not None and value < low:
                parser.error(f"--{opt.replace('_', '-')} must be at least {low}, got {value}")


def run_main(main: Callable, *args):
    """``main(*args)``, with user_errors() shown as one line, exit status 2."""
    try:
        return main(*args)
    except user_errors() as e:
        fail(str(e))


def need_two_logs(cfg):
    """Refuse, before any training, a run too short for a steady-state rate: the loop logs at
    every multiple of train.log_every and at the last step, and the rate needs two of them."""
    steps, every = cfg.train.steps, cfg.train.log_every
    if steps <= every:
        fail(f"--steps {steps} logs one step only (train.log_every = {every}); a steady-state rate "
             f"needs two: give --steps above {every}, or --set train.log_every=N with N below {steps}")
