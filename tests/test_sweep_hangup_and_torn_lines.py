"""A closed terminal (SIGHUP to the sweep's process group) stops a sweep without killing the
multiprocessing resource tracker (audit F122-3); a resume moves a torn last line of
metrics.jsonl to metrics.discarded.jsonl, saying so, instead of dropping it (F122-5); the sweep
table keeps labels readable on a terminal and entity-escaped where it may be rendered (F122-7)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gankit.runfolder import RunFolder


# ---------------------------------------------------------------- SIGHUP (F122-3)
def _group(pgid: int) -> dict[int, str]:
    """pid -> command line of the processes in process group ``pgid`` (Linux /proc)."""
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[2]) == pgid:
                out[int(d.name)] = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
    return out


def _hup_stopped(pid: int) -> bool:
    """Whether SIGHUP is ignored or blocked in ``pid`` (/proc/PID/status SigIgn, SigBlk)."""
    fields = dict(line.split(":\t", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                  if ":\t" in line)
    bit = 1 << (signal.SIGHUP - 1)
    return bool((int(fields["SigIgn"], 16) | int(fields["SigBlk"], 16)) & bit)


@pytest.mark.skipif(not sys.platform.startswith("linux") or not hasattr(os, "setsid"), reason="/proc, setsid")
def test_sighup_to_the_group_stops_the_sweep_and_leaves_the_resource_tracker_alone(tmp_path):
    log = tmp_path / "sweep.log"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(tmp_path)}
    cmd = [sys.executable, "-c", "import sys; from gankit.cli import main; sys.exit(main())", "sweep",
           'ring@train.steps=100000@eval.metrics=["modes"]@generator.hidden=[8]@discriminator.hidden=[8]',
           "--seeds", "2", "--workers", "2", "--results", str(tmp_path / "sw.jsonl")]
    with open(log, "wb") as out:
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
                             start_new_session=True)
    try:
        # both workers and the tracker up (the workers import torch: seconds)
        deadline, procs = time.monotonic() + 15, {}
        while time.monotonic() < deadline and p.poll() is None:
            procs = _group(p.pid)
            workers = [q for q, c in procs.items() if "spawn_main" in c]
            if len(workers) == 2 and any("resource_tracker" in c for c in procs.values()):
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"no 2 workers and a tracker within 15 s: {procs}\n{log.read_text()}")
        tracker = [q for q, c in procs.items() if "resource_tracker" in c]
        assert len(tracker) == 1 and _hup_stopped(tracker[0]), procs
        # the workers stop on SIGHUP as before: the fix does not leak into them
        assert not any(_hup_stopped(q) for q in workers), procs
        assert not _hup_stopped(p.pid)
        time.sleep(1)
        os.killpg(p.pid, signal.SIGHUP)
        rc = p.wait(20)
        text = log.read_text()
        assert rc == 128 + signal.SIGHUP, text
        assert "sweep interrupted" in text, text
        assert "resource_tracker" not in text and "Traceback" not in text and "KeyError" not in text, text
        # everything of the group ends: workers (killed by the sweep) and the tracker (its pipe closed)
        deadline = time.monotonic() + 10
        while _group(p.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _group(p.pid), _group(p.pid)
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        p.wait(10)


# ---------------------------------------------------------------- a torn last line (F122-5)
def _rec(step: int) -> str:
    return json.dumps({"step": step, "kind": "train", "loss_d": 0.5}) + "\n"


TORN = '{"step": 31, "kind": "tr'       # a write cut short: no newline


@pytest.mark.parametrize("read_first", [False, True])
def test_a_resume_moves_a_torn_last_line_to_the_set_aside_file_and_says_so(tmp_path, read_first):
    folder = RunFolder(tmp_path / "run")
    folder.path.mkdir()
    kept, past = _rec(10) + _rec(20), _rec(30)
    folder.records_path.write_text(kept + past + TORN)
    if read_first:          # as a resume does: the records read (the torn line warned of) before
        with pytest.warns(UserWarning, match="line 4 is damaged"):
            folder.records()
    with pytest.warns(UserWarning) as said:
        moved = folder.truncate_records(20)
    assert moved == 1
    assert folder.records_path.read_text() == kept
    assert (folder.path / "metrics.discarded.jsonl").read_text() == past + TORN + "\n"
    told = [str(w.message) for w in said]
    assert told == [f"{folder.records_path}: line 4 is torn (no newline: a write cut short) and moved to the "
                    "set-aside file (a run's metrics.discarded.jsonl)"], told
    folder.append({"step": 21, "kind": "train"})
    assert [r["step"] for r in folder.records()] == [10, 20, 21]


def test_a_torn_last_line_alone_is_set_aside_too(tmp_path):
    folder = RunFolder(tmp_path / "run")
    folder.path.mkdir()
    folder.records_path.write_text(_rec(10) + _rec(20) + TORN)
    with pytest.warns(UserWarning, match="line 3 is torn"):
        assert folder.truncate_records(20) == 0
    assert folder.records_path.read_text() == _rec(10) + _rec(20)
    assert (folder.path / "metrics.discarded.jsonl").read_text() == TORN + "\n"


# ---------------------------------------------------------------- the table on a terminal (F122-7)
ROWS = [{"label": "G<D & lr", "n": 1, "a<b": (1.0, 0.1)}]


def test_the_table_for_a_terminal_keeps_labels_as_typed():
    from gankit.sweep_table import markdown_table
    assert markdown_table(ROWS, keys=["a<b"], html=False).splitlines() == [
        "| label | runs | a<b |", "|---|---|---|", "| G<D & lr | 1 | 1.00 ± 0.10 |"]
    # where it may be rendered (a file): entities, as before, not "\<" (Python-Markdown keeps "\<b>" a tag)
    assert markdown_table(ROWS, keys=["a<b"]).splitlines()[2] == "| G&lt;D &amp; lr | 1 | 1.00 ± 0.10 |"


def _table_only(tmp_path, monkeypatch, capsys, tty: bool) -> tuple[str, str]:
    """stdout and the --out file of ``gankit sweep --table-only`` for a label "x<script>&" with
    no run recorded (its row, 0/2, and its note), stdout a terminal or not."""
    import argparse

    from gankit import sweep as S
    from gankit import sweep_cli
    res, out = tmp_path / "res.jsonl", tmp_path / "table.md"
    res.write_text("")
    monkeypatch.setattr(sweep_cli, "_on_terminal", lambda: tty, raising=False)
    parser = argparse.ArgumentParser(prog="gankit")
    S.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sweep", "x<script>&=ring", "--seeds", "2", "--table-only", "--results", str(res),
                              "--out", str(out)])
    capsys.readouterr()
    assert args.fn(args) == 1          # no run recorded
    return capsys.readouterr().out, out.read_text()


@pytest.mark.parametrize("tty", [True, False])
def test_the_sweep_prints_labels_as_typed_on_a_terminal_and_entities_elsewhere(tmp_path, monkeypatch, capsys, tty):
    shown, written = _table_only(tmp_path, monkeypatch, capsys, tty)
    # the file (and a redirected stdout: > table.md) may be rendered: no label injects HTML, note included
    for md in [written] + ([] if tty else [shown]):
        assert "<script>" not in md, md
        assert "| x&lt;script&gt;&amp; | 0/2 |" in md and "- x&lt;script&gt;&amp;: 0/2 runs" in md, md
    if tty:
        assert "| x<script>& | 0/2 |" in shown and "- x<script>&: 0/2 runs" in shown, shown
        assert "&lt;" not in shown and "&amp;" not in shown, shown
