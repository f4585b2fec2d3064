"""Run a list of benchmark commands side by side, one thread each, until a deadline.

For a machine with many cores (the GPU machine: 16) and a list of independent runs: each line
of JOBS is `name: command` ($VARS expanded: one that is not set stops the sweep before any job starts;
blank lines and # comments skipped); at most --parallel run at once
with OMP_NUM_THREADS=1, each one's output in LOGS/name.log; at --deadline seconds after the
start the ones still running are stopped (SIGTERM: gankit runs checkpoint and exit; a second
run of the same command continues them) so that what finished comes back in time.  Exit status 1
when a job failed (a non-zero exit, or a program that could not start) or was stopped.

    python benchmarks/sweep.py JOBS --logs DIR [--parallel 14] [--deadline 520]
"""
from __future__ import annotations

import argparse
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path


VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def read_jobs(path: Path) -> list[tuple[str, str]]:
    try:
        text = path.read_text()
    except OSError as e:
        raise SystemExit(f"error: cannot read the jobs file {path} ({e.strerror or e}); give a file of "
                         "'name: command' lines")
    jobs, missing = [], {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, cmd = line.partition(":")
        if not sep or not name.strip().replace("-", "").replace("_", "").isalnum() or not cmd.strip():
            raise SystemExit(f"{path}:{n}: expected 'name: command' with a name of letters, digits, - and _")
        try:
            shlex.split(cmd)
        except ValueError as e:
            raise SystemExit(f"{path}:{n}: {name.strip()}: cannot split the command into words ({e})")
        # expandvars would pass an unset $VAR on literally (a results file named `$R`, say)
        for m in VAR.finditer(cmd):
            var = m.group(1) or m.group(2)
            if var not in os.environ:
                missing.setdefault(var, []).append(f"{n} ({name.strip()})")
        jobs.append((name.strip(), cmd.strip()))
    if missing:
        raise SystemExit("error: " + "; ".join(f"${v} is not set, used on line(s) {', '.join(lines)}"
                                              for v, lines in missing.items())
                         + f" of {path}; set {'it' if len(missing) == 1 else 'them'} and run again")
    if len({n for n, _ in jobs}) != len(jobs):
        raise SystemExit(f"{path}: two jobs share a name")
    return jobs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("jobs", type=Path)
    ap.add_argument("--logs", type=Path, required=True)
    ap.add_argument("--parallel", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--deadline", type=float, default=float("inf"), help="seconds from the start")
    a = ap.parse_args(argv)
    todo, running, start = read_jobs(a.jobs), {}, time.monotonic()
    a.logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    failed = []
    while todo or running:
        for name, (p, t0, log) in list(running.items()):
            if p.poll() is not None:
                log.close()
                print(f"{time.monotonic() - start:7.1f} s  {name}: exit {p.returncode} after "
                      f"{time.monotonic() - t0:.0f} s", flush=True)
                if p.returncode:
                    failed.append(f"{name} (exit {p.returncode})")
                del running[name]
        if time.monotonic() - start > a.deadline:
            for name, (p, _, _) in running.items():
                p.send_signal(signal.SIGTERM)
                print(f"deadline: stopping {name}", flush=True)
            for p, _, log in running.values():
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                log.close()
            print(f"not started: {', '.join(n for n, _ in todo) or 'none'}", flush=True)
            if failed:
                print(f"failed: {', '.join(failed)}", flush=True)
            return 1
        while todo and len(running) < a.parallel:
            name, cmd = todo.pop(0)
            log = (a.logs / f"{name}.log").open("w")
            try:
                p = subprocess.Popen(shlex.split(os.path.expandvars(cmd)), stdout=log, stderr=subprocess.STDOUT,
                                     env=env)
            except OSError as e:     # no such program, not executable: this job failed, the others go on
                log.write(f"could not start: {e}\n")
                log.close()
                print(f"{time.monotonic() - start:7.1f} s  {name}: could not start ({e.strerror or e}: "
                      f"{e.filename or cmd.split()[0]})", flush=True)
                failed.append(f"{name} (could not start)")
                continue
            running[name] = (p, time.monotonic(), log)
        time.sleep(1)
    if failed:
        print(f"failed: {', '.join(failed)}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
