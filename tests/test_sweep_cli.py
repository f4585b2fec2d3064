"""gankit.sweep_cli's checks before any training (audit F75): a metric of a part of the run
(classify, code_nn, elbo) against each variant's objective; where a seed was given; --table-only
while the sweep that writes the results file is still running."""
import argparse
import subprocess
import sys
import warnings

import pytest

from gankit.config import ConfigError
from gankit.sweep import add_parser

TINY = ["data.name=digits8x8", "train.steps=2", "train.batch_size=16", "generator.width=4",
        "discriminator.width=4", "noise.dim=4", "train.progress=false"]


def _cli(argv):
    parser = argparse.ArgumentParser(prog="gankit")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sweep", *argv])
    return args.fn(args)


def _sets():
    return sum((["--set", s] for s in TINY), [])


def test_a_metric_of_a_part_a_variant_s_objective_lacks_is_refused_before_any_training(tmp_path):
    """The ae runs trained fully, then each failed "this run's objective has no ELBO": 0/2."""
    results = tmp_path / "s.jsonl"
    with pytest.raises(ConfigError, match=r"variant ae: metric 'elbo' measures a part its objective \(ae\) does "
                                          r"not have \(elbo: the vae objective\)"):
        _cli(["mnist-vae", "ae=mnist-ae", *_sets(), "--seeds", "2", "--metrics", "elbo,image_stats",
              "--results", str(results)])
    assert not results.exists()


def test_the_metrics_of_a_variant_s_own_parts_pass_the_check():
    from gankit import sweep as S
    from gankit.sweep_cli import _check_metrics
    variants = [S.parse_variant(v) for v in ("mnist-vae", "ae=mnist-ae", "bigan=mnist-bigan")]
    jobs = [S.Job(label, src, TINY + ov, 0) for label, src, ov in variants]
    _check_metrics(variants[:1], jobs[:1], 1, ["elbo", "code_nn"])
    _check_metrics(variants, jobs, 1, ["code_nn"])
    with pytest.raises(ConfigError, match="variant ae: metric 'elbo'.*variant bigan: metric 'elbo'"):
        _check_metrics(variants, jobs, 1, ["elbo"])


def test_a_seed_given_with_set_is_blamed_on_set_not_on_a_variant(tmp_path):
    with pytest.raises(ConfigError, match=r"^--set: seed is set per job"):
        _cli(["my=ring-vanilla", "--set", "seed=7", "--results", str(tmp_path / "r.jsonl")])
    with pytest.raises(ConfigError, match=r"^variant my: seed is set per job"):
        _cli(["my=ring-vanilla@seed=7", "--results", str(tmp_path / "r.jsonl")])


def test_table_only_while_the_sweep_on_the_file_runs_says_no_run_has_finished_yet(tmp_path):
    results = tmp_path / "s.jsonl"
    with pytest.raises(ConfigError, match="no results file"):
        _cli(["ring-vanilla", "--table-only", "--results", str(results)])
    # another process holds the file's lock, as a sweep does while it trains (gankit.sweep.run_sweep)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from gankit.io import lock_file; "
         "lock_file(Path(sys.argv[1])); print('held', flush=True); time.sleep(60)",
         str(results.with_name(results.name + ".lock"))], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ConfigError, match=rf"no run has finished yet in .*still running \(PID {holder.pid}\)"):
            _cli(["ring-vanilla", "--table-only", "--results", str(results)])
    finally:
        holder.kill()
        holder.wait()


def _no_training(monkeypatch):
    """run_sweep replaced: a test whose sweep should be refused fails at once, not after training."""
    from gankit import sweep as S
    asked = []

    def fake(jobs, results, workers, metrics, *args, **kw):
        asked.append(metrics)
        return []
    monkeypatch.setattr(S, "run_sweep", fake)
    return asked


def test_metrics_are_read_with_spaces_after_commas_and_a_trailing_comma(tmp_path, monkeypatch):
    """--metrics "modes, jsd" was "unknown metric ' jsd' (did you mean 'jsd'?)" (audit a159)."""
    asked = _no_training(monkeypatch)
    _cli(["ring-vanilla", "--metrics", " modes, jsd,", "--seeds", "1", "--results", str(tmp_path / "r.jsonl")])
    assert asked == [["modes", "jsd"]]


def test_a_variant_s_own_eval_metrics_are_checked_before_any_training(tmp_path, monkeypatch):
    """eval.metrics=["elbo"] on a gan, by --set or a variant's @: every run failed after the sweep
    started, exit 1, where --metrics elbo was refused at once (audit a156)."""
    asked = _no_training(monkeypatch)
    results = str(tmp_path / "r.jsonl")
    with pytest.raises(ConfigError, match=r"^variant g: eval.metrics: metric 'elbo' measures a part its objective "
                                          r"\(gan\) does not have .*; drop it from eval.metrics: --set "):
        _cli(["g=mnist-dcgan", *_sets(), "--set", 'eval.metrics=["elbo"]', "--seeds", "2", "--results", results])
    with pytest.raises(ConfigError, match=r"^variant ae: eval.metrics: metric 'elbo' .*; variant p: eval.metrics: "
                                          r"metric 'modes' does not apply to its data \(ImageDataset"):
        _cli(["vae=mnist-vae@eval.metrics=[\"elbo\"]", "ae=mnist-ae@eval.metrics=[\"elbo\"]",
              'p=mnist-dcgan@eval.metrics=["modes"]', *_sets(), "--results", results])
    assert asked == []
    _cli(["vae=mnist-vae@eval.metrics=[\"elbo\"]", *_sets(), "--seeds", "1", "--results", results])
    assert asked == [None]      # a variant whose objective has the part goes on to train


def test_a_setting_given_as_a_variant_says_where_settings_go():
    """`gankit sweep train.steps=30` was "variant train.steps: no preset or file named '30'" (audit a159)."""
    from gankit.sweep import parse_variant
    with pytest.raises(ConfigError, match=r"^variant 'train.steps=30': a setting without a source; overrides attach "
                                          r"to a source with @: SOURCE@train.steps=30, or use --set train.steps=30$"):
        parse_variant("train.steps=30")
    assert parse_variant("v1.2=ring@train.steps=5") == ("v1.2", "ring", ["train.steps=5"])   # a label with a dot
    assert parse_variant("lr.x=missing.toml")[1] == "missing.toml"      # a file not there: its own error later


def test_a_config_file_s_own_seed_that_the_sweep_replaces_is_warned_once(tmp_path, monkeypatch):
    _no_training(monkeypatch)
    mine = tmp_path / "mine.toml"
    mine.write_text('seed = 7\n[data]\nname = "ring"\n')
    results = str(tmp_path / "r.jsonl")
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        _cli([f"a={mine}", f"b={mine}@train.steps=3", "ring-vanilla", *_sets()[-2:], "--seeds", "2",
              "--results", results])
    seeds = [str(w.message) for w in said if "seed" in str(w.message)]
    assert seeds == [f"{mine} sets seed = 7, which this sweep does not use: its runs take seeds 0 to 1 "
                     "(--first-seed 0 --seeds 2); to include 7, give --first-seed 7"], seeds
    with warnings.catch_warnings(record=True) as said:     # 7 among the sweep's seeds: nothing to say
        warnings.simplefilter("always")
        _cli([f"a={mine}", "--first-seed", "6", "--seeds", "2", "--results", results])
    assert not [w for w in said if "seed" in str(w.message)]


@pytest.mark.parametrize("metric", ["parzen", "cas"])
def test_a_metric_whose_needs_depend_on_the_data_says_them_in_words(tmp_path, monkeypatch, metric):
    """needs given as a function of the data (parzen, memorisation, cas) was shown as its repr:
    "it needs <function held_needs at 0x...>" (F97)."""
    asked = _no_training(monkeypatch)
    with pytest.raises(ConfigError) as e:
        _cli(["ring-vanilla", "--metrics", metric, "--seeds", "1", "--results", str(tmp_path / "r.jsonl")])
    msg = str(e.value)
    assert f"metric {metric!r} does not apply to its data (GaussianMixture; it needs " in msg, msg
    assert "<function" not in msg and "held-out split" in msg, msg
    assert asked == []


def test_a_label_with_a_dot_before_a_misspelt_preset_says_no_such_preset(tmp_path, monkeypatch):
    """`gankit sweep lr1.5=ring-vanila` said "a setting without a source": any label with a dot was
    taken for a config key; only one whose first part is a top-level key is (audit a163)."""
    asked = _no_training(monkeypatch)
    for variant, meant in (("lr1.5=ring-vanila", "ring-vanilla"), ("lr1.5=RING", "ring")):
        with pytest.raises(ConfigError, match=rf"^variant lr1.5: no preset or file named '{variant[6:]}' "
                                              rf"\(did you mean '{meant}'\?\)"):
            _cli([variant, "--seeds", "1", "--results", str(tmp_path / "r.jsonl")])
    for setting in ("data.name=points", "optim_g.lr=0.001", "eval.n_samples=10"):    # still settings
        with pytest.raises(ConfigError, match=rf"^variant '{setting}': a setting without a source"):
            _cli([setting, "--seeds", "1", "--results", str(tmp_path / "r.jsonl")])
    assert asked == []


def test_a_preset_given_by_its_path_is_not_warned_for_its_seed(tmp_path, monkeypatch):
    """configs/ring-vanilla.toml (configs links to gankit/presets) was warned "sets seed = 0, which
    this sweep does not use" like a user's file; a preset's seed is no choice of the user's (audit a163)."""
    from pathlib import Path

    from gankit.config import PRESET_DIR
    _no_training(monkeypatch)
    configs = Path(__file__).resolve().parents[1] / "configs" / "ring-vanilla.toml"
    mine = tmp_path / "mine.toml"
    mine.write_text((PRESET_DIR / "ring-vanilla.toml").read_text())     # a copy is the user's file: warned
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        _cli([f"a={configs}@train.steps=3", f"b={PRESET_DIR / 'ring-vanilla.toml'}", f"c={mine}", "--seeds", "1",
              "--first-seed", "7", "--results", str(tmp_path / "r.jsonl")])
    seeds = [str(w.message) for w in said if "sets seed" in str(w.message)]
    assert seeds == [f"{mine} sets seed = 0, which this sweep does not use: its runs take seed 7 "
                     "(--first-seed 7 --seeds 1); to include 0, give --first-seed 0"], seeds
