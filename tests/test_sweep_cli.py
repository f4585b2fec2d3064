"""gankit.sweep_cli's checks before any training (audit F75): a metric of a part of the run
(classify, code_nn, elbo) against each variant's objective; where a seed was given; --table-only
while the sweep that writes the results file is still running."""
import argparse
import subprocess
import sys

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
