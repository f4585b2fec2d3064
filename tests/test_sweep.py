"""gankit.identity and gankit.sweep: stored identities, a tiny sweep, resume, damaged files, CLI."""
import argparse
import importlib.util
import json
from pathlib import Path

import pytest

from gankit.config import ConfigError, load, to_dict
from gankit.identity import ADDED_OPTIONS, run_identity
from gankit.sweep import Job, add_parser, parse_variant, read_results, reuse, run_sweep, summarise

ROOT = Path(__file__).resolve().parent.parent
RECORDS = ROOT / "benchmarks" / "results" / "pacgan_runs.jsonl"
# a sweep run small enough for a test: tens of steps on 8-unit nets, 200 samples evaluated
SWEEP_TINY = ["train.steps=20", "train.batch_size=32", "generator.hidden=[8, 8]",
              "discriminator.hidden=[8, 8]", "eval.n_samples=200", "train.progress=false"]


def _pacgan_table():
    spec = importlib.util.spec_from_file_location("pacgan_table", ROOT / "benchmarks" / "pacgan_table.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# recorded runs whose stored identity must survive: a preset DS-SOURCE (vanilla -> ring-vanilla),
# a source on PacGAN's data, options added since (objective.unroll, unroll_lr), a DRS run, gmm1200
STORED = [("GAN", "vanilla", "ring", 0, ["train.steps=3000"]),
          ("unrolled5-lr1e-4", "vanilla", "grid", 0,
           ["train.steps=3000", "objective.unroll=5", "objective.unroll_lr=1e-4"]),
          ("WGAN-GP", "wgan-gp", "grid", 3, ["train.steps=1000"]),
          ("best", "ring", "ring", 7, ["objective.r1=0.05"]),
          ("GAN", "ring-vanilla", "gmm1200", 0, ["train.steps=3000"])]


def test_identity_matches_stored_hashes():
    records = [json.loads(line) for line in RECORDS.read_text().splitlines() if line.strip()]
    pt = _pacgan_table()
    for label, source, ds, seed, overrides in STORED:
        r, = [r for r in records if (r["label"], r["source"], r["dataset"], r["seed"], r["overrides"])
              == (label, source, ds, seed, overrides)]
        job = pt.make_job(label, source, ds, overrides, seed)
        assert job.identity == r["config_hash"], (label, ds, seed)
        assert run_identity(to_dict(job.config())) == r["config_hash"]   # a resolved dict works too
    # without the script: the preset itself
    assert Job("GAN", "ring-vanilla", ["train.steps=3000"], 0).identity == "90c3ae1cee629c91"


def test_identity_ignores_added_options_at_their_default(monkeypatch):
    base = Job("a", "ring-vanilla", ["train.steps=20"], 0).identity
    assert ("train", "precision") in ADDED_OPTIONS
    assert Job("a", "ring-vanilla", ["train.steps=20", 'train.precision="fp32"'], 0).identity == base
    assert Job("b", "ring-vanilla", ["train.steps=20", "objective.unroll=5"], 0).identity != base
    assert Job("a", "ring-vanilla", ["train.steps=20"], 1).identity != base   # the seed counts
    assert Job("a", "ring-vanilla", ["train.steps=21"], 0).identity != base
    cfg = load("ring-vanilla", ["train.steps=20"])
    assert run_identity(cfg) == run_identity(to_dict(cfg))
    monkeypatch.setattr("gankit.identity.ADDED_OPTIONS", {})   # the table is what keeps them equal
    assert Job("a", "ring-vanilla", ["train.steps=20"], 0).identity != base


def test_parse_variant():
    assert parse_variant("ring") == ("ring", "ring", [])
    assert parse_variant("fast=ring@train.steps=5@seed=1") == ("fast", "ring", ["train.steps=5", "seed=1"])
    with pytest.raises(ConfigError):
        parse_variant("fast=ring@train.steps")
    with pytest.raises(ConfigError):
        parse_variant("x=")


def _jobs(seeds=(0, 1)):
    variants = [parse_variant(v) for v in ("plain=ring-vanilla", "pack2=ring-vanilla@objective.pack=2")]
    return [Job(label, src, ov + SWEEP_TINY, s) for label, src, ov in variants for s in seeds]


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A 2-variant x 2-seed sweep, run once for the tests below (one worker)."""
    path = tmp_path_factory.mktemp("sweep") / "runs.jsonl"
    logs = []
    results = run_sweep(_jobs(), path, workers=1, metrics=["modes"], log=logs.append)
    return path, results, logs


def test_sweep_writes_one_record_per_run(swept):
    path, results, logs = swept
    assert len(results) == 4, logs
    stored = read_results(path)
    assert sorted((r["label"], r["seed"]) for r in stored) == [("pack2", 0), ("pack2", 1),
                                                              ("plain", 0), ("plain", 1)]
    for r in stored:
        assert r["modes_total"] == 8 and 0 <= r["modes_covered"] <= 8
        assert 0.0 <= r["hq_fraction"] <= 1.0 and len(r["mode_counts"]) == 8
        assert r["steps"] == 20 and r["cpu_s"] > 0 and r["wall_s"] >= 0
        assert r["config_hash"] == Job(r["label"], r["source"], r["overrides"], r["seed"]).identity
    rows = summarise(stored, keys=["modes_covered", "cpu_s"])
    assert {row["label"]: row["n"] for row in rows} == {"plain": 2, "pack2": 2}


def test_resume_runs_nothing_new(swept):
    path, _, _ = swept
    before = path.read_text()
    logs = []
    jobs = _jobs()
    jobs[0].label = "renamed"   # reused by identity, whatever the label
    results = run_sweep(jobs, path, workers=1, metrics=["modes"], resume=True, log=logs.append)
    assert path.read_text() == before
    assert logs[0].startswith("0 runs")
    assert len(results) == 4 and sum(r["label"] == "renamed" for r in results) == 1


def test_torn_last_line_is_skipped(swept, tmp_path):
    path = tmp_path / "runs.jsonl"
    path.write_text(swept[0].read_text() + '{"label": "plain", "seed": 2, "config_ha')   # killed mid-write
    logs = []
    found, todo = reuse(_jobs((0, 1, 2)), path, log=logs.append)
    assert len(found) == 4 and [(j.label, j.seed) for j in todo] == [("plain", 2), ("pack2", 2)]
    assert len(logs) == 1 and "damaged" in logs[0] and ":5:" in logs[0]
    # the next record starts on its own line, so it is whole
    results = run_sweep(todo[:1], path, workers=1, metrics=["modes"], log=logs.append)
    assert len(results) == 1
    assert sorted(r["seed"] for r in read_results(path, log=logs.append)) == [0, 0, 1, 1, 2]


def test_failed_run_is_reported_and_the_sweep_goes_on(tmp_path):
    path, logs = tmp_path / "runs.jsonl", []
    diverges = Job("nan", "ring-vanilla", SWEEP_TINY + ["optim_d.lr=1e30", "optim_g.lr=1e30"], 0)
    results = run_sweep([diverges, Job("ok", "ring-vanilla", SWEEP_TINY, 0)], path, workers=1,
                        metrics=["modes"], log=logs.append)
    assert [r["label"] for r in results] == ["ok"] == [r["label"] for r in read_results(path)]
    assert any(m.startswith("FAILED nan") and "NonFiniteLoss" in m for m in logs), logs


def _cli(argv):
    parser = argparse.ArgumentParser(prog="gankit")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sweep", *argv])
    return args.fn(args)


def test_cli_table_only(swept, tmp_path, capsys):
    out = tmp_path / "table.md"
    _cli(["plain=ring-vanilla", "pack2=ring-vanilla@objective.pack=2", "--seeds", "2", "--table-only",
          "--results", str(swept[0]), "--out", str(out), *sum((["--set", s] for s in SWEEP_TINY), [])])
    table = capsys.readouterr().out
    assert out.read_text() + "\n" == table
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    assert lines[0].startswith("| label | runs | ") and "modes_covered" in lines[0]
    assert lines[1].startswith("| plain | 2 | ") and lines[2].startswith("| pack2 | 2 | ")


@pytest.mark.parametrize("argv, message", [
    (["no-such-preset"], "no preset or file named 'no-such-preset'"),
    (["ring-vanilla", "--seeds", "0"], "--seeds"),
    (["ring-vanilla", "--set", "train.steps"], "expected key=value"),
    (["ring-vanilla", "--set", "train.no_such_key=1"], "no_such_key"),
    (["ring-vanilla", "--metrics", "modes,nope"], "nope"),
    (["ring-vanilla", "ring-vanilla"], "label"),
    (["ring-vanilla", "--table-only"], "no results file"),
])
def test_cli_bad_input_is_a_config_error(argv, message, tmp_path):
    results = tmp_path / "runs.jsonl"
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        _cli([*argv, "--results", str(results)])
    assert not results.exists()   # nothing ran


def test_cli_a_failed_run_fails_the_sweep_and_plugins_reach_the_workers(tmp_path, capsys):
    """A run that failed left its variant out of the table with exit 0; `gankit --import M sweep`
    failed every run (the spawned workers never imported M) and exited 0 too."""
    from gankit.cli import main
    (tmp_path / "mymetric.py").write_text(
        "from gankit import api\n@api.register_metric('gap0', lambda ds: True, 'x')\n"
        "def gap0(ctx):\n    return {'gap0': 0.25}\n")
    sets = sum((["--set", s] for s in SWEEP_TINY), [])
    rc = main(["--import", str(tmp_path / "mymetric.py"), "sweep", "ok=ring-vanilla",
               "nan=ring-vanilla@optim_d.lr=1e30@optim_g.lr=1e30", "--seeds", "1", "--workers", "1",
               "--metrics", "gap0", "--results", str(tmp_path / "r.jsonl"), *sets])
    out, err = capsys.readouterr()
    assert rc == 1 and "1 of 2 runs failed (nan seed 0: NonFiniteLoss)" in err
    assert "| ok | 1 | " in out and "0.250" in out


def test_summary_of_a_key_with_an_infinite_run_is_infinite_not_the_mean_of_the_others():
    from gankit.sweep import markdown_table, summarise
    rows = summarise([{"label": "a", "reverse_kl": 0.1}, {"label": "a", "reverse_kl": "inf"},
                      {"label": "b", "reverse_kl": 0.2}, {"label": "b", "reverse_kl": 0.4}])
    assert rows[0]["reverse_kl"][0] == float("inf") and rows[1]["reverse_kl"][0] == pytest.approx(0.3)
    assert "| a | 2 | inf |" in markdown_table(rows)


def test_a_key_infinite_in_every_run_keeps_its_column_and_labels_and_small_values_read_right():
    """A metric inf in every run vanished from the table; a "|" in a label added a column; a
    mean of 0.0027 read 0.003 and one of 4e-4 read 0.000."""
    from gankit.sweep import markdown_table, summarise
    rows = summarise([{"label": "lr|0.01", "reverse_kl": "inf", "hq": 0.0027},
                      {"label": "lr|0.01", "reverse_kl": "inf", "hq": 0.0027},
                      {"label": "b", "reverse_kl": "inf", "hq": 0.0004},
                      {"label": "b", "reverse_kl": "inf", "hq": 0.0004}])
    table = markdown_table(rows).splitlines()
    assert table[0] == "| label | runs | reverse_kl | hq |"
    assert table[2].startswith("| lr\\|0.01 | 2 | inf | 0.00270 ± 0.00000")
    assert table[3].startswith("| b | 2 | inf | 0.000400 ± ")
    assert all(line.replace("\\|", "").count("|") == 5 for line in table)


def test_resume_runs_again_the_records_that_lack_a_metric_asked_now(swept, tmp_path):
    from gankit.sweep import reuse
    path = tmp_path / "runs.jsonl"
    path.write_text(swept[0].read_text())
    jobs = _jobs()
    assert reuse(jobs, path, metrics=["modes"])[1] == []              # measured: reused
    assert len(reuse(jobs, path, metrics=["modes", "energy"])[1]) == 4   # energy never measured: run again
    assert len(reuse(jobs, path, metrics=None)[1]) == 4               # all that apply: run again
    assert reuse(jobs, path)[1] == []                                 # --table-only: any record counts


def test_a_seed_given_to_a_sweep_variant_is_refused_not_dropped(capsys):
    """Each job's seed is its own: `@seed=7` or `--set seed=7` trained seed 0 under the label."""
    from gankit.cli import main
    assert main(["sweep", "v=ring-vanilla@seed=7", "--seeds", "1", "--table-only", "--results", "x.jsonl"]) == 2
    assert "seed is set per job" in capsys.readouterr().err
    assert main(["sweep", "ring-vanilla", "--set", "seed=7", "--seeds", "1"]) == 2


def test_damaged_records_of_any_kind_are_skipped_with_a_warning(swept, tmp_path):
    path = tmp_path / "runs.jsonl"
    good = swept[0].read_bytes()
    nested = b"[" * 100000 + b"]" * 100000                      # too deep for the json parser
    path.write_bytes(b"bad \xff\xfe bytes\n" + good + nested + b"\n"
                     + b'{"config_hash": [1], "seed": 5}\n'     # a hash no record can match
                     + '{"label": "a\u2028b", "seed": 9}\n'.encode())   # U+2028 is no line end in JSONL
    logs = []
    records = read_results(path, log=logs.append)
    assert sorted(r["seed"] for r in records) == [0, 0, 1, 1, 9]
    assert [m.split(":")[2] for m in logs] == ["1", "6", "7"] and all("damaged" in m for m in logs)
    found, todo = reuse(_jobs(), path, log=logs.append, metrics=["modes"])
    assert len(found) == 4 and not todo


def test_results_that_name_a_folder_are_refused_before_any_run(tmp_path):
    """--results DIR trained every run, then crashed appending the first record
    (IsADirectoryError)."""
    with pytest.raises(ConfigError, match=r"is a folder; name the JSONL file.*sweep\.jsonl"):
        _cli(["ring-vanilla", "--seeds", "1", "--resume", "--results", str(tmp_path)])
    assert list(tmp_path.iterdir()) == []


def test_a_variants_own_override_wins_over_the_common_set(tmp_path, monkeypatch):
    """long=ring-vanilla@train.steps=40 --set train.steps=20 trained 20 steps: the common --set
    came last, so two labels trained one config (same config_hash) and read as two recipes."""
    from gankit import sweep as S
    seen = []
    monkeypatch.setattr(S, "run_sweep", lambda jobs, *a, **k: seen.extend(jobs) or [])
    _cli(["base=ring-vanilla", "long=ring-vanilla@train.steps=40", "--set", "train.steps=20", "--seeds", "1",
          "--results", str(tmp_path / "r.jsonl")])
    steps = {j.label: j.config().train.steps for j in seen}
    assert steps == {"base": 20, "long": 40}


def test_cpu_seconds_count_training_not_building_the_run(monkeypatch):
    """A worker's first job counted ~1 s of one-off start-up (the memory check's first meta
    forward imports torch._dynamo), so the first variant of a short sweep read slower."""
    import time
    from gankit import sweep as S
    from gankit.train.run import Run
    real = Run.create.__func__

    def slow_create(cls, *a, **k):
        t = time.process_time()
        while time.process_time() - t < 0.5:      # CPU spent building, not training
            pass
        return real(cls, *a, **k)
    monkeypatch.setattr(Run, "create", classmethod(slow_create))
    job = S.Job("v", "ring-vanilla", ["train.steps=5", "train.batch_size=16", "eval.n_samples=100"], 0)
    r = S.run_job(job, ["modes"])
    assert r["cpu_s"] < 0.45 < r["wall_s"]


def test_every_presets_identity_is_the_one_recorded():
    """An option added to the config changes every run's identity unless identity.ADDED_OPTIONS
    names its default: checkpoints of older runs would be refused as another run's, and stored
    sweep results trained again.  A preset changed on purpose: update tests/data/preset_identities.json."""
    import json

    from gankit.config import preset_names
    from gankit.identity import model_identity
    want = json.loads((ROOT / "tests" / "data" / "preset_identities.json").read_text())
    got = {n: [run_identity(load(n)), model_identity(load(n))] for n in sorted(preset_names())}
    changed = sorted(n for n in got if got[n] != want.get(n))
    assert not changed, (f"identities changed for {changed}: a new option needs its default in "
                         "gankit/identity.py ADDED_OPTIONS (or the preset was changed on purpose)")
