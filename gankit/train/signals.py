"""Stopping a training run on SIGINT/SIGTERM/SIGHUP without losing a finished step."""
from __future__ import annotations

import signal
import threading


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on SIGINT, SIGTERM or SIGHUP; ``exit_code`` is 128 + the signal's number
    (130, 143, 129), and the message says which checkpoint was kept.  A KeyboardInterrupt, so
    Python code (a notebook, a script's ``except KeyboardInterrupt``) sees Ctrl-C as Ctrl-C
    and ``except Exception`` does not swallow it."""

    def __init__(self, signum: int, message: str, at_once: bool = False):
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum
        self.at_once = at_once     # a second signal: not at a step the processes agreed on


# SIGHUP: a closed terminal or a dropped SSH session, which would otherwise kill the run with the
# steps since its last checkpoint lost (Windows has no SIGHUP)
STOP_SIGNALS = tuple(s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None)


class StopOnSignal:
    """While training: SIGINT/SIGTERM/SIGHUP ask the loop to stop after the current step (the
    Run then writes a checkpoint); a second signal stops at once (atomic writes keep the last
    checkpoint whole).  Handlers are installed only in the main thread, and restored after; a
    signal the process ignores stays ignored (nohup's SIGHUP, a background job's SIGINT).
    ``checkpoints()``: the run's (step, path) checkpoints, for the second signal's message (None:
    a loop without a run folder, which names none)."""

    SIGNALS = STOP_SIGNALS

    def __init__(self, trainer, checkpoints=None):
        self.trainer, self.saved = trainer, {}
        self.checkpoints = checkpoints or (lambda: None)

    def _kept(self) -> str:
        """What a stop at once keeps: the newest checkpoint, or that there is none yet."""
        try:
            saved = self.checkpoints()
        except Exception:       # the folder moved or unreadable: the words of old
            saved = None
        if saved is None:
            return "the last checkpoint written is kept"
        if not saved:
            return "no checkpoint had been written yet: gankit train --resume starts again from step 0"
        step, path = saved[-1]
        return f"checkpoint {path.name} (step {step}) is kept"

    def _handle(self, signum, frame):
        if self.trainer.stop is not None:     # a signal, or a record the storage refused
            second = "a second " if isinstance(self.trainer.stop, int) else ""
            raise TrainingInterrupted(signum, f"stopped at once by {second}{signal.Signals(signum).name}; "
                                      f"{self._kept()}", at_once=True)
        self.trainer.stop = signum

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            # None: a handler set outside Python (a host that embeds it), which could not be put
            # back after; SIG_IGN: the signal is ignored on purpose (a shell's background job `cmd &`
            # ignores SIGINT, so Ctrl-C at the terminal is not for it; nohup ignores SIGHUP, so a
            # closed terminal does not stop the run), as outside training
            self.saved = {s: signal.signal(s, self._handle) for s in self.SIGNALS
                          if signal.getsignal(s) not in (None, signal.SIG_IGN)}
        return self

    def __exit__(self, *exc):
        for s, h in self.saved.items():
            signal.signal(s, h)
