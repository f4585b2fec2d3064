import pytest
import torch


@pytest.fixture(autouse=True)
def _few_threads():
    # tests are small: one thread avoids contention when the suite runs beside other work
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


TINY = ["train.steps=30", "train.batch_size=32", "train.log_every=10", "train.sample_every=15",
        "train.checkpoint_every=10", "train.n_fixed=200", "train.progress=false",
        "generator.hidden=[16, 16]", "discriminator.hidden=[16, 16]",
        "eval.n_samples=500", "eval.jsd_samples=2000"]
