"""A run folder named with bytes that are not UTF-8 (a Latin-1 name on a Linux disk): torch's
memory-mapped load takes UTF-8 paths only, so every reader that maps a checkpoint skipped each
one as unreadable (report's step, the data a run was trained on, the code it was trained with)."""
import os
import shutil

from gankit.data import trained_on
from gankit.report.inputs import newest_checkpoint
from gankit.runfolder import RunFolder
from gankit.runfolder.checkpoint_read import load_mapped


def test_each_reader_maps_the_checkpoints_of_a_folder_named_in_latin_1(tmp_path, tiny_run_dir):
    run = tmp_path / os.fsdecode(b"tr\xe9s")
    shutil.copytree(tiny_run_dir, run)
    folder = RunFolder(run)
    step, path = folder.checkpoints()[-1]
    assert load_mapped(path)["step"] == step
    state, got = newest_checkpoint(folder)
    assert got == path and state["step"] == step
    assert trained_on(run) == trained_on(tiny_run_dir)


def test_the_data_an_image_run_was_trained_on_is_read_from_such_a_folder(tmp_path, digits):
    from gankit import config as C
    from gankit.train.run import Run
    Run.create(C.load("mnist-dcgan", digits), tmp_path / "plain").train().close()
    run = tmp_path / os.fsdecode(b"tr\xe9s")
    shutil.copytree(tmp_path / "plain", run)
    assert "data_digest" in trained_on(run) and trained_on(run) == trained_on(tmp_path / "plain")
