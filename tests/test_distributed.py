"""Data-parallel training on 2 CPU processes (gloo), against one process.

One spawn of 2 ranks runs every multi-process job (a process start costs seconds); the
one-process references run in this process.  With ``train.parallel_draws=global`` each
rank keeps its half of the batch one process draws, so the two must agree up to float
rounding: that checks the gradient averaging, SyncBatchNorm, the checkpoints and resume
across world sizes at once.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from gankit import config as C
from gankit import seeds
from gankit.runfolder import RunFolder
from gankit.train import distributed, threads
from gankit.train.launch import failure_exit_code, failure_report
from gankit.train.run import Run

RING = ["train.batch_size=16", "train.log_every=1", "train.checkpoint_every=5", "train.sample_every=100",
        "train.n_fixed=50", "train.progress=false", "generator.hidden=[16, 16]",
        "discriminator.hidden=[16, 16]", "objective.lr_decay_final=1.0", "train.parallel_draws=global"]
DCGAN = ["train.steps=3", "train.batch_size=16", "train.log_every=1", "train.sample_every=100",
         "train.checkpoint_every=3", "train.n_fixed=16", "train.progress=false", "generator.width=8",
         "discriminator.width=8", "noise.dim=8", "data.name=digits8x8", "objective.name=gan",
         "train.parallel_draws=global"]
R1 = ["objective.r1=1.0"]
AE = [o for o in DCGAN if o != "objective.name=gan"]   # mnist-ae: an encoder and the codes' Gaussian
NOISY = RING + ["train.steps=2", "objective.instance_noise=0.1"]
EBM = [o for o in RING if not o.startswith(("generator.", "objective."))] + [
    "discriminator.name=mlp", "data.name=ring", "noise.dim=2", "objective.langevin_steps=2",
    "objective.sample_steps=2", "objective.buffer_size=40"]
WINDOW = RING + ["train.log_every=4"]      # a checkpoint at step 5 holds step 5 of the window 5..8   # instance noise: torch's own stream


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker(rank: int, world: int, port: int, jobs: list):
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      LOCAL_WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    for mode, preset, overrides, folder in jobs:
        if mode == "draws":     # the torch stream's draws each rank makes (instance noise), and its streams
            drawn, randn_like = [], torch.randn_like

            def recorded(x, *a, **k):
                drawn.append(randn_like(x, *a, **k))
                return drawn[-1]
            torch.randn_like = recorded
            try:
                run = Run.create(C.load(preset, overrides), folder)
                start = {"torch": run.torch_rng.clone(), "cond": run.cond_gen.get_state(),
                         "data": run.data_gen.get_state(), "noise": run.noise_gen.get_state()}
                run.train()
            finally:
                torch.randn_like = randn_like
            torch.save({"start": start, "drawn": drawn}, f"{folder}.rank{rank}.pt")
        elif mode == "create":
            run = Run.create(C.load(preset, overrides), folder).train()
            # each rank's own modules (only rank 0 writes checkpoints): are the ranks in step?
            torch.save({k: m.state_dict() for k, m in run.modules.items()}, f"{folder}.rank{rank}.pt")
        else:
            Run.open(folder, overrides).train()
    # the process group torn down frees gloo's threads; threads still running at exit aborted
    # finished ranks now and then (SIGABRT) when a module held the group past destroy
    distributed._teardown()
    Path(f"{jobs[0][3]}.threads.rank{rank}").write_text("\n".join(thread_names()))


def thread_names() -> list[str]:
    tasks = Path("/proc/self/task")
    return [(t / "comm").read_text().strip() for t in tasks.iterdir()] if tasks.is_dir() else []


def train_one(preset, overrides, folder):
    return Run.create(C.load(preset, overrides), folder).train()


def back_to_step_5(src, dst):
    """A copy of a finished 8-step run as it stood at its step-5 checkpoint (inside the log
    window 5..8: the checkpoint carries step 5's loss sums); resuming it retrains 6..8."""
    shutil.copytree(src, dst)
    (Path(dst) / "checkpoints" / "step_00000008.pt").unlink()


def last_state(folder) -> dict:
    state, _ = RunFolder(folder).load_checkpoint()
    return state


def max_diff(a: dict, b: dict) -> float:
    """Largest |a - b| over every module's floating state (weights and BN statistics)."""
    out = 0.0
    for net in a["models"]:
        for k, v in a["models"][net].items():
            if v.is_floating_point():
                out = max(out, float((v - b["models"][net][k]).abs().max()))
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("dp")
    f = {k: root / k for k in ("one", "one_r1", "one8", "two", "two_r1", "up", "down", "dc1", "dc2", "ae1", "ae2",
                               "noisy1", "noisy2", "one8w", "upw", "two8w", "downw", "ebm8", "ebm58", "emadrs")}
    train_one("ring-vanilla", RING + ["train.steps=5"], f["one"])
    train_one("ring-vanilla", WINDOW + ["train.steps=8"], f["one8w"])
    back_to_step_5(f["one8w"], f["upw"])
    train_one("ring-vanilla", RING + R1 + ["train.steps=5"], f["one_r1"])
    train_one("ring-vanilla", RING + ["train.steps=8"], f["one8"])
    train_one("mnist-dcgan", DCGAN, f["dc1"])
    train_one("mnist-ae", AE, f["ae1"])
    shutil.copytree(f["one"], f["up"])
    jobs = [("create", "ring-vanilla", RING + ["train.steps=5"], str(f["two"])),
            ("create", "ring-vanilla", RING + R1 + ["train.steps=5"], str(f["two_r1"])),
            ("resume", None, ["train.steps=8"], str(f["up"])),     # 1 process -> 2
            ("create", "mnist-dcgan", DCGAN, str(f["dc2"])),
            ("create", "mnist-ae", AE, str(f["ae2"])),
            ("draws", "ring-vanilla", NOISY, str(f["noisy2"])),
            ("create", "ring-vanilla", WINDOW + ["train.steps=8"], str(f["two8w"])),
            ("resume", None, ["train.steps=8"], str(f["upw"])),
            ("create", "ring-vanilla", RING + ["train.steps=5", "objective.ema=0.9", "objective.drs=true",
                                               "objective.drs_steps=2"], str(f["emadrs"])),
            ("create", "mnist-ebm", EBM + ["train.steps=8"], str(f["ebm8"])),
            ("create", "mnist-ebm", EBM + ["train.steps=5"], str(f["ebm58"])),
            ("resume", None, ["train.steps=8"], str(f["ebm58"]))]
    mp.spawn(worker, args=(2, free_port(), jobs), nprocs=2, join=True)
    shutil.copytree(f["two"], f["down"])
    Run.open(f["down"], ["train.steps=8"]).train()                 # 2 processes -> 1
    back_to_step_5(f["two8w"], f["downw"])
    Run.open(f["downw"], ["train.steps=8"]).train()
    return f


def test_two_ranks_match_one_process(runs):
    assert max_diff(last_state(runs["one"]), last_state(runs["two"])) < 1e-5


def test_two_ranks_match_one_process_with_r1(runs):
    one, two = last_state(runs["one_r1"]), last_state(runs["two_r1"])
    assert max_diff(one, two) < 1e-5
    r1 = [(r["step"], r["r1"]) for r in RunFolder(runs["two_r1"]).records("train")]
    ref = [(r["step"], r["r1"]) for r in RunFolder(runs["one_r1"]).records("train")]
    assert [s for s, _ in r1] == [s for s, _ in ref]
    assert all(abs(a - b) < 1e-5 for (_, a), (_, b) in zip(r1, ref))   # logs: global-batch means


def test_a_resume_on_another_number_of_processes_logs_the_window_an_unbroken_run_logs(runs):
    """The checkpoint at step 5 carries step 5's loss sums; the record at step 8 must average
    steps 5..8 over the global batch.  Each rank kept its own saved sums: a rank new to the run
    had none (1 -> 2: a 13% wrong loss_d), a rank gone from it was dropped (2 -> 1), and ranks
    holding different keys all-reduced vectors of different lengths and hung."""
    want = [r for r in RunFolder(runs["one8w"]).records("train") if r["step"] == 8][0]
    for name in ("upw", "downw"):
        got = [r for r in RunFolder(runs[name]).records("train") if r["step"] == 8][0]
        for k in ("loss_d", "loss_g"):
            assert abs(got[k] - want[k]) < 1e-5, (name, k, got[k], want[k])


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="threads are read from Linux's /proc")
def test_the_ranks_leave_no_communication_threads_behind(runs):
    for rank in (0, 1):
        names = Path(f"{runs['two']}.threads.rank{rank}").read_text().split("\n")
        assert not [n for n in names if "gloo" in n or "tcpstore" in n], names


def test_one_stream_one_set_of_checkpoints_world_size_recorded(runs):
    folder = RunFolder(runs["two"])
    steps = [r["step"] for r in folder.records("train")]
    assert steps == [1, 2, 3, 4, 5]                    # not written twice
    assert [r["world_size"] for r in folder.records("session")] == [2]
    assert [s for s, _ in folder.checkpoints()] == [5]
    state = last_state(runs["two"])
    assert state["world_size"] == 2
    assert not any(k.startswith("module.") for m in state["models"].values() for k in m)
    snaps = sorted(p.name for p in folder.samples_dir.iterdir())
    assert snaps == ["step_00000000.npz", "step_00000005.npz"]


def test_resume_changes_world_size_both_ways(runs):
    ref = last_state(runs["one8"])
    for name, world in (("up", 2), ("down", 1)):
        state = last_state(runs[name])
        assert state["step"] == 8 and state["world_size"] == world
        assert max_diff(ref, state) < 1e-5, name
    launches = [r["world_size"] for r in RunFolder(runs["up"]).records("session")]
    assert launches == [1, 2]
    steps = [r["step"] for r in RunFolder(runs["down"]).records("train")]
    assert steps == list(range(1, 9))


def test_a_resumed_energy_model_continues_each_ranks_own_chains(runs):
    """Only rank 0's replay buffer was saved: on resume rank 1 took rank 0's chains, and the
    run ended 2.6e-4 away from the unbroken one."""
    straight, resumed = last_state(runs["ebm8"]), last_state(runs["ebm58"])
    assert straight["step"] == resumed["step"] == 8
    assert max_diff(straight, resumed) == 0.0
    buffers = [straight["objective"]["replay"]["x"], straight["objective_ranks"][1]["replay"]["x"]]
    assert not torch.equal(*buffers)                        # the ranks' chains are their own
    assert torch.equal(resumed["objective_ranks"][1]["replay"]["x"], buffers[1])


def test_checkpoints_keep_only_what_differs_by_rank(runs):
    """Rank 1's copy of the EMA (the same on every rank) and of DRS's fitted D (rank 0's is the
    run's) made every 2-process checkpoint carry them twice."""
    state = last_state(runs["emadrs"])
    assert {"ema_g", "drs"} <= set(state["objective"]) and state["objective_ranks"] == [None, {}]


def test_dcgan_with_sync_batchnorm_matches_one_process(runs):
    one, two = last_state(runs["dc1"]), last_state(runs["dc2"])
    assert any("running_var" in k for k in two["models"]["G"])
    # batch statistics over the global batch: as one process; per-rank BN would differ by ~1e-2
    assert max_diff(one, two) < 1e-4
    assert len(RunFolder(runs["dc2"]).snapshots()) == 2


def test_the_ranks_stay_in_step_and_the_codes_gaussian_sees_the_global_batch(runs):
    """Every module of every rank equal after training, the auto-encoder's running code
    statistics (buffers, not gradients) included: fitted to the codes of the global batch,
    as one process fits them."""
    for name in ("two", "dc2", "ae2"):
        r0, r1 = (torch.load(f"{runs[name]}.rank{r}.pt", weights_only=True) for r in (0, 1))
        assert max_diff({"models": r0}, {"models": r1}) == 0.0, name
    one, two = last_state(runs["ae1"])["models"]["codes"], last_state(runs["ae2"])["models"]["codes"]
    assert int(two["count"]) == int(one["count"]) == 3
    assert torch.allclose(one["mean"], two["mean"], atol=1e-4)
    assert torch.allclose(one["second"], two["second"], atol=1e-4)


def test_global_draws_share_data_and_noise_but_not_the_torch_stream(runs):
    """train.parallel_draws=global: the data and noise streams are the run's on every rank; the
    torch stream (instance noise here; dropout, penalties' interpolation) and the mismatched
    conditions' stream are each rank's own, rank 0's the one-process run's.  They were the
    run's on every rank: half of the global batch repeated the other half's instance noise."""
    r0, r1 = (torch.load(f"{runs['noisy2']}.rank{r}.pt", weights_only=True) for r in (0, 1))
    for stream in ("data", "noise"):
        assert torch.equal(r0["start"][stream], r1["start"][stream]), stream
    for stream in ("torch", "cond"):
        assert not torch.equal(r0["start"][stream], r1["start"][stream]), stream
    assert len(r0["drawn"]) == len(r1["drawn"]) > 0
    assert not any(torch.equal(a, b) for a, b in zip(r0["drawn"], r1["drawn"]))
    one = Run.create(C.load("ring-vanilla", NOISY), runs["noisy1"])
    try:
        assert torch.equal(r0["start"]["torch"], one.torch_rng)
        assert torch.equal(r0["start"]["cond"], one.cond_gen.get_state())
        assert torch.equal(r0["start"]["data"], one.data_gen.get_state())
    finally:
        one.close()


def test_per_rank_streams_differ_and_rank0_keeps_the_run_seed():
    assert seeds.rank_seed(7, 0) == 7
    assert len({seeds.rank_seed(7, r) for r in range(4)}) == 4
    assert seeds.rank_seed(7, 1, step=100) != seeds.rank_seed(7, 1)


def test_global_batch_must_divide():
    cfg = C.load("ring", ["train.batch_size=30"])
    with pytest.raises(C.ConfigError, match="global batch.*30 does not divide by 4"):
        distributed.local_config(cfg, distributed.World(size=4, rank=1))
    assert distributed.local_config(cfg, distributed.World(size=3)).train.batch_size == 10


def test_partial_torchrun_env_is_a_clear_error(monkeypatch):
    for k in distributed.TORCHRUN_ENV:
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(distributed.DistributedError, match="lacks LOCAL_RANK, MASTER_ADDR, MASTER_PORT"):
        distributed.setup(torch.device("cpu"))


def test_ranks_disagreeing_on_the_config_are_refused(monkeypatch):
    monkeypatch.setattr(distributed, "gather", lambda world, v: [v, ("other", v[1])])
    with pytest.raises(distributed.DistributedError, match="disagree.*rank 1: \\('other'"):
        distributed.check_same(distributed.World(size=2), "the config", ("abc", "0.1"), "same preset")


def test_auto_threads(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert threads.auto_threads("points", 1) == 1
    assert threads.auto_threads("image", 1) == threads.available_cores()
    assert threads.auto_threads("image", 64) == 1          # never more threads than cores in all
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads.auto_threads("points", 1) == 3
    assert threads.resolve(2, "points", 1) == 2


def test_cli_nproc_2(tmp_path, tiny_cli):
    out = tmp_path / "cli"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).parents[1]))
    p = subprocess.run([sys.executable, "-m", "gankit", "train", "ring-vanilla", "--nproc", "2",
                        "--out", str(out), *tiny_cli], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    folder = RunFolder(out)
    steps = [r["step"] for r in folder.records("train")]
    assert steps == sorted(set(steps)) and steps[-1] == 12
    assert len(folder.records("eval")) == 1 and folder.report_path.is_file()
    assert folder.records("session")[0]["world_size"] == 2
    assert p.stdout.count("run folder:") == 1


def test_a_refusal_on_rank_0_is_one_line_on_every_rank(tmp_path, tiny_cli):
    """--resume --nproc 2 of a folder another process holds: rank 0 refused in one line, rank 1
    printed a gloo traceback (its peer had left)."""
    out = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).parents[1]))
    gk = [sys.executable, "-m", "gankit", "train"]
    from gankit.cli import main      # the run to resume, trained in this process (one metric): the refusal is tested
    assert main(["train", "ring-vanilla", "--out", str(out), *tiny_cli, "--set", 'eval.metrics=["modes"]']) == 0
    holder = Run.open(out, write=True)          # this process holds the folder's lock
    try:
        p = subprocess.run(gk + ["--resume", "--out", str(out), "--nproc", "2", "--set", "train.steps=20"],
                           capture_output=True, text=True, env=env, timeout=300)
    finally:
        holder.close()
    assert p.returncode != 0 and "in use" in p.stderr
    assert "Traceback" not in p.stderr, p.stderr[-3000:]


def test_a_ranks_own_failure_is_the_launchers_exit_code_not_the_peers_sigterm():
    """One rank failing makes torchrun SIGTERM the others, whose handler exits 143: a NaN
    under --nproc 2 exited 143 ("a SIGTERM stopped the run") when the peer's code came first."""
    assert failure_exit_code({0: 143, 1: -6}) == 134          # rank 1 aborted: SIGABRT
    assert failure_exit_code({0: 143, 1: 1}) == 1
    assert failure_exit_code({0: -15, 1: 2}) == 2
    assert failure_exit_code({0: -6, 1: 1}) == 1               # the error a rank reported first
    assert failure_exit_code({0: 1, 1: -15}) == 1
    assert failure_exit_code({0: 143, 1: 143}) == 143          # a user's SIGTERM to a rank
    assert failure_exit_code({0: 130, 1: -2}) == 130
    line = failure_report({0: 143, 1: -6}, 2)
    assert "rank 1: killed by SIGABRT" in line and "rank 1's failure ended the run" in line
    assert "ended the run" not in failure_report({0: 143, 1: 143}, 2)
    # a signal every rank stopped on (agreed, each said so): no process failed
    assert failure_report({0: 143, 1: 143}, 2).startswith("gankit: the 2 processes stopped on SIGTERM (rank 0")
    assert failure_report({0: 143, 1: 130}, 2).startswith("gankit: the 2 processes stopped on SIGINT/SIGTERM")
    assert failure_report({0: 130}, 2).startswith("gankit: 1 of 2 processes stopped on SIGINT (rank 0")
    assert "failed" in failure_report({0: 130, 1: 130, 2: 3}, 3)          # one left as another did


def _feature_matching_worker(rank: int, world: int, port: int, folder: str, out: str):
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      LOCAL_WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from gankit.train.remedies import feature_matching
    run = Run.create(C.load("ring-vanilla", FM), folder).train()   # joins the process group
    # the loss itself, as SS-GAN's G step uses it, on this rank's rows of one global batch
    gen = torch.Generator().manual_seed(0)
    fr, ff = torch.randn(8, 3, generator=gen), torch.randn(8, 3, generator=gen) + 0.5
    rows = slice(rank * 4, rank * 4 + 4)
    mine = ff[rows].clone().requires_grad_(True)
    loss = feature_matching(fr[rows], mine)
    loss.backward()
    torch.save({"loss": loss.detach(), "grad": mine.grad}, f"{out}.rank{rank}.pt")
    run.close()


FM = RING + ["train.steps=4", "objective.feature_matching=10.0"]


def test_feature_matching_compares_the_global_batch_means(tmp_path):
    """E f(x) - E f(G(z)) over the global batch, as one process computes it: each rank took
    the means of its own half (another objective), and G drifted from the one-process run."""
    from gankit.train.remedies import feature_matching
    train_one("ring-vanilla", FM, tmp_path / "one")
    mp.spawn(_feature_matching_worker, args=(2, free_port(), str(tmp_path / "two"), str(tmp_path / "fm")),
             nprocs=2, join=True)
    assert max_diff(last_state(tmp_path / "one"), last_state(tmp_path / "two")) < 1e-5
    gen = torch.Generator().manual_seed(0)
    fr, ff = torch.randn(8, 3, generator=gen), torch.randn(8, 3, generator=gen) + 0.5
    ff.requires_grad_(True)
    whole = feature_matching(fr, ff)
    whole.backward()
    for r in (0, 1):
        got = torch.load(f"{tmp_path / 'fm'}.rank{r}.pt", weights_only=True)
        assert torch.allclose(got["loss"], whole.detach(), atol=1e-6)
        # each rank's gradient on its rows sums the ranks' (GradSync then averages them)
        assert torch.allclose(got["grad"] / 2, ff.grad[r * 4:(r + 1) * 4], atol=1e-6)
