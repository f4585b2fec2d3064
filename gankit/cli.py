"""Command line: thin — parses, calls the library, prints (how it tells a failure: cli_errors.py)."""
from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import warnings

from gankit.cli_parser import Gankit, Parser, empty_argument
from gankit.environment import import_failure_line, missing_dependencies, missing_line, print_error

try:    # numpy (gankit.io) is imported here: where it cannot be, main() says so in one line
    from gankit.cli_errors import (_clipped, _oom_advice, _one_line, _os_error_line, _peer_stopped, _say_error,
                                   SAID, _show_warning, _stdout_failed, _terminated, interrupted_line, peer_left_line)
    from gankit.cli_args import (DATA_MOVED_HELP, DATA_SET_HELP, data_location_sets, output_file,  # noqa: F401
                                 shown_path)
    from gankit.cli_summary import _summary
    from gankit.cli_train import _cmd_train
    from gankit.config import ConfigError
    from gankit.streams import GuardedStdout, QuietStream, StdoutFailed, discard, pasteable
    _IMPORT_FAILED: ImportError | None = None
except ImportError as _e:
    _IMPORT_FAILED = _e


def _expand_home(args):
    """~ in a path argument (bash leaves it as it is after = or in quotes): expanded as
    data.path and --images are, not made a folder named ~.  A preset or module name never
    starts with ~, so the config and --import arguments are expanded too; a sweep variant's
    source is its part between the label's = and the first @ (gankit.sweep.parse_variant)."""
    for name in ("out", "run_dir", "config", "results"):
        if isinstance(getattr(args, name, None), str):
            setattr(args, name, os.path.expanduser(getattr(args, name)))
    for name, expand in (("run_dirs", os.path.expanduser), ("imports", os.path.expanduser),
                         ("variants", _expand_variant)):
        if isinstance(getattr(args, name, None), list):
            setattr(args, name, [expand(v) if isinstance(v, str) else v for v in getattr(args, name)])


def _expand_variant(text: str) -> str:
    """``[LABEL=]SOURCE[@KEY=VALUE...]`` with ~ in SOURCE expanded (the label stays as given)."""
    head, at, overrides = text.partition("@")
    label, eq, source = head.partition("=") if "=" in head else ("", "", head)
    return f"{label}{eq}{os.path.expanduser(source)}{at}{overrides}"


def _cmd_eval(a):
    from gankit import api
    # "modes, jsd" as "modes,jsd"; a trailing comma's empty name is no metric
    names = [m.strip() for item in (a.metrics or []) for m in item.split(",") if m.strip()]
    where, sets = data_location_sets(a.set, "eval.")
    run = api.open_run(a.run_dir, where)      # loads the run's own imports: their metrics count
    from gankit.registry import METRICS
    METRICS.refuse_unknown(names, "--metrics")
    result = api.evaluate(run, names or None, overrides=sets, record=not a.no_record, source="gankit eval",
                          log=None if a.json else api._stderr, strict=True)
    if a.json:
        from gankit.io import jsonable
        print(json.dumps({"step": run.step, **jsonable(result)}))
    else:
        print(f"step {run.step}: {_summary(result)}")
        if not a.no_record:
            print(f"recorded in {shown_path(run.folder.records_path, sys.stderr)} (kind \"eval\"); gankit report "
                  f"{pasteable(a.run_dir)} shows it", file=sys.stderr)


def _cmd_report(a):
    from gankit.report import write_report
    where = data_location_sets(a.set, sampling=False)[0]      # the report draws no samples: G's temperature is moot
    print(f"report: {shown_path(write_report(a.run_dir, overrides=where).resolve())}")


def build_parser() -> argparse.ArgumentParser:
    from gankit import __version__
    p = Gankit(prog="gankit", description="Train, watch and measure GANs.",
                epilog="gankit help COMMAND (or gankit COMMAND --help) shows a command's options.")
    p.add_argument("--version", action="version", version=f"gankit {__version__}")
    p.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                   help="import a module that registers your own components (a dataset, net, loss, "
                        "metric or objective) first; `train` records it in the run's config.toml")
    sub = p.commands = p.add_subparsers(dest="command", title="commands", metavar="COMMAND",
                                         parser_class=Parser)
    t = sub.add_parser("train", help="train a preset or a TOML config")
    t.add_argument("config", nargs="?", default=None, metavar="PRESET",
                   help="a preset's name (gankit list shows them) or the path to a .toml file "
                        "(default: ring; not with --resume)")
    t.add_argument("--out", help="run folder (default runs/NAME-sSEED-TIME)")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set train.steps=2000 (repeatable)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    t.add_argument("--nproc", type=int, default=1, metavar="N",
                   help="data-parallel on N local processes (torchrun --standalone --nproc-per-node N); "
                        "train.batch_size stays the global batch")
    t.set_defaults(fn=_cmd_train)
    e = sub.add_parser("eval", help="metrics of a run's latest checkpoint")
    e.add_argument("run_dir")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--metrics", action="append",
                   help="metric names (comma separated); default: eval.metrics, else all that apply")
    e.add_argument("--set", action="append", default=[], metavar="eval.KEY=VALUE",
                   help="an eval setting for this evaluation only, e.g. --set eval.n_samples=10000; or "
                        + DATA_SET_HELP)
    e.add_argument("--no-record", action="store_true", help="do not append the result to metrics.jsonl")
    e.set_defaults(fn=_cmd_eval)
    from gankit.compare_cli import add_parser as add_comparing   # compare
    add_comparing(sub)
    from gankit.sample_cli import add_parser as add_sampling    # drs, sample
    add_sampling(sub, DATA_SET_HELP)
    r = sub.add_parser("report", help="write RUN_DIR/report.html from the run folder")
    r.add_argument("run_dir")
    r.add_argument("--set", action="append", default=[], metavar="data.KEY=VALUE", help=DATA_MOVED_HELP)
    r.set_defaults(fn=_cmd_report)
    from gankit.list_cli import add_parser as add_listing       # list
    add_listing(sub)
    from gankit.sweep import add_parser as add_sweep
    add_sweep(sub)
    from gankit.invert_cli import add_parser as add_inversion   # invert, complete
    add_inversion(sub)
    h = sub.add_parser("help", help="the commands, or a command's options")
    h.add_argument("topic", nargs="?", metavar="COMMAND", choices=list(sub.choices),
                   help="the command whose options to show (default: the list of commands)")
    return p


def _one_process_only(args):
    """Only training runs on many processes: any other command started by torchrun would do the
    same work once per process (and print it as often, or write the same files at once)."""
    from gankit.rank_errors import launched
    world = os.environ.get("WORLD_SIZE", "1")
    if args.fn is _cmd_train or not launched() or world == "1":
        return
    name = args.command
    raise ConfigError(f"gankit {name} runs in one process, but torchrun started {world}: only gankit train "
                      f"trains on many; run it without torchrun (gankit {name} ...)")


def _ignore_sigint_from_now() -> None:
    """The command is done: a Ctrl-C while Python shuts down (atexit, finalizers) would only
    print "Exception ignored ... KeyboardInterrupt"."""
    import signal
    import threading
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def main(argv: list[str] | None = None) -> int:
    """Run one command.  Every expected failure prints ``gankit: error: ...`` (one line, no
    traceback) and returns 2 for bad input (a config, an argument, a data file) or a damaged
    environment (a declared dependency missing or broken), 1 for anything else (a run folder,
    the disk, memory), 128 + the signal on SIGINT/SIGTERM/SIGHUP, and 3 on a process of a torchrun
    run stopped because another one left.
    Diagnostics (stderr) that cannot be written are dropped, never stopping the command; a
    standard output that cannot be written returns 1, or 0 silently for a reader that left
    (``gankit list | head``).  The process's own command (``argv`` None: the console script,
    ``python -m gankit``) ignores SIGINT once it has returned."""
    try:
        missing = missing_dependencies()    # before any work: not a traceback at the final report
        if missing or _IMPORT_FAILED is not None:
            print_error(missing_line(missing) if missing else import_failure_line(_IMPORT_FAILED))
            return 2
        return _guarded_main(argv)
    finally:
        if argv is None:
            _ignore_sigint_from_now()


def _guarded_main(argv: list[str] | None) -> int:
    out, err = sys.stdout, sys.stderr
    guarded_out, guarded_err = (GuardedStdout(out) if out is not None else None), QuietStream(err)
    sys.stdout, sys.stderr = guarded_out, guarded_err
    try:
        return _main(argv)
    except StdoutFailed as e:    # --help, --version
        return _stdout_failed(e)
    finally:
        sys.stdout, sys.stderr = out, err
        if guarded_out is not None and guarded_out.failed:
            discard(out)
        if err is not None and guarded_err.failed:
            discard(err)


def _main(argv: list[str] | None) -> int:
    import signal
    import threading
    # before anything slow (parsing imports torch): a signal from the very start is one line.
    # SIGHUP (a closed terminal, a dropped SSH session) as SIGTERM: not a silent death (exit 129).
    # None: a handler set outside Python (a host that embeds it): left alone, it could not be put back;
    # SIG_IGN: whoever started gankit asked it to ignore the signal (nohup's SIGHUP, nohup-like launchers)
    main_thread = threading.current_thread() is threading.main_thread()
    ours = {s: signal.signal(s, _terminated) for s in (signal.SIGTERM, getattr(signal, "SIGHUP", None))
            if s is not None and main_thread and signal.getsignal(s) not in (None, signal.SIG_IGN)}
    old_show = warnings.showwarning
    warnings.showwarning = _show_warning
    SAID.clear()
    args = None
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as e:   # argparse has printed its one-line message
            return e.code if isinstance(e.code, int) else 2
        if (empty := empty_argument(args)) is not None:
            print(f"gankit: error: {empty}", file=sys.stderr)
            return 2
        # until the command's own code runs: a signal then (torchrun's, once rank 0 refused the
        # command) stopped nothing it writes (cli_errors.interrupted_line); the imports of torch
        # (the parser no longer imports it) come after this mark
        args.starting = True
        if argv is None:    # the process is the command's own (console script, python -m gankit, a torchrun
            from gankit.train.threads import own_process    # rank): its inter-op threads are gankit's to set
            own_process()
        _expand_home(args)
        return _run_command(args)
    except KeyboardInterrupt as e:    # Ctrl-C; SIGTERM, SIGHUP (_terminated); training's own stop
        line = interrupted_line(args, e)
        if line is not None:
            print(f"gankit: {line}", file=sys.stderr)
        return getattr(e, "exit_code", 130)
    except ImportError as e:     # installed (missing_dependencies found it) but broken
        try:
            _say_error(import_failure_line(e))
        except Exception:    # _say_error's own imports (torch) may be what is broken
            print_error(import_failure_line(e))
        return 2
    finally:
        warnings.showwarning = old_show
        for s, old in ours.items():
            signal.signal(s, old)


def _reading_runs(args):
    """Commands that measure none of eval.metrics (report, sample, eval of metrics named by
    --metrics, drs's fine-tuning of D, invert, complete): a metric that list names whose code is
    not here is said and left out, not refused (train, --resume and plain eval, which measure
    that list, still refuse it)."""
    import contextlib
    if args.command in ("report", "sample", "drs", "invert", "complete") or (args.command == "eval" and getattr(args, "metrics", None)):
        from gankit.config.schema import reading_runs
        return reading_runs()
    return contextlib.nullcontext()


def _run_command(args) -> int:
    """The command, each expected failure told in one line (an interruption: _main)."""
    from gankit.builtins import import_modules, load_builtins
    from gankit.io import DISK_FULL, interruption_cause, os_error_cause, write_failure
    from gankit.metrics.context import NonFiniteSamples
    from gankit.runfolder import RunFolderError
    from gankit.train.loop import NonFiniteLoss
    try:
        # first: every rank refuses at once, before its imports, while rank 0's refusal can still
        # be matched (gankit.rank_errors.error_line) rather than torchrun's SIGTERM stopping it
        _one_process_only(args)
        load_builtins()
        from gankit import trusted_imports
        trusted_imports.given(getattr(args, "imports", None) or [])
        import_modules(getattr(args, "imports", None) or [])
        from gankit.wording import command_line
        with command_line(), _reading_runs(args):   # gankit.api, which the commands call, speaks in their words
            args.starting = False
            rc = args.fn(args)
        if sys.stdout is not None:
            sys.stdout.flush()    # a file's buffer is written here, while a failure can be told
    except (ConfigError, RunFolderError, NonFiniteLoss, NonFiniteSamples) as e:
        _say_error(_one_line(e))
        return 2 if isinstance(e, ConfigError) else 1
    except MemoryError as e:
        _say_error(f"out of memory{_oom_advice(e)}")
        return 1
    except OSError as e:   # a file or folder the command was pointed at: say which and why
        _say_error(_os_error_line(e))
        return 1
    except RuntimeError as e:
        stop = interruption_cause(e)
        if stop is not None:   # a second signal inside torch.save, whose zip writer then failed
            raise stop from None
        if _peer_stopped(e):
            from gankit.rank_errors import failed_peers, lost_peers
            from gankit.train.launch import PEER_LEFT
            peers = failed_peers()
            lost = [] if peers else lost_peers()
            why = (f"rank {peers[0]} failed; its error says why" if peers else
                   f"rank {lost[0]} ended without an error of its own (killed by a signal, such as the "
                   "out-of-memory killer's; torchrun's summary gives its exit code)" if lost else
                   f"another process of this run stopped ({_clipped(_one_line(e), 160)}); its error, if "
                   "it printed one, says why")
            print(peer_left_line(args, why, failed=bool(peers)), file=sys.stderr)
            return PEER_LEFT
        # torch's zip writer reports a write the storage refused as a RuntimeError (files written
        # through gankit.io say which file; this is for any other)
        cause = os_error_cause(e, (*DISK_FULL, errno.EFBIG))
        if cause is not None:
            _say_error(f"a write failed: {write_failure(cause)}")
            return 1
        if "allocate" not in str(e) and "out of memory" not in str(e):
            raise   # a bug: the traceback is the useful report
        _say_error(f"out of memory ({_one_line(e)[:200]}){_oom_advice(e)}")
        return 1
    return rc or 0


if __name__ == "__main__":
    sys.exit(main())
