"""gankit compare's guards: numbers measured with other eval settings are not ranked (per
metric, by the record that supplied each value), --out never replaces a file it did not
write, hand-made records (huge integers, NaN) neither crash nor give invalid JSON."""
import json

import pytest

from gankit.cli import main
from gankit.report import compare as CMP
from gankit.report.metricinfo import better_of, fmt_value
from gankit.runfolder import RunFolder

SETTINGS = {"n_samples": 2500, "features": "classifier", "pr_k": 3, "dc_k": 5, "jsd_bins": 200,
            "jsd_samples": 50000, "parzen_centres": 10000, "threads": 0}


def _run(path, *evals, config=""):
    """A run folder with hand-written records: ``evals`` are (settings changes, numbers) at step 100."""
    f = RunFolder(path)
    f.path.mkdir(parents=True)
    f.write_config(f'seed = 0\n[loss]\nname = "hinge"\n[train]\nsteps = 100\n{config}')
    f.append({"step": 100, "kind": "train", "loss_d": 1.3, "loss_g": 0.7, "time": 10.0})
    for changes, numbers in evals:
        f.append({"step": 100, "kind": "eval", "settings": {**SETTINGS, "metrics": list(numbers), **changes},
                  **numbers})
    return f.path


def _by_key(data):
    return {m["key"]: m for m in data["metrics"]}


def test_a_partial_reevaluation_does_not_hide_the_other_metrics_sample_count(tmp_path):
    """A at 500 samples, then `gankit eval A --metrics modes --set eval.n_samples=2500`: the
    merged record's settings were the last record's, so A's mmd2 at 500 was ranked against B's at 2500."""
    a = _run(tmp_path / "a", ({"n_samples": 500}, {"mmd2": 0.01, "precision": 0.9}),
             ({"n_samples": 2500, "threads": 2}, {"modes_covered": 8}))
    b = _run(tmp_path / "b", ({}, {"mmd2": 0.02, "precision": 0.8, "modes_covered": 7}))
    data = CMP.compare_data([a, b])
    by = _by_key(data)
    assert by["mmd2"]["best"] == [] and by["precision"]["best"] == []
    assert by["mmd2"]["settings_differ"] == ["eval.n_samples"]
    assert by["modes_covered"]["best"] == [0]          # both at 2500 (threads change no number)
    assert "mmd2, precision: not marked" in data["note"] and "eval.n_samples 500 / 2500" in data["note"]
    text = CMP.to_text(data)
    assert "0.9000 *" not in text and "eval.n_samples 500 / 2500" in text


@pytest.mark.parametrize("setting,other", [("jsd_samples", 500), ("jsd_bins", 20), ("jsd_cells", "centre")])
def test_a_setting_one_metric_reads_counts_for_it(tmp_path, setting, other):
    """The same checkpoint's JSD at jsd_samples=500 'beat' itself at 50,000 (configs identical)."""
    a = _run(tmp_path / "a", ({setting: other}, {"jsd": 0.43}))
    b = _run(tmp_path / "b", ({}, {"jsd": 0.60}))
    data = CMP.compare_data([a, b])
    assert _by_key(data)["jsd"]["best"] == [] and f"eval.{setting}" in data["note"]
    same = _run(tmp_path / "c", ({}, {"jsd": 0.43}))
    assert _by_key(CMP.compare_data([same, b]))["jsd"]["best"] == [0]


def test_compare_out_replaces_nothing_it_did_not_write(tmp_path, capsys, monkeypatch):
    """--out notes.txt, R/config.toml or R/metrics.jsonl were overwritten with HTML (the run lost)."""
    monkeypatch.chdir(tmp_path)
    r = _run(tmp_path / "r", ({}, {"jsd": 0.1}))
    config = (r / "config.toml").read_text()
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "mine.html").write_text("<html>mine</html>")
    for out, words in [("notes.txt", "give a name ending in .html"), ("r/config.toml", "ending in .html"),
                       ("r/c.html", "inside the run folder"), ("mine.html", "gankit compare did not write it")]:
        assert main(["compare", "r", "--out", out]) == 2, out
        err = capsys.readouterr().err
        assert words in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert (r / "config.toml").read_text() == config and not (r / "c.html").exists()
    assert (tmp_path / "notes.txt").read_text() == "mine" and "mine" in (tmp_path / "mine.html").read_text()
    monkeypatch.chdir(r)                      # the default compare.html would land in the run
    assert main(["compare", "."]) == 2 and "inside the run folder" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "r", "--out", "c.html"]) == 0
    assert main(["compare", "r", "--out", "c.html"]) == 0          # an earlier compare page: replaced
    with pytest.raises(Exception, match="did not write it"):
        CMP.write_compare([r], tmp_path / "mine.html")


def test_an_integer_too_big_for_a_float_is_shown_not_ranked(tmp_path, capsys):
    """A hand-made "swd": 1e400 as an integer gave OverflowError tracebacks in compare and report."""
    huge = 10 ** 400
    assert fmt_value(huge, ".4f") == "1.000e+400" and fmt_value(huge, "d") == "1.000e+400"
    assert better_of([huge, 0.5, 0.7], "lower") == [1] and better_of([huge, 0.5], "lower") == []
    assert fmt_value(float("inf"), "d") == "inf"
    a = _run(tmp_path / "a", ({}, {"swd": huge, "jsd": 0.1}))
    RunFolder(a).append({"step": 100, "kind": "train", "loss_d": huge, "time": huge})
    b = _run(tmp_path / "b", ({}, {"swd": 0.3, "jsd": 0.2}))
    assert main(["compare", str(a), str(b), "--text"]) == 0
    out = capsys.readouterr().out
    assert "1.000e+400" in out
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "c.html")]) == 0
    assert main(["report", str(a)]) == 0
    assert "Traceback" not in capsys.readouterr().err


def test_values_equal_up_to_rounding_noise_are_a_tie():
    """A saturated JSD of ln 2 in two runs (differing by 9e-14) got the star."""
    assert better_of([0.6931471805598551, 0.6931471805599453], "lower") == []
    assert better_of([0.6931471805598551, 0.6931471805599453, 0.7], "lower") == [0, 1]
    assert better_of([1.0, 1.0 + 1e-6], "lower") == [0]


def test_text_says_the_evaluation_step_and_when_there_is_none(tmp_path):
    a = _run(tmp_path / "a", ({}, {"jsd": 0.1}))
    RunFolder(a).append({"step": 160, "kind": "train", "loss_d": 1.0, "time": 12.0})
    rows = {line.split()[0] + " " + line.split()[1]: line for line in CMP.to_text(CMP.compare_data([a])).splitlines()
            if len(line.split()) > 1}
    assert rows["eval step"].split()[-1] == "100" and rows["step 160"]
    b = tmp_path / "b"
    f = RunFolder(b)
    f.path.mkdir()
    f.write_config('seed = 0\n[train]\nsteps = 100\n')
    f.append({"step": 50, "kind": "train", "loss_d": 1.0, "time": 1.0})
    text = CMP.to_text(CMP.compare_data([b]))
    assert "no evaluation recorded in these runs" in text and "the better value" not in text


def test_config_differences_show_non_ascii_text_as_it_is(tmp_path):
    a = _run(tmp_path / "a", ({}, {"jsd": 0.1}), config='[data]\nname = "points"\npath = "donn\u00e9es.npy"\n')
    b = _run(tmp_path / "b", ({}, {"jsd": 0.2}), config='[data]\nname = "points"\npath = "\u65e5\u672c.npy"\n')
    text = CMP.to_text(CMP.compare_data([a, b]))
    assert '"donn\u00e9es.npy"' in text and '"\u65e5\u672c.npy"' in text and "\\u" not in text
    page = CMP.write_compare([a, b], tmp_path / "c.html").read_text(encoding="utf-8")
    assert "\u65e5\u672c.npy" in page and "\\u65e5" not in page


def test_the_same_run_folder_given_twice_is_compared_once(tmp_path, capsys):
    a = _run(tmp_path / "a", ({}, {"jsd": 0.1}))
    with pytest.warns(UserWarning, match="same run folder"):
        data = CMP.compare_data([a, str(a) + "/."])
    assert len(data["runs"]) == 1
    assert main(["compare", str(a), f"{a}/", "--text"]) == 0
    assert "compared once" in capsys.readouterr().err


def test_json_output_is_strict_json(tmp_path):
    """A hand-made NaN was printed as a bare NaN (JSON.parse refuses it)."""
    a = _run(tmp_path / "a", ({}, {"hq_fraction": float("nan"), "jsd": 0.1}))
    RunFolder(a).append({"step": 100, "kind": "train", "loss_d": 1.0, "time": float("nan")})
    with open(a / "metrics.jsonl", "a") as f:
        f.write('{"step": 100, "kind": "eval", "mmd2": 1e400, "jsd": NaN}\n')
    b = _run(tmp_path / "b", ({}, {"hq_fraction": 0.5, "jsd": 0.2}))

    def refuse(token):
        raise ValueError(f"not JSON: {token}")
    out = json.loads(CMP.to_json(CMP.compare_data([a, b])), parse_constant=refuse)
    by = {m["key"]: m["values"] for m in out["metrics"]}
    assert by["jsd"] == [None, 0.2] and by["mmd2"] == ["inf", None]


def test_the_report_keeps_each_metrics_own_reference(tmp_path):
    """After a partial re-evaluation at other settings, the reference of the other metrics (at
    their settings) was dropped: only the newest reference record was read."""
    from gankit.report import report_context
    a = _run(tmp_path / "a", ({"n_samples": 500}, {"precision": 0.9, "mmd2": 0.01}),
             ({}, {"modes_covered": 8}))
    f = RunFolder(a)
    f.append({"step": 100, "kind": "reference", "source": "fresh draws", "settings": {**SETTINGS, "n_samples": 500},
              "precision": 0.95, "mmd2": -0.001})
    f.append({"step": 100, "kind": "reference", "source": "fresh draws", "settings": dict(SETTINGS),
              "modes_covered": 8, "precision": 0.97})
    rows = {r["key"]: r["reference"] for g in report_context(a)["groups"] for r in g["rows"]}
    assert rows == {"precision": "0.950", "mmd2": "-0.001", "modes_covered": "8"}   # 0.97 is at 2,500 samples


def test_text_and_json_together_are_refused(tmp_path, capsys):
    """--text --json printed the JSON alone, silently."""
    a = _run(tmp_path / "a", ({}, {"jsd": 0.1}))
    with pytest.raises(SystemExit) as stop:
        from gankit.cli import build_parser
        build_parser().parse_args(["compare", str(a), "--text", "--json"])
    assert stop.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
    assert main(["compare", str(a), "--text", "--json"]) == 2


def test_compare_draws_the_losses_other_objectives_log_not_only_a_gans():
    """A VAE's or SeqGAN's own losses were left out: compare drew a fixed list of GAN keys."""
    from gankit.report.compare import _panels
    gan = [{"step": 1, "kind": "train", "time": 0.1, "loss_d": 1.0, "loss_g": 0.5, "grad_norm_d": 2.0, "gp": 0.1,
            "lr_g": 1e-3}]
    vae = [{"step": 1, "kind": "train", "time": 0.1, "elbo": -90.0, "kl": 3.0, "grad_norm_g": 1.0, "lr_g": 1e-3}]
    assert [k for _, kind, k in _panels([gan], []) if kind == "train"] == ["loss_d", "loss_g", "lr_g"]
    assert [k for _, kind, k in _panels([gan, vae], []) if kind == "train"] == ["loss_d", "loss_g", "lr_g", "elbo",
                                                                                 "kl"]


def test_runs_apart_only_in_data_standardize_are_ranked(tmp_path):
    """How the nets see the data is a training choice: samples and metrics are in the data's own
    units either way, so the runs are ranked (the difference is listed); other data keys still
    stop the ranking."""
    data_toml = '[data]\nname = "points"\npath = "p.npy"\nstandardize = "{}"\n'
    a = _run(tmp_path / "a", ({}, {"mmd2": 0.01}), config=data_toml.format("global"))
    b = _run(tmp_path / "b", ({}, {"mmd2": 0.02}), config=data_toml.format("none"))
    data = CMP.compare_data([a, b])
    assert [d["key"] for d in data["config_diff"]] == ["data.standardize"]
    assert not data["note"].startswith("no value is marked better")
    assert _by_key(data)["mmd2"]["best"] == [0]
    c = _run(tmp_path / "c", ({}, {"mmd2": 0.005}), config=data_toml.format("none").replace("p.npy", "q.npy"))
    assert CMP.compare_data([b, c])["note"].startswith("no value is marked better: the runs differ in data.path")


def test_another_user_metric_asked_beside_a_metric_does_not_set_it_apart(tmp_path):
    """Run B also asked a user metric far_count: its record's user_code held one more entry, and
    compare left mmd2 unmarked for "different eval settings (user_code: ...)" though the code
    that measured mmd2 (the dataset's) was the same; a dataset's code that differs still counts."""
    data_code = {"dataset blob5": "1" * 40}
    a = _run(tmp_path / "a", ({"user_code": data_code}, {"mmd2": 0.01}))
    b = _run(tmp_path / "b", ({"user_code": {**data_code, "metric far_count": "2" * 40}},
                              {"mmd2": 0.02, "far_count": 3}))
    data = CMP.compare_data([a, b])
    assert _by_key(data)["mmd2"]["best"] == [0] and "user_code" not in data["note"]
    c = _run(tmp_path / "c", ({"user_code": {"dataset blob5": "3" * 40}}, {"mmd2": 0.03}))
    data = CMP.compare_data([a, c])
    assert _by_key(data)["mmd2"]["best"] == [] and "user_code" in data["note"]
