"""Eval and reference records name the gankit code that measured them (settings' metrics_code):
numbers of an older gankit, whose metrics may be defined otherwise (reverse KL's cap, mmd2's
bandwidth), are not ranked against this one's by compare, nor reused as a resumed run's final
evaluation (audit a105 F1, F2)."""
import json
import shutil

import pytest

from gankit.cli import main
from gankit.report import compare as CMP
from gankit.runfolder import RunFolder


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A tiny finished ring run with an evaluation during training (step 6) and a final one."""
    from conftest import TINY_CLI
    out = tmp_path_factory.mktemp("stamp") / "run"
    args = [a for kv in TINY_CLI for a in ("--set", kv)]
    # modes and jsd (the number the tests change): what is stamped and compared is the same for every metric
    assert main(["train", "ring", "--out", str(out), *args, "--set", "train.eval_every=6",
                 "--set", 'eval.metrics=["modes", "jsd"]']) == 0
    return out


def _copy(run, dest, change):
    """A copy of ``run`` whose eval and reference records went through ``change(record)``."""
    shutil.copytree(run, dest)
    lines = [json.loads(line) for line in (dest / "metrics.jsonl").read_text().splitlines()]
    for r in lines:
        if r.get("kind") in ("eval", "reference") and isinstance(r.get("settings"), dict):
            change(r)
    (dest / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    return dest


def metrics_code() -> str:
    from gankit.metrics.reference import metrics_code      # here: a test fails alone where it is missing
    return metrics_code()


def _older(r):
    """As a gankit before the stamp wrote it, its jsd worse: a value compare would mark."""
    r["settings"].pop("metrics_code", None)
    if r.get("kind") == "eval" and isinstance(r.get("jsd"), float):
        r["jsd"] = r["jsd"] + 0.25


def test_eval_and_reference_records_carry_the_code_that_measured_them(finished):
    recs = RunFolder(finished).records()
    evals = [r for r in recs if r["kind"] == "eval"]
    assert {r["source"] for r in evals} == {"train.eval_every"}     # the final one reused step 12's
    assert [r["step"] for r in evals] == [6, 12]
    stamped = evals + [r for r in recs if r["kind"] == "reference"]
    assert len(stamped) > len(evals)
    assert all(r["settings"]["metrics_code"] == metrics_code() for r in stamped)
    assert len(metrics_code()) == 16


def test_compare_ranks_no_number_measured_by_another_metrics_code(finished, tmp_path, capsys):
    same = _copy(finished, tmp_path / "same", lambda r: r.__setitem__("jsd", r["jsd"] + 0.25)
                 if r.get("kind") == "eval" else None)
    data = CMP.compare_data([finished, same])
    assert [m["best"] for m in data["metrics"] if m["key"] == "jsd"] == [[0]]      # same code: ranked
    old = _copy(finished, tmp_path / "old", _older)
    data = CMP.compare_data([old, finished])
    scored = [m for m in data["metrics"] if m["better"]]
    assert scored and all(m["best"] == [] and m["settings_differ"] == ["metrics_code"] for m in scored)
    assert "measured by different versions of gankit's metrics code (unrecorded: an older gankit / " \
           f"{metrics_code()[:8]})" in data["note"] and "gankit eval RUN" in data["note"]
    other = _copy(finished, tmp_path / "other", lambda r: r["settings"].update(metrics_code="0123456789abcdef"))
    assert main(["compare", str(other), str(finished), "--text"]) == 0
    text = capsys.readouterr().out
    assert " *" not in text.split("* the better value")[0]
    assert f"metrics code (01234567 / {metrics_code()[:8]})" in text


def test_resume_of_a_finished_run_measures_an_older_gankits_final_evaluation_again(finished, tmp_path, capsys):
    same = _copy(finished, tmp_path / "same", lambda r: None)
    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(same), "--set", "train.progress=false"]) == 0
    assert "measured during training" in capsys.readouterr().err     # this gankit's: reused
    assert len(RunFolder(same).records("eval")) == 2
    old = _copy(finished, tmp_path / "old", _older)
    assert main(["train", "--resume", "--out", str(old), "--set", "train.progress=false"]) == 0
    err = capsys.readouterr().err
    assert "measured during training" not in err and "not repeated" not in err and "evaluating step 12" in err
    evals = RunFolder(old).records("eval")
    assert len(evals) == 3 and evals[-1]["source"] == "final" and evals[-1]["step"] == 12
    assert evals[-1]["settings"]["metrics_code"] == metrics_code()
    assert evals[-1]["jsd"] == pytest.approx(evals[1]["jsd"] - 0.25)     # the weights' own number
    # the real-data reference of an older gankit is measured again, for the report's row
    refs = RunFolder(old).records("reference")
    assert refs[-1]["settings"]["metrics_code"] == metrics_code()


def test_a_sweep_table_of_records_from_two_metrics_codes_says_so(tmp_path, tiny):
    """A results file that outlived an upgrade: --resume reuses its older lines beside new ones,
    and the table would average two definitions of a metric without a word."""
    from gankit import sweep as S
    from gankit.metrics.reference import metrics_code
    from gankit.sweep_cli import mixed_code_note
    r = S.run_job(S.Job("v", "ring", tiny, 0), ["modes"], tmp_root=str(tmp_path))
    assert r["metrics_code"] == metrics_code()
    assert mixed_code_note([r, dict(r, seed=1)], "res.jsonl") == ""
    old = {k: v for k, v in r.items() if k != "metrics_code"}
    note = mixed_code_note([r, old], "res.jsonl")
    assert "2 versions of gankit's metrics code (1 by an older gankit that did not record it)" in note
    assert "delete the older lines from res.jsonl and rerun with --resume" in note


def test_the_metrics_code_covers_the_inversion_recon_error_measures_through(monkeypatch):
    """recon_error fits codes by latent inversion (gankit/train/inversion.py): a change to how its
    starts are drawn measures other numbers, so it is part of the stamp."""
    from pathlib import Path

    from gankit.metrics import reference
    read = []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: (read.append(self), real(self))[1])
    reference._code_hash()
    assert any(p.parts[-2:] == ("train", "inversion.py") for p in read)
    assert any(p.parts[-2:] == ("metrics", "inference.py") for p in read)
