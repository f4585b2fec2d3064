"""What a terminal shows while progress bars are drawn: a warning or a stop line on a line of its
own (not after a bar's frame), an evaluation's bar during one long metric and naming the metric
running, and training's bar at 80 columns with every number of its record."""
import re
import signal
import time
from types import SimpleNamespace

from gankit.metrics import progress
from gankit.metrics.progress import Progress as EvalProgress
from gankit.train.callbacks import Progress

TINY = ["train.steps=30", "train.batch_size=16", "train.log_every=10", "train.sample_every=30",
        "train.checkpoint_every=30", "train.n_fixed=64", "train.progress=true", "train.eval_every=10",
        "generator.hidden=[8]", "discriminator.hidden=[8]"]
RECORD = {"loss_d": 1.3301, "loss_g": 0.83617, "d_real": 0.53512, "d_fake": 0.46234}


def _screen(drawn: str, cols: int = 80) -> list[str]:
    """The rows a terminal of ``cols`` columns holds (scrolled off included) after ``drawn``: as
    much of one as tqdm uses (\\r, \\n, cursor up; a full row wraps at the next character)."""
    rows, r, c, wrap = [[]], 0, 0, False
    for m in re.finditer(r"\x1b\[(\d*)([A-Za-z])|[^\x1b]", drawn):
        ch = m.group()
        if m.group(2):
            if m.group(2) == "A":
                r, wrap = max(0, r - int(m.group(1) or 1)), False
            continue
        if ch == "\r":
            c, wrap = 0, False
            continue
        if ch == "\n" or wrap:
            r, wrap = r + 1, False
            c = c if ch == "\n" else 0
            rows += [[] for _ in range(r + 1 - len(rows))]
            if ch == "\n":
                continue
        row = rows[r]
        row += [" "] * (c + 1 - len(row))
        row[c] = ch
        c, wrap = (c + 1, False) if c + 1 < cols else (c, True)
    return ["".join(row).rstrip() for row in rows]


def _frames(rows: list[str]) -> list[str]:
    return [row for row in rows if re.search(r"\d+/\d+ \[", row)]


def _train(tmp_path, monkeypatch, terminal, *sets):
    from gankit.cli import main
    monkeypatch.setattr("sys.stderr", terminal.tty)
    args = ["train", "ring-vanilla", "--out", str(tmp_path / "run"), *(x for kv in TINY + list(sets) for x in ("--set", kv))]
    return main(args), _screen(terminal.drawn())


# a warning or a stop line while bars are drawn

def test_a_warning_during_training_prints_on_its_own_line_above_the_bar(tmp_path, monkeypatch, terminal):
    """A periodic evaluation's warning followed the bar's frame on its line ("...d_fake=0.470]gankit:
    warning: ...") and left that frame half-drawn above it."""
    rc, rows = _train(tmp_path, monkeypatch, terminal, 'eval.metrics=["ndb", "modes"]', "eval.n_samples=3")
    assert rc == 0, "\n".join(rows)
    said = [row for row in rows if "gankit: warning: metric 'ndb' skipped" in row]
    assert said and all(row.startswith("gankit: warning: ") for row in said), "\n".join(rows)
    frames = _frames(rows)
    assert len(frames) == 1 and "30/30" in frames[0], "\n".join(rows)     # the last one, left on screen


def test_a_stop_during_an_evaluation_bar_prints_its_lines_on_their_own(tmp_path, monkeypatch, terminal):
    """Ctrl-C while a periodic evaluation's bar is up: its warning and the stop line each begin a
    line (the warning came after the cursor-up of the evaluation bar's close, on the training bar's
    frame), and no frame is left but training's last."""
    monkeypatch.setattr(progress, "AFTER", 0.0)        # the evaluation's bar drawn at once
    step = EvalProgress.step

    def ctrl_c(self, name):
        if self.desc == "evaluating step 10" and self.done == 0:
            signal.raise_signal(signal.SIGINT)
        step(self, name)
    monkeypatch.setattr(EvalProgress, "step", ctrl_c)
    rc, rows = _train(tmp_path, monkeypatch, terminal, 'eval.metrics=["modes", "energy"]', "eval.n_samples=100")
    assert rc == 130, "\n".join(rows)
    said = [row for row in rows if "was stopped by the signal" in row]
    assert len(said) == 1 and said[0].startswith("gankit: warning: the evaluation of step 10"), "\n".join(rows)
    assert [row for row in rows if "SIGINT received" in row][0].startswith("gankit: SIGINT received"), "\n".join(rows)
    frames = _frames(rows)
    assert len(frames) == 1 and "10/30" in frames[0] and "evaluating" not in frames[0], "\n".join(rows)


def test_a_warning_with_no_bar_drawn_prints_as_a_line(capsys):
    from gankit.cli_errors import _show_warning
    _show_warning(UserWarning("a\nb"), UserWarning, "x.py", 1)
    assert capsys.readouterr().err == "gankit: warning: a b\n"


# the evaluation's bar

def test_an_evaluation_bar_appears_during_one_long_metric(terminal):
    """tqdm looks at its delay only in update(): through a 30 s metric nothing was drawn."""
    drawn, deadline = "", time.monotonic() + 5
    with EvalProgress(1, "evaluating step 20", stream=terminal.tty, after=0.2) as bar:
        bar.step("memorisation")
        while "memorisation" not in drawn and time.monotonic() < deadline:
            time.sleep(0.05)
            drawn += terminal.drawn()
    assert "evaluating step 20" in drawn and "0/1" in drawn and "memorisation" in drawn, drawn
    drawn += terminal.drawn()
    assert not any("evaluating" in row for row in _screen(drawn)), drawn      # cleared by its close


def test_the_evaluation_bar_names_the_metric_running(terminal):
    """Each frame named the metric that had just finished: step()'s frame came within tqdm's
    mininterval of advance()'s, and was not drawn."""
    with EvalProgress(2, "evaluating", stream=terminal.tty, after=0.0) as bar:
        bar.step("class_hist")
        time.sleep(0.15)            # the metric runs
        bar.advance()
        bar.step("memorisation")
        rows = _screen(terminal.drawn())
    assert "1/2" in rows[-1] and "memorisation" in rows[-1], rows


# training's bar at 80 columns

def test_the_training_bar_at_80_columns_shows_every_number(monkeypatch, terminal):
    """At 80 columns the bar was one character wide and its postfix cut ("... d_real=")."""
    monkeypatch.setattr("sys.stderr", terminal.tty)
    bar, trainer = Progress(400, True), SimpleNamespace(step=0)
    bar.on_train_start(trainer)
    for step in range(1, 401):
        trainer.step = step
        if step % 10 == 0:
            bar.on_log(trainer, RECORD)
        bar.on_step_end(trainer)
    bar.on_train_end(trainer)
    last = _frames(_screen(terminal.drawn()))[-1]
    assert "400/400" in last
    for said in ("loss_d/g=1.33/0.836", "d_real/fake=0.535/0.462"):     # the records' names, paired
        assert said in last, last
    assert len(re.search(r"\|(.*?)\|", last).group(1)) >= 8 and len(last) <= 78, last


def test_the_training_frame_fits_the_terminal_with_the_records_names():
    """A long run at 80 columns (the pairs share a name; the rate and the elapsed time give way),
    and the records' own names where the terminal has room."""
    from gankit.train.callbacks import _frame
    values = {k: f"{v:.3g}" for k, v in RECORD.items()}
    meter = dict(n=484, total=20000, elapsed=2.1, rate=231.88, unit="step")
    narrow = _frame(values, ncols=78, **meter)         # the bar's ncols at 80 columns
    assert len(narrow) <= 78 and "loss_d/g=1.33/0.836 d_real/fake=0.535/0.462" in narrow, narrow
    assert len(re.search(r"\|(.*?)\|", narrow).group(1)) >= 8 and "484/20000" in narrow, narrow
    wide = _frame(values, ncols=128, **meter)
    assert "231.88step/s, loss_d=1.33, loss_g=0.836, d_real=0.535, d_fake=0.462]" in wide, wide
