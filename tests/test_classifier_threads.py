"""The classifiers gankit trains (cas's, and one for labelled data that ships none) are the same
whatever the evaluation's thread count: on some CPUs convolutions' gradients change in the last
bits with it, so they train on one thread."""
import hashlib

import pytest
import torch

from gankit.metrics import own_classifier as OC


def _weights_hash(net) -> str:
    h = hashlib.sha1()
    for k, v in sorted(net.state_dict().items()):
        h.update(k.encode() + v.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


@pytest.fixture
def caller_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_train_classifier_gives_the_same_weights_at_1_and_2_threads(caller_threads):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(256, 1, 28, 28, generator=g) * 2 - 1
    y = torch.randint(0, 10, (256,), generator=g)
    nets = {}
    for n in (1, 2):
        torch.set_num_threads(n)
        nets[n] = OC.train_classifier(x, y, 10, steps=3)
        assert torch.get_num_threads() == n        # the caller's count is back
    a, b = nets[1].state_dict(), nets[2].state_dict()
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    assert not differ, f"weights differ between 1 and 2 threads: {differ}"


def test_the_callers_thread_count_is_back_after_a_failed_training(caller_threads):
    torch.set_num_threads(2)
    x, y = torch.zeros(8, 1, 28, 28), torch.full((8,), 5)     # label 5 of 2 classes: torch refuses
    with pytest.raises((IndexError, RuntimeError)):
        OC.train_classifier(x, y, 2, steps=1)
    assert torch.get_num_threads() == 2


def test_cas_is_the_same_under_eval_threads_1_and_2(tmp_path, monkeypatch, caller_threads):
    """Each count on a cold cache, so the real-data accuracy (cached) is trained under it too."""
    from gankit import api
    from conftest import TINY_IMG
    monkeypatch.setattr(OC, "STEPS", 20)
    trained = []
    train = OC.train_classifier
    monkeypatch.setattr(OC, "train_classifier",
                        lambda *a, **k: trained.append(_weights_hash(net := train(*a, **k))) or net)
    run = tmp_path / "run"
    api.train("fashion-cgan", run, TINY_IMG + ["data.name=digits8x8", 'eval.metrics=["fid"]'],
              report=False, log=None)
    out = {}
    for n in (1, 2):
        monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / f"cache{n}"))
        trained.clear()
        rec = api.evaluate(run, ["cas"], [f"eval.threads={n}"], record=False, reference=False,
                           log=lambda s: None)
        out[n] = ({k: rec[k] for k in ("cas", "gan_test", "real_acc")}, list(trained))
    assert len(out[1][1]) == 2                  # G's samples' classifier and the real-data one
    assert out[1] == out[2]
