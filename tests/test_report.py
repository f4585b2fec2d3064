import numpy as np

from gankit.report.plots import pick_snapshots, plot_samples_file


def test_sample_plot_of_images_is_a_grid(tmp_path):
    x = np.random.default_rng(0).uniform(-1, 1, size=(9, 1, 8, 8)).astype(np.float32)
    plot_samples_file(None, x, tmp_path / "g.png")
    import matplotlib.image as mpimg
    img = mpimg.imread(tmp_path / "g.png")
    k = 512 // (3 * 8 + 2)                            # enlarged by a whole factor to ~512 pixels
    assert img.shape[:2] == (k * (3 * 8 + 2), k * (3 * 8 + 2))     # 3 x 3 tiles with 1-pixel gaps
    assert np.array_equal(img[::k, ::k], img[k - 1::k, k - 1::k])   # each pixel a k x k block


def test_pick_snapshots_keeps_first_and_last():
    snaps = [{"step": i} for i in range(20)]
    got = [s["step"] for s in pick_snapshots(snaps, 6)]
    assert got[0] == 0 and got[-1] == 19 and len(got) == 6
    assert pick_snapshots(snaps[:3], 6) == snaps[:3]


def test_report_of_an_image_run_needs_no_checkpoint(tmp_path, digits):
    """Everything the report draws, model figures included, comes from the snapshots."""
    import shutil

    from gankit import config as C
    from gankit.report import write_report
    from gankit.train.run import Run
    run = Run.create(C.load("mnist-dcgan", digits + ["train.steps=3"]), tmp_path / "r").train()
    shutil.rmtree(run.dir / "checkpoints")
    (run.dir / "report.html").unlink(missing_ok=True)
    page = write_report(run.dir).read_text()
    for heading in ("Samples from fixed noise", "Nearest training images", "Linear interpolation in z"):
        assert heading in page, heading
    assert "Step 3" in page          # the last step got its snapshot although 3 % sample_every != 0
    assert "not available" not in page


def test_conditional_image_report_has_the_interpolation(tmp_path, digits):
    from gankit import config as C
    from gankit.report import write_report
    from gankit.train.run import Run
    cfg = C.load("mnist-dcgan", digits + ["condition.kind=label", "condition.d_mode=projection"])
    run = Run.create(cfg, tmp_path / "c").train()
    page = write_report(run.dir).read_text()
    assert "Linear interpolation in z" in page and "per condition" in page
    assert "not available" not in page


def test_log_axes_are_labelled_in_plain_numbers_not_raw_math():
    from gankit.report.plots import figure_curves, figure_lr
    recs = [{"step": s, "grad_norm_d": 3.0 + s, "grad_norm_g": 0.02 * (s + 1), "lr_d": 1e-2 * 0.5 ** s}
            for s in range(12)]
    for fig in (figure_curves(recs), figure_lr(recs)):
        fig.canvas.draw()
        logs = [ax for ax in fig.axes if ax.get_yscale() == "log"]
        assert logs
        labels = [t.get_text() for ax in logs for minor in (False, True)
                  for t in ax.get_yticklabels(minor=minor) if t.get_text()]
        assert labels and not any("$" in t or "mathdefault" in t for t in labels), labels


def _legend_texts(fig) -> list[str]:
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    return [t.get_text() for lg in legends for t in lg.get_texts()]


def test_infinite_values_are_marked_not_dropped_from_the_curves():
    """jsonable writes inf as "inf": the step still shows, as a marker at the panel's edge
    named in the legend, and the line breaks there rather than joining its neighbours."""
    import math

    import matplotlib.pyplot as plt

    from gankit.report.metricinfo import key_infos
    from gankit.report.plots import figure_curves, figure_eval
    evals = [{"step": s, "kind": "eval", "reverse_kl": v} for s, v in ((10, "inf"), (20, 2.1), (30, "inf"))]
    fig = figure_eval(evals, ["reverse_kl"], key_infos())
    texts = _legend_texts(fig)
    assert any("inf at steps 10, 30" in t for t in texts), texts
    ax = fig.axes[0]
    marks = [ln for ln in ax.lines if ln.get_marker() == "^"]
    assert marks and list(marks[0].get_xdata()) == [10, 30] and list(marks[0].get_ydata()) == [1.0, 1.0]
    finite = [y for ln in ax.lines if ln.get_marker() == "o" for y in ln.get_ydata() if not math.isnan(y)]
    assert finite == [2.1]
    plt.close(fig)
    recs = [{"step": s, "kind": "train", "loss_d": v} for s, v in ((1, 0.5), (2, "-inf"), (3, 0.4))]
    fig = figure_curves(recs)
    assert any("loss_d = -inf at step 2" in t for t in _legend_texts(fig)), _legend_texts(fig)
    plt.close(fig)


def test_samples_off_the_d_grid_are_shown_or_counted():
    """G's samples outside the data's bounds: a frame widened to show those just outside, a
    count in the title of those far out, and a histogram normalised by all samples."""
    import matplotlib.pyplot as plt

    from gankit.report.plots import figure_1d, figure_2d
    grid = np.linspace(-0.1, 4.1, 200)
    p = np.exp(-0.5 * (grid - 2) ** 2 / 0.25) / np.sqrt(2 * np.pi * 0.25)
    near = {"step": 0, "samples": np.linspace(-0.21, -0.11, 100)[:, None]}
    half = {"step": 5, "samples": np.concatenate([np.linspace(1.0, 3.0, 100), np.full(100, 1e3)])[:, None]}
    fig = figure_1d([near, half], grid, p, np.zeros(10))
    a, b = fig.axes[0], [ax for ax in fig.axes if ax.get_title().startswith("step 5")][0]
    assert a.get_xlim()[0] <= -0.21 and "outside" not in a.get_title()
    assert "50% of samples outside the frame" in b.get_title()
    assert b.get_xlim()[1] < 10          # a diverged half does not squeeze the data into a corner

    def area(poly):                      # the step outline's integral (shoelace)
        x, y = poly.get_xy().T
        return abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) / 2
    greens = [pt for pt in b.patches if pt.get_edgecolor()[:3] == (0.0, 0.5019607843137255, 0.0)]
    assert greens and abs(area(greens[0]) - 0.5) < 0.02
    plt.close(fig)
    g = np.stack(np.meshgrid(np.linspace(-1, 1, 10), np.linspace(-1, 1, 10)), -1).reshape(-1, 2)
    snap = {"step": 3, "grid": g, "grid_shape": [10, 10], "d_grid": np.full(100, 0.5),
            "samples": np.array([[0.0, 0.0], [1.5, 0.0], [40.0, 40.0], [0.2, -0.3]])}
    fig = figure_2d([snap], np.zeros((5, 2)))
    ax = fig.axes[0]
    assert ax.get_xlim()[1] >= 1.5 and ax.get_xlim()[1] < 40
    assert "25% of samples outside the frame" in ax.get_title()
    plt.close(fig)


def test_log_axis_labels_are_distinct_readable_and_sized_alike():
    """A log panel from 0.149 to 0.287 read "3e-01, 3e-01, 2e-01 ..."; minor labels were larger
    than the major ones; the learning rate's labels collided."""
    import matplotlib.pyplot as plt

    from gankit.report.plots import figure_curves, figure_lr
    narrow = [{"step": s, "grad_norm_d": 0.149 + 0.0125 * s, "grad_norm_g": 0.2} for s in range(12)]
    lr = [{"step": s, "lr_d": 5e-4 * 0.66 ** s, "lr_g": 4e-4 * 0.66 ** s} for s in range(12)]
    for fig in (figure_curves(narrow), figure_lr(lr)):
        fig.canvas.draw()
        r = fig.canvas.get_renderer()
        ax = [ax for ax in fig.axes if ax.get_yscale() == "log"][0]
        lo, hi = sorted(ax.get_ylim())
        shown = [t for minor in (False, True) for t in ax.get_yticklabels(minor=minor)
                 if t.get_text() and t.get_visible() and lo <= t.get_position()[1] <= hi]
        texts = [t.get_text() for t in shown]
        assert len(texts) >= 3 and len(set(texts)) == len(texts), texts
        assert {t.get_fontsize() for t in shown} == {7}, texts
        boxes = [t.get_window_extent(r) for t in shown]
        assert not any(boxes[i].overlaps(boxes[j]) for i in range(len(boxes)) for j in range(i)), texts
        plt.close(fig)


def test_sample_legend_covers_no_data():
    """The legend sat inside the first panel, on the data, with a huge "modes" marker."""
    import matplotlib.pyplot as plt

    from gankit.report.plots import figure_2d
    ring = np.stack([np.cos(np.arange(8) * np.pi / 4), np.sin(np.arange(8) * np.pi / 4)], 1)
    g = np.stack(np.meshgrid(np.linspace(-1.2, 1.2, 10), np.linspace(-1.2, 1.2, 10)), -1).reshape(-1, 2)
    snaps = [{"step": s, "grid": g, "grid_shape": [10, 10], "d_grid": np.full(100, 0.5), "samples": ring * 0.9}
             for s in (0, 5)]
    fig = figure_2d(snaps, ring, modes=ring)
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    assert not any(ax.get_legend() for ax in fig.axes) and len(fig.legends) == 1
    box = fig.legends[0].get_window_extent(r)
    assert not any(box.overlaps(ax.get_window_extent(r)) for ax in fig.axes)
    assert max(h.get_markersize() for h in fig.legends[0].legend_handles) <= 8
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["real", "generated", "modes"]
    plt.close(fig)


def test_every_curve_is_named():
    """A panel of one key (r1 under "regularisers", a VAE's loss_g) and D(x) on Figure 1's
    twin axis were drawn without a name."""
    import matplotlib.pyplot as plt

    from gankit.report.plots import figure_1d, figure_curves
    recs = [{"step": s, "kind": "train", "loss_g": 1.0 / (s + 1), "r1": 0.01 * s, "elbo": -s} for s in range(5)]
    fig = figure_curves(recs)
    for ax in [ax for ax in fig.axes if ax.axison]:
        keys = [k for k in ("loss_g", "r1", "elbo") if k in ax.get_title(loc="left") or
                (ax.get_legend() and k in [t.get_text() for t in ax.get_legend().get_texts()])]
        assert len(keys) == 1, ax.get_title(loc="left")
    plt.close(fig)
    grid = np.linspace(0, 1, 50)
    snap = {"step": 1, "samples": np.full((10, 1), 0.5), "grid": grid[:, None], "d_grid": grid}
    fig = figure_1d([snap], grid, None, np.linspace(0, 1, 20))
    assert any("D(x)" in t for t in _legend_texts(fig)), _legend_texts(fig)
    assert [ax.get_ylabel() for ax in fig.axes][1] == "D(x)"
    plt.close(fig)


def test_a_metric_without_a_real_counterpart_says_so_in_the_reference_column():
    from gankit.builtins import load_builtins
    from gankit.report.metricinfo import groups, key_infos
    load_builtins()
    rows = {r["key"]: r for g in groups({"step": 5, "kind": "eval", "nll_test": 9.1, "bleu2": 0.5},
                                        {"kind": "reference", "bleu2": 0.9, "skipped": ["nll_test"]},
                                        key_infos()) for r in g["rows"]}
    assert rows["nll_test"]["reference"] == "no real counterpart" and rows["bleu2"]["reference"] == "0.900"


def test_an_evaluation_at_another_temperature_is_not_the_runs_result(tmp_path, capsys):
    """`gankit eval RUN --set generator.temperature=0.5` recorded no temperature, and report and
    compare showed that point as the run's NLL (its T = 1 result hidden)."""
    import json

    from gankit.cli import main
    from gankit.report import report_context
    from gankit.report.compare import compare_data
    from gankit.runfolder import RunFolder
    data = tmp_path / "lines.txt"
    data.write_text("\n".join(["the cat sat", "a dog ran", "the dog sat", "a cat ran", "the cat ran far",
                               "on the mat", "the mat sat", "far away", "a cat", "dog sat"]) + "\n")
    run = tmp_path / "run"
    sets = ["data.name='textfile'", f"data.path='{data}'", "data.max_len=5", "data.test_fraction=0.25",
            "noise.dim=6", "generator.hidden=8", "generator.embed_dim=8", "discriminator.hidden=8",
            "discriminator.embed_dim=8", "objective.pretrain_steps=1", "objective.d_pretrain_steps=1",
            "train.steps=3", "train.batch_size=4", "train.sample_every=100", "train.checkpoint_every=100",
            "train.n_fixed=4", "train.progress=false", "train.live_report=false", "eval.n_samples=8",
            "eval.metrics=['nll_test']"]
    assert main(["train", "words", "--out", str(run), *[a for s in sets for a in ("--set", s)]]) == 0
    own = RunFolder(run).records("eval")[-1]["nll_test"]
    assert main(["eval", str(run), "--set", "generator.temperature=0.5", "--metrics", "nll_test"]) == 0
    rec = RunFolder(run).records("eval")[-1]
    assert rec["settings"]["temperature"] == 0.5 and rec["nll_test"] != own
    capsys.readouterr()
    ctx = report_context(run)
    shown = {r["key"]: r["value"] for g in ctx["groups"] for r in g["rows"]}
    assert shown["nll_test"] == f"{own:.3f}"
    (apart,) = [s for s in ctx["curves"] if s.anchor == "other-temperatures"]
    assert apart.rows == [["0.5", rec["step"], f"{rec['nll_test']:.3f}"]]
    by = {m["key"]: m["values"] for m in compare_data([run])["metrics"]}
    assert by["nll_test"] == [own]
    assert main(["compare", str(run), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["other_temperatures"] == [0.5]


def test_tensorboard_keeps_another_temperatures_point_off_the_runs_curve(tmp_path):
    from types import SimpleNamespace

    from gankit.api import _tensorboard_view
    from gankit.runfolder import RunFolder
    folder = RunFolder(tmp_path)
    folder.write_config('[generator]\nname = "seq"\ntemperature = 1.0\n')
    run = SimpleNamespace(folder=folder, cfg=SimpleNamespace(train=SimpleNamespace(tensorboard=True)))
    rec = {"step": 5, "kind": "eval", "settings": {"temperature": 0.5}, "nll_test": 3.0}
    assert _tensorboard_view(run, rec, 0.5) == {"step": 5, "kind": "eval", "settings": {"temperature": 0.5},
                                                "nll_test_at_T0.5": 3.0}
    assert _tensorboard_view(run, rec, 1.0) is rec


def _visible_points(ax) -> set:
    """(x, y) of every point a line of the axes draws a marker at."""
    return {(float(x), float(y)) for line in ax.get_lines() if line.get_marker() not in (None, "", "None", "none")
            for x, y in zip(line.get_xdata(), line.get_ydata()) if np.isfinite(y)}


def test_a_single_logged_value_is_drawn():
    """A 4-step run logs one train record, and a finite value between infinities has no
    neighbour: a line without markers through one point draws nothing."""
    import matplotlib.pyplot as plt

    from gankit.report.compare_figure import figure_compare
    from gankit.report.plots import figure_curves
    fig = figure_curves([{"step": 4, "kind": "train", "loss_d": 1.3, "loss_g": 0.7}])
    assert {(4.0, 1.3), (4.0, 0.7)} <= _visible_points(fig.axes[0])
    plt.close(fig)
    recs = [{"step": s, "kind": "train", "loss_g": v} for s, v in [(1, "inf"), (2, 0.5), (3, "inf"), (4, 0.6),
                                                                   (5, 0.7)]]
    fig = figure_compare([("a", recs), ("b", recs[3:4])], [("G loss", "train", "loss_g")])
    points = _visible_points(fig.axes[0])
    assert (2.0, 0.5) in points and (4.0, 0.6) in points          # both runs' lone values
    assert (5.0, 0.7) not in points                               # on a line: no marker needed
    plt.close(fig)


def test_sample_panels_keep_equal_aspect_only_where_the_axes_spans_compare():
    """Columns on different scales (income ~50,000 beside age ~40) squeezed each panel to a
    one-pixel strip under equal aspect; a ring keeps it, so it stays round."""
    import matplotlib.pyplot as plt

    from gankit.report.plots import figure_2d
    rng = np.random.default_rng(0)

    def panels(scale_x, scale_y, grid=True):
        real = rng.normal(size=(200, 2)) * [scale_x, scale_y]
        g = np.stack(np.meshgrid(np.linspace(-3, 3, 10) * scale_x, np.linspace(-3, 3, 10) * scale_y),
                     -1).reshape(-1, 2)
        snaps = [{"step": s, "samples": real[:50] * 0.5} for s in (0, 5)]
        if grid:
            snaps = [{**s, "grid": g, "grid_shape": [10, 10], "d_grid": np.full(100, 0.5)} for s in snaps]
        fig = figure_2d(snaps, real)
        fig.canvas.draw()
        return fig, [ax for ax in fig.axes if ax.get_title().startswith("step")]

    for grid in (True, False):
        fig, axes = panels(15000.0, 12.0, grid)
        for ax in axes:
            assert ax.get_aspect() == "auto"
            box = ax.get_position()
            assert box.height > 0.3 * box.width, (box.width, box.height)
        plt.close(fig)
        fig, axes = panels(1.0, 1.0, grid)
        assert len(axes) == 2 and all(ax.get_aspect() == 1.0 for ax in axes)
        plt.close(fig)


def test_conditional_point_report_draws_1d_and_higher_dimensional_data(monkeypatch):
    """Label-conditional 1-D data crashed the report (it scattered column 1); 1-D classes now
    get real-vs-generated histograms, each on its own range, and 3-D data its first two
    coordinates, labelled so."""
    import matplotlib.pyplot as plt
    import torch

    import gankit.report.page as page
    from gankit.data.conditional import ConditionalData
    from gankit.data.toy import GaussianMixture
    from gankit.report.conditional import condition_sections
    figs = []
    monkeypatch.setattr(page, "png", lambda fig, *a, **k: figs.append(fig) or page.Figure(""))
    y = np.repeat([0, 1], 100)

    def panels(means, stds, x):
        ds = ConditionalData(GaussianMixture(torch.tensor(means), torch.tensor(stds)), "label")
        sections = condition_sections(ds, [{"step": 20, "samples": x, "labels": y}])
        assert len(sections) == 1
        return sections[0], [ax for ax in figs[-1].axes if ax.get_title().startswith("condition")]

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 0.1, 100), rng.normal(10, 5, 100)])[:, None]
    sec, (a, b) = panels([[0.0], [10.0]], [0.1, 5.0], x)
    assert "histogram" in sec.paragraphs[0]
    assert a.patches and b.patches                      # real and generated, per class
    assert np.diff(a.get_xlim())[0] < 2 < 10 < np.diff(b.get_xlim())[0]
    plt.close(figs[-1])
    x3 = rng.normal(size=(200, 3))
    sec, axes = panels([[0.0, 0, 0], [3, 3, 3]], [0.1, 0.1], x3)
    assert "first two coordinates" in sec.paragraphs[0]
    assert [(ax.get_xlabel(), ax.get_ylabel()) for ax in axes] == [("coordinate 1", "coordinate 2")] * 2
    plt.close(figs[-1])
    sec, axes = panels([[0.0, 0], [3, 3]], [0.1, 0.1], x3[:, :2])
    assert len(axes) == 2 and "coordinates" not in sec.paragraphs[0] and not axes[0].get_xlabel()
    plt.close(figs[-1])


def _copy_to(src, dst):
    import shutil
    shutil.copytree(src, dst)
    (dst / "report.html").unlink(missing_ok=True)
    return dst


def test_undecodable_bytes_in_a_folder_name_are_shown_replaced(tmp_path, tiny_run_dir):
    """A run folder named with non-UTF-8 bytes crashed the report (and the end of training)
    when the page was encoded; its name now shows them as U+FFFD."""
    import os

    from gankit.report import write_report
    import warnings
    run = _copy_to(tiny_run_dir, tmp_path / os.fsdecode(b"tr\xe9s"))
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        page = write_report(run).read_text(encoding="utf-8")
    assert "<h1>tr\ufffds" in page
    # its checkpoints load too (torch's memory map takes UTF-8 paths only): the page's step is theirs
    assert not [w for w in said if "skipped unreadable" in str(w.message)], [str(w.message) for w in said]


def test_text_that_is_not_valid_unicode_is_written_replaced_with_a_warning(tmp_path):
    import os

    import pytest

    from gankit.io import displayable, write_text_atomic
    assert displayable(os.fsdecode(b"bad\xff\xfe")) == "bad\ufffd\ufffd"
    assert displayable("a\ud800b") == "a\ufffdb" and displayable("caf\u00e9 \U0001F600") == "caf\u00e9 \U0001F600"
    with pytest.warns(UserWarning, match="not valid Unicode"):
        write_text_atomic(tmp_path / "t.txt", "x = " + os.fsdecode(b"\xe9") + "\ud800")
    assert (tmp_path / "t.txt").read_bytes() == "x = \ufffd\ufffd".encode()


def test_undecodable_bytes_in_a_class_folder_name_are_drawn_replaced(monkeypatch):
    """An image-folder class named with non-UTF-8 bytes failed matplotlib (set_ylabel)."""
    import os
    from types import SimpleNamespace

    import gankit.report.page as page
    from gankit.report.conditional import condition_sections
    figs = []
    monkeypatch.setattr(page, "png", lambda fig, *a, **k: figs.append(fig) or page.Figure(""))
    ds = SimpleNamespace(kind="image", class_names=["cat", os.fsdecode(b"bad\xff\xfe")])
    x = np.random.default_rng(0).uniform(0, 1, size=(6, 1, 4, 4)).astype(np.float32)
    assert len(condition_sections(ds, [{"step": 4, "samples": x, "labels": np.repeat([0, 1], 3)}])) == 1
    labels = [ax.get_ylabel() for ax in figs[-1].axes]
    assert labels == ["0: cat", "1: bad\ufffd\ufffd"]
    figs[-1].savefig(__import__("io").BytesIO(), format="png")


def test_a_damaged_session_record_is_skipped_with_a_warning(tmp_path, tiny_run_dir):
    """A session record's fields are read from disk: a `changed` that is not {key: [old, new]}
    (or any other field of the wrong type) crashed the report, and so every later resume."""
    import pytest

    from gankit.report import write_report
    from gankit.runfolder import RunFolder
    run = _copy_to(tiny_run_dir, tmp_path / "r")
    f = RunFolder(run)
    f.append({"step": 30, "kind": "session", "changed": "zz"})
    f.append({"step": 30, "kind": "session", "resume": True, "changed": {"train.steps": 5, "seed": [1, 2]},
              "command": {"x": 1}, "overrides": 7, "git": [1], "started": None})
    with pytest.warns(UserWarning) as got:
        page = write_report(run).read_text()
    said = " ".join(str(w.message) for w in got)
    for field in ("'changed'", "'changed.train.steps'", "'command'", "'overrides'", "'git'"):
        assert field in said, field
    assert "seed: 1 \u2192 2" in page and "not a git checkout" in page


def test_text_samples_reach_the_page_with_control_characters_escaped(tmp_path):
    """Escaped as HTML, but a bidi override (U+202E) still reordered the page's text and NUL
    and ESC went into <code> raw."""
    import re
    import warnings

    from gankit import config as C
    from gankit.report import write_report
    from gankit.train.run import Run
    data = tmp_path / "hostile.txt"
    data.write_text("".join(f"{s}\n" for s in ["ab\u202ecd", "x\x1b[31my", "p\x00q", "ok"] * 5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cfg = C.load("words", ["data.name=textfile", f"data.path={data}", "data.max_len=6", "noise.dim=8",
                               "objective.pretrain_steps=2", "objective.d_pretrain_steps=1", "train.steps=2",
                               "train.batch_size=8", "train.n_fixed=8", "train.progress=false",
                               "train.sample_every=2", "eval.n_samples=20", "data.test_fraction=0.5"])
        Run.create(cfg, tmp_path / "run").train().close()
        page = write_report(tmp_path / "run").read_text()
    samples = page[page.index('id="samples"'):]
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", samples)
    assert re.search(r"\\u202e|\\x1b|\\x00", samples)


def test_pick_snapshots_spreads_over_steps_not_over_files():
    """Every 50 steps to 20,000, then every 1,000 to 40,000 (a resume with another
    sample_every): five of six panels came from the first 42% of training."""
    snaps = [{"step": s} for s in list(range(0, 20001, 50)) + list(range(21000, 40001, 1000))]
    got = [s["step"] for s in pick_snapshots(snaps, 6)]
    assert got == [0, 8000, 16000, 24000, 32000, 40000]


def test_the_report_figures_leave_the_users_matplotlib_settings_alone():
    """Importing the report code set the Agg backend and text.parse_math=False for the whole
    process: a notebook's figures stopped showing inline and its $...$ labels printed raw."""
    import subprocess
    import sys
    code = """
import matplotlib
matplotlib.use("svg")
from gankit.report.page import png
from gankit.report.plots import figs
fig, ax = figs.subplots(figsize=(2, 2))
ax.set_title("$x^2$ costs $5")
ax.plot([0, 1], [0, 1])
assert png(fig, "t")
title = [t for t in fig.findobj(matplotlib.text.Text) if t.get_text().startswith("$x")][0]
print(matplotlib.get_backend(), matplotlib.rcParams["text.parse_math"], title.get_parse_math())
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["svg", "True", "False"]


def test_a_dollar_in_a_run_name_prints_in_compare_figures():
    """Math parsing was switched off only at save time: tight_layout parsed '$\\frac$' and failed."""
    from gankit.report.page import png
    from gankit.report.compare_figure import figure_compare
    recs = [{"step": s, "kind": "train", "loss_d": 1.0, "loss_g": 0.5} for s in range(3)]
    fig = figure_compare([("r$\\frac$x", recs), ("costs $5 and $6", recs)], [("D loss", "train", "loss_d")])
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["r$\\frac$x", "costs $5 and $6"]
    assert not any(t.get_parse_math() for t in fig.legends[0].get_texts())
    assert png(fig, "compare")


def test_numbers_measured_with_other_eval_settings_are_said_so(tiny, tmp_path):
    """A later `gankit eval --metrics X --set eval.n_samples=N` re-measures X only: the report's
    table then mixes numbers of two sample counts, and said nothing."""
    from gankit.cli import main
    from gankit.report import mixed_settings_note
    a = {"modes_covered": 8, "swd": 0.2, "settings": {"n_samples": 500, "metrics": [], "threads": 0}}
    b = {"modes_covered": 7, "settings": {"n_samples": 2500, "metrics": ["modes"], "threads": 2}}
    assert mixed_settings_note({"modes_covered": b, "swd": a}) == (
        "These numbers were measured with different eval settings: n_samples 2500 (modes_covered); "
        "n_samples 500 (swd).")
    same = dict(b, settings={"n_samples": 500, "metrics": ["modes"], "threads": 1})   # asked / threads: no
    assert mixed_settings_note({"modes_covered": same, "swd": a}) == ""
    run = tmp_path / "r"
    assert main(["train", "ring", "--out", str(run)] + [a for kv in tiny for a in ("--set", kv)]) == 0
    assert "different eval settings" not in (run / "report.html").read_text()
    assert main(["eval", str(run), "--metrics", "modes", "--set", "eval.n_samples=300"]) == 0
    assert main(["report", str(run)]) == 0
    page = (run / "report.html").read_text()
    assert "measured with different eval settings: n_samples" in page and "n_samples 300 (" in page


def test_the_modes_table_reads_the_data_s_weights():
    """A mode of weight 0 is not data (the metric does not count it): not MISSED; the ideal
    share of each mode is its weight; tiny centres keep their digits."""
    from gankit.data.toy import GaussianMixture
    from gankit.report.points import mode_section
    sec = mode_section({"mode_counts": [0, 30, 70]}, GaussianMixture([[-2e-3], [0.0], [2e-3]], 1e-4, [0, 3, 7]))
    assert sec.header == ["mode", "centre", "HQ samples", "share", "data's share", "covered"]
    assert sec.rows[0][1:] == ["-0.002", 0, "0.0%", "0.0%", "weight 0"]
    assert sec.rows[2][3:] == ["70.0%", "70.0%", "yes"]
    assert "each mode's share of the data" in sec.paragraphs[0]
    even = mode_section({"mode_counts": [5, 0]}, GaussianMixture([[0.0, 1.0], [1.0, 0.0]], 0.1))
    assert even.header[-2:] == ["share", "covered"] and even.rows[1][-1] == "MISSED"


def test_a_snapshot_of_odd_arrays_leaves_a_note_not_a_traceback(tmp_path, tiny_run_dir):
    """snapshots() checks only that a file unpacks and has a step: a grid of another shape
    crashed the whole page (and so the live report of a training run)."""
    import pytest

    from gankit.report import write_report
    run = _copy_to(tiny_run_dir, tmp_path / "r")
    newest = sorted((run / "samples").glob("step_*.npz"))[-1]
    arrays = dict(np.load(newest))
    arrays["grid_shape"] = np.array([7, 7])
    np.savez(newest, **arrays)
    with pytest.warns(UserWarning, match="could not be drawn from .*samples .*move the odd file out"):
        page = write_report(run).read_text()
    assert "holds arrays this run does not write" in page


def test_a_token_id_outside_the_vocabulary_is_refused_not_read_from_the_end():
    import pytest

    from gankit.data.text_dataset import TextDataset
    ds = TextDataset.__new__(TextDataset)
    ds.vocab, ds.end_id = ["<pad>", "<end>", "cat", "dog"], 1
    assert ds.token_lists(np.array([[2, 3, 1, 0]])) == [["cat", "dog"]]
    with pytest.raises(ValueError, match="token id -1 is outside the vocabulary of 4"):
        ds.token_lists(np.array([[2, -1]]))


def test_the_reference_row_stands_beside_drs_and_user_metric_numbers():
    """Evaluations record sampler = drs and the user's metric code in their settings; the real-data
    reference has neither (no sampler; its code beside its settings): its row vanished from DRS runs."""
    from gankit.builtins import load_builtins
    from gankit.report import _matching_reference
    from gankit.report.metricinfo import key_infos
    load_builtins()
    settings = {"n_samples": 100, "hq_std": 3.0, "jsd_samples": 1000, "jsd_bins": 20, "jsd_cells": 0}
    ev = {"step": 5, "kind": "eval", "modes_covered": 7, "jsd": 0.1,
          "settings": {**settings, "sampler": "drs", "user_code": {"metric mine": "abc"}}}
    sources = {"modes_covered": ev, "jsd": ev, "mine": ev}
    ref = {"kind": "reference", "modes_covered": 8, "jsd": 0.01, "mine": 1.0, "settings": settings,
           "user_code": {"metric mine": "abc"}}
    got = _matching_reference(sources, [ref], key_infos())
    assert (got["modes_covered"], got["jsd"], got["mine"]) == (8, 0.01, 1.0)
    edited = {**ref, "user_code": {"metric mine": "old"}}           # measured by the metric's old code
    got = _matching_reference(sources, [edited], key_infos())
    assert got["modes_covered"] == 8 and "mine" not in got


def test_numbers_two_metrics_write_are_not_labelled_by_the_last_one_registered():
    """An image run's precision/recall/density/coverage (prdc, on features) sat under "prdc_points:
    ... of the points themselves", the metric registered last with the same keys."""
    from gankit.builtins import load_builtins
    from gankit.report.metricinfo import groups, key_infos
    load_builtins()
    (g,) = groups({"step": 1, "kind": "eval", "precision": 0.5, "recall": 0.4}, None, key_infos())
    assert "prdc" in g["metric"] and "prdc_points" in g["metric"]
    assert "of features" in g["help"] and "of the points themselves" in g["help"]
