"""The JSD diagnostic of a D with minibatch features (audit F85): such a D scores each sample
with the rest of its batch, all real or all fake, so (log 4 - BCE)/2 bounds a JSD between
whole batches (0.42-0.54 where JSD(p, q) was 0.008), not JSD(p_data, p_g): it is not logged,
and the report is built without it."""
import pytest
import torch

from gankit.cli import main
from gankit.runfolder import RunFolder


@pytest.mark.parametrize("over", [
    ['objective.minibatch="std"', "objective.minibatch_group=0"],
    ['objective.minibatch="discrimination"'],
    ['objective.minibatch="std"', "objective.minibatch_group=0", "objective.pack=2"],
], ids=["std", "discrimination", "std-pack2"])
def test_a_d_that_reads_its_batch_logs_no_jsd_bound(tmp_path, tiny_cli, over):
    torch.set_num_threads(1)
    sets = [a for kv in ["train.steps=3", "train.batch_size=8", "train.log_every=1", *over] for a in ("--set", kv)]
    assert main(["train", "ring-vanilla", "--out", str(tmp_path / "r"), *tiny_cli, *sets]) == 0
    train = RunFolder(tmp_path / "r").records("train")
    assert train and all("d_real" in r for r in train)        # D's other numbers still logged
    assert not any({"jsd_estimate", "jsd_packed_estimate"} & set(r) for r in train)
    assert (tmp_path / "r" / "report.html").is_file()


def test_a_d_without_minibatch_features_still_logs_it(tmp_path, tiny_cli):
    torch.set_num_threads(1)
    sets = [a for kv in ["train.steps=3", "train.batch_size=8", "train.log_every=1"] for a in ("--set", kv)]
    assert main(["train", "ring-vanilla", "--out", str(tmp_path / "r"), *tiny_cli, *sets]) == 0
    assert all("jsd_estimate" in r for r in RunFolder(tmp_path / "r").records("train"))
