"""Sequence nets, the seqgan objective, text metrics and a tiny run from the command line."""
import json
import math

import pytest
import torch

from gankit.cli import main
from gankit.metrics.text import bleu_scores, novelty_scores, self_bleu_scores
from gankit.nets.sequence import CNNDiscriminator, SeqGenerator, StepDiscriminator, gumbel_softmax_st
from gankit.train.policy_gradient import discounted_returns, maligan_advantage, reinforce_loss, uniforms


def tiny_g(end_id=None, pad_id=None, vocab=6, seq_len=4, seed=0):
    torch.manual_seed(seed)
    return SeqGenerator(vocab, seq_len, end_id, pad_id, "lstm", 8, 16, 0.0, 1.0)


def test_reinforce_rewarded_token_rises_penalised_falls():
    for sign in (1.0, -1.0):
        G = tiny_g()
        opt = torch.optim.SGD(G.parameters(), lr=0.5)
        x = torch.tensor([[3, 1, 2, 0]] * 8)
        p0 = torch.softmax(G(x)[0, 0], -1)[3].item()
        adv = torch.zeros(8, 4)
        adv[:, 0] = sign                                  # reward (or punish) token 3 at step 0
        loss = reinforce_loss(G.token_logp(x), adv, torch.ones(8, 4, dtype=torch.bool))
        opt.zero_grad()
        loss.backward()
        opt.step()
        p1 = torch.softmax(G(x)[0, 0], -1)[3].item()
        assert (p1 - p0) * sign > 1e-4, (sign, p0, p1)


def test_maligan_weights_are_normalised_odds_and_favour_what_d_believes():
    p = torch.tensor([0.9, 0.5, 0.2, 0.01])                   # D's probabilities of real
    adv, ess = maligan_advantage(torch.logit(p))
    r = p / (1 - p)
    assert torch.allclose(adv, 4 * r / r.sum() - 1, atol=1e-6)
    assert abs(adv.sum().item()) < 1e-5 and adv[0] > 0 > adv[2] > adv[3]
    assert math.isclose(ess.item(), 1 / ((r / r.sum()) ** 2).sum().item(), rel_tol=1e-5)
    adv, ess = maligan_advantage(torch.tensor([200.0, -200.0, -200.0]))   # a saturated D: finite
    assert torch.allclose(adv, torch.tensor([2.0, -1.0, -1.0])) and math.isclose(ess.item(), 1.0)
    adv, ess = maligan_advantage(torch.full((5,), 3.0))                   # all alike: no signal
    assert torch.allclose(adv, torch.zeros(5), atol=1e-6) and math.isclose(ess.item(), 5.0)
    # through REINFORCE: the sequence D rates higher becomes more likely, the other less
    G = tiny_g()
    opt = torch.optim.SGD(G.parameters(), lr=0.5)
    x = torch.tensor([[3, 1, 2, 0], [4, 1, 2, 0]])
    before = G.token_logp(x).sum(1).detach()
    adv, _ = maligan_advantage(torch.tensor([2.0, -2.0]))
    reinforce_loss(G.token_logp(x), adv[:, None].expand(x.shape), torch.ones(2, 4, dtype=torch.bool)).backward()
    opt.step()
    after = G.token_logp(x).sum(1).detach()
    assert after[0] > before[0] + 1e-4 and after[1] < before[1] - 1e-4, (before, after)


def test_maligan_refuses_a_critic(tmp_path, capsys):
    args = _tiny(tmp_path, "maligan") + ["--set", "loss.name='wgan'"]
    assert main(["train", "words", "--out", str(tmp_path / "run")] + args) == 2
    err = capsys.readouterr().err
    assert "maligan" in err and "classifier" in err and "Traceback" not in err


def test_gumbel_straight_through_is_one_hot_with_gradients():
    logits = torch.randn(5, 7, requires_grad=True)
    u = torch.rand(5, 7, generator=torch.Generator().manual_seed(0))
    y = gumbel_softmax_st(logits, 0.5, u)
    # one-hot forward (to float rounding of hard + soft - soft)
    assert torch.allclose(y.detach(), torch.nn.functional.one_hot(y.argmax(-1), 7).float(), atol=1e-6)
    (y * torch.arange(7.0)).sum().backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    # through a whole relaxed sequence, into G's parameters
    G = tiny_g(end_id=1, pad_id=0)
    ys = G.sample_relaxed(3, 0.7, torch.rand(3, 4, 6))
    assert torch.allclose(ys.detach().sum(-1), torch.ones(3, 4))
    ys[..., 2].sum().backward()
    assert G.out.weight.grad.abs().sum() > 0


def test_sampling_deterministic_given_u_and_stops_at_end():
    G = tiny_g(end_id=1, pad_id=0, seq_len=10)
    u = torch.rand(200, 10, generator=torch.Generator().manual_seed(1))
    a, b = G.sample(u), G.sample(u)
    assert torch.equal(a, b)
    for row in a.tolist():
        if 1 in row:
            assert all(t == 0 for t in row[row.index(1) + 1:])
    # uniforms spread over the vocabulary: the samples follow G's first-step distribution
    p = torch.softmax(G(a)[0, 0], -1)
    freq = torch.bincount(a[:, 0], minlength=6).float() / 200
    assert (freq - p).abs().max() < 0.15
    # a rollout keeps its prefix
    states = G.states(a)
    c = G.complete(a, 3, states[2], torch.rand(200, 10))
    assert torch.equal(c[:, :3], a[:, :3])


def test_uniforms_of_both_priors_in_unit_interval():
    z = torch.randn(1000, 4)
    for u in (uniforms(z, "normal"), uniforms(2 * torch.rand(1000, 4) - 1, "uniform")):
        assert float(u.min()) >= 0 and float(u.max()) < 1 and abs(float(u.mean()) - 0.5) < 0.05


def test_discriminators_read_ids_and_one_hots_alike():
    x = torch.randint(0, 6, (3, 5))
    oh = torch.nn.functional.one_hot(x, 6).float()
    for D in (CNNDiscriminator(6, 5, 8, [1, 2, 3, 9], 4, 0.0), StepDiscriminator(6, 8, 8, 0.0)):
        D.eval()
        assert torch.allclose(D(x), D(oh), atol=1e-6)
    assert CNNDiscriminator(6, 5, 8, [2], 4, 0.0)(x).shape == (3,)
    assert StepDiscriminator(6, 8, 8, 0.0)(x).shape == (3, 5)


def test_discounted_returns_closed_form():
    r = torch.tensor([[1.0, 0.0, 2.0]])
    out = discounted_returns(r, torch.ones(1, 3, dtype=torch.bool), 0.5)
    assert torch.allclose(out, torch.tensor([[1.5, 1.0, 2.0]]))
    out = discounted_returns(r, torch.tensor([[True, True, False]]), 0.5)
    assert torch.allclose(out, torch.tensor([[1.0, 0.0, 0.0]]))


def test_text_metrics_known_answers():
    sents = [["a", "b", "c", "d", "e", "f"], ["b", "c", "d", "e", "f", "g"]]
    assert all(abs(v - 1.0) < 1e-9 for v in bleu_scores(sents, sents).values())
    same = [sents[0]] * 4
    assert all(abs(v - 1.0) < 1e-9 for v in self_bleu_scores(same).values())
    assert all(v < 0.5 for v in bleu_scores([["x", "y", "z", "w", "v"]], sents).values())
    n = novelty_scores(["ab", "cd", "ab", "zz"], train={"ab"}, test={"cd"})
    assert n == {"novelty": 0.5, "unique": 0.75, "real_share": 0.75, "unseen_real_share": 0.25}


WORDS = ["cat", "cap", "car", "cart", "care", "dog", "dot", "door", "dorm", "bat", "bar", "bark",
         "barn", "tar", "tap", "tape", "top", "tip", "tin", "ten", "pen", "pet", "pat", "pot"] * 1


def _tiny(tmp_path, estimator, steps=10):
    f = tmp_path / "words.txt"
    f.write_text("\n".join(WORDS) + "\n")
    return ["--set", "data.name='textfile'", "--set", f"data.path='{f}'", "--set", "data.level='char'",
            "--set", "data.max_len=5", "--set", "data.test_fraction=0.25", "--set", "noise.dim=6",
            "--set", "generator.hidden=16", "--set", "discriminator.hidden=16",
            "--set", f"objective.estimator='{estimator}'", "--set", "objective.pretrain_steps=4",
            "--set", "objective.d_pretrain_steps=2", "--set", "objective.rollouts=2",
            "--set", f"train.steps={steps}", "--set", "train.batch_size=8", "--set", "train.log_every=2",
            "--set", "train.sample_every=5", "--set", "train.checkpoint_every=5",
            "--set", "train.n_fixed=20", "--set", "train.progress=false", "--set", "eval.n_samples=20"]


@pytest.mark.parametrize("estimator", ["rollout", "dense", "maligan", "gumbel"])
def test_tiny_run_end_to_end(tmp_path, capsys, estimator):
    out = tmp_path / "run"
    assert main(["train", "words", "--out", str(out)] + _tiny(tmp_path, estimator)) == 0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    last = [r for r in records if r["kind"] == "eval"][-1]     # a "reference" record follows it
    for key in ("nll_test", "bleu2", "bleu3", "self_bleu3", "novelty", "unseen_real_share"):
        assert key in last and math.isfinite(last[key])
    assert "bleu5" not in last      # words of 3 and 4 letters have no 5-grams: BLEU-5 would measure nothing
    assert any("loss_mle" in r for r in records) and any("loss_g" in r for r in records)
    assert "Samples" in (out / "report.html").read_text()
    capsys.readouterr()
    assert main(["sample", str(out), "-n", "7"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 7 and all(set(s) <= set("abcdefghijklmnopqrstuvwxyz<unk>") for s in lines)


@pytest.mark.parametrize("estimator, extra, stop", [
    ("dense", [], 5),
    ("gumbel", ["--set", "objective.gumbel_hard=true"], 7),     # stopped inside the game
    ("gumbel", ["--set", "objective.gumbel_hard=false"], 7),    # RelGAN's relaxed rows
])
def test_resume_is_bit_identical(tmp_path, estimator, extra, stop):
    from gankit.runfolder import RunFolder
    a, b = tmp_path / "a", tmp_path / "b"
    args = _tiny(tmp_path, estimator, steps=10) + extra
    assert main(["train", "words", "--out", str(a)] + args) == 0
    half = [s if s != "train.steps=10" else f"train.steps={stop}" for s in args]
    assert main(["train", "words", "--out", str(b)] + half) == 0
    assert main(["train", "--resume", "--out", str(b), "--set", "train.steps=10"]) == 0
    sa, _ = RunFolder(a).load_checkpoint()
    sb, _ = RunFolder(b).load_checkpoint()
    for k, v in sa["models"]["G"].items():
        assert torch.equal(v, sb["models"]["G"][k]), k
    assert torch.equal(sa["objective"]["baseline"], sb["objective"]["baseline"])


def test_d_embedding_copied_from_pretrained_g_and_frozen(tmp_path):
    from gankit import config as C
    from gankit.train.run import Run
    f = tmp_path / "words.txt"
    f.write_text("\n".join(WORDS) + "\n")
    sets = [s for s in _tiny(tmp_path, "dense", steps=4)[1::2]] + [
        "objective.d_embedding='from_g_frozen'", "generator.embed_dim=8", "discriminator.embed_dim=8"]
    run = Run.create(C.load("words", sets), tmp_path / "run")
    before = run.D.embed.weight.detach().clone()
    run.train(progress=False)
    # copied at the last MLE step (4 = pretrain_steps): G's MLE-trained embedding, not D's own
    assert not torch.equal(run.D.embed.weight, before)
    assert not run.D.embed.weight.requires_grad
    assert torch.equal(run.D.embed.weight, run.G.embed.weight)


def test_nll_test_is_taken_at_the_sampling_temperature():
    from gankit.metrics.text import model_nll
    G = tiny_g(seed=2).eval()
    x = torch.randint(0, 6, (9, 4))
    with torch.no_grad():
        logits = G(x)
    for T in (1.0, 0.5, 2.0):
        G.temperature = T
        want = -torch.log_softmax(logits / T, -1).gather(-1, x[..., None]).mean().item()
        assert abs(model_nll(G, x, None) - want) < 1e-5, T
    G.temperature = 0.5
    assert model_nll(G, x, None) != pytest.approx(-G.token_logp(x).mean().item())


def test_relational_memory_step_matches_its_formula():
    from gankit.nets.relational import RelationalMemory
    torch.manual_seed(0)
    cell = RelationalMemory(5, slots=3, heads=2, size=8)
    x, m = torch.randn(4, 5), torch.randn(4, 3, 8)
    mp = torch.cat([m, cell.inp(x)[:, None]], 1)                   # (4, 4, 8)
    q, k, v = cell.qkv(mp).split(8, -1)
    heads = []
    for h in range(2):                                             # each head by hand
        sl = slice(4 * h, 4 * h + 4)
        w = torch.softmax(q[..., sl] @ k[..., sl].transpose(1, 2) / 2.0, -1)
        heads.append(w @ v[..., sl])
    a = cell.ln_att(mp + torch.cat(heads, -1))
    nxt = cell.ln_mlp(a + cell.mlp(a))[:, :3]
    gates = cell.gate_x(cell.inp(x))[:, None] + cell.gate_m(torch.tanh(m))
    want = torch.sigmoid(gates[..., :8]) * torch.tanh(nxt) + torch.sigmoid(gates[..., 8:] + 1.0) * m
    assert torch.allclose(cell.step(x, m), want, atol=1e-6)
    # the start: unit vectors per slot; the output is the memory flattened
    out, last = cell(torch.randn(4, 6, 5))
    assert out.shape == (4, 6, 24) and torch.equal(out[:, -1], last.reshape(4, 24))
    assert torch.equal(cell.initial(2, x)[0], torch.eye(3, 8))


@pytest.mark.parametrize("cell", ["lstm", "gru", "rmc"])
def test_generator_cells_are_causal_and_rollouts_continue_the_sampler(cell):
    torch.manual_seed(1)
    G = SeqGenerator(7, 6, None, None, cell, 8, 16, 0.0, 1.0, **({"slots": 2} if cell == "rmc" else {}))
    u = torch.rand(50, 6, generator=torch.Generator().manual_seed(2))
    a = G.sample(u)
    y = a.clone()
    y[:, 3] = (y[:, 3] + 1) % 7
    la, ly = G(a), G(y)
    assert torch.equal(la[:, :4], ly[:, :4]) and not torch.allclose(la[:, 4], ly[:, 4])
    # the state after teacher forcing a's prefix is the sampler's: the same uniforms give a back
    states = G.states(a)
    for t in (1, 3, 5):
        assert torch.equal(G.complete(a, t, states[t - 1], u), a), t
    ys = G.sample_relaxed(3, 0.5, torch.rand(3, 6, 7))
    ys[..., 2].sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in G.rnn.parameters()), cell


def test_relational_memory_refuses_rows_the_heads_do_not_divide():
    from gankit.config import ConfigError
    with pytest.raises(ConfigError, match="divisible by its heads"):
        SeqGenerator(7, 6, None, None, "rmc", 8, 15, 0.0, 1.0, slots=1, heads=2)
    with pytest.raises(ConfigError, match="cell='rmc'"):     # memory options on an LSTM: a slip
        SeqGenerator(7, 6, None, None, "lstm", 8, 16, 0.0, 1.0, slots=4, heads=2)


def test_tiny_relgan_run_end_to_end(tmp_path):
    out = tmp_path / "run"
    tiny = _tiny(tmp_path, "gumbel")
    i = tiny.index("discriminator.hidden=16")           # the LSTM D's key: the CNN D refuses it
    sets = tiny[:i - 1] + tiny[i + 1:] + ["--set", "generator.cell='rmc'", "--set", "generator.hidden=8",
                                        "--set", "generator.slots=2", "--set", "loss.name='rsgan'",
                                        "--set", "optim_g.grad_clip=5", "--set", "discriminator.name='cnn'"]
    assert main(["train", "words", "--out", str(out)] + sets) == 0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert any("tau" in r for r in records)
    # the relativistic D's accuracy: the real sequence of a pair scored above the fake one
    accs = [r["d_acc"] for r in records if "d_real_over_fake" in r]
    assert accs and all(0 <= a <= 1 for a in accs)
    last = [r for r in records if r["kind"] == "eval"][-1]
    assert math.isfinite(last["nll_test"])


def test_a_critic_logs_its_scores_not_probabilities(tmp_path):
    out = tmp_path / "run"
    sets = _tiny(tmp_path, "rollout") + ["--set", "loss.name='hinge'"]
    assert main(["train", "words", "--out", str(out)] + sets) == 0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    d = [r for r in records if "critic_real" in r]
    assert d and not any("d_real" in r for r in records)
    # hinge's boundary is 0: D's accuracy is still a share
    assert all(0 <= r["d_acc"] <= 1 for r in d)


@pytest.mark.parametrize("estimator", ["rollout", "dense", "maligan", "gumbel"])
def test_d_learns_the_policys_samples_whatever_the_sampling_temperature(tmp_path, estimator):
    """generator.temperature is how G's samples are drawn for sampling and evaluation; the game
    is played at T = 1: D judged T = 0.3 samples while REINFORCE scored T = 1 ones."""
    import sys

    from gankit import config as C
    from gankit.train.run import Run
    sets = _tiny(tmp_path, estimator, steps=8)[1::2] + ["generator.temperature=0.3"]
    run = Run.create(C.load("words", sets), tmp_path / "run")
    G, sample, seen = run.objective.G, run.objective.G.sample, []

    def spy(u, temperature=None):
        seen.append((sys._getframe(1).f_code.co_name, G.temperature if temperature is None else temperature))
        return sample(u, temperature)
    G.sample = spy
    run.train(progress=False)
    game = [(who, t) for who, t in seen if who in ("d_phase", "g_phase")]
    assert any(who == "d_phase" for who, _ in game)
    assert all(t == 1.0 for _, t in game), sorted(set(game))


def test_baseline_keeps_its_average_where_no_sequence_of_the_batch_reaches(tmp_path):
    """A batch of short sequences saw no reward at the late positions: their moving average
    must stay put (it decayed towards 0, giving long sequences' late tokens an advantage of
    rewards never seen)."""
    from gankit import config as C
    from gankit.train.run import Run
    f = tmp_path / "words.txt"
    f.write_text("\n".join(WORDS) + "\n")
    run = Run.create(C.load("words", _tiny(tmp_path, "rollout")[1::2]), tmp_path / "run")
    obj = run.objective
    L = obj.baseline.numel()
    q = torch.full((4, L), 0.6)
    full = torch.ones(4, L, dtype=torch.bool)
    short = torch.zeros(4, L, dtype=torch.bool)
    short[:, :2] = True
    obj._advantage(q, short)                       # the first batch: late positions never set
    assert obj.baseline_set.tolist() == [True, True] + [False] * (L - 2)
    obj._advantage(q, full)
    for _ in range(20):
        obj._advantage(q, short)
    assert torch.allclose(obj.baseline, torch.full((L,), 0.6))
    assert torch.allclose(obj._advantage(q, full), torch.zeros(4, L), atol=1e-6)
    obj._advantage(torch.full((4, L), 0.2), short)  # the reached positions still move
    assert obj.baseline[0] < 0.6 and obj.baseline[-1] == pytest.approx(0.6)


def test_nll_and_sampling_go_by_chunks_that_shrink_with_the_vocabulary(monkeypatch):
    import gankit.nets.sequence as seq
    from gankit.metrics.text import model_nll
    # rows per chunk: the budget over the bytes of one row's logits (L * V floats)
    assert seq.chunk_rows(20 * 5000) > seq.chunk_rows(20 * 50000) > seq.chunk_rows(40 * 50000) >= 1
    assert seq.chunk_rows(40 * 50000) * 40 * 50000 * 4 <= seq.LOGIT_BUDGET
    assert seq.chunk_rows(10 ** 12) == 1
    G = tiny_g(end_id=1, pad_id=0, seed=3).eval()
    x = torch.randint(0, 6, (9, 4))
    u = torch.rand(9, 4, generator=torch.Generator().manual_seed(4))
    whole, samples = model_nll(G, x, 1, batch=len(x)), G.sample(u)
    sizes = []
    token_logp = G.token_logp
    G.token_logp = lambda xb, T: sizes.append(len(xb)) or token_logp(xb, T)
    monkeypatch.setattr(seq, "LOGIT_BUDGET", 2 * 4 * 4 * 6)   # 2 rows of (L=4, V=6) logits
    assert model_nll(G, x, 1) == pytest.approx(whole, rel=1e-6)
    assert sizes == [2, 2, 2, 2, 1]
    # a small vocabulary: the budget would allow 100,000s of rows, whose activations fill memory
    import gankit.metrics.text as text_metrics
    monkeypatch.setattr(seq, "LOGIT_BUDGET", 256 * 2 ** 20)
    monkeypatch.setattr(text_metrics, "NLL_ROWS", 4)
    sizes.clear()
    assert model_nll(G, x, 1) == pytest.approx(whole, rel=1e-6) and sizes == [4, 4, 1]
    monkeypatch.setattr(seq, "LOGIT_BUDGET", 2 * 4 * 6)       # 2 rows of one step's V=6 logits
    rows, step = [], G._step
    G._step = lambda inp, state: rows.append(len(inp)) or step(inp, state)
    assert torch.equal(G.sample(u), samples) and max(rows) == 2


def test_token_logp_equals_log_softmax_at_every_temperature():
    G = tiny_g(seed=5).eval()
    x = torch.randint(0, 6, (7, 4))
    with torch.no_grad():
        logits = G(x)
        for T in (1.0, 0.3, 4.0):
            want = torch.log_softmax(logits / T, -1).gather(-1, x[..., None]).squeeze(-1)
            assert torch.allclose(G.token_logp(x, T), want, atol=1e-6), T


@pytest.mark.parametrize("estimator", ["rollout", "gumbel"])
def test_divergence_advice_names_the_adversarial_rate_and_the_temperature_floor(tmp_path, estimator):
    """The sequence GANs gave the image GAN's advice: optim_g.lr, which the adversarial phase does
    not use where objective.g_lr is set, and nothing of Gumbel's temperature."""
    from gankit import config as C
    from gankit.train.run import Run
    sets = _tiny(tmp_path, estimator)[1::2] + ["objective.g_lr=0.0003", "objective.tau_min=0.01"]
    run = Run.create(C.load("words", sets), tmp_path / "r")
    hint = run._nan_hint()
    run.close()
    assert "objective.g_lr=... (now 0.0003" in hint and "--set optim_g.lr" not in hint
    assert ("objective.tau_min=..., now 0.01" in hint) == (estimator == "gumbel")
