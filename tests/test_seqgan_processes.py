"""SeqGAN's per-token logs on several processes: the loop averages a logged number over the
ranks, so a per-token mean each rank took over its own tokens became a mean of the ranks'
ratios; the objective sums numerators and counts over the ranks and logs the ratio of all."""
from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from gankit import config as C
from gankit.data.text_dataset import valid_mask
from gankit.train import distributed
from gankit.train.loop import StepContext
from gankit.train.run import Run

WORDS = ["cat", "cap", "car", "cart", "care", "dog", "dot", "door", "dorm", "bat", "bar", "bark",
         "barn", "tar", "tap", "tape", "top", "tip", "tin", "ten", "pen", "pet", "pat", "pot", "a", "at"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sets(words_file: str) -> list[str]:
    return ["data.name='textfile'", f"data.path='{words_file}'", "data.level='char'", "data.max_len=5",
            "data.test_fraction=0.25", "noise.dim=6", "generator.hidden=16", "discriminator.hidden=16",
            "objective.estimator='dense'", "objective.pretrain_steps=0", "objective.d_pretrain_steps=0",
            "train.steps=1", "train.batch_size=16", "train.progress=false", "train.n_fixed=20",
            "eval.n_samples=20"]


def _join(rank: int, world: int, port: int):
    """This spawned process as torchrun's rank ``rank`` of ``world`` on this machine."""
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      LOCAL_WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)


def _worker(rank: int, world: int, port: int, words_file: str, folder: str, out: str):
    _join(rank, world, port)
    run = Run.create(C.load("words", _sets(words_file)), folder)     # joins the process group
    obj, seen = run.objective, {}
    token_logp, dense_rewards, d_logits = obj.G.token_logp, obj.dense_rewards, obj._d_logits
    torch.manual_seed(100 + rank)      # G's samples outside training: the global stream, fixed per rank

    def logp_of(x):
        seen["logp"], seen["mask"] = token_logp(x), valid_mask(x, obj.end_id).float()
        return seen["logp"]

    def rewards_of(x, mask):
        seen["q"] = dense_rewards(x, mask)
        return seen["q"]

    def logits_of(x):
        seen.setdefault("d", []).append(d_logits(x).detach())
        return seen["d"][-1]
    obj.G.token_logp, obj.dense_rewards, obj._d_logits = logp_of, rewards_of, logits_of
    ctx = StepContext(0, True)
    _, g_logs = obj.g_phase(ctx)
    _, d_logs = obj.d_phase(ctx)
    logs = {**g_logs, **d_logs}
    keys = list(logs)
    # what the loop's record holds: the mean over the ranks of each rank's logged number
    record = distributed.mean_over_ranks(run.world)(torch.stack([logs[k].float().reshape(()) for k in keys]))
    m, (real, fake) = seen["mask"], seen["d"]
    sums = {"g_sample_nll": (-(seen["logp"].detach() * m).sum(), m.sum()),
            "reward_mean": ((seen["q"] * m).sum(), m.sum()),
            "d_real": (torch.sigmoid(real).sum(), real.numel()), "d_fake": (torch.sigmoid(fake).sum(), fake.numel()),
            "acc_real": ((real > 0).sum(), real.numel()), "acc_fake": ((fake < 0).sum(), fake.numel())}
    torch.save({"logs": {k: float(logs[k]) for k in keys}, "record": dict(zip(keys, record.tolist())),
                "sums": {k: (float(a), float(b)) for k, (a, b) in sums.items()}}, f"{out}.rank{rank}.pt")
    distributed._teardown()


def _on_two_ranks(worker, tmp_path) -> list[dict]:
    """What ``worker`` saved on each of two ranks of a run on WORDS."""
    words = tmp_path / "words.txt"
    words.write_text("\n".join(WORDS) + "\n")
    out = str(tmp_path / "logs")
    mp.spawn(worker, args=(2, _free_port(), str(words), str(tmp_path / "run"), out), nprocs=2, join=True)
    return [torch.load(f"{out}.rank{r}.pt", weights_only=True) for r in (0, 1)]


def test_the_logged_per_token_means_are_those_of_all_ranks_tokens(tmp_path):
    got = _on_two_ranks(_worker, tmp_path)
    total = {k: [sum(g["sums"][k][i] for g in got) for i in (0, 1)] for k in got[0]["sums"]}
    # the ranks' counts of valid tokens differ, else a mean of ratios is the ratio of sums
    for k in ("g_sample_nll", "d_real", "d_fake"):
        assert got[0]["sums"][k][1] != got[1]["sums"][k][1], k
    want = {k: a / b for k, (a, b) in total.items()}
    want["d_acc"] = 0.5 * (want.pop("acc_real") + want.pop("acc_fake"))
    # every rank logs the global mean, and the loop's mean over the ranks keeps it
    off = [(r, where, k, g[where][k], v) for r, g in enumerate(got) for where in ("logs", "record")
           for k, v in want.items() if g[where][k] != pytest.approx(v, rel=1e-5)]
    assert off == []


def _gumbel_worker(rank: int, world: int, port: int, words_file: str, folder: str, out: str):
    """The Gumbel-softmax estimator with a per-step D: G's logged g_d_fake over the relaxed rows'
    valid steps, as many as each rank's sequences have."""
    _join(rank, world, port)
    sets = [s for s in _sets(words_file) if not s.startswith("objective.estimator")]
    run = Run.create(C.load("words", sets + ["objective.estimator='gumbel'", "discriminator.name='lstm_step'"]),
                     folder)
    obj, seen = run.objective, {}
    relaxed_logits = obj._relaxed_logits
    # the relaxed rows' uniforms come from torch's global stream, which training seeds per rank;
    # called outside training, seeded here, so the ranks' counts of valid steps are fixed
    torch.manual_seed(100 + rank)

    def logits_of(y):
        seen["lf"] = relaxed_logits(y).detach()
        return seen["lf"]
    obj._relaxed_logits = logits_of
    _, logs = obj.g_phase(StepContext(0, True))
    record = distributed.mean_over_ranks(run.world)(logs["g_d_fake"].float().reshape(1).clone())   # it reduces in place
    p = torch.sigmoid(seen["lf"].float())
    torch.save({"logged": float(logs["g_d_fake"]), "record": float(record[0]),
                "sums": (float(p.sum()), float(p.numel()))}, f"{out}.rank{rank}.pt")
    distributed._teardown()


def test_the_gumbel_estimators_logged_d_fake_is_over_all_ranks_steps(tmp_path):
    got = _on_two_ranks(_gumbel_worker, tmp_path)
    assert got[0]["sums"][1] != got[1]["sums"][1]      # the ranks' counts of valid steps differ
    want = sum(g["sums"][0] for g in got) / sum(g["sums"][1] for g in got)
    assert [(g["logged"], g["record"]) for g in got] == [(pytest.approx(want, rel=1e-5),) * 2] * 2


def test_token_means_in_one_process_are_the_plain_ratios():
    from gankit.train.distributed import ratios_over_ranks as token_means
    out = token_means({"a": (torch.tensor(3.0), torch.tensor(4.0)), "b": (torch.tensor(1), torch.tensor(8))})
    assert list(out) == ["a", "b"] and float(out["a"]) == 0.75 and float(out["b"]) == 0.125


# ---------------------------------------------------------------- losses over all ranks' tokens

def _fixed_batch(vocab: int, L: int, end_id: int, seed: int, n: int = 8) -> torch.Tensor:
    """n sequences of tokens 3.. with an <end> at a random step (none in some rows)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(3, vocab, (n, L), generator=g)
    for i, e in enumerate(torch.randint(1, L + 2, (n,), generator=g).tolist()):
        if e < L:
            x[i, e] = end_id
    return x


def _phase_grads(obj, batches: dict, estimator: str) -> dict:
    """Each phase's loss and the gradients it gives, on the given real and fake sequences."""
    obj.sample_real = lambda m: batches["real"]
    obj.G.sample = lambda u, temperature=1.0: batches["fake"]
    obj._relaxed = lambda step, hard: obj.G.sample_relaxed(len(batches["u"]), obj.tau_at(step), batches["u"], hard)
    obj.estimator = estimator
    out = {}
    for name, phase, net in (("mle", obj.mle_phase, obj.G), ("d", obj.d_phase, obj.D), ("g", obj.g_phase, obj.G)):
        net.zero_grad(set_to_none=True)
        loss, _ = phase(StepContext(0, False))
        loss.backward()
        out[name] = (loss.detach(), [p.grad.clone() for p in net.parameters() if p.grad is not None])
    out["baseline"] = obj.baseline.clone()
    return out


def _grads_worker(rank: int, world: int, port: int, words_file: str, folder: str, out: str):
    _join(rank, world, port)
    sets = [s for s in _sets(words_file) if not s.startswith("objective.estimator")]
    run = Run.create(C.load("words", sets + ["discriminator.name='lstm_step'", "discriminator.dropout=0.0"]), folder)
    obj = run.objective
    saved = {"G": {k: v.clone() for k, v in obj.G.state_dict().items()},
             "D": {k: v.clone() for k, v in obj.D.state_dict().items()}}
    V, L = obj.G.vocab, obj.G.seq_len
    got = {}
    for est in ("dense", "maligan", "gumbel"):
        obj.baseline.zero_(), obj.baseline_set.zero_()
        batches = {"real": _fixed_batch(V, L, obj.end_id, 10 + rank), "fake": _fixed_batch(V, L, obj.end_id, 20 + rank),
                   "u": torch.rand(8, L, V, generator=torch.Generator().manual_seed(30 + rank))}
        res = _phase_grads(obj, batches, est)
        for name in ("mle", "d", "g"):     # the loop's GradSync and its record: means over the ranks
            loss, grads = res[name]
            for t in [loss, *grads]:
                torch.distributed.all_reduce(t)
                t /= world
        got[est] = res | {"batches": batches}
    torch.save({"init": saved, "got": got, "V": V, "L": L, "end": obj.end_id}, f"{out}.rank{rank}.pt")
    distributed._teardown()


def test_seqgan_losses_on_two_ranks_are_one_processs_on_the_global_batch(tmp_path):
    """Sequences end at different steps, so the ranks hold different numbers of valid tokens: the
    MLE, per-step D, dense-reward, MaliGAN and Gumbel losses, averaged over the ranks as the loop does,
    give one process's loss and gradients on both ranks' sequences, and the baseline is the
    same on every rank."""
    got = _on_two_ranks(_grads_worker, tmp_path)
    words = tmp_path / "words.txt"
    sets = [s for s in _sets(str(words)) if not s.startswith("objective.estimator")]
    run = Run.create(C.load("words", sets + ["discriminator.name='lstm_step'", "discriminator.dropout=0.0"]), str(tmp_path / "one"))
    obj = run.objective
    obj.G.load_state_dict(got[0]["init"]["G"]), obj.D.load_state_dict(got[0]["init"]["D"])
    for est in ("dense", "maligan", "gumbel"):
        both = {k: torch.cat([g["got"][est]["batches"][k] for g in got]) for k in ("real", "fake", "u")}
        assert valid_mask(got[0]["got"][est]["batches"]["real"], got[0]["end"]).sum() != \
            valid_mask(got[1]["got"][est]["batches"]["real"], got[1]["end"]).sum()
        obj.baseline.zero_(), obj.baseline_set.zero_()
        one = _phase_grads(obj, both, est)
        for name in ("mle", "d", "g"):
            loss, grads = one[name]
            for rank in (0, 1):
                loss_r, grads_r = got[rank]["got"][est][name]
                assert float(loss_r) == pytest.approx(float(loss), rel=1e-5, abs=1e-6), (est, name, rank)
                assert len(grads_r) == len(grads)
                for a, b in zip(grads_r, grads):
                    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6, msg=f"{est} {name} rank {rank}")
        for rank in (0, 1):
            torch.testing.assert_close(got[rank]["got"][est]["baseline"], one["baseline"])
