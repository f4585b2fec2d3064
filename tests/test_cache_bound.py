"""The process-wide metrics.jsonl cache: bounded by the records it holds (least recently read logs
dropped first), its records' keys shared, a repeated read free and appended lines read alone."""
import json
import tracemalloc

import pytest

import gankit.runfolder.records as rf_records
from gankit.io.jsonl import JsonlLog
from gankit.runfolder import RunFolder

KEYS = ["grad_norm_d", "r1", "d_real", "d_fake", "d_acc_real", "d_acc_fake", "grad_norm_g",
        "loss_d", "loss_g", "lr_d", "lr_g"]


def _write(path, steps, start=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        for s in range(start, start + steps):
            f.write(json.dumps({"step": s, "kind": "train", "time": s * 0.01,
                                **{k: 0.1 + s * 1e-6 + i for i, k in enumerate(KEYS)}}) + "\n")


@pytest.fixture
def small_bound(monkeypatch):
    from gankit.io.jsonl import JsonlLogs
    monkeypatch.setattr(rf_records, "_LOGS", JsonlLogs(100, rf_records._step_fault))
    return rf_records._LOGS


def test_logs_kept_bounded_by_records_oldest_read_dropped(tmp_path, small_bound):
    runs = {n: RunFolder(tmp_path / n) for n in "abc"}
    for r in runs.values():
        _write(r.records_path, 40)
    first = {n: r.records() for n, r in runs.items()}
    # 120 records over the bound of 100: a, read first, is dropped; b and c stay
    assert sorted(log.path.parent.name for log in small_bound.values()) == ["b", "c"]
    again = runs["b"].records()
    assert all(x is y for x, y in zip(again, first["b"]))       # kept: nothing parsed again
    runs["a"].records()     # parsed again; c is now the least recently read
    assert sorted(log.path.parent.name for log in small_bound.values()) == ["a", "b"]
    assert sum(len(log.records) for log in small_bound.values()) <= 100


def test_log_over_the_bound_alone_is_kept_while_newest(tmp_path, small_bound):
    small, big = RunFolder(tmp_path / "small"), RunFolder(tmp_path / "big")
    _write(small.records_path, 10)
    _write(big.records_path, 150)
    small.records()
    recs = big.records()
    assert len(recs) == 150 and [log.path.parent.name for log in small_bound.values()] == ["big"]
    # kept while it is the one read last: a read again parses nothing, an append only the new lines
    _write(big.records_path, 5, start=150)
    more = big.records()
    assert len(more) == 155 and all(x is y for x, y in zip(more, recs))
    small.records()
    assert [log.path.parent.name for log in small_bound.values()] == ["small"]


def test_records_share_their_keys(tmp_path):
    path = tmp_path / "metrics.jsonl"
    _write(path, 3)
    a, b, c = JsonlLog(path).read()
    for k in ["step", "kind", *KEYS]:
        assert next(x for x in a if x == k) is next(x for x in c if x == k)
    assert a["kind"] is b["kind"]


def test_a_cached_record_takes_under_1_2_kb(tmp_path):
    # a train record of ~300 bytes in the file took ~1.7 KB parsed, most of it its keys' strings
    path = tmp_path / "metrics.jsonl"
    _write(path, 2000)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        log = JsonlLog(path)
        recs = log.read()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(recs) == 2000
    assert held / 2000 < 1200, f"{held / 2000:.0f} B a record"
