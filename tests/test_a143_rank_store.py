"""A rank > 0 started by hand (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT; no torchrun agent)
that failed before joining asks rank 0's store for rank 0's error: where nothing listens (rank 0
failed before hosting it) it gives up within ERROR_WAIT seconds without a word of torch's (its
TCPStore client printed some 40 lines of C++ stack traces per failed try), and a store rank 0
hosts a moment later is still found."""
from __future__ import annotations

import socket
import threading
import time
from datetime import timedelta

import pytest
import torch.distributed as dist

from gankit import rank_errors


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def by_hand(monkeypatch):
    """This process as rank 1 of 2 started by hand; the port rank 0 would host its store on."""
    port = _free_port()
    for k, v in dict(RANK=1, LOCAL_RANK=0, WORLD_SIZE=2, MASTER_ADDR="127.0.0.1", MASTER_PORT=port).items():
        monkeypatch.setenv(k, str(v))
    for k in ("TORCHELASTIC_USE_AGENT_STORE", "LOCAL_WORLD_SIZE", "TORCHELASTIC_ERROR_FILE"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setattr(rank_errors, "_HOSTED", [])
    monkeypatch.setattr(rank_errors, "ERROR_WAIT", 1.0)
    return port


def test_no_store_at_rank_0s_port_is_given_up_quietly(by_hand, capfd):
    start = time.monotonic()
    assert rank_errors._hosted_store() is None
    took = time.monotonic() - start
    assert 0.9 <= took < 2.5, took                   # waited ERROR_WAIT for rank 0 to host it, no more
    err = capfd.readouterr().err
    assert "c10d" not in err and "frame #" not in err, err
    assert rank_errors.error_line("train.steps: must be >= 1, got -3") is None     # rank 0 says it, once
    assert capfd.readouterr().err == ""


def test_a_store_rank_0_hosts_a_moment_later_is_found(by_hand):
    hosted = []

    def host():
        time.sleep(0.3)
        hosted.append(dist.TCPStore("127.0.0.1", by_hand, world_size=2, is_master=True,
                                    timeout=timedelta(seconds=5), wait_for_workers=False, multi_tenant=True))
    t = threading.Thread(target=host)
    t.start()
    try:
        store = rank_errors._hosted_store()
        assert store is not None
        rank_errors.post_error("config file 'my.toml' does not exist")
        t.join()
        assert hosted[0].get(rank_errors._error_key(1)).decode() == "config file 'my.toml' does not exist"
    finally:
        t.join()
