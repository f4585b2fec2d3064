"""Two processes asking for the same cache file: the second waits for the first and reads what
it wrote instead of computing it again (two sweep workers evaluating on the same data)."""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from gankit.io.locks import computing

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import os, sys, time
import numpy as np
from gankit.metrics.feature_nets import feature_cache
log = sys.argv[1]
def make():
    with open(log, "a") as f:
        f.write("made\\n")
    t0 = time.monotonic()
    while not os.path.exists(sys.argv[2]) and time.monotonic() - t0 < 120:   # the test says when
        time.sleep(0.02)
    return {"features": np.arange(12, dtype=np.float32).reshape(4, 3), "probs": np.ones((4, 2))}
out = feature_cache(["lock-test", "v1"], make)
np.save(sys.argv[3], out["features"])
"""


def _locked(lock: Path) -> bool:
    if not lock.is_file():
        return False
    fd = os.open(lock, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def test_a_second_process_waits_and_reads_the_first_ones_features(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "GANKIT_CACHE": str(tmp_path / "cache")}
    log, go = tmp_path / "made.log", tmp_path / "go"
    first = subprocess.Popen([sys.executable, "-c", CHILD, str(log), str(go), str(tmp_path / "a.npy")], env=env,
                             stderr=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    while not log.is_file():                           # the first is computing (and holds the lock)
        assert first.poll() is None and time.monotonic() - t0 < 120, first.communicate()[1]
        time.sleep(0.02)
    assert any(_locked(p) for p in (tmp_path / "cache" / "locks").glob("features-*.lock"))
    with open(tmp_path / "second.err", "w") as err:
        second = subprocess.Popen([sys.executable, "-c", CHILD, str(log), str(go), str(tmp_path / "b.npy")],
                                  env=env, stderr=err, text=True)
    # until the second waits, or computes too (as it did before the lock)
    while "waiting for process" not in (tmp_path / "second.err").read_text() and log.read_text().count("made") < 2:
        assert second.poll() is None and time.monotonic() - t0 < 120, (tmp_path / "second.err").read_text()
        time.sleep(0.02)
    go.touch()
    assert first.wait(timeout=300) == 0, first.communicate()[1]
    assert second.wait(timeout=300) == 0, (tmp_path / "second.err").read_text()
    assert log.read_text() == "made\n"                 # computed once, by the first process
    assert f"waiting for process {first.pid} computing features" in (tmp_path / "second.err").read_text()
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


def test_an_unshared_lock_does_not_wait_and_a_folder_without_one_still_computes(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    with computing(tmp_path / "cache" / "features" / "x.npz", "features") as waited:
        assert waited is False and (tmp_path / "cache" / "locks" / "features-x.npz.lock").is_file()
    assert not (tmp_path / "cache" / "features").exists()      # the cache folder holds entries only
    (tmp_path / "cache" / "locks" / "features-y.npz.lock").symlink_to(tmp_path / "elsewhere")
    with computing(tmp_path / "cache" / "features" / "y.npz", "features") as waited:
        assert waited is False                                  # computed without a lock
    assert not (tmp_path / "elsewhere").exists()                # a planted link is never followed


def test_a_child_forked_while_the_lock_is_held_does_not_keep_it(tmp_path, monkeypatch):
    """A child forked while a thread held a cache lock shared its flock: after the parent was done,
    the child (and every other process) waited for the entry for as long as the child lived."""
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    entry = tmp_path / "cache" / "features" / "x.npz"
    with computing(entry, "features"):
        pid = os.fork()
        if pid == 0:                                    # the child: wait for the parent, then take it
            code = 1
            try:
                with computing(entry, "features") as waited:
                    code = 0 if waited else 2
            finally:
                os._exit(code)
        time.sleep(0.5)                                 # the child is waiting now
    t0 = time.monotonic()
    while time.monotonic() - t0 < 20:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    raise AssertionError("the forked child still waits for a lock only it holds")


def test_a_holder_that_never_lets_go_is_waited_for_a_bounded_time(tmp_path, monkeypatch, capsys):
    from gankit.io import locks
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(locks, "WAIT_LIMIT", 0.5)
    entry = tmp_path / "cache" / "features" / "y.npz"
    holder = subprocess.Popen([sys.executable, "-c", f"""
import os, sys, time
from gankit.io.locks import computing
with computing({str(entry)!r}, "features"):
    print("held", flush=True)
    time.sleep(60)
"""], env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        t0 = time.monotonic()
        with computing(entry, "features") as waited:
            assert waited is False                      # computed here, not read
        assert time.monotonic() - t0 < 10
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err
    assert f"waiting for process {holder.pid} computing features" in err
    assert f"process {holder.pid} still holds features after" in err and "computing it here" in err


def test_the_descriptor_is_known_while_waiting_and_closed_on_ctrl_c(tmp_path, monkeypatch):
    """A child forked while a thread waited for the lock kept the flock the thread took later (the
    descriptor was registered only once taken); a Ctrl-C while waiting leaked the descriptor."""
    from gankit.io import locks
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    seen = []

    def interrupted(fd, path, what):
        seen.append(any(h.fd == fd for h in locks._COMPUTING))      # a fork now would close its copy
        raise KeyboardInterrupt
    monkeypatch.setattr(locks, "_take", interrupted)
    before = set(os.listdir("/proc/self/fd"))
    try:
        with computing(tmp_path / "cache" / "features" / "z.npz", "features"):
            raise AssertionError("not reached")
    except KeyboardInterrupt:
        pass
    assert seen == [True] and not locks._COMPUTING
    assert set(os.listdir("/proc/self/fd")) <= before                # nothing left open
