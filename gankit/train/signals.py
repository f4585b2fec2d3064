"""Stopping a training run on SIGINT/SIGTERM without losing a finished step."""
from __future__ import annotations

import signal
import threading


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on SIGINT or SIGTERM; ``exit_code`` is 128 + the signal's number
    (130, 143), and the message says which checkpoint was kept.  A KeyboardInterrupt, so
    Python code (a notebook, a script's ``except KeyboardInterrupt``) sees Ctrl-C as Ctrl-C
    and ``except Exception`` does not swallow it."""

    def __init__(self, signum: int, message: str, at_once: bool = False):
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum
        self.at_once = at_once     # a second signal: not at a step the processes agreed on


class StopOnSignal:
    """While training: SIGINT/SIGTERM ask the loop to stop after the current step (the Run
    then writes a checkpoint); a second signal stops at once (atomic writes keep the last
    checkpoint whole).  Handlers are installed only in the main thread, and restored after; a
    signal the process ignores stays ignored."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, trainer):
        self.trainer, self.saved = trainer, {}

    def _handle(self, signum, frame):
        if self.trainer.stop is not None:     # a signal, or a record the storage refused
            second = "a second " if isinstance(self.trainer.stop, int) else ""
            raise TrainingInterrupted(signum, f"stopped at once by {second}{signal.Signals(signum).name}; "
                                      "the last checkpoint written is kept", at_once=True)
        self.trainer.stop = signum

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            # None: a handler set outside Python (a host that embeds it), which could not be put
            # back after; SIG_IGN: the signal is ignored on purpose (a shell's background job `cmd &`
            # ignores SIGINT, so Ctrl-C at the terminal is not for it), as outside training
            self.saved = {s: signal.signal(s, self._handle) for s in self.SIGNALS
                          if signal.getsignal(s) not in (None, signal.SIG_IGN)}
        return self

    def __exit__(self, *exc):
        for s, h in self.saved.items():
            signal.signal(s, h)
