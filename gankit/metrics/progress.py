"""Progress of an evaluation on stderr, shown only once it has run a few seconds.

On a terminal, a tqdm bar (``delay``: nothing appears before ``AFTER`` seconds); otherwise
(a log file, a test's captured stderr) one plain line per metric, and only for metrics
that start after ``AFTER`` seconds, so short evaluations print nothing.  Inside ``silenced``
(a caller of the API that asked for no messages: ``log=None``) nothing at all.
"""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager

AFTER = 3.0     # seconds an evaluation runs silent
_SILENCED = 0   # depth of silenced(); one gankit computation at a time (gankit/process_state.py)


@contextmanager
def silenced(on: bool = True):
    global _SILENCED
    _SILENCED += bool(on)
    try:
        yield
    finally:
        _SILENCED -= bool(on)


class Progress:
    def __init__(self, total: int, desc: str, stream=None, after: float | None = None):
        self.stream = stream or sys.stderr
        self.total, self.desc, self.after = total, desc, AFTER if after is None else after
        self.start, self.done = time.perf_counter(), 0
        self.bar, self.silent = None, _SILENCED > 0
        if not self.silent and _isatty(self.stream):
            from tqdm import tqdm
            self.bar = tqdm(total=total, desc=desc, unit="metric", file=self.stream, delay=self.after,
                            leave=False, dynamic_ncols=True)

    def step(self, name: str):
        """About to run ``name``."""
        if self.bar is not None:
            self.bar.set_postfix_str(name, refresh=False)
            self.bar.update(0)
        elif not self.silent and time.perf_counter() - self.start >= self.after:
            print(f"{self.desc}: {name} ({self.done + 1}/{self.total}, "
                  f"{time.perf_counter() - self.start:.0f} s)", file=self.stream, flush=True)

    def advance(self):
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
