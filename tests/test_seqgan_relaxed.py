"""RelGAN's relaxed Gumbel-softmax (objective.gumbel_hard = false): D reads the softmax rows."""
import json
import math

import torch

from gankit import config as C
from gankit.cli import main
from gankit.nets.sequence import CNNDiscriminator, gumbel_softmax_st
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


def _slice_d(D, r: int) -> CNNDiscriminator:
    """A one-representation D that reads only slice r of D's embedding, with D's other weights."""
    E = D.embed.weight.shape[1] // D.reps
    one = CNNDiscriminator(D.embed.weight.shape[0], 5, E, [1, 2, 3], 4, 0.0)
    sd = {k: v for k, v in D.state_dict().items() if not k.startswith("embed.")}
    one.load_state_dict(sd | {"embed.weight": D.embed.weight[:, r * E:(r + 1) * E]})
    return one.eval()


def test_each_representation_is_the_same_cnn_on_its_slice_of_the_embedding():
    torch.manual_seed(0)
    D = CNNDiscriminator(6, 5, 12, [1, 2, 3], 4, 0.0, reps=3).eval()
    x = torch.randint(0, 6, (7, 5))
    reps = D.rep_logits(x)
    assert reps.shape == (7, 3)
    for r in range(3):
        assert torch.allclose(reps[:, r], _slice_d(D, r)(x), atol=1e-6)
    assert not torch.allclose(reps[:, 0], reps[:, 1])       # the slices differ
    assert torch.allclose(D(x), reps.mean(1))               # one score per sequence: the mean
    # relaxed rows: the same embedding product, representation by representation
    oh = torch.nn.functional.one_hot(x, 6).float()
    assert torch.allclose(D.rep_logits(oh), reps, atol=1e-6)


def test_the_loss_is_taken_over_every_representation(tmp_path):
    args = _tiny(tmp_path, "gumbel", steps=8) + ["--set", "objective.gumbel_hard=false",
                                                 "--set", "loss.name='rsgan'"]
    i = args.index("discriminator.hidden=16")           # the LSTM D's key: the CNN D refuses it
    args = args[:i - 1] + args[i + 1:] + ["--set", "discriminator.name='cnn'",
                                          "--set", "discriminator.embed_dim=8", "--set", "discriminator.reps=4",
                                          "--set", "discriminator.widths=[1, 2]", "--set", "discriminator.filters=4",
                                          "--set", "discriminator.dropout=0.0"]
    sets = [args[i + 1] for i in range(0, len(args), 2)]
    run = Run.create(C.load("words", sets), tmp_path / "run")
    obj = run.objective
    x = obj.sample_real(8)
    assert obj._d_logits(x).shape == (32,)
    # D's loss: the relativistic loss of each representation's pair, averaged (RelGAN's), which is
    # not the loss of the mean logits
    real, fake = obj.sample_real(8), obj.generate(obj.sample_z(8))
    lr_, lf_ = run.D.rep_logits(real), run.D.rep_logits(fake)
    want = torch.nn.functional.softplus(lf_ - lr_).mean()
    got = obj.loss.d_loss(obj._d_logits(real), obj._d_logits(fake))
    assert torch.allclose(got, want)
    assert not torch.allclose(got, torch.nn.functional.softplus(lf_.mean(1) - lr_.mean(1)).mean())
    run.train()
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss_d"] for r in records if "loss_d" in r]
    assert losses and all(math.isfinite(v) for v in losses)
    assert any("d_real_over_fake" in r for r in records)


def test_representations_must_divide_the_embedding(tmp_path, capsys):
    args = _tiny(tmp_path, "gumbel")
    i = args.index("discriminator.hidden=16")
    args = args[:i - 1] + args[i + 1:] + ["--set", "discriminator.name='cnn'", "--set", "discriminator.embed_dim=10",
                                          "--set", "discriminator.reps=4"]
    assert main(["train", "words", "--out", str(tmp_path / "r")] + args) == 2
    err = capsys.readouterr().err
    assert "discriminator.reps = 4 must divide discriminator.embed_dim = 10" in err
    assert "embed_dim=8" in err and "Traceback" not in err
