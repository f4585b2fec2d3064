"""Damaged lines of a JSONL file are told in one warning per read (audit F80: garbage appended
to metrics.jsonl printed 1,146 warning lines), a single one as fully as before."""
from __future__ import annotations

import random
import warnings

import pytest

from gankit.io import JsonlLog
from gankit.runfolder import RunFolder


def _good(n: int) -> str:
    return "".join(f'{{"step": {s}, "kind": "train"}}\n' for s in range(1, n + 1))


def test_garbage_appended_gives_one_warning_with_the_count_and_first_lines(tmp_path):
    path = tmp_path / "metrics.jsonl"
    garbage = bytes(random.Random(0).randrange(256) for _ in range(20000)).replace(b"\n", b"x")
    path.write_bytes(_good(3).encode() + b"\n".join(garbage[i:i + 100] for i in range(0, 20000, 100)) + b"\n")
    with pytest.warns(UserWarning) as said:
        assert len(JsonlLog(path).read()) == 3
    assert len(said) == 1, [str(w.message) for w in said]
    text = str(said[0].message)
    assert text.startswith(f"{path}: 200 lines are skipped"), text
    assert "line 4 is damaged; line 5 is damaged" in text and "line 9 " not in text
    assert text.endswith("and 195 more, up to line 203")


def test_one_damaged_line_is_told_as_before(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(_good(2) + '{"step": 3, "kind": "tra\n' + _good(1))
    with pytest.warns(UserWarning) as said:
        JsonlLog(path).read()
    assert [str(w.message) for w in said] == [f"{path}: line 3 is damaged and skipped"]


def test_lines_appended_later_are_told_in_their_own_read_once(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(_good(1) + "[1]\n42\n")
    log = JsonlLog(path)
    with pytest.warns(UserWarning) as said:
        log.read()
    assert len(said) == 1 and "2 lines are skipped" in str(said[0].message)
    assert "line 2 is an array, not a record (a JSON object); line 3 is a number" in str(said[0].message)
    with path.open("a") as f:
        f.write("null\n")
    with pytest.warns(UserWarning) as said:
        log.read()
    assert [str(w.message) for w in said] == [
        f"{path}: line 4 is null, not a record (a JSON object), and is skipped"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")        # lines warned of before: not again
        log.read()


def test_a_resume_rewriting_the_records_warns_once(tmp_path):
    """truncate_records parses lines appended since the last read as it copies them."""
    folder = RunFolder(tmp_path)
    folder.records_path.write_text(_good(4))
    folder.records()
    with folder.records_path.open("a") as f:
        f.write("garbage\n" * 50 + '{"step": 5, "kind": "train"}\n')
    with pytest.warns(UserWarning) as said:
        folder.truncate_records(2)
    assert len(said) == 1 and "50 lines are skipped" in str(said[0].message), [str(w.message) for w in said]
    assert [r["step"] for r in folder.records()] == [1, 2]
