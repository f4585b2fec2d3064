"""Inter-op threads (audit F128): torch lets a process set them once, and never after its first
parallel work, so a library call (api.evaluate in a notebook) leaves them to the program that
called it; gankit's own processes (the gankit command, its torchrun ranks) still set them."""
import subprocess
import sys

import torch

from conftest import child_env
from gankit.train import threads

CHILD = """
import sys, torch
from gankit import api
torch.set_num_threads(2)
api.evaluate(sys.argv[1], ["modes"], record=False, reference=False, log=None)
intra = torch.get_num_threads()
torch.set_num_interop_threads(3)         # the program's own setting, after gankit's call
print(intra, torch.get_num_interop_threads())
"""


def test_api_evaluate_leaves_the_interop_threads_to_the_caller(tiny_run_dir):
    """It set them on its first use: the caller's own set_num_interop_threads then raised
    RuntimeError (torch cannot undo the setting)."""
    done = subprocess.run([sys.executable, "-c", CHILD, str(tiny_run_dir)], env=child_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["2", "3"], done.stdout    # intra-op put back, inter-op the caller's


def test_the_gankit_command_still_sets_the_interop_threads(tmp_path, tiny, monkeypatch):
    """The process's own command (argv None, as the console script, python -m gankit and each
    torchrun rank call it) sets them to the run's thread count."""
    from gankit import api, cli
    asked = []
    monkeypatch.setattr(api, "_final_report", lambda run, quiet: None)     # plots: seconds, not the point
    monkeypatch.setattr(threads, "_OWN_PROCESS", False, raising=False)
    monkeypatch.setattr(threads, "_INTEROP_SET", False)
    monkeypatch.setattr(torch, "set_num_interop_threads", asked.append)
    monkeypatch.setattr(sys, "argv", ["gankit", "train", "ring", "--out", str(tmp_path / "run")]
                        + [a for kv in tiny + ["train.steps=2", "train.threads=3", 'eval.metrics=["modes"]']
                           for a in ("--set", kv)])
    n = torch.get_num_threads()
    try:
        assert cli.main() == 0
    finally:
        torch.set_num_threads(n)
    assert asked == [3]


def test_a_library_call_of_apply_sets_only_the_intra_op_threads(monkeypatch):
    asked = []
    monkeypatch.setattr(threads, "_OWN_PROCESS", False, raising=False)
    monkeypatch.setattr(threads, "_INTEROP_SET", False)
    monkeypatch.setattr(torch, "set_num_interop_threads", asked.append)
    n = torch.get_num_threads()
    try:
        assert threads.apply(n + 1) == n and torch.get_num_threads() == n + 1
    finally:
        torch.set_num_threads(n)
    assert asked == []
