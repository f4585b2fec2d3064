"""SeqGAN rollout rewards: completing each prefix in turn (gankit's implementation) vs all
rollouts in one batch (a candidate, kept here because it did not win).

    .venv/bin/python benchmarks/rollout_speed.py --rollouts 16 --batch 64 --repeats 3

Both draw the same uniforms and give the same Q (printed as same_q); this times one G
step's rewards at the oracle's scale (vocab 5,000, length 20, G hidden 32, the
seqgan-oracle preset's CNN D), torch on one thread, CPU seconds of this process.
Batching saves Python steps (L-1 instead of L^2/2) but not arithmetic: every completion
still needs its 5,000-way softmax and cumulative sum per token, which is where the time
goes on a CPU, so the two cost the same.
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from gankit.nets.sequence import CNNDiscriminator, SeqGenerator
from gankit.ops import inverse_cdf_sample
import _cli   # benchmarks/_cli.py: this folder is on sys.path


def sequential(G, D, x, K):
    n, L = x.shape
    xk = x.repeat(K, 1)
    states = G.states(xk)
    q = [torch.sigmoid(D(G.complete(xk, t + 1, states[t], torch.rand(K * n, L)))).view(K, n).mean(0)
         for t in range(L - 1)]
    return torch.stack(q + [torch.sigmoid(D(x))], 1)


def _cat_state(a, b):
    if isinstance(a, tuple):
        return tuple(torch.cat([p, q], 1) for p, q in zip(a, b))
    return torch.cat([a, b], 1)


def complete_all(G, x, states, u):
    """(L-1, n, L): block b = G.complete(x, b + 1, states[b], u[b]); the block that starts
    sampling at step s joins the batch at step s (teacher-forced state, input x_{s-1})."""
    n, L = x.shape
    out = x[None].repeat(L - 1, 1, 1)
    state = tok = None
    for s in range(1, L):
        state = states[s - 1] if state is None else _cat_state(state, states[s - 1])
        tok = x[:, s - 1] if tok is None else torch.cat([tok, x[:, s - 1]])
        logits, state = G._step(G.embed(tok), state)
        tok = inverse_cdf_sample(logits, u[:s, :, s].reshape(-1))
        out[:s, :, s] = tok.view(s, n)
    return out


def batched(G, D, x, K, chunk=4096):
    n, L = x.shape
    xk = x.repeat(K, 1)
    y = complete_all(G, xk, G.states(xk), torch.rand(L - 1, K * n, L)).view(-1, L)
    p = torch.cat([torch.sigmoid(D(c)) for c in y.split(chunk)]).view(L - 1, K, n).mean(1).T
    return torch.cat([p, torch.sigmoid(D(x))[:, None]], 1)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rollouts", type=int, default=16)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args(argv)
    _cli.at_least(p, a, rollouts=1, batch=1, repeats=1)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    # no <end> token (the oracle has none), so complete_all needs no end/pad handling
    G = SeqGenerator(5000, 20, None, None, "lstm", 32, 32, 0.0, 1.0)
    D = CNNDiscriminator(5000, 20, 64, [1, 2, 3, 4, 5, 8, 10, 15, 20], 64, 0.25).eval()
    x = G.sample(torch.rand(a.batch, 20))
    out = {}
    with torch.no_grad():
        for name, fn in (("sequential", sequential), ("batched", batched)):
            times = []
            for _ in range(a.repeats):
                torch.manual_seed(1)
                t = time.process_time()
                q = fn(G, D, x, a.rollouts)
                times.append(time.process_time() - t)
            out[name] = {"cpu_s_min": round(min(times), 3), "cpu_s_all": [round(v, 3) for v in times]}
            out[name + "_q"] = q
    same = torch.allclose(out.pop("sequential_q"), out.pop("batched_q"), atol=1e-5)
    out["same_q"] = bool(same)
    out["speedup"] = round(out["sequential"]["cpu_s_min"] / out["batched"]["cpu_s_min"], 2)
    print(json.dumps(out))


if __name__ == "__main__":
    _cli.run_main(main)
