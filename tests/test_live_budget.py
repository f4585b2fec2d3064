"""The live page's first rebuild of a session is budgeted from the folder's size: a resumed long
run (a big metrics.jsonl) does not spend its first minute rebuilding a page that costs 30 s."""
from types import SimpleNamespace

from gankit.train import watch


class Clock:
    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now


def _live(tmp_path, monkeypatch, log_bytes: int, rebuild_seconds: float):
    """A LiveReport over a folder whose metrics.jsonl has ``log_bytes`` (sparse: nothing is parsed),
    on a faked clock where each rebuild takes ``rebuild_seconds``."""
    clock = Clock()
    monkeypatch.setattr(watch, "time", clock)
    log = tmp_path / "metrics.jsonl"
    with open(log, "wb") as f:
        f.truncate(log_bytes)
    rebuilds = []

    def write_report(run_dir, dataset=None, live=False):
        rebuilds.append(clock.now)
        clock.now += rebuild_seconds
    monkeypatch.setattr("gankit.report.write_report", write_report)
    run = SimpleNamespace(dir=tmp_path, dataset=None, folder=SimpleNamespace(records_path=log),
                          cfg=SimpleNamespace(train=SimpleNamespace(steps=10**9)))
    return watch.LiveReport(run, share=0.1), clock, rebuilds


def _session(lr, clock, seconds: float):
    """A snapshot every second of training for ``seconds``."""
    step = 0
    while clock.now < seconds:
        clock.now += 1.0
        step += 100
        lr.on_snapshot(step, {})


def test_first_rebuild_of_a_big_folder_keeps_within_the_share(tmp_path, monkeypatch):
    # the audit's resumed run: a 79 MB log whose first rebuild took 31.6 s, a 136 s session
    lr, clock, rebuilds = _live(tmp_path, monkeypatch, 79_000_000, 31.6)
    _session(lr, clock, 136.0)
    assert lr.spent <= 0.1 * clock.now, f"{lr.spent:.1f} s of rebuilds in a {clock.now:.0f} s session"
    _session(lr, clock, 400.0)            # a session long enough for it: the page is rebuilt
    assert rebuilds and rebuilds[0] >= 300.0 and lr.spent <= 0.1 * clock.now


def test_small_folder_rebuilds_after_about_ten_seconds(tmp_path, monkeypatch):
    lr, clock, rebuilds = _live(tmp_path, monkeypatch, 20_000, 0.5)
    _session(lr, clock, 30.0)
    assert rebuilds and rebuilds[0] <= 11.0
    assert lr.spent <= 0.1 * clock.now


def test_new_run_without_a_log_is_expected_to_take_a_second(tmp_path):
    assert watch.rebuild_estimate(tmp_path / "missing.jsonl") == watch.REBUILD_SECONDS_MIN


def _tensorboard(tmp_path, monkeypatch, figure_seconds: float):
    """A TensorBoardWriter on a faked clock and a fake SummaryWriter, each snapshot's samples
    taking ``figure_seconds``; returns it, the clock, the steps drawn and the scalars written."""
    from gankit import config as C
    clock = Clock()
    monkeypatch.setattr(watch, "time", clock)
    drawn, scalars = [], []

    class Writer:
        def __init__(self, **kw):
            pass

        def add_text(self, *a):
            pass

        def add_scalar(self, tag, value, step):
            scalars.append(step)

        def close(self):
            pass

    def snapshot(self, step, arrays):
        drawn.append(step)
        clock.now += figure_seconds
    monkeypatch.setattr(watch, "_summary_writer", lambda: Writer)
    monkeypatch.setattr(watch.TensorBoardWriter, "_snapshot", snapshot)
    run = SimpleNamespace(cfg=C.load("ring", ["train.tensorboard=true"]), step=0,
                          folder=SimpleNamespace(tensorboard_dir=tmp_path))
    return watch.TensorBoardWriter(run), clock, drawn, scalars


def test_tensorboard_figures_keep_within_their_share(tmp_path, monkeypatch):
    # the audit's run: 2000 steps, a snapshot every 20 (0.265 s of training apart), 0.4 s a figure
    tb, clock, drawn, scalars = _tensorboard(tmp_path, monkeypatch, 0.4)
    for step in range(0, 2001, 20):
        tb.on_record({"step": step, "kind": "train", "loss_d": 1.0})
        tb.on_snapshot(step, {})
        clock.now += 0.265
    spent = 0.4 * len(drawn)
    assert spent <= max(5.0, 0.1 * clock.now) + 0.4, f"{spent:.1f} s of figures in {clock.now:.1f} s"
    assert drawn[0] == 0 and 0 < len(drawn) < 101
    assert len(scalars) == 101, "every record's scalars are written, figures skipped or not"


def test_tensorboard_short_run_shows_every_snapshot(tmp_path, monkeypatch):
    tb, clock, drawn, _ = _tensorboard(tmp_path, monkeypatch, 0.3)
    for step in range(0, 101, 10):
        tb.on_snapshot(step, {})
        clock.now += 0.1
    assert drawn == list(range(0, 101, 10))


def test_tensorboard_shows_the_last_steps_samples(tmp_path, monkeypatch):
    tb, clock, drawn, _ = _tensorboard(tmp_path, monkeypatch, 10.0)    # each over the whole budget
    last = tb.run.cfg.train.steps
    for step in (0, last // 2, last):
        tb.on_snapshot(step, {})
        clock.now += 1.0
    assert drawn == [0, last]
