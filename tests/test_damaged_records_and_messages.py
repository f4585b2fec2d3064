"""Damaged records and what gankit prints from files (audits a82, a84): a final-eval record whose
values no metric writes is measured again, not reused; control characters from record keys,
run folder names and record values reach no terminal; and messages that named the wrong
remedy or read as something else (parzen on points, ndb of one sample, within_class's counts,
classes never generated, classify offered to a run without a classifier)."""
import json
import warnings
from pathlib import Path

import pytest

from gankit import api
from gankit import config as C
from gankit.train.run import Run


def _records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _write(run: Path, rows: list[dict]):
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    from conftest import TINY
    path = tmp_path_factory.mktemp("ring") / "r"
    Run.create(C.load("ring-vanilla", TINY), path).train().close()
    return path


def test_a_final_evaluation_holding_values_no_metric_writes_is_measured_again(tmp_path, tiny):
    """An edited record (modes_covered {"x": 1}, jsd "<b>", precision [1, 2]) was reused by
    --resume: printed as "modes covered {'x': 1}/8 ... JSD <b> nats" and returned as the result."""
    run = tmp_path / "r"
    api.train("ring-vanilla", run, tiny + ['eval.metrics=["modes", "jsd"]'], report=False, log=None)
    rows = _records(run)
    for r in rows:
        if r["kind"] == "eval":
            r.update(modes_covered={"x": 1}, jsd="<b>")
    _write(run, rows)
    said = []
    with pytest.warns(UserWarning, match=r"step 30 .*holds (modes_covered|jsd) = .*not reused, measuring it again"):
        api.train(out=run, resume=True, report=False, log=said.append)
    assert not any("not repeated" in s for s in said)
    final = [r for r in _records(run) if r["kind"] == "eval"][-1]
    assert isinstance(final["modes_covered"], int) and isinstance(final["jsd"], float)


def test_a_record_of_plain_numbers_is_sound_and_a_nan_or_huge_integer_is_told():
    from gankit.eval_records import _record_fault
    sound = {"step": 3, "kind": "eval", "source": "final", "settings": {"n_samples": 5}, "modes_covered": 8,
             "jsd": None, "reverse_kl": "inf", "energy": float("nan"), "mode_counts": [1, 2], "features": "classifier"}
    assert _record_fault(sound) is None
    assert "precision" in _record_fault({**sound, "precision": [1, 2]})
    assert "not a value a measurement writes" in _record_fault({**sound, "ndb": 10 ** 400})   # no OverflowError


def test_the_summary_escapes_control_characters_and_says_what_classes_missing_counts():
    from gankit.cli_summary import _summary
    line = _summary({"modes_covered": 8, "modes_total": 8, "hq_fraction": 0.5, "reverse_kl": "\x1b[2J",
                     "\x1b]0;TITLE\x07": 1.0})
    assert "\x1b" not in line and "\x07" not in line and "\\x1b]0;TITLE\\x07 1" in line
    assert "9 classes never generated" in _summary({"classes_missing": 9})
    assert "1 class never generated" in _summary({"classes_missing": 1})


def test_compare_text_escapes_folder_names_record_keys_and_values(tmp_path, ring_run):
    import shutil

    from gankit.report import compare as CMP
    named = tmp_path / "run\x1b[31mRED"
    plain = tmp_path / "plain"
    shutil.copytree(ring_run, named)
    shutil.copytree(ring_run, plain)
    rows = _records(plain) + [{"step": 30, "kind": "eval", "source": "gankit eval", "settings": {},
                               "\x1b]0;TITLE\x07\x1b[2Jfake": 1.0, "features": "\x1b[31mred"}]
    _write(plain, rows)
    text = CMP.to_text(CMP.compare_data([plain, named]))
    assert "\x1b" not in text and "\x07" not in text
    assert "run\\x1b[31mRED" in text and "\\x1b]0;TITLE\\x07\\x1b[2Jfake" in text
    lines = text.splitlines()
    assert len({len(line) for line in lines[:4]}) == 1       # the columns measured after escaping


def test_parzen_on_points_says_it_needs_image_data(ring_run):
    """It said only "it needs a held-out split of the images (data.holdout > 0 ...)": data.holdout
    cannot help point data."""
    for name in ("parzen", "memorisation"):
        with pytest.raises(C.ConfigError, match=f"metric '{name}' .*: it needs image data, with a held-out split"):
            api.evaluate(ring_run, [name], record=False, reference=False)


def test_ndb_of_one_sample_gives_the_sample_count_advice(ring_run):
    """It said "the data's points are all one point" of the ring's 8 modes (one real point drawn)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        api.evaluate(ring_run, ["ndb"], ["eval.n_samples=1"], record=False, reference=False)
    said = " | ".join(str(w.message) for w in caught)
    assert "all one point" not in said
    assert "need 4 or more points in each set" in said and 'overrides=["eval.n_samples=' in said


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory):
    from conftest import TINY
    path = tmp_path_factory.mktemp("cgan") / "r"
    Run.create(C.load("ring-cgan", TINY), path).train().close()
    return path


@pytest.mark.parametrize("n,each", [(7, "7 samples over 8 classes: fewer than one each"),
                                    (1, "1 sample over 8 classes: fewer than one each"),
                                    (12, "12 samples over 8 classes: 1 or 2 each")])
def test_within_class_says_how_the_samples_spread_over_the_classes(cgan_run, n, each):
    """It said "(1 samples over 8 classes: 1 each)" for 1 and 7 samples (max(1, n // k))."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        api.evaluate(cgan_run, ["within_class"], [f"eval.n_samples={n}"], record=False, reference=False)
    said = " | ".join(str(w.message) for w in caught)
    assert f"({each})" in said, said


def test_classify_is_not_offered_to_a_run_whose_objective_has_no_classifier(tmp_path):
    """The list of metrics that apply named classify, which then failed with "this run's objective
    has no classifier to measure"."""
    from conftest import TINY_IMG
    path = tmp_path / "r"
    Run.create(C.load("mnist-dcgan", TINY_IMG + ["data.name=digits8x8"]), path).train().close()
    with pytest.raises(C.ConfigError, match="metrics that apply to this data") as e:
        api.evaluate(path, ["stacked_modes"], record=False, reference=False)
    listed = str(e.value).split("metrics that apply to this data:")[1]
    assert "classify" not in [n.strip() for n in listed.split(",")] and "class_hist" in listed
    with pytest.raises(C.ConfigError, match="metrics that apply to this data") as e:     # a new run's refusal
        Run.create(C.load("mnist-dcgan", TINY_IMG + ["data.name=digits8x8", 'eval.metrics=["modes"]']), tmp_path / "n")
    listed = str(e.value).split("metrics that apply to this data:")[1].rstrip(")")
    assert "classify" not in [n.strip() for n in listed.split(",")] and "class_hist" in listed


def test_a_warning_quoting_a_folder_name_reaches_the_terminal_escaped(capsys):
    """Warnings quote folder names and file content (compare's, the data's): an escape sequence in
    one set the terminal's title or colours."""
    from gankit.cli import _say_error, _show_warning
    _show_warning(UserWarning("run\x1b]0;TITLE\x07 and \x1b[31mred"), UserWarning, "f", 1)
    _say_error("no such folder 'x\x1b[2Jy'")
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err and "run\\x1b]0;TITLE\\x07 and \\x1b[31mred" in err
    assert "'x\\x1b[2Jy'" in err
