"""A run's config.toml edited by hand (a net's width, another preset's config): every command
called the run's own checkpoints "another run's" and advised moving them out of the folder, which
then led to "put the checkpoints back".  The checkpoints agree with the run's records, so the
edited config.toml is what is named, and the checkpoint's config is offered beside it."""
from __future__ import annotations

import shutil
import tomllib

import torch

from gankit import config as C
from gankit.cli import main
from gankit.runfolder import RECOVERED_CONFIG
from gankit.train.run import Run


def _edited(tiny_run_dir, tmp_path, overrides):
    run = tmp_path / "run"
    shutil.copytree(tiny_run_dir, run)
    raw = tomllib.loads((run / "config.toml").read_text())
    (run / "config.toml").write_text("# edited\n" + C.dumps_toml(C.load(raw, overrides)))
    return run, (run / "config.toml").read_bytes()


def test_an_edited_config_is_named_and_the_checkpoints_config_offered(tiny_run_dir, tmp_path, capsys):
    run, edited = _edited(tiny_run_dir, tmp_path, ["generator.hidden=[8]"])
    for argv in (["train", "--resume", "--out", str(run), "--set", "train.steps=40"],
                 ["eval", str(run), "--no-record"], ["sample", str(run), "-n", "4", "--out", str(tmp_path / "s.npy")]):
        assert main(argv) == 1, argv
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        assert f"{run / 'config.toml'} differs from the run's checkpoints in generator.hidden (edited by hand?)" in err
        assert "belongs to another run" not in err and "move it out" not in err, err
        assert f"step_00000030.pt's config is now in {run / RECOVERED_CONFIG}" in err, err
        assert f"gankit train {run / 'config.toml'} --out NEW" in err, err
        assert (run / "config.toml").read_bytes() == edited             # the user's edit is kept
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == \
        sorted(p.name for p in (tiny_run_dir / "checkpoints").iterdir())      # none moved or set aside
    state = torch.load(run / "checkpoints" / "step_00000030.pt", weights_only=True)
    assert tomllib.loads((run / RECOVERED_CONFIG).read_text()) == tomllib.loads(C.dumps_toml(C.load(state["config"])))
    (run / RECOVERED_CONFIG).replace(run / "config.toml")              # what the message says to do
    assert main(["eval", str(run), "--no-record", "--metrics", "modes"]) == 0


def test_another_presets_config_put_in_its_place_is_named_too(tiny_run_dir, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_run_dir, run)
    tiny_nets = ["generator.hidden=[16, 16]", "discriminator.hidden=[16, 16]"]
    (run / "config.toml").write_text(C.dumps_toml(C.load("lsgan", tiny_nets)))     # another loss
    assert main(["eval", str(run), "--no-record"]) == 1
    err = capsys.readouterr().err
    assert "config.toml differs from the run's checkpoints in" in err and "(edited by hand?)" in err, err


def test_a_checkpoint_copied_from_another_run_is_still_another_runs(tiny_run_dir, tmp_path, tiny, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_run_dir, run)
    other = tmp_path / "other"
    Run.create(C.load("ring", tiny + ["generator.hidden=[8]", "train.steps=40"]), other).train().close()
    shutil.copy(other / "checkpoints" / "step_00000040.pt", run / "checkpoints")
    assert main(["eval", str(run), "--no-record"]) == 1
    err = capsys.readouterr().err
    assert "step_00000040.pt belongs to another run" in err and "they differ in generator.hidden" in err, err
    assert "edited by hand" not in err and not (run / RECOVERED_CONFIG).exists()
