"""metrics.jsonl read once per process (then only what was appended), the run's result printed
from its final evaluation, and snapshots listed without being loaded."""
import json
import os
import types
import warnings

import numpy as np
import pytest

from gankit.runfolder import RunFolder


def fresh(folder: RunFolder) -> list[dict]:
    """The records as a parse of the whole file gives them."""
    out = []
    for line in folder.records_path.read_text().split("\n"):
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if isinstance(r, dict) and isinstance(r.get("step"), int):
            out.append(r)
    return out


@pytest.fixture
def parses(monkeypatch):
    """How many lines gankit.io.jsonl parsed (json.loads calls)."""
    import gankit.io.jsonl
    count = [0]

    class Counting:
        def __getattr__(self, name):
            return getattr(json, name)

        def loads(self, text, **kw):
            count[0] += 1
            return json.loads(text, **kw)
    monkeypatch.setattr(gankit.io.jsonl, "json", Counting())
    return count


def test_records_after_appends_equal_a_fresh_parse_and_only_new_lines_are_parsed(tmp_path, parses):
    f = RunFolder(tmp_path / "run")
    for i in range(50):
        f.append({"step": i, "kind": "train", "loss": i / 3})
    assert f.records() == fresh(f) and parses[0] == 50
    assert f.records("train") == fresh(f) and parses[0] == 50       # nothing new: nothing parsed
    f.append({"step": 50, "kind": "eval", "x": float("inf")})
    with open(f.records_path, "a") as other:                        # another process's record
        other.write(json.dumps({"step": 51, "kind": "eval"}) + "\n")
    assert RunFolder(tmp_path / "run").records() == fresh(f) and parses[0] == 52
    assert [r["step"] for r in f.records("eval")] == [50, 51]


def test_a_torn_last_line_is_read_once_its_newline_comes(tmp_path):
    f = RunFolder(tmp_path / "run")
    f.append({"step": 1, "kind": "train"})
    with open(f.records_path, "a") as w:
        w.write('{"step": 2, "ki')
    with pytest.warns(UserWarning, match="line 2 is damaged"):
        assert [r["step"] for r in f.records()] == [1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # warned of once
        assert [r["step"] for r in f.records()] == [1]
        with open(f.records_path, "a") as w:
            w.write('nd": "eval"}\n')
        assert f.records() == fresh(f) and [r["step"] for r in f.records("eval")] == [2]


def test_a_rewrite_is_read_whole_again(tmp_path):
    from gankit.io import write_text_atomic
    f = RunFolder(tmp_path / "run")
    for i in range(3):
        f.append({"step": i, "kind": "train"})
    assert len(f.records()) == 3
    # replaced by another file (an atomic rewrite), longer than what was read
    write_text_atomic(f.records_path, "".join(json.dumps({"step": 10 + i, "kind": "eval"}) + "\n" for i in range(5)))
    assert f.records() == fresh(f) and [r["step"] for r in f.records()] == [10, 11, 12, 13, 14]
    # rewritten in place to the same size: another mtime says so
    st = os.stat(f.records_path)
    text = f.records_path.read_text().replace('"eval"', '"evam"')
    f.records_path.write_text(text)
    os.utime(f.records_path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert f.records() == fresh(f) and f.records("eval") == []
    # rewritten in place, longer: the bytes before the point read differ
    f.records_path.write_text(text.replace('"evam"', '"eval"') + json.dumps({"step": 20}) + "\n")
    assert f.records() == fresh(f) and len(f.records("eval")) == 5
    f.records_path.write_text(json.dumps({"step": 1}) + "\n")       # cut
    assert [r["step"] for r in f.records()] == [1]


def test_a_caller_that_changes_its_list_changes_no_other_result(tmp_path):
    f = RunFolder(tmp_path / "run")
    for i in range(3):
        f.append({"step": i, "kind": "train"})
    got = f.records()
    got.append({"step": 99, "kind": "eval"})
    got.pop(0)
    f.records("train").clear()
    assert [r["step"] for r in f.records()] == [0, 1, 2] and f.records("eval") == []


def test_truncate_streams_keeps_lines_as_written_and_the_cache_coherent(tmp_path, parses):
    f = RunFolder(tmp_path / "run")
    for i in range(10):
        f.append({"step": i, "kind": "train", "v": 0.1 * i})
    lines = f.records_path.read_text().split("\n")
    inode = os.stat(f.records_path).st_ino
    f.truncate_records(20)                  # nothing dropped: the file is left as it is
    assert os.stat(f.records_path).st_ino == inode
    with open(f.records_path, "a") as w:
        w.write("{damaged\n")
    with pytest.warns(UserWarning, match="line 11 is damaged"):
        f.truncate_records(4)
    assert f.records_path.read_text() == "\n".join(lines[:5]) + "\n"
    n = parses[0]
    assert f.records() == fresh(f) and parses[0] == n == 11         # the rewrite parsed nothing again
    f.append({"step": 5, "kind": "eval"})
    assert f.records() == fresh(f) and parses[0] == n + 1


def test_the_cli_prints_the_final_evaluation_not_a_later_quick_look(tmp_path, monkeypatch, capsys):
    from gankit import api, cli
    folder = RunFolder(tmp_path / "run")
    final = {"modes_covered": 7, "modes_total": 8, "hq_fraction": 0.9, "reverse_kl": 0.123}
    folder.append({"step": 200, "kind": "eval", "source": "final", "settings": {}, **final})
    folder.append({"step": 200, "kind": "eval", "source": "gankit eval", "settings": {"n_samples": 100},
                   "modes_covered": 1, "modes_total": 8, "hq_fraction": 0.02, "reverse_kl": 2.079})
    run = types.SimpleNamespace(is_main=True, final_result=final, folder=folder, dir=folder.path, step=200)
    monkeypatch.setattr(api, "train", lambda *a, **k: run)
    assert cli.main(["train", "--resume", "--out", str(folder.path)]) in (0, None)
    out = capsys.readouterr().out
    assert "step 200: modes covered 7/8, high quality 90.0%, reverse KL 0.123" in out and "2.079" not in out


def test_api_train_hands_back_the_record_it_reused(tmp_path, tiny):
    from gankit import api
    run_dir = tmp_path / "run"
    sets = tiny + ["train.steps=10", 'eval.metrics=["modes"]', "train.eval_every=0"]
    first = api.train("ring-vanilla", out=run_dir, overrides=sets, report=False, log=None)
    api.evaluate(run_dir, ["modes"], ["eval.n_samples=50"], source="gankit eval")
    again = api.train(out=run_dir, resume=True, report=False, log=None)
    assert again.final_result == first.final_result and first.final_result["modes_total"] == 8


def test_snapshot_steps_and_one_snapshot(tmp_path, monkeypatch):
    f = RunFolder(tmp_path / "run")
    for s in (30, 5):
        f.save_snapshot(s, {"x": np.full(3, s)})
    (f.samples_dir / "step_00000040.npz").write_bytes(b"not a zip")
    (f.samples_dir / "step_7.npz").write_bytes((f.samples_dir / "step_00000005.npz").read_bytes())
    loads = []
    real = np.load
    monkeypatch.setattr(np, "load", lambda *a, **k: loads.append(a) or real(*a, **k))
    assert f.snapshot_steps() == [5, 7, 30, 40] and loads == []        # from the names alone
    assert f.snapshot(30)["x"].tolist() == [30] * 3 and len(loads) == 1
    assert int(f.snapshot(7)["step"]) == 5                               # a name with fewer digits
    assert f.snapshot(6) is None
    with pytest.warns(UserWarning, match="step_00000040.npz: damaged snapshot skipped"):
        assert f.snapshot(40) is None
    with pytest.warns(UserWarning, match="damaged snapshot skipped"):
        assert [int(s["step"]) for s in f.snapshots()] == [5, 5, 30]
