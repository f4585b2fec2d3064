"""Progress of an evaluation on stderr, shown only once it has run a few seconds.

On a terminal, a tqdm bar that appears ``AFTER`` seconds in, naming the metric running; otherwise
(a log file, a test's captured stderr) one plain line per metric, and only for metrics
that start after ``AFTER`` seconds, so short evaluations print nothing.  Inside ``silenced``
(a caller of the API that asked for no messages: ``log=None``) nothing at all.
"""
from __future__ import annotations

import functools
import sys
import threading
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
        self.bar, self.silent, self.timer = None, _SILENCED > 0, None
        if not self.silent and _isatty(self.stream):
            self.bar = bar_class()(total=total, desc=desc, unit="metric", file=self.stream, delay=self.after,
                                   leave=False, dynamic_ncols=True)
            if self.after > 0:
                # tqdm looks at its delay only in update(): through one long metric (memorisation,
                # ~30 s) nothing would appear
                self.timer = threading.Timer(self.after, self._draw)
                self.timer.daemon = True
                self.timer.start()

    def _draw(self):
        """The bar's frame now (from the timer's thread too: under tqdm's lock, as its writes)."""
        bar = self.bar
        with bar.get_lock():
            if not bar.disable:     # not closed
                bar.refresh(nolock=True)
                # drawn, as tqdm counts it: its close clears only a bar it drew after its delay
                bar.last_print_t = bar._time()

    def step(self, name: str):
        """About to run ``name``."""
        if self.bar is not None:
            self.bar.set_postfix_str(name, refresh=False)
            if time.perf_counter() - self.start >= self.after:
                self._draw()     # advance()'s frame, just drawn, named the metric that ended
        elif not self.silent and time.perf_counter() - self.start >= self.after:
            print(f"{self.desc}: {name} ({self.done + 1}/{self.total}, "
                  f"{time.perf_counter() - self.start:.0f} s)", file=self.stream, flush=True)

    def advance(self):
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)

    def close(self):
        if self.timer is not None:
            self.timer.cancel()
        if self.bar is not None:
            self.bar.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@functools.cache
def bar_class():
    """tqdm, its frames a column narrower: tqdm leaves the terminal's last column free, and the
    terminal's echo of a Ctrl-C ("^C") at a frame's end takes two.  Wrapped onto the next line,
    the echo moved all that followed a line down, and left the frame it was to clear, or redraw
    as the last one, above."""
    from tqdm import tqdm
    tqdm.get_lock()     # the lock every bar shares: set on tqdm, not on the first subclass that asks

    class Bar(tqdm):
        @property
        def format_dict(self):
            d = super().format_dict
            if d.get("ncols"):
                d["ncols"] -= 1
            return d
    return Bar


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
