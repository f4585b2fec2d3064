import os
from pathlib import Path

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _cache_dir(tmp_path_factory):
    # feature and classifier caches of the suite live in a temporary folder, not ~/.cache
    os.environ["GANKIT_CACHE"] = str(tmp_path_factory.mktemp("gankit-cache"))
    # and the record of the user's trusted imports (gankit/trusted_imports.py), not ~/.config
    os.environ["GANKIT_CONFIG_DIR"] = str(tmp_path_factory.mktemp("gankit-config"))


def child_env() -> dict:
    """A child process's environment: the checkout under test and the suite's caches
    (_cache_dir), not whichever gankit is installed and ~/.cache, ~/.config of whoever runs it."""
    return {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
            "GANKIT_CACHE": os.environ["GANKIT_CACHE"], "GANKIT_CONFIG_DIR": os.environ["GANKIT_CONFIG_DIR"]}


@pytest.fixture(autouse=True)
def _default_signals():
    # every test starts from the dispositions CI's shell gives (Ctrl-C raises KeyboardInterrupt,
    # SIGTERM and SIGHUP kill), not the ones this pytest was started with: a tool or a nohup that
    # starts it with SIGINT, SIGTERM or SIGHUP ignored made signal tests fail or pass vacuously, and
    # children inherit the state too. Function scope: an xdist worker is not left ignoring SIGTERM
    # between tests. A test that wants another state sets it in its own fixture, which runs after
    # this autouse one.
    import signal
    import threading
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
    if hasattr(signal, "SIGHUP"):
        wanted[signal.SIGHUP] = signal.SIG_DFL
    before = {s: signal.signal(s, h) for s, h in wanted.items()}
    yield
    for s, h in before.items():
        signal.signal(s, h if h is not None else signal.SIG_DFL)   # None: set outside Python


@pytest.fixture(autouse=True)
def _registries_restored():
    # a test's plug-in (--import) registers components in this process: they must not reach the
    # next tests' "every metric that applies"
    from gankit.builtins import load_builtins
    from gankit.registry import REGISTRIES
    load_builtins()
    saved = {k: dict(r._entries) for k, r in REGISTRIES.items()}
    yield
    import sys
    for k, r in REGISTRIES.items():
        for name, entry in list(r._entries.items()):
            if name not in saved[k]:     # its module goes too: a later import registers it again
                sys.modules.pop(entry.module, None)
        r._entries.clear()
        r._entries.update(saved[k])


@pytest.fixture(autouse=True)
def _few_threads():
    # tests are small: one thread avoids contention when the suite runs beside other work
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


TINY = ["train.steps=30", "train.batch_size=32", "train.log_every=10", "train.sample_every=15",
        "train.checkpoint_every=10", "train.n_fixed=200", "train.progress=false",
        "generator.hidden=[16, 16]", "discriminator.hidden=[16, 16]",
        "eval.n_samples=500", "eval.jsd_samples=2000"]


@pytest.fixture
def tiny() -> list[str]:
    """--set overrides that make any point-data preset train in a fraction of a second."""
    return list(TINY)


TINY_IMG = ["train.steps=4", "train.batch_size=16", "train.log_every=2", "train.sample_every=2",
            "train.checkpoint_every=2", "train.n_fixed=16", "train.progress=false",
            "generator.width=8", "discriminator.width=8", "noise.dim=8", "eval.n_samples=200",
            "eval.parzen_centres=200"]

TINY_CLI = ["train.steps=12", "train.batch_size=32", "train.progress=false", "train.log_every=4",
            "train.sample_every=6", "train.n_fixed=64", "eval.n_samples=200", "eval.jsd_samples=500",
            "eval.jsd_bins=20", "generator.hidden=[16, 16]", "discriminator.hidden=[16, 16]",
            'objective.name="gan"', "objective.drs=false", "objective.r1=0"]


# a 2-step conditional DCGAN run of width 8 on class_folders' images (every image trains)
TINY_FOLDER = ["data.name=image-folder", "train.steps=2", "train.batch_size=8", "train.log_every=1",
               "train.sample_every=2", "train.checkpoint_every=2", "train.n_fixed=8", "train.progress=false",
               "generator.width=8", "discriminator.width=8", "eval.n_samples=50", "data.holdout=0"]


def class_folders(root, names, per_class: int = 8, side: int = 8):
    """``root``/NAME/i.png: ``per_class`` random grey images for each class name."""
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(0)
    for name in names:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 256, (side, side), dtype=np.uint8), "L").save(root / name / f"{i}.png")
    return root


# a VAE on 8x8 digits that builds and trains in well under a second (a dict config: copy to change it)
TINY_VAE = {"seed": 1, "data": {"name": "digits8x8"}, "noise": {"dist": "normal", "dim": 4},
            "generator": {"name": "mlp", "hidden": [8]}, "discriminator": {"name": "mlp", "hidden": [8]},
            "objective": {"name": "vae"},
            "train": {"steps": 2, "batch_size": 16, "sample_every": 100, "checkpoint_every": 2, "eval_every": 0,
                      "log_every": 1, "progress": False, "live_report": False},
            "eval": {"metrics": ["image_stats"], "n_samples": 64}}

def imported_parts(tmp_path, name: str, text: str):
    """A module of a test's own parts written to ``tmp_path``/NAME.py and imported as --import
    does (the registries are restored after each test)."""
    from gankit.builtins import import_modules
    path = tmp_path / f"{name}.py"
    path.write_text(text)
    import_modules([str(path)])
    return path


def weights_digest(run) -> str:
    """sha256 of every module's state of ``run``, by name: two runs' weights equal bit for bit."""
    import hashlib
    h = hashlib.sha256()
    for name, m in sorted(run.modules.items()):
        for k, v in sorted(m.state_dict().items()):
            h.update(f"{name}.{k}".encode())
            h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


@pytest.fixture
def tiny_img() -> list[str]:
    """--set overrides for a 4-step DCGAN run of width 8."""
    return list(TINY_IMG)


@pytest.fixture
def digits(tiny_img) -> list[str]:
    """A tiny DCGAN run on sklearn's 8x8 digits (no data download, no Debian package)."""
    return tiny_img + ["data.name=digits8x8"]


@pytest.fixture
def tiny_cli() -> list[str]:
    """`--set` arguments for a 12-step command-line run of a point-data preset."""
    return [a for kv in TINY_CLI for a in ("--set", kv)]


@pytest.fixture(scope="session")
def tiny_run_dir(tmp_path_factory):
    """A tiny trained ring run (30 steps, checkpoints at 10/20/30); copy it before changing it."""
    from gankit import config as C
    from gankit.train.run import Run
    path = tmp_path_factory.mktemp("tiny-run") / "run"
    Run.create(C.load("ring", TINY), path).train().close()
    return path


@pytest.fixture
def assert_same_state():
    """Checks two Run.state_dict()s hold equal weights of every module and equal Adam moments."""
    def check(a: dict, b: dict):
        assert set(a["models"]) == set(b["models"])
        for net in a["models"]:
            for k, v in a["models"][net].items():
                assert torch.equal(v, b["models"][net][k]), (net, k)
        for name in a["optimizers"]:
            for k, st in a["optimizers"][name]["state"].items():
                assert torch.equal(st["exp_avg"], b["optimizers"][name]["state"][k]["exp_avg"]), name
    return check


@pytest.fixture
def numba_cannot_load(monkeypatch):
    """numba_cannot_load("l1kernel_numba"): importing that gankit module raises as numba does
    when it cannot cache its kernels."""
    import builtins
    real_import = builtins.__import__

    from gankit.kernels import load_kernels

    def block(module: str):
        load_kernels.cache_clear()          # kernels loaded by earlier tests are forgotten...
        def failing(name, *args, **kw):
            if args and args[2] and module in args[2]:
                raise RuntimeError("cannot cache function: no locator available")
            return real_import(name, *args, **kw)
        monkeypatch.setattr(builtins, "__import__", failing)
    yield block
    load_kernels.cache_clear()              # ...and the failure is forgotten by later ones


@pytest.fixture
def no_home(monkeypatch):
    """No home folder: HOME unset and a user id with no passwd entry (``docker run --user 12345``)."""
    import pwd

    from gankit import io

    def unknown(uid):
        raise KeyError(f"getpwuid(): uid not found: {uid}")
    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setattr(pwd, "getpwuid", unknown)
    monkeypatch.setattr(io, "_warned_no_cache", False, raising=False)


class Terminal:
    """A pseudo-terminal of 24 x 80 (a new pty has 0 columns, and a bar of width 0 draws
    nothing): ``tty`` to write to (or ``slave``, a descriptor for a subprocess's stderr), and
    ``drawn()``, what reached the screen so far."""

    def __init__(self):
        import fcntl
        import struct
        import termios
        self.master, self.slave = os.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.tty = open(self.slave, "w", closefd=False)
        os.set_blocking(self.master, False)

    def drawn(self) -> str:
        self.tty.flush()
        out = b""
        try:
            while chunk := os.read(self.master, 65536):
                out += chunk
        except (BlockingIOError, OSError):
            pass
        return out.decode(errors="replace")

    def close(self):
        self.tty.close()
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def terminal():
    """A pseudo-terminal (Terminal): the paths gankit takes on a terminal run in tests too (an
    evaluation on a terminal crashed while every test ran with stderr captured)."""
    t = Terminal()
    yield t
    t.close()


def join_gloo(rank: int, world: int, port: int):
    """A spawned test worker's process group (gloo, one thread), as rank of world on port."""
    import torch.distributed as dist
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)


@pytest.fixture
def loads(monkeypatch):
    """Memory-mapped checkpoint reads: counts of load_mapped's calls by file path (every reader
    imports it at call time)."""
    from collections import Counter

    import gankit.runfolder.checkpoint_read as CR
    seen, load = Counter(), CR.load_mapped

    def counting(path, *a, **k):
        seen[str(path)] += 1
        return load(path, *a, **k)
    monkeypatch.setattr(CR, "load_mapped", counting)
    return seen
