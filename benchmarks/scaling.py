"""CPU scaling and thread contention of `gankit train` (results: docs/scaling.md).

    python benchmarks/scaling.py scale [--steps N]        1 process x 2 threads, 1 x 1, 2 processes x 1
    python benchmarks/scaling.py contention [--steps N]   the demo alone vs beside a busy process
    python benchmarks/scaling.py sync                     flat all-reduce vs DDP for a D step
    python benchmarks/scaling.py metrics                  evaluation time: sampling vs the rest

Speeds come from the run's own records: steps/s between the first and the last logged
step (start-up, evaluation and report excluded); samples/s = steps/s x the global batch.
Every configuration runs the real command line (`gankit train ... [--nproc 2]`).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUICK_EVAL = ["eval.n_samples=200", "eval.jsd_samples=1000", "train.progress=false",
              "train.sample_every=100000", "train.checkpoint_every=100000", "train.n_fixed=16"]


def train_speed(preset: str, steps: int, threads: int, nproc: int = 1, extra=()) -> dict:
    """steps/s and samples/s of `gankit train PRESET` from its metrics.jsonl."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        sets = [f"train.steps={steps}", f"train.threads={threads}", f"train.log_every={max(1, steps // 10)}",
                *QUICK_EVAL, *extra]
        cmd = [sys.executable, "-m", "gankit", "train", preset, "--out", str(out),
               *[x for s in sets for x in ("--set", s)]] + (["--nproc", str(nproc)] if nproc > 1 else [])
        env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}   # train.threads decides
        env["PYTHONPATH"] = str(ROOT)
        p = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if p.returncode:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{p.stderr[-2000:]}")
        recs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        train = [r for r in recs if r["kind"] == "train"]
        batch = int(next(line.split("=")[1] for line in (out / "config.toml").read_text().splitlines()
                         if line.startswith("batch_size")))
    (s0, t0), (s1, t1) = (train[0]["step"], train[0]["time"]), (train[-1]["step"], train[-1]["time"])
    rate = (s1 - s0) / (t1 - t0)
    return {"preset": preset, "nproc": nproc, "threads": threads, "steps_per_s": round(rate, 2),
            "samples_per_s": round(rate * batch, 1), "batch": batch}


def cmd_scale(a):
    for preset, steps in (("ring-vanilla", a.steps), ("mnist-dcgan", max(20, a.steps // 10))):
        for nproc, threads in ((1, 2), (1, 1), (2, 1)):
            print(json.dumps(train_speed(preset, steps, threads, nproc)), flush=True)


def cmd_contention(a):
    """The demo preset's speed alone and beside `python -c "while True: pass"`, interleaved
    over --repeats, with medians at the end."""
    import statistics
    rates = {}
    for _ in range(a.repeats):
        for threads in (2, 1, 0):     # 2: torch's default on this 2-core machine; 1; 0: auto
            for busy in (False, True):
                hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
                try:
                    time.sleep(0.5 if busy else 0)
                    r = train_speed(a.preset, a.steps, threads, extra=["objective.drs=false"])
                finally:
                    if hog is not None:
                        hog.kill()
                        hog.wait()
                r = {**r, "competitor": busy, "threads": threads or "auto"}
                rates.setdefault((r["threads"], busy), []).append(r["steps_per_s"])
                print(json.dumps(r), flush=True)
    for (threads, busy), v in rates.items():
        alone = statistics.median(rates[(threads, False)])
        print(f"threads {threads!s:4}  {'competitor' if busy else 'alone     '}  median "
              f"{statistics.median(v):7.1f} steps/s  {alone / statistics.median(v):5.2f}x slower than alone  {v}")


def _sync_worker(rank: int, port: int, steps: int, out: str):
    import torch
    import torch.distributed as dist
    from torch import nn
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    from gankit.losses.penalties import r1_penalty
    from gankit.train.distributed import GradSync, World
    from gankit.train.loop import Phase

    def make():
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(2, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                             nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 1))
    x = torch.randn(128, 2, generator=torch.Generator().manual_seed(rank))
    results, weights = {}, {}
    for mode in ("flat", "ddp", "flat+r1", "ddp+r1") * 2:     # twice, interleaved: the machine is shared
        D = make()
        net = nn.parallel.DistributedDataParallel(D) if mode.startswith("ddp") else D
        opt = torch.optim.Adam(D.parameters(), 1e-4)
        sync = GradSync(World(size=2, rank=rank, backend="gloo"))
        phase = Phase("d", opt, lambda ctx: None)
        try:
            t0 = time.perf_counter()
            for _ in range(steps):
                loss = nn.functional.softplus(-net(x)).mean()
                if mode.endswith("r1"):
                    loss = loss + r1_penalty(net, x, 1.0)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if mode.startswith("flat"):
                    sync(phase)
                opt.step()
            results.setdefault(mode, []).append(round(steps / (time.perf_counter() - t0), 1))
            weights[mode] = torch.cat([p.detach().reshape(-1) for p in D.parameters()])
        except Exception as e:   # DDP's hooks and double backward
            results[mode] = f"{type(e).__name__}: {str(e)[:160]}"
        dist.barrier()
    for r1 in ("", "+r1"):    # DDP's weights against the flat all-reduce's: same maths?
        if "ddp" + r1 in weights:
            results["max |ddp - flat|" + r1] = float((weights["ddp" + r1] - weights["flat" + r1]).abs().max())
    if rank == 0:
        Path(out).write_text(json.dumps(results))
    dist.destroy_process_group()


def cmd_sync(a):
    import socket
    import torch.multiprocessing as mp
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        mp.spawn(_sync_worker, args=(port, a.steps, str(out)), nprocs=2, join=True)
        print(json.dumps({"d_steps_per_s (ring D, 128 per rank, 2 gloo processes)": json.loads(out.read_text())}))


def cmd_metrics(a):
    """Where evaluation time goes: drawing samples from G (what ranks could split and gather)
    against the rest (features, distances, histograms), for a short run of each preset."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from gankit import config as C
    from gankit.train.run import Run
    for preset, steps in (("ring-vanilla", 200), ("mnist-dcgan", 20)):
        with tempfile.TemporaryDirectory() as tmp:
            run = Run.create(C.load(preset, [f"train.steps={steps}", *QUICK_EVAL[2:]]), Path(tmp) / "r").train()
            spent = [0.0]
            sample = run.sample

            def timed(*args, **kw):
                t = time.perf_counter()
                out = sample(*args, **kw)
                spent[0] += time.perf_counter() - t
                return out
            run.sample = timed
            t0 = time.perf_counter()
            run.evaluate()
            total = time.perf_counter() - t0
        print(json.dumps({"preset": preset, "eval_s": round(total, 2), "sampling_s": round(spent[0], 2),
                          "sampling_share": round(spent[0] / total, 3)}), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["scale", "contention", "sync", "metrics"])
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--repeats", type=int, default=1, help="contention: interleaved repeats")
    p.add_argument("--preset", default="ring", help="contention: the preset timed")
    a = p.parse_args()
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} load {os.getloadavg()[0]:.2f}", flush=True)
    {"scale": cmd_scale, "contention": cmd_contention, "sync": cmd_sync, "metrics": cmd_metrics}[a.what](a)


if __name__ == "__main__":
    main()
