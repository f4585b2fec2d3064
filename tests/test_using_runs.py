"""Using a trained run with what users bring (audit a65): empty image arrays and folders,
binary arrays, a label and a caption together, a metric named twice, metrics a run's model
cannot give, sample counts that are not integers, memory advice for sampling, a run in
training with no checkpoint yet, and upper-case suffixes."""
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from gankit import api
from gankit import config as C
from gankit.cli import main
from gankit.train.run import Run

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def digit_run(tmp_path_factory):
    from conftest import TINY_IMG
    path = tmp_path_factory.mktemp("dig") / "r"
    Run.create(C.load("mnist-dcgan", TINY_IMG + ["data.name=digits8x8", 'eval.metrics=["class_hist"]']),
               path).train().close()
    return path


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    from conftest import TINY
    path = tmp_path_factory.mktemp("ring") / "r"
    Run.create(C.load("ring-vanilla", TINY), path).train().close()
    return path


def _err(capsys, args, code: int = 2) -> str:
    """The error line (warnings may come before it)."""
    assert main(args) == code
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and err.splitlines()[-1].startswith("gankit: error: "), err
    return err.splitlines()[-1]


@pytest.mark.parametrize("dtype,shape", [("float32", (0, 1, 8, 8)), ("uint8", (0, 8, 8))])
@pytest.mark.parametrize("command", ["invert", "complete"])
def test_an_empty_image_array_is_one_line(digit_run, tmp_path, capsys, dtype, shape, command):
    np.save(tmp_path / "e.npy", np.zeros(shape, dtype))
    args = [command, str(digit_run), "--images", str(tmp_path / "e.npy"), "--steps", "1"]
    err = _err(capsys, args + (["--mask", "top"] if command == "complete" else []))
    assert "holds 0 images" in err


def test_an_empty_or_unreadable_images_folder_is_named_as_images(digit_run, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(b"not a png")
    for folder, words in (("empty", "holds no images"), ("bad", "could be read")):
        err = _err(capsys, ["invert", str(digit_run), "--images", str(tmp_path / folder), "--steps", "1"])
        assert err.startswith(f"gankit: error: --images {tmp_path / folder}: ") and words in err
        assert "data.path" not in err and "sub-folder" not in err


def test_a_binary_image_array_is_black_and_white(digit_run, tmp_path):
    from gankit.train.inversion_inputs import load_images
    a = np.zeros((2, 8, 8), bool)
    a[:, :4] = True
    np.save(tmp_path / "b.npy", a)
    x = load_images(str(tmp_path / "b.npy"), Run.open(digit_run).dataset)
    assert set(x.unique().tolist()) == {-1.0, 1.0} and float(x[0, 0, 0, 0]) == 1.0


def test_a_label_and_a_caption_together_are_refused():
    run = SimpleNamespace(conditional=True, dataset=None)
    with pytest.raises(C.ConfigError, match="give --label or --text, not both"):
        api.condition_args(run, 4, label=1, text="a thick bag", names=("--label", "--text"))


def test_a_metric_named_twice_is_measured_once(ring_run):
    said = []
    out = api.evaluate(ring_run, ["modes", "modes"], record=False, reference=False, log=said.append)
    assert out["modes_covered"] >= 0 and said[0].startswith("evaluating step 30: modes;")


def test_a_metric_the_runs_model_cannot_give_says_so_when_named(digit_run, capsys):
    """classify on a plain GAN: "nothing measured" and advice about image features."""
    said = r"metric 'classify' measures a part this run's objective \(gan\) does not have"
    with pytest.raises(C.ConfigError, match=said):
        api.evaluate(digit_run, ["classify"], record=False, reference=False)
    err = _err(capsys, ["eval", str(digit_run), "--metrics", "classify", "--no-record"])
    assert re.search(said, err) and "nothing measured" not in err
    import warnings
    with warnings.catch_warnings(record=True) as said:        # every metric that applies: left out quietly
        warnings.simplefilter("always")
        out = api.evaluate(digit_run, None, record=False, reference=False)
    assert out and not [w for w in said if "classif" in str(w.message)]


@pytest.mark.parametrize("kw,words", [({"n": 1e3}, "sample count 1000.0: give an integer"),
                                      ({"n": True}, "sample count True"),
                                      ({"n": 4, "seed": True}, "sample seed True")])
def test_sample_counts_and_seeds_must_be_integers(ring_run, kw, words):
    run = api.open_run(ring_run)
    with pytest.raises(C.ConfigError, match=words):
        run.sample(**kw)
    assert run.sample(np.int64(3))[0].shape == (3, 2)


def test_running_out_of_memory_while_sampling_names_the_sample_count():
    from gankit.cli import _oom_advice
    code = compile("def draw():\n    raise MemoryError('out of memory')\n", f"/x/gankit{os.sep}sample_cli.py", "exec")
    space: dict = {}
    exec(code, space)
    try:
        space["draw"]()
    except MemoryError as e:
        advice = _oom_advice(e)
    assert "fewer samples (-n)" in advice and "train.batch_size" not in advice


def test_a_run_in_training_without_a_checkpoint_says_so(tmp_path, capsys):
    from gankit.runfolder import RunFolder
    run = tmp_path / "r"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.toml").write_text(C.dumps_toml(C.load("ring-vanilla")))
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from gankit.io import lock_file
        lock_file(r"{RunFolder(run).lock_path}")
        print("held", flush=True)
        time.sleep(60)
        """)], stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)}, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        err = _err(capsys, ["sample", str(run), "-n", "3", "--out", str(tmp_path / "s.npy")], code=1)
        assert f"process {holder.pid} is training it and has written none yet" in err
    finally:
        holder.kill()
        holder.wait()


def test_upper_case_suffixes_and_one_sample(ring_run, tmp_path, capsys):
    assert main(["sample", str(ring_run), "-n", "1", "--out", str(tmp_path / "x.NPY")]) == 0
    assert np.load(tmp_path / "x.NPY").shape == (1, 2)
    assert "wrote 1 sample to" in capsys.readouterr().out


def test_a_typed_captions_full_stop_is_no_word():
    """"a thick bag." was refused: unknown word(s) ['bag.']."""
    from gankit.data.conditional import Vocab
    parsed = []
    vocab = Vocab(["a", "thick", "bag", "e.g."])
    ds = SimpleNamespace(condition_kind="text", vocab=vocab, parse=lambda t: (parsed.append(t), (0, {}))[1],
                         classes=torch.tensor([0]), encode_text=lambda texts: torch.zeros(len(texts), 4))
    run = SimpleNamespace(conditional=True, dataset=ds)
    api.condition_args(run, 2, text="A thick bag.")
    api.condition_args(run, 2, text="a bag e.g.")         # a word of the captions keeps its stop
    assert parsed == ["a thick bag", "a bag e.g."]


def test_a_metric_named_in_an_eval_metrics_override_that_the_model_cannot_give_is_refused(digit_run):
    """classify listed in eval.metrics on a plain GAN vanished without a word; named by the caller
    (an eval.metrics override, as --metrics) it is refused before anything is measured."""
    with pytest.raises(C.ConfigError, match=r"^metric 'classify' measures a part this run's objective \(gan\) "
                                          r"does not have"):
        api.evaluate(digit_run, None, ['eval.metrics=["classify", "class_hist"]'], record=False, reference=False)


def test_an_all_true_binary_array_is_not_warned_about_as_floats(digit_run, tmp_path):
    import warnings
    from gankit.train.inversion_inputs import load_images
    np.save(tmp_path / "b.npy", np.ones((2, 8, 8), bool))
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        x = load_images(str(tmp_path / "b.npy"), Run.open(digit_run).dataset)
    assert float(x.min()) == 1.0 and not [w for w in said if "float values" in str(w.message)]


@pytest.mark.parametrize("command", ["invert", "complete"])
def test_errors_csv_names_the_file_of_each_row(digit_run, tmp_path, capsys, command):
    """Rows were numbered by position alone: with an unreadable file skipped, row 1 was a2.png."""
    from PIL import Image
    (tmp_path / "in").mkdir()
    for name in ("a0.png", "a2.png"):
        Image.fromarray(np.full((8, 8), 200, np.uint8)).save(tmp_path / "in" / name)
    (tmp_path / "in" / "a1.png").write_bytes(b"")             # zero bytes: skipped with a warning
    args = [command, str(digit_run), "--images", str(tmp_path / "in"), "--steps", "1", "--out", str(tmp_path / "o")]
    assert main(args + (["--mask", "top"] if command == "complete" else [])) == 0
    import csv
    rows = list(csv.DictReader((tmp_path / "o" / "errors.csv").open()))
    assert [(r["index"], r["file"]) for r in rows] == [("0", "a0.png"), ("1", "a2.png")]
    assert "a1.png" in capsys.readouterr().err
    np.save(tmp_path / "x.npy", np.zeros((2, 8, 8), np.uint8))       # an array: no files to name
    assert main([command, str(digit_run), "--images", str(tmp_path / "x.npy"), "--steps", "1", "--out",
                 str(tmp_path / "o2")] + (["--mask", "top"] if command == "complete" else [])) == 0
    assert (tmp_path / "o2" / "errors.csv").read_text().splitlines()[0] == "index,mse"


def test_eval_of_a_metric_that_does_not_apply_announces_nothing(ring_run, capsys):
    """It printed "evaluating step N: fid; ..." and then refused fid."""
    assert main(["eval", str(ring_run), "--metrics", "fid", "--no-record"]) == 2
    err = capsys.readouterr().err
    assert "evaluating step" not in err and "metric 'fid' does not apply to this data" in err


@pytest.mark.parametrize("command", ["invert", "complete"])
def test_an_output_set_that_cannot_be_written_keeps_the_earlier_set_whole(digit_run, tmp_path, capsys,
                                                                            monkeypatch, command):
    """A full disk part-way through left 150 new reconstructions beside the earlier 5 images' z.npy,
    errors.csv and summary.json: whole files, wrongly paired, without a word."""
    import errno
    import json

    import gankit.io
    out = tmp_path / "o"
    mask = ["--mask", "top"] if command == "complete" else []
    np.save(tmp_path / "five.npy", np.zeros((5, 8, 8), np.uint8))
    np.save(tmp_path / "seven.npy", np.full((7, 8, 8), 100, np.uint8))
    args = [command, str(digit_run), "--steps", "1", "--out", str(out), *mask]
    assert main(args + ["--images", str(tmp_path / "five.npy")]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real = gankit.io.write_text_atomic

    def full(path, text):      # summary.json, the fourth file of the set: the disk fills there
        if str(path).endswith("summary.json"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, text)
    monkeypatch.setattr(gankit.io, "write_text_atomic", full)
    assert main(args + ["--images", str(tmp_path / "seven.npy")]) == 1
    monkeypatch.setattr(gankit.io, "write_text_atomic", real)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before      # no pending file left either
    assert json.loads((out / "summary.json").read_text())["n"] == 5
    assert main(args + ["--images", str(tmp_path / "seven.npy")]) == 0
    assert json.loads((out / "summary.json").read_text())["n"] == 7 and len(np.load(out / "z.npy")) == 7


def test_class_hist_refused_says_what_it_needs(ring_run, capsys):
    """It said "does not apply to this data (ConditionalData) (class histogram of samples: ...)" on a
    labelled folder, with no reason: it needs a shipped classifier."""
    assert main(["eval", str(ring_run), "--metrics", "class_hist", "--no-record"]) == 2
    err = capsys.readouterr().err
    assert "it needs one-channel images with a shipped evaluation classifier" in err and "class_scores" in err
