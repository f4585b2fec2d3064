"""The report and compare on big run folders (audit a96): long curves drawn thinned, only the
snapshots drawn read, compare's step the report's, and many runs' text table one row per run."""
import json
import math
import shutil

import numpy as np
import pytest

from gankit.report import axes, plots
from gankit.report import compare as CMP
from gankit.report.snapshots import Snapshots
from gankit.runfolder import RunFolder


def _records(n: int, spike: int | None = None, infs=()) -> list[dict]:
    rng = np.random.default_rng(0)
    out = []
    for s in range(1, n + 1):
        v = 1.0 + 0.3 * math.sin(s / 500) + 0.05 * float(rng.normal())
        out.append({"step": s, "kind": "train", "loss_d": 50.0 if s == spike else ("inf" if s in infs else v)})
    return out


def _loss_panel(fig):
    (ax,) = [a for a in fig.axes if a.get_title(loc="left") == "losses"]
    return ax


def test_a_long_curve_is_thinned_but_keeps_its_spike_and_its_infinities():
    """A 1M-record report drew every point (a solid band, 55 s, 2.85 GB)."""
    recs = _records(20_000, spike=12_345, infs=(7_000, 15_000))
    ax = _loss_panel(plots.figure_curves(recs))
    line = max(ax.get_lines(), key=lambda ln: len(ln.get_xdata()))
    x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
    assert len(x) <= axes.MAX_DRAWN
    assert np.nanmax(y) == 50.0 and x[np.nanargmax(y)] == 12_345
    assert x[0] == 1 and x[-1] == 20_000 and np.isnan(y).sum() == 2      # the line breaks at each inf
    assert set(x[np.isnan(y)]) == {7_000, 15_000}
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "loss_d = inf at steps 7000, 15000" in legend


def test_the_infinities_are_summarised_from_every_point():
    infs = tuple(range(2, 20_001, 2))          # every other point: 10,000 of them
    recs = _records(20_000, infs=infs)
    ax = _loss_panel(plots.figure_curves(recs))
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "loss_d = inf at steps 2, 4, 6, 8 and 9996 more" in legend
    marks = [ln for ln in ax.get_lines() if ln.get_marker() == "^"]
    assert marks and len(marks[0].get_xdata()) <= axes.BINS


def test_a_short_curve_is_drawn_as_it_is():
    recs = _records(3_000, spike=100, infs=(50,))
    ax = _loss_panel(plots.figure_curves(recs))
    line = max(ax.get_lines(), key=lambda ln: len(ln.get_xdata()))
    steps, values, _, _ = axes._series(recs, "loss_d")
    assert list(line.get_xdata()) == steps
    assert np.array_equal(np.asarray(line.get_ydata(), float), np.asarray(values), equal_nan=True)


class _Folder:
    """A RunFolder's snapshot methods over steps 0, 10, ..., some files damaged."""

    def __init__(self, n: int, damaged=(), keys=("samples",)):
        self.steps, self.damaged, self.keys, self.read = list(range(0, 10 * n, 10)), set(damaged), keys, []

    def snapshot_steps(self):
        return list(self.steps)

    def snapshot(self, step):
        self.read.append(step)
        if step in self.damaged:
            return None
        return {"step": np.int64(step), **{k: np.zeros(1) for k in self.keys}}


def test_only_the_drawn_snapshots_are_read_and_a_damaged_one_gives_way_to_a_neighbour():
    f = _Folder(1000, damaged={9990, 4000})
    shots = Snapshots(f)
    got = [int(s["step"]) for s in shots.spread(6)]
    assert got == [0, 2000, 4010, 5990, 7990, 9980]
    assert len(f.read) == 8
    assert [int(s["step"]) for s in shots.last()] == [9980] and len(f.read) == 8      # read once
    assert [int(s["step"]) for s in shots.ends()] == [0, 9980]


def test_the_newest_snapshot_with_a_key_is_found_without_keeping_the_others():
    f = _Folder(50, keys=("samples", "neighbours"))
    assert [int(s["step"]) for s in Snapshots(f).newest_with("neighbours")] == [490] and f.read == [490]
    f = _Folder(50)
    shots = Snapshots(f)
    assert shots.newest_with("neighbours") == [] and len(f.read) == 50 and not shots._read


def test_the_report_reads_only_the_snapshots_it_draws(tiny_run_dir, tmp_path, monkeypatch):
    """1,003 image snapshots: every one was loaded (1.08 GB) to draw 6."""
    from gankit.report import report_context
    run = tmp_path / "run"
    shutil.copytree(tiny_run_dir, run)
    folder = RunFolder(run)
    snap = folder.snapshot(30)
    for step in range(31, 71):
        folder.save_snapshot(step, {k: v for k, v in snap.items() if k != "step"})
    (run / "samples" / "step_00000070.npz").write_bytes(b"not a zip")      # the newest, damaged
    loads = []
    real = RunFolder._load_snapshot
    monkeypatch.setattr(RunFolder, "_load_snapshot", lambda self, p: loads.append(p.name) or real(self, p))
    with pytest.warns(UserWarning, match="damaged snapshot"):
        ctx = report_context(run)
    assert len(loads) <= 7 and loads[-1] == "step_00000069.npz", loads       # its neighbour instead
    (samples,) = [s for s in ctx["sections"] if s.anchor == "samples"]
    assert samples.figure is not None
    assert ("snapshots", "42") in ctx["facts"]      # the damaged one is not counted


def test_compare_gives_the_reports_step_for_a_run_stopped_after_a_snapshot(tiny_run_dir, tmp_path):
    """Records and checkpoint to 20, a snapshot at 30: the report said 30, compare 20."""
    from gankit.report import report_context
    run = tmp_path / "run"
    shutil.copytree(tiny_run_dir, run)
    f = RunFolder(run)
    lines = [json.loads(s) for s in f.records_path.read_text().splitlines()]
    f.records_path.write_text("".join(json.dumps(r) + "\n" for r in lines if r["step"] <= 20))
    (run / "checkpoints" / "step_00000030.pt").unlink()
    assert report_context(run)["step"] == 30
    data = CMP.compare_data([run])
    assert data["runs"][0]["step"] == 30
    assert CMP.to_text(data).splitlines()[2].split()[-1] == "30"


def test_a_damaged_newest_snapshot_is_no_step_reached_nor_counted(tiny_run_dir, tmp_path):
    """A copy cut short at step 40 (and a foreign npz without a step at 50) of a run trained to 30:
    the report said "step 40 of 30" and 5 snapshots, compare step 40."""
    from gankit.report import report_context
    run = tmp_path / "run"
    shutil.copytree(tiny_run_dir, run)
    samples = run / "samples"
    (samples / "step_00000040.npz").write_bytes((samples / "step_00000030.npz").read_bytes()[:100])
    np.savez(samples / "step_00000050.npz", samples=np.zeros((2, 2)))
    with pytest.warns(UserWarning, match="damaged snapshot"):       # the panels' choice falls back
        ctx = report_context(run)
    assert ctx["step"] == 30
    assert ("snapshots", "3") in ctx["facts"]
    with pytest.warns(UserWarning, match="damaged snapshot"):
        snaps = Snapshots(RunFolder(run))
        assert snaps.whole_steps() == [0, 15, 30] and snaps.newest_whole() == [30]
        assert [int(s["step"]) for s in snaps.last()] == [30]
    assert CMP.compare_data([run])["runs"][0]["step"] == 30


def _many(n: int) -> dict:
    runs = [{"name": f"run{i:02d}", "path": f"/x/run{i:02d}", "step": 6000, "state": "finished", "total_steps": 6000, "eval_step": 6000 if i else None}
            for i in range(n)]
    covered = [6 if i % 3 == 0 else i % 3 for i in range(n)]
    metrics = [{"key": "modes_covered", "better": "higher", "shown": [str(c) for c in covered],
                "best": [i for i, c in enumerate(covered) if c == 6]},
               {"key": "reverse_kl", "better": "lower", "shown": [f"{0.1 + i / 100:.3f}" for i in range(n)],
                "best": [0]},
               {"key": "birthday_support", "better": None, "shown": ["12"] * n, "best": []}]
    return {"runs": runs, "metrics": metrics, "note": "",
            "config_diff": [{"key": "seed", "values": list(range(n))}]}


def test_many_runs_make_one_row_each():
    """60 runs wrote 873-character rows, one column per run."""
    text = CMP.to_text(_many(60))
    lines = text.splitlines()
    assert max(len(s) for s in lines) <= 120, max(lines, key=len)
    head = lines[0].split()
    assert head == ["run", "step", "state", "eval", "step", "modes_covered", "reverse_kl", "birthday_support"]
    rows = [s for s in lines if s.startswith("run") and s.split()[0] != "run"]
    assert [s.split()[0] for s in rows[:60]] == [f"run{i:02d}" for i in range(60)]      # the order given
    assert rows[0].split()[1:] == ["6000", "of", "6000", "finished", "none", "6", "*", "0.100", "*", "12"]
    assert rows[3].split()[6:8] == ["6", "*"] and "*" not in rows[1]
    assert "higher is better: modes_covered" in text and "lower is better: reverse_kl" in text
    assert "* the better value" in text
    seeds = lines[lines.index("config differences:") + 1:]
    assert seeds[0].split() == ["run", "seed"] and seeds[2].split() == ["run00", "0"]
    assert seeds[-1].split() == ["run59", "59"]


def test_few_runs_keep_one_column_each():
    lines = CMP.to_text(_many(3)).splitlines()
    assert lines[0].split() == ["run", "run00", "run01", "run02"]
    assert lines[3].split() == ["state", "finished", "finished", "finished"]
    assert lines[5].split()[:4] == ["modes_covered", "6", "*", "1"] and "(higher is better)" in lines[5]


def test_runs_stay_one_column_each_where_one_row_each_would_be_wider():
    """8 runs of a full evaluation (27 metrics): the turned table had 307 columns, the other 153."""
    data = _many(8)
    data["metrics"] = [dict(m, key=f"{m['key']}_{j}") for j in range(9) for m in data["metrics"]]
    lines = CMP.to_text(data).splitlines()
    assert lines[0].split() == ["run"] + [f"run{i:02d}" for i in range(8)]
    assert max(len(s) for s in lines) < 160
