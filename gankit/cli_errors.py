"""How the command line tells a failure: one escaped line each for errors and warnings (once per
run under torchrun, not once per process), where memory ran out and what to lower, SIGTERM
outside the training loop, what each command kept when a signal stopped it, a standard output
that cannot be written, and a rank stopped because another one left.

Apart from cli.py, which parses and runs the commands: ``cli._main`` catches each kind of
failure and picks its exit code; the words and the per-rank rules are here.
"""
from __future__ import annotations

import errno
import os
import sys
from pathlib import Path

from gankit.streams import StdoutFailed, pasteable, shown, unescaped_bytes
from gankit.train.signals import TrainingInterrupted


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def _clipped(text: str, n: int) -> str:
    """``text`` cut to about ``n`` characters at a word's end, with "..." where it was cut."""
    if len(text) <= n:
        return text
    return text[:n].rsplit(" ", 1)[0] + " ..."


def _first_rank() -> bool:
    """Whether this process speaks for the run: always, except a torchrun process other than
    rank 0 (every rank loads the same data and config, so their warnings repeat rank 0's)."""
    from gankit.rank_errors import launched
    return not launched() or os.environ.get("RANK", "0") == "0"


# the warning lines a command printed (cli._main empties it): Python's own once-a-line filter
# forgets them at each warnings.catch_warnings, and a command that loads a config several times
# (drs: four) said its notes as often
SAID: set[str] = set()


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings as one line each (a skipped checkpoint, a damaged record), not a source dump;
    once per run, not once per process; the same line once a command; above the progress bars
    on screen (say_over_bars)."""
    if _first_rank():     # escaped: a warning may quote a folder name or a file's content
        from gankit.data.text import printable
        text = f"gankit: warning: {printable(_one_line(message))}"
        if text not in SAID:
            SAID.add(text)
            say_over_bars(text, sys.stderr if file is None else file)


def say_over_bars(text: str, stream) -> None:
    """``text`` as a line of ``stream``, as tqdm.write puts it: the bars drawn on the same
    terminal cleared, the line printed, the bars drawn again below it.  Printed straight, it
    would follow a bar's frame on that frame's line (a warning of a periodic evaluation) and
    leave the frame half-drawn above it."""
    bars = _bars_on(stream)
    if not bars:
        print(text, file=stream)
        return
    from tqdm import tqdm
    with tqdm.get_lock():
        for bar in bars:
            bar.clear(nolock=True)
        print(text, file=stream, flush=True)
        for bar in bars:
            bar.refresh(nolock=True)


def _bars_on(stream) -> list:
    """The tqdm bars drawn on ``stream``'s terminal: tqdm.write's own test misses them, as each
    holds its stream under wrappers (QuietStream, tqdm's), and stdout and stderr may be one
    terminal.  A bar whose ``delay`` has not run out is not drawn yet: redrawn, it would appear
    early, and its close would leave it on screen."""
    tqdm = getattr(sys.modules.get("tqdm"), "tqdm", None)     # no bar without tqdm imported
    if tqdm is None:
        return []
    where = _terminal(stream)
    return [bar for bar in list(getattr(tqdm, "_instances", ()))
            if not getattr(bar, "disable", True) and getattr(bar, "sp", None) is not None
            and getattr(bar, "last_print_t", 0) >= getattr(bar, "start_t", 0) + (getattr(bar, "delay", 0) or 0)
            and _terminal(bar.fp) == where]


def _terminal(stream):
    """What ``stream`` writes to: the file it opens ((device, inode): two descriptors of one
    terminal are one), else the stream under gankit's and tqdm's wrappers."""
    from gankit.streams import GuardedStdout, QuietStream
    for _ in range(10):
        inner = vars(stream).get("_wrapped") if hasattr(stream, "__dict__") else None
        if isinstance(stream, (QuietStream, GuardedStdout)):
            inner = stream.stream
        if inner is None:
            break
        stream = inner
    try:
        st = os.fstat(stream.fileno())
        return st.st_dev, st.st_ino
    except (AttributeError, OSError, ValueError):     # no descriptor (StringIO, pytest's capture)
        return id(stream)


class Terminated(TrainingInterrupted):
    """SIGTERM (or SIGHUP: a closed terminal) outside the training loop; ``why`` is what torchrun's
    stop adds (another rank's failure), ``peers`` the ranks known to have failed (None: unknown),
    and ``cli._main`` says what the command kept (``interrupted_line``)."""

    def __init__(self, signum: int, why: str = "", peers: list[int] | None = (), lost: list[int] = ()):
        import signal
        super().__init__(signum, f"{signal.Signals(signum).name} received; stopped (checkpoints already "
                                 f"written are kept){why}")
        self.why = why
        self.peers = list(peers) if peers is not None else None
        self.lost = list(lost)      # ranks that ended without a word (killed), where no rank failed


def _why(peers: list[int] | None, lost: list[int] = ()) -> str:
    # []: the user (or a scheduler) stopped the run, unless a rank was killed; None: unknown
    if peers == [] and lost:
        return (f"; rank {lost[0]} ended without an error of its own (killed by a signal, such as the "
                "out-of-memory killer's; torchrun's summary gives its exit code), and torchrun stops every "
                "process when one ends")
    return "" if peers == [] else "; torchrun stops every process when one fails, " + (
        f"and rank {peers[0]} failed (its error says why)" if peers else "so another process's error may say why")


def _terminated(signum, frame):
    """SIGTERM or SIGHUP outside the training loop (start-up, set-up, evaluation), whose own handler says more."""
    # before gankit.train.distributed is imported (start-up) the store is not asked: importing
    # torch here could meet torch half-imported by the code this signal interrupted; the marks
    # failed ranks leave need no torch
    from gankit import rank_errors
    peers = rank_errors.failed_peers(ask_store="gankit.train.distributed" in sys.modules)
    lost = rank_errors.lost_peers() if peers == [] else []
    raise Terminated(signum, _why(peers, lost), peers, lost)


def _processes(a) -> int | None:
    """The processes a resume of this run names (gankit.train.launch.resume_nproc): --nproc in the
    process that launches them, one machine's world size in each process torchrun started, None
    for a launch across machines."""
    from gankit.train.launch import resume_nproc
    n = getattr(a, "nproc", 1)
    return resume_nproc(n if isinstance(n, int) else 1)


def _resume_command(a, folder) -> str:
    """``gankit train --resume --out FOLDER``, pasteable; a resume's own --set arguments
    repeated: stopped before its config.toml was written, the run would go on without them
    (once written, applying them again changes nothing); ``--nproc N`` for a run on N
    processes, which one process would continue with another world size."""
    sets = [x for kv in getattr(a, "set", None) or [] for x in ("--set", kv)] if getattr(a, "resume", False) else []
    from gankit.train.launch import resume_words
    words, after = resume_words(_processes(a))
    return _command("train", "--resume", "--out", folder, *sets, *words) + after


AGAIN = "run the same command again"


def _kept_by_train(a) -> tuple[str, str]:
    folder = getattr(a, "run_folder", None)     # set by _cmd_train once it knows the folder
    if folder is None and getattr(a, "resume", False) and getattr(a, "out", None):
        # stopped before _cmd_train began (its imports): the run to continue is untouched
        if (Path(a.out) / "config.toml").is_file():
            return "nothing was changed", f"continue with {_resume_command(a, a.out)}"
        return "nothing was changed", AGAIN
    if folder and (Path(folder) / "config.toml").is_file():
        return f"{_path(folder)} keeps what was written", f"continue with {_resume_command(a, folder)}"
    return "no run folder was written", AGAIN


def train_stop_advice(a) -> str:
    """What a stopped ``gankit train`` kept and what to run next, for the process that launched
    its ranks (--nproc)."""
    return "; ".join(_kept_by_train(a))


def _kept_by_drs(a) -> tuple[str, str]:
    options = [x for o in ("steps", "quantile", "lr") if getattr(a, o, None) is not None
               for x in (f"--{o}", str(getattr(a, o)))]
    run = str(a.run_dir)
    run = "./" + run if run.startswith("-") else run      # a folder named -x is no option
    return "the run is left as it was (no sampler kept)", f"run {_command('drs', run, *options)} again"


def _kept_by_eval(a, stop) -> tuple[str, str]:
    done = getattr(stop, "evaluation_recorded", None)     # (step, numbers): set by api._evaluate
    if done is None:
        return "nothing was recorded", AGAIN
    from gankit.data.text import printable      # a user's metric names its own keys
    return (f"the evaluation of step {done[0]} was recorded ({printable(done[1])}), the reference row was not "
            "measured", f"{AGAIN} to measure it (it records the evaluation once more)")


def _page(a) -> str:
    page = a.out or (None if a.json or a.text else "compare.html")
    return f"{_path(page)} is left as it was" if page else "nothing was written"


def _left(p) -> tuple[str, str]:
    return f"{_path(p)} is left as it was", AGAIN


# what each command keeps when a signal stops it, and what to run next; a command not named
# here changes nothing
_KEPT = {
    "train": lambda a, stop: _kept_by_train(a),
    "eval": _kept_by_eval,
    "drs": lambda a, stop: _kept_by_drs(a),
    "sample": lambda a, stop: _left(a.out) if a.out else ("the samples printed are not all of them", AGAIN),
    "invert": lambda a, stop: _left(a.out or Path(a.run_dir) / "inversion"),
    "complete": lambda a, stop: _left(a.out or Path(a.run_dir) / "completion"),
    "report": lambda a, stop: _left(Path(a.run_dir) / "report.html"),
    "compare": lambda a, stop: (_page(a), AGAIN),
    # a second Ctrl-C in the sweep's own clean-up reaches here instead of its SweepInterrupted
    "sweep": lambda a, stop: ("nothing was changed", AGAIN) if getattr(a, "starting", False) else (
        f"the runs that finished are recorded in {_path(a.results)}",
        "rerun the same command with --resume to run the others (interrupted runs start over)"),
}


def peer_left_line(args, why: str, failed: bool) -> str:
    """The line of a rank whose collective failed as another process left (``why``; ``failed``: it
    reported an error), with what the command kept and what to run next, as a signal's stop line
    says them: across machines no torchrun stops this rank with a signal, so this is its only line."""
    command = getattr(args, "command", None)
    kept, then = _KEPT.get(command, lambda a, s: ("nothing was changed", AGAIN))(args, None)
    folder = getattr(args, "run_folder", None) if command == "train" else None
    if folder and then != AGAIN:
        try:
            from gankit.runfolder import RunFolder
            saved = RunFolder(folder).checkpoints()
        except Exception:     # the folder gone or unreadable: what was written is all it can say
            saved = []
        if saved:
            kept = f"{_path(folder)} keeps its checkpoint of step {saved[-1][0]}"
    if failed:
        then = _once_fixed(then)
    return f"gankit: rank {os.environ.get('RANK')}: stopped, as {why}; {kept}; {then}"


def _once_fixed(then: str, what: str = "that error") -> str:
    """The next step after a stop that followed another process's error: that error first (the
    same command would fail the same way)."""
    return f"{then} once {what} is fixed" if then.endswith(" again") else f"once {what} is fixed, {then}"


def _path(p) -> str:
    return shown(p, sys.stderr)


def _command(*words) -> str:
    """``gankit WORDS...`` as it can be pasted into a shell: each word quoted where it must be
    (a folder named "my run", a --set value holding spaces or quotes)."""
    return " ".join(["gankit", *(pasteable(w, sys.stderr) for w in words)])


def interrupted_line(args, stop: KeyboardInterrupt) -> str | None:
    """The one line for a command stopped by SIGINT or SIGTERM (``args``: None before its
    arguments were parsed): the training loop's own message, else what the command kept and
    what to run next.  None for a rank > 0 that torchrun stopped as rank 0 failed, before the
    command changed anything: rank 0's error is the one line to read."""
    import signal
    command = getattr(args, "command", None)
    if isinstance(stop, TrainingInterrupted) and not isinstance(stop, Terminated):
        said = _one_line(stop)      # the loop's: it names the checkpoint kept
        folder = getattr(args, "run_folder", None)
        if stop.at_once and command == "train" and folder:
            if "gankit train --resume starts again" in said:    # no checkpoint yet: the resume's full words
                said = said.replace("gankit train --resume", _resume_command(args, folder), 1)
            elif "--resume" not in said:
                said += f"; continue with {_resume_command(args, folder)}"
        return said
    name = signal.Signals(getattr(stop, "signum", signal.SIGINT)).name
    why, peers = getattr(stop, "why", ""), getattr(stop, "peers", [])
    if why and peers is None and all(m in sys.modules for m in ("torch", "torch.distributed")):
        # unknown in the handler (start-up had not imported the store's client yet); asked now,
        # outside it, with torch whole (an import the signal cut short leaves sys.modules)
        try:
            from gankit.rank_errors import failed_peers
            peers = failed_peers()
        except (Exception, KeyboardInterrupt):     # a half-imported module, a second signal: unknown
            peers = None
        why = _why(peers, getattr(stop, "lost", [])) if peers is not None else why
    if command is None:
        kept, then = "nothing was changed", AGAIN
    else:
        kept, then = _KEPT.get(command, lambda a, s: ("nothing was changed", AGAIN))(args, stop)
    lost = getattr(stop, "lost", [])
    # cli._main's mark until the command's own code runs: torchrun stops a rank > 0 there when
    # rank 0 refused the command (a one-process command; train --resume's config, found by the ranks)
    begun = then != AGAIN and not getattr(args, "starting", False)
    if not begun and not _first_rank() and (0 in peers if peers else peers == [] and 0 not in lost):
        # nothing begun, and rank 0's error to fix or a stop every rank got (Ctrl-C, the
        # launcher's SIGTERM, a killed rank): rank 0's line says it (and --nproc's summary that
        # torchrun stopped this rank); the same line once per process read as several causes
        return None
    if why:     # stopped by torchrun for another process's end: the same command ends the same way
        then = _once_fixed(then, "its cause" if peers == [] and lost else "that error")
    if command is None:
        return f"stopped by {name} before the command started{why}: {kept}; {then}"
    return f"{command} stopped by {name}{why}: {kept}; {then}"


def _say_error(line: str):
    """``gankit: error: LINE``, once per run: with several processes a rank > 0 prints its own
    error (``rank N: ...``) unless rank 0 failed with the same one."""
    import signal
    import threading
    from gankit import rank_errors
    stopped = []
    if rank_errors.launched_rank() is not None and threading.current_thread() is threading.main_thread():
        # torchrun's SIGTERM (a peer exited) cuts the wait short, not the report; _main puts
        # the caller's handler back
        signal.signal(signal.SIGTERM, lambda signum, frame: stopped.append(signum))
    said = rank_errors.error_line(line, stop=lambda: bool(stopped))
    if said is not None:
        from gankit.data.text import printable
        # an argument quoted by repr() under an ASCII locale ('caf\udcc3\udca9') as stderr shows
        # any other text (caf\xe9), the form of the paths in the same line
        print(f"gankit: error: {printable(unescaped_bytes(said))}", file=sys.stderr)
    rank_errors.post_error(line)   # after printing: a rank waiting for it exits only then


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
    if f"{os.sep}gankit{os.sep}data{os.sep}" in f.filename:     # building or drawing the data
        return f"{where}, while building the data; lower the data's own sizes (data.n_modes, data.dim, ...)"
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
    from gankit.rank_errors import launched_rank
    if launched_rank() is None:
        return False
    import torch.distributed as dist
    lost = ("Connection closed by peer", "Connection reset by peer", "Broken pipe")
    return isinstance(e, getattr(dist, "DistError", ())) or any(s in str(e) for s in lost)
