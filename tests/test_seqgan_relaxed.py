"""RelGAN's relaxed Gumbel-softmax (objective.gumbel_hard = false): D reads the softmax rows."""
import torch

from gankit import config as C
from gankit.cli import main
from gankit.nets.sequence import gumbel_softmax_st
from gankit.train.run import Run
from test_sequence import _tiny, tiny_g


def test_relaxed_rows_are_the_soft_sample_with_the_hard_tokens():
    logits = torch.randn(5, 7)
    u = torch.rand(5, 7, generator=torch.Generator().manual_seed(0))
    soft, hard = gumbel_softmax_st(logits, 0.5, u, hard=False), gumbel_softmax_st(logits, 0.5, u)
    assert torch.allclose(soft.sum(-1), torch.ones(5)) and (soft < 0.999).any()   # not one-hots
    assert torch.equal(soft.argmax(-1), hard.argmax(-1))
    G = tiny_g(end_id=1, pad_id=0, seq_len=6)
    u = torch.rand(40, 6, 6, generator=torch.Generator().manual_seed(1))
    ys, yh = G.sample_relaxed(40, 0.7, u, hard=False), G.sample_relaxed(40, 0.7, u)
    # the same sampled tokens (hard feeds y @ E = E[token]; soft feeds E[token]), padded after <end>
    assert torch.equal(ys.argmax(-1), yh.argmax(-1))
    ended = (ys.argmax(-1) == 1).cumsum(1) > 0
    after = torch.cat([torch.zeros(40, 1, dtype=torch.bool), ended[:, :-1]], 1)
    assert after.any() and torch.equal(ys.argmax(-1)[after], torch.zeros(int(after.sum()), dtype=torch.long))
    ys[..., 2].sum().backward()
    assert G.out.weight.grad.abs().sum() > 0


def test_d_sees_relaxed_fakes_in_both_phases(tmp_path):
    seen = []
    args = _tiny(tmp_path, "gumbel", steps=8) + ["--set", "objective.gumbel_hard=false"]
    sets = [args[i + 1] for i in range(0, len(args), 2)]
    run = Run.create(C.load("words", sets), tmp_path / "run")
    hook = run.D.register_forward_pre_hook(lambda m, inp: seen.append(inp[0].detach().clone()))
    run.train()
    hook.remove()
    rows = [x for x in seen if x.is_floating_point()]
    assert rows, "D never saw relaxed rows"
    # soft rows (not one-hot) reach D, in D's steps (no grad) and G's (grad) alike
    assert all(torch.allclose(x.sum(-1), torch.ones(x.shape[:-1])) for x in rows)
    assert sum(bool((x.max(-1).values < 0.99).any()) for x in rows) >= len(rows) // 2
    # G's steps (6 and 7) make two relaxed batches; D's steps (4 to 7) read relaxed fakes too
    assert len(rows) > 2


def test_relaxed_needs_the_gumbel_estimator(tmp_path, capsys):
    args = _tiny(tmp_path, "maligan") + ["--set", "objective.gumbel_hard=false"]
    assert main(["train", "words", "--out", str(tmp_path / "r")] + args) == 2
    err = capsys.readouterr().err
    assert "gumbel_hard" in err and "Traceback" not in err
