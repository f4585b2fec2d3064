"""recon_error for a sweep variant whose G cannot be inverted (a conditional run; an objective
without a latent code) is refused before any job starts, naming the variant, by the rule a built
run applies (gankit.metrics.run_parts): the runs trained, then each failed with a ConfigError."""
import argparse

import pytest

from gankit import config as C
from gankit.config import ConfigError
from gankit.metrics.run_parts import inversion_refused, uninvertible_by_config
from gankit.sweep import Job, add_parser, run_sweep

TINY = ["data.name=digits8x8", "data.resolution=16", "train.steps=2", "train.batch_size=8", "generator.width=4",
        "discriminator.width=4", "noise.dim=4", "train.progress=false", "eval.n_samples=20"]
CONDITIONAL = "inversion of conditional runs is not supported"


def _cli(argv):
    parser = argparse.ArgumentParser(prog="gankit")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sweep", *argv])
    return args.fn(args)


def test_gankit_sweep_refuses_recon_error_for_a_conditional_variant_before_any_job(tmp_path):
    results = tmp_path / "out" / "s.jsonl"
    sets = sum((["--set", s] for s in TINY), [])
    with pytest.raises(ConfigError, match=rf"^variant c: metric 'recon_error' cannot measure its runs: {CONDITIONAL}"
                                          r".*; drop it from --metrics, or sweep that variant separately$") as e:
        _cli(["c=fashion-cgan", "mnist-dcgan", *sets, "--seeds", "2", "--workers", "1", "--metrics", "recon_error",
              "--results", str(results)])
    assert "mnist-dcgan" not in str(e.value) and str(e.value).count("variant c:") == 1, str(e.value)
    assert not results.parent.exists()       # no results file, no lock: no job started


def test_run_sweep_refuses_a_job_s_own_eval_metrics_recon_error_for_a_conditional_run(tmp_path):
    jobs = [Job("g", "mnist-dcgan", TINY, 0),
            Job("c", "fashion-cgan", TINY + ['eval.metrics=["recon_error"]'], 0)]
    with pytest.raises(ConfigError, match=r"^variant c: eval.metrics: metric 'recon_error' cannot measure its runs"):
        run_sweep(jobs, tmp_path / "out" / "s.jsonl", workers=1)
    assert not (tmp_path / "out").exists()


def test_the_check_is_the_run_s_rule_for_each_objective_and_condition():
    cfg = C.load("mnist-dcgan", TINY)
    assert uninvertible_by_config(["recon_error", "image_stats"], cfg) == {}       # a plain GAN inverts
    assert uninvertible_by_config(["image_stats"], C.load("fashion-cgan", TINY)) == {}
    assert uninvertible_by_config(["recon_error"], C.load("fashion-cgan", TINY)) == {
        "recon_error": inversion_refused("gan", True, True)}
    assert uninvertible_by_config(["recon_error"], C.load("mnist-ebm", TINY[:1])) == {
        "recon_error": inversion_refused("ebm", False, False)}
