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
from gankit.data.text import valid_mask
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
