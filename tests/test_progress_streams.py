"""Training's progress on the stream stderr is: a tqdm bar on a terminal, plain lines in a log
file or a pipe; and ~ in every path argument of the command line."""
from types import SimpleNamespace

import pytest

from gankit import config as C
from gankit.metrics.progress import silenced
from gankit.train.callbacks import Progress
from gankit.train.run import Run

TINY = ["train.steps=30", "train.batch_size=16", "train.log_every=10", "train.sample_every=30",
        "train.checkpoint_every=30", "train.n_fixed=64", "train.progress=true",
        "generator.hidden=[8]", "discriminator.hidden=[8]", "eval.n_samples=100"]


def _steps(bar: Progress, first: int, last: int, record=None):
    trainer = SimpleNamespace(step=first)
    bar.on_train_start(trainer)
    for step in range(first + 1, last + 1):
        trainer.step = step
        if record is not None and step % 10 == 0:
            bar.on_log(trainer, record)
        bar.on_step_end(trainer)
    bar.on_train_end(trainer)


def test_training_with_stderr_in_a_log_file_writes_plain_lines(tmp_path, monkeypatch, capsys):
    """`gankit train ... 2> train.log` wrote the bar's carriage-return frames (one endless line)."""
    from gankit.cli import main
    monkeypatch.setattr(Progress, "AFTER", 0.0, raising=False)
    monkeypatch.setattr(Progress, "EVERY", 0.0, raising=False)   # a line every step
    args = ["train", "ring-vanilla", "--out", str(tmp_path / "run"), "--set", 'eval.metrics=["energy"]']
    assert main([*args, *(x for kv in TINY for x in ("--set", kv))]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and "\u2588" not in err           # no frames, no block characters
    lines = [ln for ln in err.splitlines() if ln.startswith("training: ")]
    assert len(lines) == 30 and lines[-1].startswith("training: step 30/30, ")
    assert "step/s" in lines[5] or "s/step" in lines[5]
    assert "left" in lines[5] and "elapsed" in lines[5]
    # the losses of the last record, as the bar's postfix
    assert all(f"{k}=" in lines[12] for k in ("loss_d", "loss_g", "d_real", "d_fake"))
    assert "loss_d=" not in lines[0]       # no record yet at step 1


def test_a_short_training_off_a_terminal_prints_nothing(capsys):
    """As an evaluation's progress: nothing before AFTER seconds."""
    _steps(Progress(300, True), 0, 300, {"loss_d": 1.0, "loss_g": 2.0})
    assert capsys.readouterr().err == ""


def test_plain_lines_every_so_often_and_the_last_step(capsys, monkeypatch):
    monkeypatch.setattr(Progress, "AFTER", 0.0, raising=False)
    monkeypatch.setattr(Progress, "EVERY", 3600.0, raising=False)
    _steps(Progress(50, True), 20, 40, {"loss_d": 1.25, "loss_g": 0.5, "other": 3.0})   # a resume, stopped at 40
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("training: step 21/50, ") and lines[1].startswith("training: step 40/50, ")
    assert lines[1].endswith("; loss_d=1.250, loss_g=0.500") and "left" in lines[1]


@pytest.mark.parametrize("how", ["disabled", "silenced"])
def test_no_progress_asked_prints_nothing(capsys, monkeypatch, how):
    """train.progress=false (progress=False), or inside silenced(): a caller of the API that asked
    for no messages (log=None)."""
    monkeypatch.setattr(Progress, "AFTER", 0.0, raising=False)
    monkeypatch.setattr(Progress, "EVERY", 0.0, raising=False)
    with silenced(how == "silenced"):
        _steps(Progress(20, how != "disabled"), 0, 20, {"loss_d": 1.0})
    assert capsys.readouterr().err == ""


def test_a_stderr_that_fails_stops_the_lines_not_the_training(monkeypatch):
    class Broken:
        writes = 0

        def write(self, text):
            Broken.writes += 1
            raise OSError(28, "No space left on device")

        def flush(self):
            pass

        def isatty(self):
            return False
    monkeypatch.setattr("sys.stderr", Broken())
    monkeypatch.setattr(Progress, "AFTER", 0.0, raising=False)
    monkeypatch.setattr(Progress, "EVERY", 0.0, raising=False)
    _steps(Progress(20, True), 0, 20)
    assert Broken.writes == 1


def test_training_on_a_terminal_draws_the_bar(tmp_path, monkeypatch, terminal):
    """The terminal's own path runs in a test (an evaluation on a terminal crashed unnoticed)."""
    from tqdm import tqdm
    monkeypatch.setattr("sys.stderr", terminal.tty)
    before = set(tqdm._instances)
    run = Run.create(C.load("ring-vanilla", TINY), tmp_path / "run")
    try:
        run.train()
    finally:
        run.close()
    assert [b for b in tqdm._instances if b not in before] == []
    drawn = terminal.drawn()
    assert "\r" in drawn and "30/30" in drawn and "step/s" in drawn, drawn
    assert "loss_d" in drawn and "training: " not in drawn


def test_a_diverged_training_on_a_terminal_closes_its_bar(tmp_path, monkeypatch, terminal):
    """A bar left open pushed every later bar of the process a line lower."""
    from tqdm import tqdm

    from gankit.train.loop import NonFiniteLoss
    monkeypatch.setattr("sys.stderr", terminal.tty)
    before = set(tqdm._instances)
    run = Run.create(C.load("ring-vanilla", TINY + ["optim_d.lr=1e30", "optim_g.lr=1e30"]), tmp_path / "run")
    try:
        with pytest.raises(NonFiniteLoss):
            run.train()
        assert [b for b in tqdm._instances if b not in before] == []
    finally:
        run.close()


# ~ in path arguments (bash leaves it after = or in quotes)

def _parsed(argv):
    from gankit.cli import _expand_home, build_parser
    args = build_parser().parse_args(argv)
    _expand_home(args)
    return args


def test_home_in_every_path_argument(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    home = str(tmp_path)
    a = _parsed(["--import", "~/parts.py", "--import", "my_parts", "train", "~/cfg/my.toml", "--out", "~/runs/a"])
    assert a.config == f"{home}/cfg/my.toml" and a.out == f"{home}/runs/a"
    assert a.imports == [f"{home}/parts.py", "my_parts"]
    assert _parsed(["train", "ring"]).config == "ring"          # a preset's name as it is
    a = _parsed(["sweep", "~/cfg/a.toml@train.steps=5", "b=~/cfg/b.toml@train.lr=1e-3", "ring",
                 "--results", "~/sweep.jsonl", "--out", "~/table.md"])
    assert a.variants == [f"{home}/cfg/a.toml@train.steps=5", f"b={home}/cfg/b.toml@train.lr=1e-3", "ring"]
    assert a.results == f"{home}/sweep.jsonl" and a.out == f"{home}/table.md"
    assert _parsed(["compare", "~/r1", "~/r2", "--out", "~/c.html"]).run_dirs == [f"{home}/r1", f"{home}/r2"]
    for cmd in (["eval", "~/r"], ["report", "~/r"], ["sample", "~/r", "--out", "~/s.npy"], ["drs", "~/r"]):
        a = _parsed(cmd)
        assert a.run_dir == f"{home}/r" and getattr(a, "out", None) in (None, f"{home}/s.npy")


def test_train_a_config_file_and_an_import_under_home(tmp_path, monkeypatch, capsys):
    """`gankit --import '~/parts.py' train '~/cfg/my.toml'`: no preset or file named '~/cfg/my.toml'."""
    from gankit.cli import main
    from gankit.config.core import PRESET_DIR
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home" / "cfg").mkdir(parents=True)
    (tmp_path / "home" / "cfg" / "my.toml").write_text((PRESET_DIR / "ring-vanilla.toml").read_text())
    (tmp_path / "home" / "parts.py").write_text("PARTS = 1\n")
    sets = [x for kv in TINY + ["train.progress=false", 'eval.metrics=["energy"]'] for x in ("--set", kv)]
    rc = main(["--import", "~/parts.py", "train", "~/cfg/my.toml", "--out", str(tmp_path / "run"), *sets])
    assert rc == 0, capsys.readouterr().err
    assert C.read_toml(tmp_path / "run" / "config.toml")["imports"] == [str(tmp_path / "home" / "parts.py")]


def test_the_api_expands_home_in_a_config_path_and_imports(tmp_path, monkeypatch):
    """api.train('~/cfg/my.toml', imports=['~/api_parts.py']): the CLI expands its own arguments, the
    API and a config's own imports entries did not (a folder './~' was looked in)."""
    from gankit import api
    from gankit.config.core import PRESET_DIR
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "home" / "cfg").mkdir(parents=True)
    (tmp_path / "home" / "api_parts.py").write_text("API_PARTS = 2\n")
    (tmp_path / "home" / "api_more.py").write_text("API_MORE = 3\n")
    text = (PRESET_DIR / "ring-vanilla.toml").read_text()
    (tmp_path / "home" / "cfg" / "my.toml").write_text('imports = ["~/api_more.py"]\n' + text)
    run = api.train("~/cfg/my.toml", tmp_path / "run", TINY + ["train.progress=false", 'eval.metrics=["energy"]'],
                    imports=["~/api_parts.py"], log=None, report=False)
    home = tmp_path / "home"
    assert C.read_toml(tmp_path / "run" / "config.toml")["imports"] == [str(home / "api_more.py"), str(home / "api_parts.py")]
    assert run.step == run.cfg.train.steps
