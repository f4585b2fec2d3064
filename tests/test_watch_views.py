"""What watching a run shows: TensorBoard curves kept apart by eval settings, samples of points of
more than two dimensions, the live page rebuilt after an evaluation, and the report's evaluation
panels (a framed legend; no curve of a number that describes the data)."""
from types import SimpleNamespace

from gankit import config as C
from gankit.train import watch
from gankit.train.run import Run


def _events(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    ea = EventAccumulator(str(folder), size_guidance={"images": 0, "scalars": 0})
    ea.Reload()
    return ea


def test_an_evaluation_at_other_eval_settings_gets_its_own_tensorboard_curve(tmp_path, tiny):
    from gankit import api
    cfg = C.load("ring", tiny + ["train.steps=10", "train.sample_every=10", "train.tensorboard=true",
                                 'eval.metrics=["modes"]', "train.live_report=false"])
    run = Run.create(cfg, tmp_path / "r").train()
    run.close()
    api.evaluate(tmp_path / "r", ["modes"], reference=False, log=None)          # the run's own settings
    api.evaluate(tmp_path / "r", ["modes"], overrides=["eval.n_samples=20"], reference=False, log=None)
    ea = _events(tmp_path / "r" / "tensorboard")
    # one curve per settings: the 20-sample point is not a second value of step 10 on the run's curve
    assert [e.step for e in ea.Scalars("eval/modes_covered")] == [10]
    assert [e.step for e in ea.Scalars("eval/modes_covered@n_samples=20")] == [10]
    assert "eval/hq_fraction@n_samples=20" in ea.Tags()["scalars"]


def test_points_of_three_dimensions_show_their_first_two_coordinates(tmp_path, tiny):
    cfg = C.load("ring", tiny + ["data.name=gmm", "data.dim=3", "train.tensorboard=true",
                                 'eval.metrics=["modes"]', "train.live_report=false"])
    run = Run.create(cfg, tmp_path / "r").train()
    run.close()
    images = _events(run.folder.tensorboard_dir).Tags()["images"]
    assert images == ["samples/first_two_coordinates"], images
    assert len(_events(run.folder.tensorboard_dir).Images("samples/first_two_coordinates")) == 3   # 0, 15, 30


class _Clock:
    now = 0.0

    def perf_counter(self):
        return self.now


def test_live_page_is_rebuilt_after_an_evaluation_within_the_budget(tmp_path, monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(watch, "time", clock)
    rebuilds = []

    def write_report(run_dir, dataset=None, live=False):
        rebuilds.append((clock.now, live))
        clock.now += 1.0
    monkeypatch.setattr("gankit.report.write_report", write_report)
    run = SimpleNamespace(dir=tmp_path, dataset=None, folder=SimpleNamespace(records_path=tmp_path / "none"),
                          cfg=SimpleNamespace(train=SimpleNamespace(steps=1000)))
    lr = watch.LiveReport(run, share=0.1)
    seen = lambda r: getattr(lr, "on_record", lambda r: None)(r)     # as Run.log calls its watchers
    clock.now = 5.0
    seen({"step": 100, "kind": "eval", "modes_covered": 8})
    assert rebuilds == [], "5 s into training a 1 s rebuild is over 10% of the time: skipped"
    clock.now = 20.0
    seen({"step": 400, "kind": "train", "loss_d": 1.0})
    assert rebuilds == [], "a train record is no reason to rebuild the page"
    seen({"step": 500, "kind": "eval", "modes_covered": 8})
    assert rebuilds == [(20.0, True)], "an evaluation mid-training rebuilds the live page"
    clock.now = 200.0
    seen({"step": 1000, "kind": "eval", "modes_covered": 8})     # the last step: close() writes the page
    lr.close()
    assert rebuilds == [(20.0, True), (200.0, False)]


def test_short_run_without_a_snapshot_mid_training_rebuilds_the_page_after_its_evaluation(tmp_path, tiny,
                                                                                          monkeypatch):
    """sample_every = steps: snapshots at 0 and the last step only; the evaluation of step 15 is
    what the live page has to show mid-training."""
    written = []
    monkeypatch.setattr("gankit.report.write_report", lambda *a, live=False, **k: written.append((run.step, live)))
    cfg = C.load("ring", tiny + ["train.sample_every=30", "train.eval_every=15", 'eval.metrics=["modes"]',
                                 "train.live_report=true"])
    run = Run.create(cfg, tmp_path / "r")

    class NoBudget(watch.LiveReport):     # no time budget in the test (the budget: the test above)
        def __init__(self, run, final=True):
            super().__init__(run, share=1e9, final=final)
    monkeypatch.setattr(watch, "LiveReport", NoBudget)
    run.train()
    assert (15, True) in written, f"no live rebuild after the evaluation of step 15: {written}"


def _eval_figure(evals, reference):
    from gankit.report.metricinfo import key_infos
    from gankit.report.plots import figure_eval
    keys = ["modes_covered", "reverse_kl", "modes_total"]
    return figure_eval(evals, keys, key_infos(), reference)


def test_eval_figure_draws_no_data_constant_and_frames_its_legends():
    evals = [{"step": s, "kind": "eval", "modes_covered": 8, "modes_total": 8,
              "reverse_kl": v} for s, v in ((100, "inf"), (200, 0.5), (300, "inf"), (400, 0.2))]
    reference = {"kind": "reference", "modes_covered": 8, "modes_total": 8, "reverse_kl": 0.01}
    fig = _eval_figure(evals, reference)
    panels = [ax for ax in fig.axes if ax.axison]
    titles = [ax.get_title(loc="left") for ax in panels]
    assert len(panels) == 2 and not any("modes in the data" in t for t in titles), titles
    assert any("modes covered" in t.lower() for t in titles), titles     # flat at 8 by result: drawn
    for ax in panels:
        legend = ax.get_legend()
        assert legend is not None and legend.get_frame_on() and legend.get_frame().get_alpha() >= 0.8
        assert legend._loc == 0, "placed where it covers least (loc='best')"
    # a description that changes (or has no real-data row to match) is still drawn
    moved = [dict(r, modes_total=9 if r["step"] == 400 else 8) for r in evals]
    assert len([ax for ax in _eval_figure(moved, reference).axes if ax.axison]) == 3
