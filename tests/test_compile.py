"""train.compile: the declared nets run through torch.compile; checkpoints keep plain keys."""
import pytest
import torch

from gankit import config as C
from gankit.config import ConfigError
from gankit.train.run import Run


def test_compiled_run_trains_like_eager_with_plain_checkpoint_keys(tmp_path, tiny, monkeypatch):
    # inductor's C++ build takes ~1.5 min here; the "eager" backend runs the same
    # dynamo capture (what gankit's wiring meets) without generating code
    compile_ = torch.nn.Module.compile
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, **kw: compile_(self, backend="eager"))
    over = [*tiny, "train.steps=3", "generator.hidden=[16]", "discriminator.hidden=[16]"]
    eager = Run.create(C.load("ring-vanilla", over), tmp_path / "e").train(progress=False)
    run = Run.create(C.load("ring-vanilla", over + ["train.compile=true"]), tmp_path / "c")
    assert all(hasattr(m, "_compiled_call_impl") and m._compiled_call_impl is not None
               for m in run.modules.values())
    run.train(progress=False)
    ckpt = torch.load(run.folder.checkpoints()[-1][1], weights_only=False)
    keys = [k for state in ckpt["models"].values() for k in state]
    assert keys and not any("_orig_mod" in k for k in keys)
    for name in ("G", "D"):   # the same maths; inductor may reorder float sums
        for p, q in zip(run.modules[name].parameters(), eager.modules[name].parameters()):
            torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)


def test_compile_with_r1_is_refused(tmp_path, tiny):
    with pytest.raises(ConfigError, match="double backward"):
        Run.create(C.load("ring-vanilla", [*tiny, "train.compile=true", "objective.r1=1"]), tmp_path / "r")
