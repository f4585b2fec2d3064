"""More of what a run folder promises (docs/reliability.md): a checkpoint whose bytes were
overwritten is damaged, a cut config.toml is damaged, a second signal inside the stop
checkpoint is one line, a run folder moved while training is not recreated, snapshots of a
discarded trajectory go at a resume, and a folder that cannot be written is said so before work."""
from __future__ import annotations

import errno
import os
import random
import shutil
import tomllib
import warnings
import zipfile
from pathlib import Path

import pytest
import torch

from gankit import config as C
from gankit.cli import main
from gankit.io import WriteError, write_atomic
from gankit.runfolder import RunFolder, RunFolderError


def _copy(template, tmp_path) -> Path:
    dst = tmp_path / "r"
    shutil.copytree(template, dst)
    return dst


def _overwrite_tensor_bytes(ckpt: Path):
    """Random bytes over 64 bytes in the middle of every tensor entry; the zip directory stays whole
    (the floats stay finite: only a checksum tells)."""
    rng = random.Random(0)
    with zipfile.ZipFile(ckpt) as z:
        entries = [i for i in z.infolist() if "/data/" in i.filename and i.file_size >= 256]
    with open(ckpt, "r+b") as f:
        for i in entries:
            f.seek(i.header_offset + 26)
            n, m = int.from_bytes(f.read(2), "little"), int.from_bytes(f.read(2), "little")
            f.seek(i.header_offset + 30 + n + m + i.file_size // 2)
            f.write(bytes(rng.randrange(0x30, 0x3f) if k % 4 == 3 else rng.randrange(256) for k in range(64)))
    assert entries and zipfile.ZipFile(ckpt).testzip() is not None


# ---------------------------------------------------------------- 1. damaged inside its data

def test_a_checkpoint_overwritten_inside_its_data_is_skipped_by_readers(tiny_run_dir, tmp_path):
    run = _copy(tiny_run_dir, tmp_path)
    _overwrite_tensor_bytes(run / "checkpoints" / "step_00000030.pt")
    with pytest.warns(UserWarning, match=r"skipped unreadable step_00000030\.pt.*checksums.*using step_00000020"):
        state, path = RunFolder(run).load_checkpoint()
    assert state["step"] == 20 and path.name == "step_00000020.pt"


def test_a_truncated_checkpoint_is_said_to_be_truncated_not_to_fail_its_checksums(tiny_run_dir, tmp_path):
    run = _copy(tiny_run_dir, tmp_path)
    p = run / "checkpoints" / "step_00000030.pt"
    p.write_bytes(p.read_bytes()[:200])
    with pytest.warns(UserWarning, match=r"skipped unreadable step_00000030\.pt \(truncated or empty\)") as w:
        assert RunFolder(run).load_checkpoint()[0]["step"] == 20
    assert not any("checksums" in str(x.message) for x in w)


def test_resume_sets_aside_a_checkpoint_overwritten_inside_its_data(tiny_run_dir, tmp_path):
    run = _copy(tiny_run_dir, tmp_path)
    _overwrite_tensor_bytes(run / "checkpoints" / "step_00000030.pt")
    folder = RunFolder(run)
    try:
        with pytest.warns(UserWarning, match=r"step_00000030\.pt is damaged \(its data do not match"):
            folder.claim_existing()
    finally:
        folder.unlock()
    assert [p.name for p in folder.damaged()] == ["step_00000030.pt.damaged"]
    assert [s for s, _ in folder.checkpoints()] == [20]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert folder.load_checkpoint()[0]["step"] == 20


def test_checkpoints_without_checksums_still_load(tiny_run_dir, tmp_path):
    """torch.serialization.set_crc32_options(False) writes CRC 0: nothing to check, not damage."""
    run = _copy(tiny_run_dir, tmp_path)
    folder = RunFolder(run)
    state = folder.load_file(run / "checkpoints" / "step_00000030.pt")
    torch.serialization.set_crc32_options(False)
    try:
        torch.save(state, run / "checkpoints" / "step_00000030.pt")
    finally:
        torch.serialization.set_crc32_options(True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert folder.load_checkpoint()[0]["step"] == 30


# ---------------------------------------------------------------- 2. a cut config.toml

def _cut_before(config: Path, section: str):
    text = config.read_text()
    config.write_text(text[:text.index(f"[{section}]")])


def test_a_config_cut_before_its_last_tables_is_damaged_and_a_copy_is_offered(tiny_run_dir, tmp_path, capsys):
    run = _copy(tiny_run_dir, tmp_path)
    whole = tomllib.loads((run / "config.toml").read_text())
    _cut_before(run / "config.toml", "train")
    cut = (run / "config.toml").read_bytes()
    assert main(["eval", str(run), "--no-record"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "config.toml is damaged: it lacks [train], [eval]" in err
    assert "each checkpoint holds the run's full config" in err and "config.toml.recovered" in err
    assert (run / "config.toml").read_bytes() == cut          # never written over
    recovered = tomllib.loads((run / "config.toml.recovered").read_text())
    assert C.to_dict(C.load(recovered)) == C.to_dict(C.load(whole))
    os.replace(run / "config.toml.recovered", run / "config.toml")   # what the message says to do
    assert RunFolder(run).is_gankit_run() and RunFolder(run).read_config() == recovered


@pytest.mark.parametrize("text", ["", "seed = 0\n"])
def test_an_empty_config_is_damaged(tiny_run_dir, tmp_path, text):
    run = _copy(tiny_run_dir, tmp_path)
    (run / "config.toml").write_text(text)
    with pytest.raises(RunFolderError, match="is damaged: it lacks \\[data\\], .*\\[eval\\]"):
        RunFolder(run).read_config()


def test_a_hand_edited_complete_config_still_reads(tiny_run_dir, tmp_path):
    run = _copy(tiny_run_dir, tmp_path)
    text = (run / "config.toml").read_text().replace("[eval]\n", "# my notes\n[eval]\n")
    (run / "config.toml").write_text("\n".join(line for line in text.splitlines() if not line.startswith("jsd_bins")))
    assert C.load(RunFolder(run).read_config()).train.steps == 30
    assert not (run / "config.toml.recovered").exists()


# ---------------------------------------------------------------- 3. a second signal in the checkpoint

class _StoppedMidWrite:
    """A file whose writes raise the second signal's TrainingInterrupted after a few bytes."""

    def __init__(self, f):
        self.f, self.n = f, 0

    def write(self, b):
        from gankit.train.signals import TrainingInterrupted
        self.n += len(b)
        if self.n > 200:
            raise TrainingInterrupted(2, "stopped at once by a second SIGINT; the last checkpoint written is kept")
        return self.f.write(b)

    def flush(self):
        self.f.flush()


def test_a_second_signal_inside_torch_save_stops_as_the_signal(tmp_path):
    from gankit.train.signals import TrainingInterrupted
    target = tmp_path / "step_00000010.pt"
    target.write_bytes(b"old")
    with pytest.raises(TrainingInterrupted) as e:
        write_atomic(target, lambda f: torch.save({"w": torch.zeros(10000)}, _StoppedMidWrite(f)))
    assert e.value.exit_code == 130
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == [target.name]


def test_the_command_line_says_one_line_for_an_interruption_inside_a_failing_writer(tmp_path, monkeypatch, capsys):
    from gankit.train.signals import TrainingInterrupted

    def torch_zip_writer_fails(a):
        try:
            raise TrainingInterrupted(15, "stopped at once by a second SIGTERM; the last checkpoint written is kept")
        except TrainingInterrupted:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 26816 vs 26752")
    monkeypatch.setattr("gankit.cli._cmd_eval", torch_zip_writer_fails)
    assert main(["eval", str(tmp_path)]) == 143
    assert capsys.readouterr().err == ("gankit: stopped at once by a second SIGTERM; the last checkpoint "
                                       "written is kept\n")


# ---------------------------------------------------------------- 4. moved or deleted while training

def test_a_run_folder_moved_while_locked_is_not_recreated(tmp_path):
    folder = RunFolder(tmp_path / "run")
    folder.claim_new()                         # a new run's folder is made here
    try:
        folder.append({"step": 0, "kind": "train"})
        os.rename(tmp_path / "run", tmp_path / "moved")
        with pytest.raises(RunFolderError, match=f"was moved to {tmp_path / 'moved'} while training.*"
                                                 f"--resume --out {tmp_path / 'moved'}"):
            folder.append({"step": 1, "kind": "train"})
        with pytest.raises(RunFolderError, match="moved"):
            folder.save_snapshot(1, {"x": __import__("numpy").zeros(2)})
    finally:
        folder.unlock()
    assert not (tmp_path / "run").exists()
    assert len((tmp_path / "moved" / "metrics.jsonl").read_text().splitlines()) == 1


def test_training_into_a_folder_moved_away_says_where_it_went_and_nothing_else(tmp_path, monkeypatch, capsys):
    """The report at the end warned "report.html not rewritten: ... not a run folder; create one"
    before the error that says where the run went."""
    from conftest import TINY
    real = RunFolder.save_snapshot

    def move_then_save(self, step, arrays):
        if step > 0 and (tmp_path / "run").exists():
            os.rename(tmp_path / "run", tmp_path / "moved")
        return real(self, step, arrays)
    monkeypatch.setattr(RunFolder, "save_snapshot", move_then_save)
    argv = ["train", "ring", "--out", str(tmp_path / "run")] + [a for kv in TINY for a in ("--set", kv)]
    assert main(argv + ["--set", "train.progress=false"]) == 1
    err = capsys.readouterr().err
    assert f"was moved to {tmp_path / 'moved'}" in err
    assert "report.html not rewritten" not in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_a_run_folder_deleted_while_locked_is_not_recreated(tmp_path):
    folder = RunFolder(tmp_path / "run")
    folder.claim_new()
    try:
        shutil.rmtree(tmp_path / "run")
        with pytest.raises(RunFolderError, match="is gone \\(deleted or moved\\) while training"):
            folder.save_checkpoint({"models": {}}, 10, keep=2)
    finally:
        folder.unlock()
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------- 5. snapshots past the resumed step

def test_snapshots_after_the_resumed_step_go(tiny_run_dir, tmp_path):
    run = _copy(tiny_run_dir, tmp_path)
    folder = RunFolder(run)
    assert [s for s, _ in folder._numbered(folder.samples_dir, "npz")] == [0, 15, 30]
    folder.truncate_snapshots(20)
    assert [int(s["step"]) for s in folder.snapshots()] == [0, 15]


def test_a_resume_removes_the_snapshots_of_the_trajectory_it_discards(tiny_run_dir, tmp_path):
    from gankit.train.run import Run
    run = _copy(tiny_run_dir, tmp_path)
    (run / "checkpoints" / "step_00000030.pt").unlink()       # killed after its snapshot at 30
    r = Run.open(run, ["train.steps=25", "train.sample_every=1000"], write=True)
    assert r.step == 20
    r.train().close()
    steps = [int(s["step"]) for s in RunFolder(run).snapshots()]
    assert 30 not in steps and 15 in steps


# ---------------------------------------------------------------- 6, 7. a folder that cannot be written

@pytest.fixture
def read_only(monkeypatch):
    """Writing under the given folder fails as on a read-only drive (root ignores permissions)."""
    def make(folder: Path):
        real_open, real_access = os.open, os.access

        def ro_open(path, flags, *a, **kw):
            if str(path).startswith(str(folder)) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
            return real_open(path, flags, *a, **kw)
        monkeypatch.setattr(os, "open", ro_open)
        monkeypatch.setattr(os, "access", lambda p, m, **kw: False if str(p).startswith(str(folder))
                            and m & os.W_OK else real_access(p, m, **kw))
    return make


def test_eval_of_a_folder_it_cannot_write_says_so_before_measuring(tiny_run_dir, tmp_path, read_only,
                                                                      monkeypatch, capsys):
    from gankit.train.run import Run
    run = _copy(tiny_run_dir, tmp_path)
    before = (run / "metrics.jsonl").read_bytes()
    monkeypatch.setattr(Run, "evaluate", lambda *a, **k: pytest.fail("measured before the folder was checked"))
    read_only(run)
    assert main(["eval", str(run), "--metrics", "modes"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"gankit: error: cannot write {run / 'metrics.jsonl'}: the drive is read-only")
    assert "gankit eval --no-record" in err and len(err.splitlines()) == 1
    assert (run / "metrics.jsonl").read_bytes() == before


def test_eval_whose_record_fails_after_measuring_keeps_the_numbers(tiny_run_dir, tmp_path, monkeypatch, capsys):
    run = _copy(tiny_run_dir, tmp_path)

    def disk_full(self, record):
        raise WriteError(errno.ENOSPC, "the disk is full (No space left on device)", str(self.records_path))
    monkeypatch.setattr(RunFolder, "append", disk_full)
    assert main(["eval", str(run), "--metrics", "modes"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "measured, not recorded: modes_covered" in err and "reverse_kl" in err and "--no-record" in err


def test_resume_of_a_read_only_run_says_cannot_write(tiny_run_dir, tmp_path, read_only, capsys):
    run = _copy(tiny_run_dir, tmp_path)
    read_only(run)
    assert main(["train", "--resume", "--out", str(run), "--set", "train.steps=40"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"gankit: error: cannot write {run / '.gankit.lock'}: the drive is read-only (Read-only file "
                   f"system); training and drs write the run folder: copy it somewhere writable (cp -a {run} NEW) "
                   "and run the command on the copy (eval --no-record, sample and compare only read it)")


def test_the_recovery_command_works_when_pasted_for_a_folder_with_spaces(tiny_run_dir, tmp_path, capsys):
    import subprocess
    run = tmp_path / "my run; (copy)"
    shutil.copytree(tiny_run_dir, run)
    _cut_before(run / "config.toml", "train")
    assert main(["eval", str(run), "--no-record"]) == 1
    err = capsys.readouterr().err.strip()
    command = err[err.index("mv "):]
    subprocess.run(["bash", "-c", command], check=True)      # the advice, pasted as it is
    assert not (run / "config.toml.recovered").exists()
    assert RunFolder(run).read_config()["train"]
