"""A run whose eval.metrics names a user's metric no longer registered here (its module moved,
untrusted, or registered in a notebook) is still reported, sampled and evaluated on other metrics,
with one warning naming it and --import; training on (--resume) and a plain evaluation of that
list still refuse it by name (audit a170)."""
import json
import sys

import pytest

from gankit.cli import main
from tests.conftest import TINY_CLI, imported_parts

PART = '''
from gankit.metrics.base import Output, register_metric
@register_metric("gone_gap", applies=lambda ds: ds.kind == "points", help="x",
                 outputs={"gone_gap": Output("gap", "lower", ".4f")}, reads=("n_samples",))
def gone_gap(ctx):
    return {"gone_gap": float(ctx.generate(100, "samples").mean())}
'''


@pytest.fixture
def gone_run(tmp_path, capsys):
    """A tiny run trained with gone_gap in eval.metrics, then gone_gap dropped from the registry."""
    from gankit.registry import METRICS
    imported_parts(tmp_path, "gone_part", PART)
    run = tmp_path / "rg"
    sets = [a for s in TINY_CLI + ["eval.metrics=['gone_gap']"] for a in ("--set", s)]
    assert main(["train", "ring-vanilla", *sets, "--out", str(run)]) == 0
    assert "gone_gap" in (run / "metrics.jsonl").read_text()
    entry = METRICS._entries.pop("gone_gap")     # conftest puts the registries back after the test
    sys.modules.pop(entry.module, None)          # and the next test imports its own file
    capsys.readouterr()
    return run


def _warned_once(err: str):
    said = [line for line in err.splitlines() if "'gone_gap' not registered here" in line]
    assert len(said) == 1 and "--import" in said[0], err


def test_report_sample_and_eval_of_other_metrics_warn(gone_run, tmp_path, capsys):
    assert main(["report", str(gone_run)]) == 0
    _warned_once(capsys.readouterr().err)
    assert "gone_gap" in (gone_run / "report.html").read_text()     # its recorded numbers still shown
    assert main(["sample", str(gone_run), "-n", "5", "--out", str(tmp_path / "s.npy")]) == 0
    _warned_once(capsys.readouterr().err)
    assert (tmp_path / "s.npy").is_file()
    assert main(["eval", str(gone_run), "--metrics", "modes", "--json", "--no-record"]) == 0
    out, err = capsys.readouterr()
    _warned_once(err)
    assert "modes_covered" in json.loads(out.strip().splitlines()[-1])


def test_drs_fine_tunes_such_a_run_with_a_warning(gone_run, capsys):
    """drs measures none of eval.metrics: refused by name (audit a172) though report was not."""
    before = (gone_run / "config.toml").read_text()
    assert main(["drs", str(gone_run), "--steps", "5"]) == 0
    _warned_once(capsys.readouterr().err)
    assert "gone_gap" in (gone_run / "config.toml").read_text() and "gone_gap" in before   # kept for --import


def test_resume_and_plain_eval_still_refuse_it(gone_run, capsys):
    assert main(["eval", str(gone_run), "--no-record"]) == 2
    assert "eval.metrics: unknown metric 'gone_gap'" in capsys.readouterr().err
    assert main(["train", "--resume", "--out", str(gone_run), "--set", "train.steps=16"]) == 2
    assert "eval.metrics: unknown metric 'gone_gap'" in capsys.readouterr().err


def test_the_python_api_reads_such_a_run_as_the_command_line_does(gone_run, tmp_path):
    from gankit import api
    from gankit.config import ConfigError
    for call in (lambda: api.report(gone_run), lambda: api.sample(gone_run, 4),
                 lambda: api.evaluate(gone_run, ["modes"], record=False, reference=False)):
        with pytest.warns(UserWarning, match="'gone_gap' not registered here"):
            call()
    with pytest.raises(ConfigError, match="unknown metric 'gone_gap'"):
        api.evaluate(gone_run, record=False, reference=False)      # eval.metrics itself: refused by name
