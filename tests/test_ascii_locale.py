"""Output under an ASCII locale (LC_ALL=C without UTF-8 mode, PYTHONIOENCODING=ascii): help, the
sweep's table, a class name, error lines and the stop line print without a traceback, in one
form (\\xe9); the stop line's resume command pastes back into bash; the session record holds the
folder's real name."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

ASCII_LOCALE = {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
ASCII_STREAMS = {"PYTHONIOENCODING": "ascii"}


def _env(extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONIOENCODING", "PYTHONUTF8", "LC_ALL")}
    return {**env, "OMP_NUM_THREADS": "1", **extra}


def _gankit(args, extra: dict, cwd=None, **kw):
    return subprocess.run([sys.executable, "-m", "gankit", *args], capture_output=True, env=_env(extra),
                          cwd=cwd, **kw)


@pytest.mark.parametrize("extra", [ASCII_LOCALE, ASCII_STREAMS], ids=["LC_ALL=C", "PYTHONIOENCODING=ascii"])
def test_help_prints_under_an_ascii_locale(extra):
    for args in (["--help"], ["sweep", "--help"]):
        p = _gankit(args, extra)
        assert p.returncode == 0 and b"Traceback" not in p.stderr, p.stderr[-800:]
        assert b"usage:" in p.stdout
    assert b"mean +- standard error" in p.stdout


def test_error_lines_quote_user_input_in_one_form(tmp_path):
    """A --set value quoted by repr() read 'caf\\udcc3\\udca9' under LC_ALL=C, a path in the
    next error run\\udcc3\\udca9; under PYTHONIOENCODING=ascii both read caf\\xe9."""
    for extra in (ASCII_LOCALE, ASCII_STREAMS):
        p = _gankit(["train", "ring-vanilla", "--out", str(tmp_path / "x"), "--set", "loss.name=caf\u00e9\U0001f600"],
                    extra)
        q = _gankit(["eval", str(tmp_path / "nonexist\u00e9")], extra)
        assert (p.returncode, q.returncode) == (2, 1), (p.stderr, q.stderr)
        assert b"unknown loss 'caf\\xe9\\U0001f600'" in p.stderr, p.stderr
        assert b"nonexist\\xe9 is not a run folder" in q.stderr, q.stderr
        assert b"\\udc" not in p.stderr + q.stderr


def test_sweep_table_is_written_and_printed_under_an_ascii_locale(tmp_path):
    """print(table) raised (its "±") before --out was written: a whole sweep trained for nothing."""
    out = tmp_path / "table.md"
    p = _gankit(["sweep", "ring-vanilla", "--seeds", "1", "--workers", "1", "--metrics", "modes",
                 "--set", "train.steps=20", "--set", "eval.n_samples=300", "--results", str(tmp_path / "sw.jsonl"),
                 "--out", str(out)], ASCII_LOCALE)
    assert p.returncode == 0 and b"Traceback" not in p.stderr, p.stderr[-800:]
    assert out.read_text(encoding="utf-8").startswith("Mean \u00b1 standard error")
    assert p.stdout.startswith(b"Mean +- standard error") and b"| ring-vanilla | 1 |" in p.stdout


def test_sample_of_a_class_named_in_unicode_prints_on_an_ascii_stdout(tmp_path):
    """The PNG was written, then printing "... of class 0 ('caf\u00e9 ...')" raised (exit 1)."""
    from conftest import TINY_FOLDER, class_folders

    from gankit import config as C
    from gankit.train.run import Run
    imgs = class_folders(tmp_path / "imgs", ("caf\u00e9 \U0001f600", "th\u00e9"))
    sets = TINY_FOLDER + [f"data.path={imgs}"]
    Run.create(C.load("fashion-cgan", sets), tmp_path / "run").train().close()
    p = _gankit(["sample", str(tmp_path / "run"), "-n", "4", "--label", "0", "--out", str(tmp_path / "s.png")],
                ASCII_STREAMS)
    assert p.returncode == 0, p.stderr[-800:]
    assert (tmp_path / "s.png").stat().st_size > 0
    assert b"of class 0 ('caf\\xe9 \\U0001f600')" in p.stdout, p.stdout


def test_stop_line_pastes_back_and_the_session_record_holds_the_real_name(tmp_path):
    """Under LC_ALL=C the resume command read --out '/x/sig \\udcc3\\udca9' (no shell gives back
    that folder) and metrics.jsonl's command held lone surrogates ("\\udcc3\\udca9" for jq)."""
    out = tmp_path / "sig \u00e9 \U0001f600"
    p = subprocess.Popen([sys.executable, "-m", "gankit", "train", "ring-vanilla", "--out", str(out),
                          "--set", "train.steps=100000", "--set", "train.log_every=10", "--set", "train.progress=false",
                          "--set", "generator.hidden=[16, 16]", "--set", "discriminator.hidden=[16, 16]"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(ASCII_LOCALE))
    metrics, t0 = out / "metrics.jsonl", time.time()
    try:
        while not (metrics.is_file() and b'"kind": "train"' in metrics.read_bytes()) and time.time() - t0 < 120:
            assert p.poll() is None, p.communicate()
            time.sleep(0.2)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:        # a failed wait or a signal it ignored: no training left behind
            p.kill()
            p.communicate()
    assert p.returncode == 130, err[-800:]
    line = err.decode("ascii").strip().splitlines()[-1]
    assert "sig \\xe9 \\U0001f600/checkpoints/step_" in line, line
    word = line.split("gankit train --resume --out ", 1)[1]
    assert word.startswith("$'"), line
    pasted = subprocess.run(["bash", "-c", f"printf %s {word}"], capture_output=True, check=True).stdout
    assert pasted == os.fsencode(str(out))
    session = next(r for r in map(json.loads, metrics.read_text(encoding="utf-8").splitlines())
                   if r["kind"] == "session")
    assert f"--out '{out}'" in session["command"]


def test_pasteable_and_unescaped_bytes():
    import io

    from gankit.streams import pasteable, unescaped_bytes
    ascii_stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    utf8_stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    assert pasteable("/r/my run", ascii_stream) == "'/r/my run'"
    assert pasteable("/r/caf\u00e9", utf8_stream) == "'/r/caf\u00e9'"
    undecodable = os.fsdecode(b"/r/r\xe9s")        # a latin-1 name under a UTF-8 locale
    for name, stream in (("/r/caf\u00e9 it's", ascii_stream), (undecodable, utf8_stream),
                         ("/r/a  b\tc\\d", utf8_stream)):
        word = pasteable(name, stream)
        assert word.startswith("$'") and word.isascii() and "  " not in word and "\t" not in word
        pasted = subprocess.run(["bash", "-c", f"printf %s {word}"], capture_output=True, check=True).stdout
        assert pasted == os.fsencode(name)
    assert unescaped_bytes(r"'caf\udcc3\udca9' b\udcff") == "'caf\u00e9' b\ufffd"
    assert unescaped_bytes(r"a literal \\udcc3 stays") == r"a literal \\udcc3 stays"
