"""gankit compare: final metrics with the better value per direction, config differences,
text/JSON output; the report groups metrics and escapes what the folder holds."""
import json

import pytest

from gankit.cli import main
from gankit.report import compare as CMP
from gankit.report.metricinfo import better_of
from gankit.runfolder import RunFolder


def test_better_of_follows_the_direction():
    assert better_of([0.5, 0.2, 0.9], "lower") == [1]
    assert better_of([0.5, 0.2, 0.9], "higher") == [2]
    assert better_of([3, 8, 8], "higher") == [1, 2]         # ties: each
    assert better_of([1.0, 1.0], "lower") == []             # all equal: none better
    assert better_of([1.0, 2.0], None) == [] and better_of([1.0, None], "lower") == []


def _fake_run(path, loss: str, jsd: float, covered: int, seed=0):
    f = RunFolder(path)
    f.path.mkdir(parents=True)
    f.write_config(f'seed = {seed}\n[loss]\nname = "{loss}"\n[train]\nsteps = 100\n')
    for step in (50, 100):
        f.append({"step": step, "kind": "train", "loss_d": 1.3, "loss_g": 0.7, "d_real": 0.5, "time": step / 10})
    f.append({"step": 100, "kind": "eval", "jsd": jsd, "modes_covered": covered, "modes_total": 8})
    return f.path


def test_compare_marks_the_better_run_per_metric(tmp_path, capsys):
    a = _fake_run(tmp_path / "a", "nonsaturating", jsd=0.10, covered=6)
    b = _fake_run(tmp_path / "b", "hinge", jsd=0.05, covered=5)
    data = CMP.compare_data([a, b])
    by = {m["key"]: m for m in data["metrics"]}
    assert by["jsd"]["best"] == [1] and by["jsd"]["better"] == "lower"
    assert by["modes_covered"]["best"] == [0] and by["modes_total"]["best"] == []
    assert data["config_diff"] == [{"key": "loss.name", "values": ["nonsaturating", "hinge"]}]
    assert main(["compare", str(a), str(b), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["runs"][0]["name"] == "a" and out["runs"][1]["train_time_s"] == 10.0
    assert main(["compare", str(a), str(b), "--text"]) == 0
    text = capsys.readouterr().out
    assert "0.0500 *" in text and "(lower is better)" in text and '"hinge"' in text
    page = tmp_path / "c.html"
    assert main(["compare", str(a), str(b), "--out", str(page)]) == 0
    html = page.read_text()
    assert 'class="num best">0.0500' in html and "loss.name" in html


def test_compare_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["compare", str(tmp_path)]) == 1
    assert "not a run folder" in capsys.readouterr().err


def test_report_escapes_what_the_folder_holds(tmp_path, tiny):
    """A hostile run name, command line and metric key reach the page escaped."""
    import sys

    from gankit import config as C
    from gankit.report import write_report
    from gankit.train.run import Run
    run = Run.create(C.load("ring", tiny), tmp_path / "<b>x</b>")
    argv = sys.argv
    sys.argv = ["gankit", "train", "<script>alert(1)</script>"]
    try:
        run.train()
    finally:
        sys.argv = argv
    run.log({"step": run.step, "kind": "eval", "<img src=x onerror=alert(2)>": 1.0, "jsd": 0.1})
    page = write_report(run.dir).read_text()
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert "<img src=x" not in page and "<b>x</b>" not in page


def test_report_groups_metrics_with_direction_and_reference(tmp_path, tiny_cli):
    out = tmp_path / "r"
    assert main(["train", "ring", "--out", str(out), *tiny_cli]) == 0
    page = (out / "report.html").read_text()
    for text in ("Evaluation at step 12", "modes covered", "\u2191 higher is better", "\u2193 lower is better",
                 "real data", "Learning rate", "Provenance", "fresh draws from the data distribution"):
        assert text in page, text
    assert 'http-equiv="refresh"' not in page
    ref = RunFolder(out).records("reference")[-1]
    ev = RunFolder(out).records("eval")[-1]
    # real samples cover every mode; their JSD is the floor of this protocol (500 samples): not 0,
    # and small (docs/watching.md: ~0.004 with exact cells; the midpoint rule read ~0.2)
    assert ref["modes_covered"] == 8 and 0 < ref["jsd"] < min(0.02, ev["jsd"])


@pytest.mark.parametrize("fmt,value,shown", [(".1%", 0.5, "50.0%"), ("d", 7.0, "7"), (".3f", None, "n/a"),
                                             (".4g", "inf", "inf")])
def test_values_format_by_their_declared_format(fmt, value, shown):
    from gankit.report.metricinfo import fmt_value
    assert fmt_value(value, fmt) == shown


def test_a_dollar_in_a_run_name_prints_as_text(tmp_path):
    """Run names reach matplotlib legends: "$^$" was parsed as math and failed the figure."""
    a = _fake_run(tmp_path / "m$^$", "nonsaturating", jsd=0.10, covered=6)
    b = _fake_run(tmp_path / "b", "hinge", jsd=0.05, covered=5)
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "c.html")]) == 0
    assert "m$^$" in (tmp_path / "c.html").read_text()


def test_a_later_eval_of_some_metrics_keeps_the_others_shown(tmp_path):
    """`gankit eval RUN --metrics mmd` after the final evaluation adds mmd; jsd and the modes stay."""
    a = _fake_run(tmp_path / "a", "nonsaturating", jsd=0.10, covered=6)
    RunFolder(a).append({"step": 100, "kind": "eval", "mmd2": 0.01, "jsd": 0.09})
    b = _fake_run(tmp_path / "b", "hinge", jsd=0.05, covered=5)
    by = {m["key"]: m["values"] for m in CMP.compare_data([a, b])["metrics"]}
    assert by["jsd"] == [0.09, 0.05] and by["modes_covered"] == [6, 5] and by["mmd2"] == [0.01, None]
    RunFolder(a).append({"step": 200, "kind": "eval", "jsd": 0.2})      # a newer step: its record alone
    by = {m["key"]: m["values"] for m in CMP.compare_data([a, b])["metrics"]}
    assert by["jsd"] == [0.2, 0.05] and by["modes_covered"] == [None, 5]


def test_runs_on_different_data_are_shown_but_not_ranked(tmp_path, capsys):
    """A ring run's precision against an image run's: no value is 'better' across data."""
    a = _fake_run(tmp_path / "a", "nonsaturating", jsd=0.10, covered=6)
    b = _fake_run(tmp_path / "b", "nonsaturating", jsd=0.05, covered=5)
    f = RunFolder(b)
    f.write_config(f.path.joinpath("config.toml").read_text() + '[data]\nname = "grid"\n')
    data = CMP.compare_data([a, b])
    assert all(m["best"] == [] for m in data["metrics"]) and "data.name" in data["note"]
    assert main(["compare", str(a), str(b), "--text"]) == 0
    assert "no value is marked better" in capsys.readouterr().out


def test_hand_made_records_do_not_break_report_or_compare(tmp_path, capsys):
    """Records a user (or a damaged file) wrote: a reference without its source, mode counts that
    are not a list, NaN and -inf values. The report is written; NaN/inf are never 'better'."""
    assert better_of([float("nan"), 0.2, 0.5], "lower") == [1]
    assert better_of([float("-inf"), 0.2, 0.5], "lower") == [1]
    a = _fake_run(tmp_path / "a", "nonsaturating", jsd=0.10, covered=6)
    f = RunFolder(a)
    f.append({"step": 100, "kind": "reference", "jsd": 0.01})
    f.append({"step": 100, "kind": "eval", "mode_counts": "many", "mmd2": float("nan")})
    b = _fake_run(tmp_path / "b", "hinge", jsd=0.05, covered=5)
    RunFolder(b).append({"step": 100, "kind": "eval", "mode_counts": [1, 2, 3] * 40, "mmd2": 0.3})
    assert main(["report", str(a)]) == 0 and main(["report", str(b)]) == 0
    assert "source not recorded" in (a / "report.html").read_text()
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "c.html")]) == 0
    by = {m["key"]: m["best"] for m in CMP.compare_data([a, b])["metrics"]}
    assert by["mmd2"] == []            # one finite value: nothing to rank
    assert "Traceback" not in capsys.readouterr().err


def test_compare_tick_labels_stay_short_for_tiny_and_huge_values(tmp_path):
    from gankit.report.compare_figure import figure_compare
    runs = [(f"r{i}", [{"step": s, "kind": "eval", "c2st_p": v * (1 + s), "big": 3e9 * (1 + s)}
                       for s in range(3)]) for i, v in enumerate((1.6e-67, 4e-66))]
    fig = figure_compare(runs, [("C2ST p-value", "eval", "c2st_p"), ("big", "eval", "big")])
    fig.canvas.draw()
    labels = [t.get_text() for ax in fig.axes for t in ax.get_yticklabels() if t.get_text()]
    assert labels and max(map(len, labels)) <= 8, labels


def test_compare_out_that_cannot_be_a_file_is_named_before_any_work(tmp_path, capsys):
    a = _fake_run(tmp_path / "a", "nonsaturating", jsd=0.10, covered=6)
    (tmp_path / "folder").mkdir()
    (tmp_path / "afile").write_text("x")
    assert main(["compare", str(a), "--out", str(tmp_path / "folder")]) == 2
    assert "is a folder; give a file name" in capsys.readouterr().err
    assert main(["compare", str(a), "--out", str(tmp_path / "afile" / "c.html")]) == 2
    assert "a part of this path is a file" in capsys.readouterr().err


def test_an_infinite_metric_keeps_its_row(tmp_path):
    """A reverse KL of "inf" (no high-quality sample; jsonable writes inf as "inf") had no
    row in the report's table nor in compare's; it shows as "inf", and the finite value beats it."""
    from gankit.report.metricinfo import groups, key_infos
    a = _fake_run(tmp_path / "a", "nonsaturating", jsd=0.10, covered=0)
    RunFolder(a).append({"step": 100, "kind": "eval", "reverse_kl": float("inf")})
    b = _fake_run(tmp_path / "b", "hinge", jsd=0.05, covered=5)
    RunFolder(b).append({"step": 100, "kind": "eval", "reverse_kl": 0.3})
    assert RunFolder(a).records("eval")[-1]["reverse_kl"] == "inf"
    by = {m["key"]: m for m in CMP.compare_data([a, b])["metrics"]}
    assert by["reverse_kl"]["shown"] == ["inf", "0.300"] and by["reverse_kl"]["best"] == [1]
    rows = {r["key"]: r for g in groups({"step": 100, "reverse_kl": "inf", "jsd": 0.1}, None, key_infos())
            for r in g["rows"]}
    assert rows["reverse_kl"]["value"] == "inf"


def test_a_finite_value_beats_the_worst_infinity(tmp_path, capsys):
    """`reverse_kl 2.079 vs inf (lower is better)` marked nothing: infinities were dropped
    before ranking.  +inf (lower is better) or -inf (higher is better) is the worst value."""
    assert better_of([2.079, "inf"], "lower") == [0] and better_of([2.079, float("inf")], "lower") == [0]
    assert better_of(["-inf", 0.5], "higher") == [1] and better_of(["inf", "inf", 1.0], "lower") == [2]
    assert better_of(["inf", "inf"], "lower") == [] and better_of(["inf", float("inf")], "lower") == []
    assert better_of(["-inf", 0.5, 0.7], "lower") == [1]       # the wrong-way infinity: no measurement
    a = _fake_run(tmp_path / "a", "nonsaturating", jsd=0.10, covered=6)
    RunFolder(a).append({"step": 100, "kind": "eval", "reverse_kl": 2.079})
    b = _fake_run(tmp_path / "b", "hinge", jsd=0.10, covered=6)
    RunFolder(b).append({"step": 100, "kind": "eval", "reverse_kl": float("inf")})
    assert main(["compare", str(a), str(b), "--text"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("reverse_kl"))
    assert "2.079 *" in row and "inf *" not in row


def test_compare_legend_names_every_run_in_run_order():
    """The legend came from the first panel ("D loss"): a VAE, which logs no loss_d, was missing."""
    import matplotlib.pyplot as plt

    from gankit.report.compare_figure import figure_compare
    vae = [{"step": s, "kind": "train", "loss_g": 1.0 - 0.1 * s} for s in range(3)]
    gan = [{"step": s, "kind": "train", "loss_d": 1.3, "loss_g": 0.7} for s in range(3)]
    fig = figure_compare([("vae", vae), ("gan", gan), ("_seed2", gan)],
                         [("D loss", "train", "loss_d"), ("G loss", "train", "loss_g")])
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["vae", "gan", "_seed2"]
    colours = [h.get_color() for h in fig.legends[0].legend_handles]
    from gankit.report.plots import PALETTE
    assert colours == PALETTE[:3]
    plt.close(fig)


@pytest.mark.parametrize("fmt,value,shown", [(".1f", 0.1289, "0.129"), (".1f", -35.04, "-35.0"),
                                             (".3f", 0.5004, "0.500"), (".3f", 0.0123, "0.0123"),
                                             (".1%", 0.0012, "0.120%"), (".3f", 1e-20, "1e-20"),
                                             (".3f", 0.0, "0.000")])
def test_small_values_keep_three_significant_digits(fmt, value, shown):
    """A Parzen standard error of 0.1289 declared ".1f" printed as "0.1"."""
    from gankit.report.metricinfo import fmt_value
    assert fmt_value(value, fmt) == shown


def test_each_run_is_compared_at_its_own_sampling_temperature(tmp_path, capsys):
    """An eval at another generator.temperature (a point of the run's temperature curve) is not
    the run's result: the table and curves take the records at config.toml's temperature."""
    a = _fake_run(tmp_path / "a", "nonsaturating", jsd=0.10, covered=6)
    b = _fake_run(tmp_path / "b", "nonsaturating", jsd=0.10, covered=6)
    fb = RunFolder(b)
    fb.write_config(fb.path.joinpath("config.toml").read_text() + '[generator]\nname = "seq"\ntemperature = 0.5\n')
    for f, t, nll in [(RunFolder(a), 1.0, 4.0), (RunFolder(a), 0.5, 3.0), (fb, 0.5, 3.5), (fb, 2.0, 6.0)]:
        f.append({"step": 100, "kind": "eval", "settings": {"temperature": t}, "nll_oracle": nll})
    data = CMP.compare_data([a, b])
    by = {m["key"]: m for m in data["metrics"]}
    assert by["nll_oracle"]["values"] == [4.0, 3.5] and by["jsd"]["values"] == [0.10, 0.10]
    assert [r["other_temperatures"] for r in data["runs"]] == [[0.5], [2.0]]
    assert not any(r.get("nll_oracle") in (3.0, 6.0) for recs in data["_records"] for r in recs)
    assert main(["compare", str(a), str(b), "--text"]) == 0
    assert "a: evaluations at generator.temperature 0.5 left out (it samples at 1" in capsys.readouterr().out


def test_more_than_eight_runs_are_told_apart_and_their_infinities_fit_the_panel(tmp_path):
    """22 runs: r00, r08 and r16 had one colour; the "= inf at steps" lines of 20 runs ran
    over the panel below and out of the figure."""
    import re

    import matplotlib.pyplot as plt

    from gankit.report.axes import run_style
    from gankit.report.compare_figure import figure_compare
    runs = [(f"r{i:02d}", [{"step": s, "kind": "eval", "jsd": 0.1 * i + s, "reverse_kl": "inf"} for s in (3, 6)])
            for i in range(22)]
    fig = figure_compare(runs, [("JSD", "eval", "jsd"), ("reverse KL", "eval", "reverse_kl"), ("JSD", "eval", "jsd")])
    handles = fig.legends[0].legend_handles
    assert len({(h.get_color(), h.get_linestyle(), h.get_marker()) for h in handles}) == 22
    fig.canvas.draw()
    panel = fig.axes[1]
    box, legend = panel.get_window_extent(), panel.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["22 runs = inf at steps 3, 6"]
    ext = legend.get_window_extent()
    assert box.x0 - 1 <= ext.x0 and ext.x1 <= box.x1 + 1 and box.y0 - 1 <= ext.y0 and ext.y1 <= box.y1 + 1
    plt.close(fig)
    folders = []
    for i in range(10):
        folders.append(_fake_run(tmp_path / f"r{i}", "hinge", jsd=0.1 * i, covered=i % 8))
    page = tmp_path / "c.html"
    assert main(["compare", *map(str, folders), "--out", str(page)]) == 0
    swatches = re.findall(r'<svg class="swatch".*?stroke="([^"]+)"[^>]*?(?:stroke-dasharray="([^"]+)")?/>',
                          page.read_text())
    assert swatches == [(run_style(i).colour, run_style(i).dasharray) for i in range(10)]
    assert len(set(swatches)) == 10


def test_eval_records_without_settings_are_taken_at_the_runs_eval_config(tmp_path):
    """Records written during training by an older gankit have no settings: None equalled None
    (runs of 3,000 and 500 samples were ranked) and differed from real settings."""
    def run(name, n_samples, settings=None):
        f = RunFolder(_fake_run(tmp_path / name, "hinge", jsd=0.1, covered=6))
        f.write_config(f.config_path.read_text() + f'[eval]\nn_samples = {n_samples}\nfeatures = "classifier"\n'
                       'pr_k = 3\ndc_k = 5\n')
        f.append({"step": 100, "kind": "eval", "jsd": 0.2 if settings else 0.3,
                  **({"settings": settings} if settings else {})})
        return f.path
    old_3000, old_500 = run("a", 3000), run("b", 500)
    assert "eval.n_samples" in CMP.compare_data([old_3000, old_500])["note"]
    new_500 = run("c", 500, {"n_samples": 500, "features": "classifier", "pr_k": 3, "dc_k": 5, "metrics": []})
    data = CMP.compare_data([old_500, new_500])
    assert data["note"] == "" and {m["key"]: m["best"] for m in data["metrics"]}["jsd"] == [1]


def test_a_checkpoint_past_the_records_gives_the_step_and_at_least_the_recorded_time(tmp_path):
    """The step comes from the newest checkpoint that loads; where its training time cannot be
    read (a checkpoint without train_time), the last record's is shown as a lower bound, not as
    the run's."""
    import warnings

    import torch
    a = _fake_run(tmp_path / "a", "hinge", jsd=0.1, covered=6)
    f = RunFolder(a)
    f.write_config(f.config_path.read_text().replace("steps = 100", "steps = 400"))
    f.checkpoint_dir.mkdir()
    torch.save({"step": 181, "models": {"G": {"w": torch.zeros(1)}}, "rng": {"torch": torch.get_rng_state()}},
               f.checkpoint_dir / "step_00000181.pt")                       # loads, without train_time
    (f.checkpoint_dir / "step_00000190.pt").write_bytes(b"torn")                # not intact: not the step
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (run,) = CMP.compare_data([a])["runs"]
    assert run["step"] == 181 and run["train_time_s"] == 10.0 and run["train_time_at_least"]
    page = tmp_path / "c.html"
    assert main(["compare", str(a), "--out", str(page)]) == 0
    assert ">at least 10.0 s<" in page.read_text()


def test_undecodable_bytes_in_a_run_name_are_shown_replaced(tmp_path, capsys):
    """A run folder named with non-UTF-8 bytes failed matplotlib (its legend entries); its name
    is shown with U+FFFD, its path kept for scripts."""
    import os
    a = _fake_run(tmp_path / "a", "nonsaturating", jsd=0.10, covered=6)
    b = _fake_run(tmp_path / os.fsdecode(b"bad\xff\xfe"), "hinge", jsd=float("inf"), covered=5)
    page = tmp_path / "c.html"
    assert main(["compare", str(a), str(b), "--out", str(page)]) == 0
    assert "bad\ufffd\ufffd" in page.read_text(encoding="utf-8")
    capsys.readouterr()
    assert main(["compare", str(a), str(b), "--json"]) == 0
    run = json.loads(capsys.readouterr().out)["runs"][1]
    assert run["name"] == "bad\ufffd\ufffd" and os.fsencode(run["path"]).endswith(b"bad\xff\xfe")
