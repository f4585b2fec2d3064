"""How the command line tells a failure: one escaped line each for errors and warnings (once per
run under torchrun, not once per process), where memory ran out and what to lower, SIGTERM
outside the training loop, a standard output that cannot be written, and a rank stopped because
another one left.

Apart from cli.py, which parses and runs the commands: ``cli._main`` catches each kind of
failure and picks its exit code; the words and the per-rank rules are here.
"""
from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

from gankit.streams import StdoutFailed


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def _first_rank() -> bool:
    """Whether this process speaks for the run: always, except a torchrun process other than
    rank 0 (every rank loads the same data and config, so their warnings repeat rank 0's)."""
    from gankit.train.distributed import launched
    return not launched() or os.environ.get("RANK", "0") == "0"


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings as one line each (a skipped checkpoint, a damaged record), not a source dump;
    once per run, not once per process."""
    if _first_rank():     # escaped: a warning may quote a folder name or a file's content
        from gankit.data.text import printable
        print(f"gankit: warning: {printable(_one_line(message))}", file=sys.stderr if file is None else file)


def _terminated(signum, frame):
    """SIGTERM outside the training loop (set-up, evaluation), whose own handler says more."""
    from gankit.train.distributed import failed_peers
    from gankit.train.signals import TrainingInterrupted
    peers = failed_peers()     # []: the user (or a scheduler) stopped the run; None: unknown (no torchrun store)
    why = "" if peers == [] else "; torchrun stops every process when one fails, " + (
        f"and rank {peers[0]} failed (its error says why)" if peers else "so another process's error may say why")
    raise TrainingInterrupted(signum, f"SIGTERM received; stopped (checkpoints already written are kept){why}")


def _say_error(line: str):
    """``gankit: error: LINE``, once per run: with several processes a rank > 0 prints its own
    error (``rank N: ...``) unless rank 0 failed with the same one."""
    import signal
    import threading
    from gankit.train import distributed
    stopped = []
    if distributed.launched_rank() is not None and threading.current_thread() is threading.main_thread():
        # torchrun's SIGTERM (a peer exited) cuts the wait short, not the report; _main puts
        # the caller's handler back
        signal.signal(signal.SIGTERM, lambda signum, frame: stopped.append(signum))
    said = distributed.error_line(line, stop=lambda: bool(stopped))
    if said is not None:
        from gankit.data.text import printable
        print(f"gankit: error: {printable(said)}", file=sys.stderr)
    distributed.post_error(line)   # after printing: a rank waiting for it exits only then


def _oom_advice(e: BaseException) -> str:
    """Where memory ran out (the innermost gankit frame) and the settings that change it: a
    metric's memory does not depend on the batch size or the nets' widths."""
    import traceback
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f"{os.sep}gankit{os.sep}" in f.filename]
    if not frames:
        return "; lower train.batch_size, the nets' widths or the sample counts"
    f = frames[-1]
    where = f" in {Path(f.filename).parent.name}/{Path(f.filename).name}:{f.name}"
    if any(f"{os.sep}metrics{os.sep}" in g.filename for g in frames):
        return (f"{where}, while measuring a metric; leave it out (eval.metrics, or gankit eval --metrics) "
                "or lower the sample counts that size it: eval.n_samples, eval.parzen_centres, "
                "eval.jsd_bins, eval.jsd_samples")
    if any(g.filename.endswith(f"{os.sep}sample_cli.py") for g in frames):
        # gankit sample holds every sample it was asked for (one array written at the end)
        return f"{where}, while sampling; ask for fewer samples (-n), e.g. in several runs with --seed"
    return f"{where}; lower train.batch_size, the nets' widths or the sample counts"


def _stdout_failed(e: StdoutFailed) -> int:
    if e.error.errno == errno.EPIPE:    # the reader took what it wanted (| head): not an error
        return 0
    note = f"; {e.note}" if e.note else ""
    print(f"gankit: error: could not write to standard output: {e.error.strerror or _one_line(e.error)}"
          f"{note}", file=sys.stderr)
    return 1


def _os_error_line(e: OSError) -> str:
    """The file (if named) and the cause; a WriteError already says both."""
    from gankit.io import WriteError
    if isinstance(e, WriteError):
        return _one_line(e)
    where = f"{e.filename}: " if e.filename else ""
    return f"{where}{e.strerror or _one_line(e)}"


def _peer_stopped(e: Exception) -> bool:
    """A rank whose collective failed because a peer left (e.g. one that refused its data and
    exited): that peer's one-line error is the report, not this traceback."""
    from gankit.train.distributed import launched_rank
    if launched_rank() is None:
        return False
    import torch.distributed as dist
    lost = ("Connection closed by peer", "Connection reset by peer", "Broken pipe")
    return isinstance(e, getattr(dist, "DistError", ())) or any(s in str(e) for s in lost)
