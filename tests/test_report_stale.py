"""A live page whose training process was killed (SIGKILL, the OOM killer, power lost) is never
rewritten: it said LIVE and reloaded forever.  Its script now compares the page's build time
with the browser's clock and says no update came past a threshold computed from the run."""
import json
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from gankit.report import write_report
from gankit.runfolder import RunFolder

SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def _copy(src, dst):
    shutil.copytree(src, dst)
    (dst / "report.html").unlink(missing_ok=True)
    return dst


def _numbers(page: str) -> tuple[int, int]:
    """The build time (UTC epoch seconds) and the threshold the page's script reads."""
    (script,) = SCRIPT.findall(page)
    built = re.search(r"Date\.now\(\) / 1000 - (\d+);", script)
    after = re.search(r"if \(age <= (\d+)\) return;", script)
    assert built and after, script
    return int(built.group(1)), int(after.group(1))


def test_a_live_page_carries_its_build_time_and_threshold_as_numbers(tmp_path, tiny_run_dir):
    """Only numbers reach the script; the run's path reaches the badge escaped."""
    from gankit.report import STALE_AFTER_S
    run = _copy(tiny_run_dir, tmp_path / "a<b>&'c")
    before = time.time()
    page = write_report(run, live=True).read_text()
    built, after = _numbers(page)
    assert int(before) <= built <= time.time()
    assert after >= STALE_AFTER_S
    (script,) = SCRIPT.findall(page)
    assert "a<b>" not in script and "&lt;b&gt;" not in script     # no string of the run in the script
    assert 'id="stale-badge" hidden>' in page and 'http-equiv="refresh"' in page
    assert "<code>gankit report &#39;" in page and "a&lt;b&gt;&amp;&#39;&#34;&#39;&#34;&#39;c&#39;</code>" in page
    assert "a<b>" not in page
    # trained to its last step, still live: the final evaluation may be what it waits for
    assert "training reached its last step: the final evaluation may still be running" in page


def test_a_page_that_is_not_live_has_no_script(tmp_path, tiny_run_dir):
    run = _copy(tiny_run_dir, tmp_path / "r")
    page = write_report(run).read_text()
    assert "<script" not in page and "stale-badge" not in page and 'http-equiv="refresh"' not in page


def test_the_build_time_names_its_time_zone(tmp_path, tiny_run_dir, monkeypatch):
    """Without JavaScript the reader compares the build time with their clock: "16:30" alone
    is wrong by hours when the page is read elsewhere (a remote machine, a synced folder)."""
    run = _copy(tiny_run_dir, tmp_path / "r")
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        page = write_report(run, live=True).read_text()
    finally:
        monkeypatch.undo()
        time.tzset()
    built, _ = _numbers(page)
    shown = re.search(r"page built (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC\+05:30 from", page)
    assert shown, re.search(r"page built [^<]*", page).group(0)
    assert time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(built + 5.5 * 3600)) == shown.group(1)


def _records(started: str, rate: float, steps=(100, 200, 300)):
    return ([{"step": 0, "kind": "session", "started": "2020-01-01T00:00:00+0000"},
             {"step": 50, "kind": "train", "time": 1.0}, {"step": 50, "kind": "session", "started": started}]
            + [{"step": s, "kind": "train", "time": 10.0 + rate * (s - steps[0])} for s in steps])


def test_the_threshold_follows_the_pages_cadence():
    """Pages come at snapshots, slowed by the rebuild budget and by what the training clock
    leaves out (evaluations, checkpoints): a fixed threshold would call a slow run dead."""
    from gankit.report.progress import live_interval
    now = 1_700_000_000.0
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(now - 3600))
    recs = _records(started, rate=0.5)
    # 2000 steps at the newest session's 0.5 s a step (the older session's rate is not read)
    assert live_interval(recs, 2000, None, 1.0, now) == pytest.approx(1000)
    assert live_interval(recs, 20, None, 1.0, now) == pytest.approx(10)          # the rebuild's budget
    assert live_interval(recs, 20, now - 1500, 1.0, now) == pytest.approx(1500)  # the page before, this session's
    assert live_interval(recs, 20, now - 7200, 1.0, now) == pytest.approx(10)    # another session's: not read
    assert live_interval([{**r, "started": "?"} if r["kind"] == "session" else r for r in recs],
                         20, now - 1500, 1.0, now) == pytest.approx(10)
    damaged = recs[:-1] + [{"step": 400, "kind": "train", "time": float("inf")}]
    assert live_interval(damaged, 2000, None, 1.0, now) == pytest.approx(10)
    assert live_interval([], 2000, now - 60, 0.0, now) == 0
    # sample_every beyond the steps left: the next page is the one after the last step
    assert live_interval(recs, 100000, None, 1.0, now, steps_left=300) == pytest.approx(150)
    assert live_interval(recs, 2000, None, 1.0, now, steps_left=0) == pytest.approx(10)   # at the end: the budget


def test_a_run_that_evaluates_while_training_says_an_evaluation_may_be_running(tmp_path, tiny_run_dir):
    run = _copy(tiny_run_dir, tmp_path / "r")
    toml = run / "config.toml"
    toml.write_text(toml.read_text().replace("steps = 30\n", "steps = 120\n", 1))
    assert "a periodic evaluation (train.eval_every) may still be running" not in \
        write_report(run, live=True).read_text().replace("eval_every = 0", "")
    text = toml.read_text()
    assert "eval_every = " in text
    toml.write_text(text.replace("eval_every = 0\n", "eval_every = 10\n", 1) if "eval_every = 0\n" in text
                    else text)
    assert "a periodic evaluation (train.eval_every) may still be running" in write_report(run, live=True).read_text()


def test_a_slow_runs_page_waits_three_of_its_intervals(tmp_path, tiny_run_dir):
    run = _copy(tiny_run_dir, tmp_path / "r")
    folder = RunFolder(run)
    lines = folder.records_path.read_text().splitlines()
    slow = [json.dumps({**r, "time": r["step"] * 2.0}) if r.get("kind") == "train" else json.dumps(r)
            for r in map(json.loads, lines)]
    folder.records_path.write_text("\n".join(slow) + "\n")
    toml = run / "config.toml"
    toml.write_text(toml.read_text().replace("sample_every = 15\n", "sample_every = 500\n", 1)
                    .replace("steps = 30\n", "steps = 3000\n", 1))      # 2,970 steps left: a page due in 500
    _, after = _numbers(write_report(run, live=True).read_text())
    assert after == 3 * 500 * 2


@pytest.fixture(scope="module")
def js():
    """A JavaScript engine: headless Chromium (tests/test_browser.py; CI installs it and fails
    without it), one session on a blank page for the module."""
    from test_browser import Browser, chromium
    b = Browser(chromium())
    target = b.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = b.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    b.send("Runtime.enable", session=session)
    yield b, session
    b.close()


def _evaluate(js, expression: str):
    b, session = js
    out = b.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session)
    assert "exceptionDetails" not in out, out["exceptionDetails"]
    return out["result"]["value"]


def _run_script(js, page: str, age: float) -> dict:
    """The page's script with the browser's clock ``age`` seconds after the build, on a stub of
    the three elements it touches (the real page is loaded in the next test)."""
    built, _ = _numbers(page)
    (script,) = SCRIPT.findall(page)
    return json.loads(_evaluate(js, """(function () {
    const els = {"live-badge": {hidden: false}, "stale-badge": {hidden: true}, "stale-age": {textContent: ""}};
    const document = {getElementById: (k) => els[k]};
    const Date = {now: () => %d};
    %s
    return JSON.stringify(els);
    })()""" % (int((built + age) * 1000), script)))


def test_the_script_says_no_update_came_past_the_threshold(tmp_path, tiny_run_dir, js):
    run = _copy(tiny_run_dir, tmp_path / "r")
    page = write_report(run, live=True).read_text()
    _, after = _numbers(page)
    fresh = _run_script(js, page, after - 1)
    assert fresh["live-badge"]["hidden"] is False and fresh["stale-badge"]["hidden"] is True
    assert _run_script(js, page, -3600)["stale-badge"]["hidden"] is True      # a browser clock behind
    old = _run_script(js, page, max(after + 1, 23 * 60 + 5))
    assert old["live-badge"]["hidden"] is True and old["stale-badge"]["hidden"] is False
    assert old["stale-age"]["textContent"] == f"{max(after + 1, 23 * 60 + 5) // 60} MIN"
    assert _run_script(js, page, 5 * 3600)["stale-age"]["textContent"] == "5 H"
    assert _run_script(js, page, 3 * 86400)["stale-age"]["textContent"] == "3 DAYS"


def test_an_old_live_page_shows_the_stale_badge_in_the_browser(tmp_path, tiny_run_dir, js):
    """The page itself, loaded from disk: built two hours ago, the LIVE badge is gone and the
    stale one is displayed (the CSS's [hidden] rule beats the badge's inline-block)."""
    run = _copy(tiny_run_dir, tmp_path / "r")
    path = write_report(run, live=True)
    page = path.read_text()
    built, after = _numbers(page)
    assert after < 7200
    path.write_text(page.replace(f"Date.now() / 1000 - {built};", f"Date.now() / 1000 - {built - 7200};", 1))
    b, session = js
    b.send("Page.enable", session=session)
    b.send("Page.navigate", {"url": path.resolve().as_uri()}, session=session)
    b.wait_event("Page.loadEventFired")
    shown = json.loads(_evaluate(js, "JSON.stringify(['live-badge', 'stale-badge'].map("
                                     "k => getComputedStyle(document.getElementById(k)).display))"))
    assert shown[0] == "none" and shown[1] != "none", shown
    assert _evaluate(js, "document.getElementById('stale-age').textContent") == "2 H"
    path.write_text(page)              # built now: LIVE shown, the stale badge not
    b.send("Page.navigate", {"url": path.resolve().as_uri()}, session=session)
    b.wait_event("Page.loadEventFired")
    shown = json.loads(_evaluate(js, "JSON.stringify(['live-badge', 'stale-badge'].map("
                                     "k => getComputedStyle(document.getElementById(k)).display))"))
    assert shown[0] != "none" and shown[1] == "none", shown


def test_a_folder_whose_training_process_was_killed_gets_a_stopped_page(tmp_path, tiny_run_dir):
    """`gankit report RUN` after a SIGKILL: the lock file is left with the dead PID in it, but
    its flock went with the process, so the page is built stopped: no reload, no script."""
    run = _copy(tiny_run_dir, tmp_path / "r")
    toml = run / "config.toml"
    toml.write_text(toml.read_text().replace("steps = 30\n", "steps = 120\n", 1))
    lock = RunFolder(run).lock_path
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from gankit.io.locks import lock_file; "
                               "assert lock_file(sys.argv[1])[0]; print('held', flush=True); time.sleep(60)",
                               str(lock)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert "<script>" in write_report(run).read_text()      # trained by another process: live
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert lock.read_text().strip() == str(holder.pid)          # what the killed process left
    page = write_report(run).read_text()
    assert "stopped at step 30 of 120" in page
    assert "<script" not in page and 'http-equiv="refresh"' not in page and "LIVE" not in page
