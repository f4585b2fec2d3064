"""What a run folder promises (docs/reliability.md): one writer, a user's files never
overwritten, checkpoints tied to their run, pruning that keeps the newest readable checkpoint,
stale temp files removed, a torn record tolerated, a full disk reported, graceful SIGINT and
SIGTERM, and a report that no string can inject markup into."""
from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gankit import config as C
from gankit.cli import main
from gankit.runfolder import RunFolder, RunFolderError
from gankit.train.run import Run, RunError

ROOT = Path(__file__).resolve().parents[1]
SLOW_TRAIN = ["--set", "train.steps=100000", "--set", "train.batch_size=16", "--set", "train.progress=false",
              "--set", "generator.hidden=[16, 16]", "--set", "discriminator.hidden=[16, 16]",
              "--set", "train.log_every=5", "--set", "train.sample_every=100000",
              "--set", "train.n_fixed=16", "--set", "eval.n_samples=100", "--set", "eval.jsd_samples=200"]


def gankit_process(*args) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "gankit", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(cond, timeout=120.0, proc=None):
    t0 = time.monotonic()
    while not cond():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the process ended early: {proc.communicate()}")
        assert time.monotonic() - t0 < timeout, "timed out"
        time.sleep(0.05)


def _copy(template, tmp_path) -> Path:
    dst = tmp_path / "r"
    shutil.copytree(template, dst)
    return dst


# ---------------------------------------------------------------- one writer
def test_a_second_writer_is_refused_naming_the_pid_and_a_killed_holder_does_not_block(tmp_path, capsys):
    run = tmp_path / "r"
    # a short rejection fit and one metric for the resume's end: the locks are checked, not those
    p = gankit_process("train", "ring", "--out", run, "--set", "train.checkpoint_every=20", *SLOW_TRAIN,
                       "--set", "objective.drs_steps=20", "--set", 'eval.metrics=["modes"]')
    try:
        wait_for(lambda: RunFolder(run).checkpoints(), proc=p)
        for argv in (["train", "--resume", "--out", run], ["drs", run]):
            assert main([str(a) for a in argv]) == 1
            err = capsys.readouterr().err
            assert f"in use: another gankit process (PID {p.pid})" in err, err
            assert "Traceback" not in err
        assert main(["train", "ring", "--out", str(run)]) == 1       # a new run there: refused too, as in use
        err = capsys.readouterr().err        # (not "already holds a trained run; continue it with --resume")
        assert f"in use: another gankit process (PID {p.pid})" in err and "already holds" not in err, err
        # readers are not blocked
        assert main(["eval", str(run), "--metrics", "modes"]) == 0
    finally:
        p.kill()                       # SIGKILL: the kernel drops its lock
        p.communicate()
    step = RunFolder(run).checkpoints()[-1][0]
    assert main(["train", "--resume", "--out", str(run), "--set", f"train.steps={step + 3}"]) == 0
    assert RunFolder(run).checkpoints()[-1][0] == step + 3


def test_one_process_shares_its_lock_and_releases_it(tmp_path, tiny):
    a = Run.create(C.load("ring", tiny), tmp_path / "r")
    b = Run.open(tmp_path / "r", load=False)
    b.folder.lock()                    # the same process: shared, not refused
    a.close()
    b.close()
    import fcntl
    with open(tmp_path / "r" / ".gankit.lock") as f:   # free again for anyone
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)


# ---------------------------------------------------------------- checkpoints
def _checkpoint_at(src: Path, step: int) -> Path:
    return src.with_name(f"step_{step:08d}.pt")


def test_resume_after_a_fallback_keeps_the_newest_readable_checkpoints(tmp_path, tiny, capsys):
    """The issue's case: good 10/20, truncated 30, empty 40; a resume to step 25 used to prune
    the good ones by step number and leave only the damaged files."""
    Run.create(C.load("ring", tiny + ["train.steps=20", "train.keep_checkpoints=5"]), tmp_path / "r").train().close()
    ck = tmp_path / "r" / "checkpoints"
    good = (ck / "step_00000020.pt").read_bytes()
    (ck / "step_00000030.pt").write_bytes(good[:400])
    (ck / "step_00000040.pt").write_bytes(b"")
    rc = main(["train", "--resume", "--out", str(tmp_path / "r"), "--set", "train.steps=25",
               "--set", "train.checkpoint_every=5", "--set", "train.keep_checkpoints=2"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "step_00000030.pt is damaged" in err and "step_00000040.pt is damaged" in err
    names = sorted(p.name for p in ck.iterdir())
    assert names == ["step_00000020.pt", "step_00000025.pt", "step_00000030.pt.damaged",
                     "step_00000040.pt.damaged"]   # set aside, never deleted
    state, path = RunFolder(tmp_path / "r").load_checkpoint()
    assert path.name == "step_00000025.pt" and state["step"] == 25
    assert main(["eval", str(tmp_path / "r"), "--metrics", "modes"]) == 0


def test_pruning_does_not_count_a_damaged_older_checkpoint(tmp_path, tiny):
    run = Run.create(C.load("ring", tiny + ["train.steps=20", "train.keep_checkpoints=2"]), tmp_path / "r").train()
    ck = run.folder.checkpoint_dir
    (ck / "step_00000020.pt").write_bytes(b"")   # bit rot after it was written
    run.step = 21
    with pytest.warns(UserWarning, match="step_00000020.pt is damaged"):
        run.save_checkpoint()
    assert [s for s, _ in run.folder.checkpoints()] == [10, 21]   # 10 kept: 20 is not readable
    assert (ck / "step_00000020.pt.damaged").exists()


def test_identity_keys_allow_a_longer_schedule_and_refuse_another_model(tiny_run_dir, tmp_path):
    run = _copy(tiny_run_dir, tmp_path)
    r = Run.open(run, ["train.steps=40", "optim_d.lr=5e-4", "eval.n_samples=300"], write=True)
    assert r.step == 30
    r.close()
    for other, key in ((["loss.name=wgan"], "loss.name"), (["seed=3"], "seed"),
                       (["generator.hidden=[16, 16, 16]"], "generator.hidden")):
        # the overrides, not the checkpoint, are what differs: the message names them
        with pytest.raises(RunFolderError, match=rf"--set .*{key}.*define the run.*cannot change on --resume"):
            Run.open(run, other, write=True)     # as --resume opens it


def test_stale_temp_files_are_removed_when_training_starts(tiny_run_dir, tmp_path):
    run = _copy(tiny_run_dir, tmp_path)
    stale = [run / "checkpoints" / ".step_00000040.pt.x1y2.tmp", run / "samples" / ".step_00000040.npz.ab.tmp",
             run / ".config.toml.zz.tmp"]
    for p in stale:
        p.write_bytes(b"half")
    (run / "notes.tmp").write_text("the user's, not a temp file of gankit's")
    Run.open(run, ["train.steps=31"], write=True).train().close()
    assert not any(p.exists() for p in stale)
    assert (run / "notes.tmp").exists()


def test_a_run_killed_before_its_first_checkpoint_resumes_from_step_0(tmp_path, tiny, capsys):
    Run.create(C.load("ring", tiny), tmp_path / "r").close()   # config written, no checkpoint yet
    rc = main(["train", "--resume", "--out", str(tmp_path / "r"), "--set", "train.steps=5"])
    assert rc == 0
    assert "starts again from step 0" in capsys.readouterr().err


def test_a_record_after_a_torn_line_starts_on_its_own_line(tmp_path):
    f = RunFolder(tmp_path)
    f.append({"step": 1, "kind": "train"})
    with open(f.records_path, "a") as fh:
        fh.write('{"step": 2, "ki')
    f.append({"step": 3, "kind": "train"})
    with pytest.warns(UserWarning, match="line 2 is damaged"):
        assert [r["step"] for r in f.records()] == [1, 3]


# ---------------------------------------------------------------- a full disk
def _tmpfs(path: Path, size: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


def test_a_full_disk_is_reported_and_the_previous_checkpoint_kept_tmpfs(tmp_path, tiny, capsys):
    disk = tmp_path / "disk"
    if not _tmpfs(disk, "2m"):
        pytest.skip("cannot mount a tmpfs here (the injected-ENOSPC test covers the logic)")
    try:
        # about 1.6 MB a checkpoint (weights and two Adam moments): the first fits, the second not
        rc = main(["train", "ring", "--out", str(disk / "r"), "--set", "train.steps=200",
                   "--set", "train.checkpoint_every=10", "--set", "train.keep_checkpoints=2",
                   "--set", "generator.hidden=[256, 256]", "--set", "discriminator.hidden=[256, 256]",
                   "--set", "train.progress=false", "--set", "train.sample_every=1000",
                   "--set", "train.n_fixed=16", "--set", "train.batch_size=16"])
        err = capsys.readouterr().err
        assert rc == 1 and "Traceback" not in err
        assert "gankit: error: disk full while writing" in err and "--resume" in err
        state, path = RunFolder(disk / "r").load_checkpoint()
        assert state["step"] == 10
        assert not [p for p in (disk / "r" / "checkpoints").iterdir() if p.name.endswith(".tmp")]
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


def test_a_full_disk_is_reported_and_the_previous_checkpoint_kept_injected(tmp_path, tiny, monkeypatch, capsys):
    import gankit.runfolder as rf
    real = rf.save_atomic
    calls = []

    def full_on_the_third(obj, path):
        calls.append(path)
        if len(calls) >= 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(obj, path)
    monkeypatch.setattr(rf, "save_atomic", full_on_the_third)
    argv = ["train", "ring", "--out", str(tmp_path / "r")] + [a for kv in tiny for a in ("--set", kv)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "disk full while writing" in err and "step_00000030.pt" in err
    assert "the previous checkpoint step_00000020.pt is kept" in err
    monkeypatch.setattr(rf, "save_atomic", real)
    assert RunFolder(tmp_path / "r").load_checkpoint()[0]["step"] == 20


def test_a_final_report_that_cannot_be_written_fails_no_trained_and_evaluated_run(tmp_path, tiny, monkeypatch, capsys):
    """The disk filled at report.html after training and its evaluation had succeeded: exit 1, the
    numbers not printed, and advice to --resume (which had nothing left to do)."""
    import gankit.report as rp
    real = rp.write_report

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", "report.html")
    monkeypatch.setattr(rp, "write_report", full)
    argv = ["train", "ring", "--out", str(tmp_path / "r")] + [a for kv in tiny + ['eval.metrics=["modes"]']
                                                              for a in ("--set", kv)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "report.html not written" in captured.err and f"gankit report {tmp_path / 'r'} writes it" in captured.err
    assert "modes" in captured.out + captured.err and RunFolder(tmp_path / "r").records("eval")
    monkeypatch.setattr(rp, "write_report", real)


# ---------------------------------------------------------------- SIGINT / SIGTERM
@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_finishes_the_step_writes_a_checkpoint_and_exits(tmp_path, sig, code):
    run = tmp_path / "r"
    p = gankit_process("train", "ring", "--out", run, "--set", "train.checkpoint_every=100000", *SLOW_TRAIN)
    try:
        wait_for(lambda: RunFolder(run).records_path.exists(), proc=p)   # training has begun
        p.send_signal(sig)
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:        # a failed wait or a signal it ignored: no training left behind
            p.kill()
            p.communicate()
    assert p.returncode == code, err
    assert "Traceback" not in err
    assert f"{signal.Signals(sig).name} received: stopped after step" in err and "--resume" in err
    (step, path), = RunFolder(run).checkpoints()    # none periodic: the final one only
    assert step > 0 and f"{path}" in err
    r = Run.open(run, [f"train.steps={step + 2}"], write=True).train()
    assert r.step == step + 2
    r.close()


# ---------------------------------------------------------------- the report escapes everything
PAYLOAD = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_no_user_string_reaches_the_report_as_markup(tiny_run_dir, tmp_path):
    run = tmp_path / PAYLOAD.replace("/", "_")          # the run folder's name
    shutil.copytree(tiny_run_dir, run)
    cfg_text = (run / "config.toml").read_text()
    (run / "config.toml").write_text(cfg_text.replace('inception_weights = ""',
                                                      f"inception_weights = {json.dumps(PAYLOAD)}"))
    with open(run / "metrics.jsonl", "a") as f:         # metric names, values, the step, an error text
        f.write(json.dumps({"step": 30, "kind": "train", PAYLOAD: 1.0, "loss_d": 0.5}) + "\n")
        f.write(json.dumps({"step": PAYLOAD, "kind": "eval", PAYLOAD: PAYLOAD,
                            "error": f"RuntimeError: {PAYLOAD}", "mode_counts": [1] * 8}) + "\n")
    assert main(["report", str(run)]) == 0
    page = (run / "report.html").read_text()
    for raw in ("<script", "<img src=x"):   # raw tags; escaped text is harmless
        assert raw not in page, raw
    assert "&lt;script&gt;" in page   # the strings are there, escaped


def test_resume_of_a_trained_run_whose_checkpoints_are_gone_keeps_its_records(tiny_run_dir, tmp_path):
    import shutil
    run = _copy(tiny_run_dir, tmp_path)
    before = (run / "metrics.jsonl").read_text()
    shutil.rmtree(run / "checkpoints")
    with pytest.raises(RunError, match=r"records of training to step \d+ but no checkpoint.*put the checkpoints back"):
        Run.open(run, ["train.steps=40"], write=True)
    assert (run / "metrics.jsonl").read_text() == before and list((run / "samples").iterdir())


def test_more_steps_on_resume_do_not_make_a_finished_run_look_killed_before_its_first_checkpoint(tmp_path, tiny):
    """Its one checkpoint was at its last step (6): with --set train.steps=12 the first checkpoint
    was taken to be at step 12, the records to step 6 "before" it, and the run was wiped."""
    import shutil
    Run.create(C.load("ring", tiny + ["train.steps=6", "train.checkpoint_every=100"]), tmp_path / "r").train().close()
    RunFolder(tmp_path / "r").append({"step": 6, "kind": "eval", "modes": 8})      # its final evaluation
    before = (tmp_path / "r" / "metrics.jsonl").read_text()
    shutil.rmtree(tmp_path / "r" / "checkpoints")
    with pytest.raises(RunError, match=r"records of training to step 6 but no checkpoint"):
        Run.open(tmp_path / "r", ["train.steps=12"], write=True)
    assert (tmp_path / "r" / "metrics.jsonl").read_text() == before


def test_a_checkpoint_renamed_by_hand_is_refused_not_trusted(tiny_run_dir, tmp_path):
    import shutil
    run = _copy(tiny_run_dir, tmp_path)
    newest = RunFolder(run).checkpoints()[-1][1]
    shutil.copy(newest, run / "checkpoints" / "step_00000099.pt")
    with pytest.raises(RunFolderError, match=r"step_00000099.pt holds step 30, not 99.*rename it step_00000030.pt"):
        Run.open(run)


def test_advice_when_nothing_loads_does_not_send_the_user_in_a_circle(tiny_run_dir, tmp_path):
    run = _copy(tiny_run_dir, tmp_path)
    for _, p in RunFolder(run).checkpoints():
        p.write_bytes(b"")
    with pytest.raises(RunFolderError, match=r"put a good checkpoint back, or train anew into another folder"):
        Run.open(run)
    (run / "config.toml").unlink()
    with pytest.raises(RunFolderError, match=r"holds checkpoints but no config.toml"):
        RunFolder(run).require_run()


def test_files_written_atomically_follow_the_umask(tmp_path):
    import os
    from gankit.io import write_text_atomic
    old = os.umask(0o002)
    try:
        write_text_atomic(tmp_path / "report.html", "<p>hi</p>")
    finally:
        os.umask(old)
    assert (tmp_path / "report.html").stat().st_mode & 0o777 == 0o664


def test_a_record_nested_too_deep_to_parse_is_skipped_like_a_damaged_line(tmp_path):
    from gankit.io import read_jsonl
    p = tmp_path / "metrics.jsonl"
    p.write_text('{"step": 1, "kind": "train"}\n{"step": 2, "x": ' + "[" * 100000 + "]" * 100000 + "}\n"
                 '{"step": 3, "kind": "train"}\n')
    with pytest.warns(UserWarning, match="line 2 is damaged"):
        assert [r["step"] for r in read_jsonl(p)] == [1, 3]


def test_resume_with_fewer_steps_than_done_is_refused_and_rewrites_nothing(tiny_run_dir, tmp_path):
    run = _copy(tiny_run_dir, tmp_path)
    before = (run / "config.toml").read_text(), (run / "metrics.jsonl").read_text()
    with pytest.raises(RunError, match=r"at step 30, past train.steps=5.*above 30"):
        Run.open(run, ["train.steps=5"], write=True)
    assert ((run / "config.toml").read_text(), (run / "metrics.jsonl").read_text()) == before


def test_a_damaged_newer_checkpoint_is_not_read_as_another_runs_progress(tiny_run_dir, tmp_path):
    """Run.train refuses a folder another Run moved past its step, but a torn checkpoint newer
    than the one loaded is no one's progress: training goes on from the last good one."""
    run = _copy(tiny_run_dir, tmp_path)
    (step, good), = [c for c in RunFolder(run).checkpoints() if c[0] == 30]
    r = Run.open(run, ["train.steps=50"], write=True)
    assert r.step == 30
    (good.parent / "step_00000040.pt").write_bytes(good.read_bytes()[:1000])     # torn, e.g. by a kill
    r.train()
    assert r.step == 50 and max(s for s, _ in RunFolder(run).checkpoints()) == 50
    r.close()


# ---------------------------------------------------------------- a file-size limit, an unwritable folder
def gankit_limited(limit: int, *args) -> subprocess.CompletedProcess:
    """gankit under ``ulimit -f`` (bytes): a write past it fails with EFBIG, as at a FAT32 drive's 4 GB."""
    import resource
    hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
    return subprocess.run([sys.executable, "-m", "gankit", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"},
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard)))


def test_a_file_size_limit_is_one_line_naming_the_file_and_keeps_the_previous_checkpoint(tmp_path, tiny):
    """EFBIG was a traceback from torch's zip writer."""
    run = tmp_path / "r"
    Run.create(C.load("ring", tiny + ["train.steps=10", "objective.drs=false",
                                      "discriminator.hidden=[128, 128]"]), run).train().close()
    small = (run / "checkpoints" / "step_00000010.pt").stat().st_size
    # the sampler fitted at the last step adds a copy of D: that checkpoint passes the limit
    p = gankit_limited(int(small * 1.15), "train", "--resume", "--out", run, "--set", "train.steps=20",
                       "--set", "objective.drs=true", "--set", "objective.drs_steps=2")
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
    assert f"file too large while writing {run}/checkpoints/step_00000020.pt: the file would exceed the " \
           "file-size limit (ulimit -f)" in p.stderr
    assert "the previous checkpoint step_00000010.pt is kept" in p.stderr and "--resume" in p.stderr
    assert not [q for q in (run / "checkpoints").iterdir() if q.name.endswith(".tmp")]
    assert RunFolder(run).load_checkpoint()[0]["step"] == 10


def test_a_file_size_limit_on_a_record_names_the_file(tiny_run_dir, tmp_path):
    """It said only 'File too large'."""
    run = _copy(tiny_run_dir, tmp_path)
    records = run / "metrics.jsonl"
    before = records.read_bytes()
    p = gankit_limited(len(before), "eval", run, "--metrics", "modes")
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
    assert f"file too large while writing a record to {records}: the file would exceed" in p.stderr
    assert records.read_bytes() == before


def test_an_unwritable_folder_names_the_file_not_a_temp_name(tiny_run_dir, tmp_path, monkeypatch, capsys):
    """A read-only checkpoints folder (or run folder) named mkstemp's random temp name, a file
    that never existed."""
    import types
    import gankit.io as gio
    run = _copy(tiny_run_dir, tmp_path)

    def read_only(dir, prefix, suffix):      # as mkstemp fails in a folder without write permission
        raise PermissionError(errno.EACCES, "Permission denied", os.path.join(dir, f"{prefix}egmv6nvk{suffix}"))
    monkeypatch.setattr(gio, "tempfile", types.SimpleNamespace(mkstemp=read_only))
    assert main(["report", str(run)]) == 1
    err = capsys.readouterr().err
    assert f"gankit: error: cannot write {run}/report.html: the folder is not writable (Permission denied)" in err
    assert "egmv6nvk" not in err
    with pytest.raises(OSError, match=rf"cannot write {run}/checkpoints/step_00000031.pt: the folder is not writable"):
        RunFolder(run).save_checkpoint({"step": 31}, 31, keep=3)


# ---------------------------------------------------------------- gankit drs stopped half-way
def test_a_drs_stopped_before_its_checkpoint_leaves_the_run_as_it_was(tmp_path, tiny, monkeypatch, capsys):
    """A kill before the checkpoint left config.toml saying drs = true and a "drs" record over a
    checkpoint without a sampler: sample and eval then used G alone without a word."""
    run = tmp_path / "r"
    Run.create(C.load("ring", tiny + ["train.steps=10", "objective.drs=false"]), run).train().close()
    before = (run / "config.toml").read_text(), (run / "metrics.jsonl").read_text()

    def killed(*a, **k):
        raise KeyboardInterrupt
    with monkeypatch.context() as m:
        m.setattr(RunFolder, "save_checkpoint", killed)
        assert main(["drs", str(run), "--steps", "3"]) == 130
    assert ((run / "config.toml").read_text(), (run / "metrics.jsonl").read_text()) == before
    capsys.readouterr()
    assert main(["drs", str(run), "--steps", "3"]) == 0
    assert "holds no rejection sampler" not in capsys.readouterr().err    # drs fits it: no warning
    r = Run.open(run)
    assert r.cfg.objective.params["drs"] is True and r.objective.rejection.ready
    assert [x["kind"] for x in r.folder.records() if x["kind"] == "drs"] == ["drs"]


def test_a_config_with_drs_over_a_checkpoint_without_a_sampler_warns(tmp_path, tiny):
    run = tmp_path / "r"
    Run.create(C.load("ring", tiny + ["train.steps=10", "objective.drs=false"]), run).train().close()
    cfg = run / "config.toml"
    cfg.write_text(cfg.read_text().replace("drs = false", "drs = true"))     # as by hand
    with pytest.warns(UserWarning, match=r"holds no rejection sampler .* come from G alone .* gankit drs RUN"):
        r = Run.open(run)
    assert not r.objective.rejection.ready


def test_a_checkpoint_pruned_while_a_reader_loads_it_is_not_damage(tiny_run_dir, tmp_path, monkeypatch):
    """A reader racing a training run that keeps one checkpoint: the file it listed was pruned
    before it read it, and it said the checkpoints were damaged; it lists them again instead."""
    import warnings

    import torch
    run = _copy(tiny_run_dir, tmp_path)
    folder = RunFolder(run)
    real, calls = RunFolder.load_file, []

    def load_while_the_writer_moves_on(path):
        if not calls:    # the writer saves step 40 and prunes every older checkpoint
            state = real(folder.checkpoints()[-1][1])
            torch.save({**state, "step": 40}, run / "checkpoints" / "step_00000040.pt")
            for s, p in folder.checkpoints():
                if s < 40:
                    p.unlink()
        calls.append(Path(path).name)
        return real(path)
    monkeypatch.setattr(RunFolder, "load_file", staticmethod(load_while_the_writer_moves_on))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        state, path = folder.load_checkpoint()
    assert state["step"] == 40 and path.name == "step_00000040.pt"
    assert calls == ["step_00000030.pt", "step_00000040.pt"]


def test_a_config_with_non_ascii_text_reads_under_an_ascii_locale(tmp_path):
    """TOML is UTF-8 whatever the locale: an ASCII locale (LC_ALL=C) must not call config.toml
    damaged, nor a run folder's config not a run's."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.toml").write_text(C.dumps_toml(C.load("ring", ["data.name=points", "data.path=/d\u00e4t\u00e4/p.npy"])),
                                     encoding="utf-8")
    (run / "metrics.jsonl").write_text("")      # a run: training wrote there (a lone config.toml is the user's)
    probe = ("import sys; from gankit.runfolder import RunFolder; f = RunFolder(sys.argv[1]); "
             "assert f.is_gankit_run(); print(ascii(f.read_config()['data']['path']))")
    env = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0", "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-c", probe, str(run)], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == ascii("/d\u00e4t\u00e4/p.npy")
