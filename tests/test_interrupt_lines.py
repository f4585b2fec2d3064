"""What a command says when Ctrl-C or SIGTERM stops it outside the training loop: one line that
names what was kept and the command to run next, exit 130 / 143, from the very start."""
import shutil
import signal

import pytest

from gankit import cli, cli_train


def run_main(argv):
    try:
        return cli.main([str(a) for a in argv])
    except KeyboardInterrupt as e:     # let through, it would stop pytest itself
        pytest.fail(f"main let {type(e).__name__} through: {e}")


def lines(capsys):
    return [x for x in capsys.readouterr().err.splitlines() if x.strip()]


def stop_with(sig):
    """A stand-in for a command's work that the signal stops: Ctrl-C, or SIGTERM through the
    handler main installs."""
    def stopped(*a, **k):
        if sig == signal.SIGINT:
            raise KeyboardInterrupt
        signal.raise_signal(signal.SIGTERM)
        raise AssertionError("SIGTERM did not stop the command")
    return stopped


@pytest.fixture
def sigterm_caught():
    """SIGTERM handled by the test (not the default: death of pytest) wherever main has not
    installed its own; put back after."""
    seen = []
    old = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    yield seen
    signal.signal(signal.SIGTERM, old)


def test_ctrl_c_while_the_arguments_are_parsed_is_one_line_and_130(monkeypatch, capsys):
    """Parsing imports torch (seconds on a loaded machine): Ctrl-C then was a traceback ending
    in KeyboardInterrupt and death by SIGINT."""
    monkeypatch.setattr(cli, "build_parser", stop_with(signal.SIGINT))
    assert run_main(["eval", "runs/x"]) == 130
    assert lines(capsys) == ["gankit: stopped by SIGINT before the command started: nothing was changed; "
                             "run the same command again"]


def test_sigterm_while_the_arguments_are_parsed_is_one_line_and_143(monkeypatch, capsys, sigterm_caught):
    def parsing(*a, **k):
        signal.raise_signal(signal.SIGTERM)
        raise SystemExit(2)        # reached only when main's handler was not in yet
    monkeypatch.setattr(cli, "build_parser", parsing)
    assert run_main(["eval", "runs/x"]) == 143
    assert sigterm_caught == []
    assert lines(capsys) == ["gankit: stopped by SIGTERM before the command started: nothing was changed; "
                             "run the same command again"]


@pytest.fixture
def run_copy(tiny_run_dir, tmp_path):
    shutil.copytree(tiny_run_dir, tmp_path / "r")
    return tmp_path / "r"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_drs_stopped_says_the_run_is_as_it_was_and_to_run_drs_again(run_copy, monkeypatch, capsys, sig):
    """It said "the last checkpoint written is kept (continue with --resume)": drs has no
    --resume, and gankit train --resume fits no sampler; SIGTERM named no next step."""
    from gankit.train import rejection
    before = (run_copy / "config.toml").read_text(), (run_copy / "metrics.jsonl").read_text()
    monkeypatch.setattr(rejection, "fit_objective", stop_with(sig))
    assert run_main(["drs", run_copy, "--steps", "3"]) == 128 + sig
    name = signal.Signals(sig).name
    assert lines(capsys) == [f"gankit: drs stopped by {name}: the run is left as it was (no sampler kept); "
                             f"run gankit drs {run_copy} --steps 3 again"]
    assert ((run_copy / "config.toml").read_text(), (run_copy / "metrics.jsonl").read_text()) == before


def test_eval_stopped_in_the_reference_row_tells_the_numbers_it_recorded(run_copy, monkeypatch, capsys):
    """The eval record was in metrics.jsonl but its numbers were never printed, and the line
    advised a --resume that gankit eval does not have."""
    import json

    from gankit import api
    monkeypatch.setattr(api, "record_reference", stop_with(signal.SIGINT))
    assert run_main(["eval", run_copy, "--metrics", "modes"]) == 130
    [line] = lines(capsys)[-1:]
    evals = [r for r in map(json.loads, (run_copy / "metrics.jsonl").read_text().splitlines())
             if r.get("kind") == "eval" and r.get("source") == "gankit eval"]
    assert len(evals) == 1 and evals[0]["step"] == 30
    assert line.startswith(f"gankit: eval stopped by SIGINT: the evaluation of step 30 was recorded (modes_covered "
                           f"{evals[0]['modes_covered']}, modes_total 8, hq_fraction "), line
    assert line.endswith("), the reference row was not measured; run the same command again to measure it (it "
                         "records the evaluation once more)"), line


def test_eval_stopped_while_it_measures_says_nothing_was_recorded(run_copy, monkeypatch, capsys):
    from gankit.train.run import Run
    before = (run_copy / "metrics.jsonl").read_text()

    def measuring(*a, **k):     # a signal inside torch's writer comes back as a RuntimeError
        raise RuntimeError("writer failed") from KeyboardInterrupt()
    monkeypatch.setattr(Run, "evaluate", measuring)
    assert run_main(["eval", run_copy, "--metrics", "modes"]) == 130
    assert lines(capsys)[-1] == "gankit: eval stopped by SIGINT: nothing was recorded; run the same command again"
    assert (run_copy / "metrics.jsonl").read_text() == before


# each command's own retry; its work replaced by a stand-in the signal stops
COMMANDS = [
    ("sample_cli._cmd_sample", ["sample", "R", "--out", "s.png"], "sample", "s.png is left as it was; run the "
     "same command again"),
    ("sample_cli._cmd_sample", ["sample", "R"], "sample", "the samples printed are not all of them; run the same "
     "command again"),
    ("invert_cli._cmd_invert", ["invert", "R", "--images", "heldout:4"], "invert", "R/inversion is left as it "
     "was; run the same command again"),
    ("invert_cli._cmd_complete", ["complete", "R", "--images", "heldout:4", "--mask", "left", "--out", "c"],
     "complete", "c is left as it was; run the same command again"),
    ("cli._cmd_report", ["report", "R"], "report", "R/report.html is left as it was; run the same command again"),
    ("compare_cli._cmd_compare", ["compare", "R", "S"], "compare", "compare.html is left as it was; run the "
     "same command again"),
    ("compare_cli._cmd_compare", ["compare", "R", "S", "--text"], "compare", "nothing was written; run the same "
     "command again"),
    ("list_cli._cmd_list", ["list"], "list", "nothing was changed; run the same command again"),
    # a second Ctrl-C in the sweep's clean-up gets here, past its own SweepInterrupted
    ("sweep_cli._cmd_sweep", ["sweep", "a=ring", "--results", "r.jsonl"], "sweep", "the runs that finished are "
     "recorded in r.jsonl; rerun the same command with --resume to run the others (interrupted runs start over)"),
    ("cli_train._train", ["train", "ring", "--out", "new"], "train", "no run folder was written; run the same "
     "command again"),
]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("where,argv,command,told", COMMANDS, ids=[" ".join(c[1][:3]) for c in COMMANDS])
def test_each_command_names_what_it_kept_and_its_own_retry(tmp_path, monkeypatch, capsys, where, argv, command,
                                                           told, sig):
    """Every command said "the last checkpoint written is kept (continue with --resume)" on
    Ctrl-C, and "(checkpoints already written are kept)" with no next step on SIGTERM."""
    import importlib
    monkeypatch.chdir(tmp_path)
    module, fn = where.split(".")
    monkeypatch.setattr(importlib.import_module(f"gankit.{module}"), fn, stop_with(sig))
    assert run_main(argv) == 128 + sig
    assert lines(capsys) == [f"gankit: {command} stopped by {signal.Signals(sig).name}: {told}"]


def test_train_stopped_in_its_final_evaluation_names_the_folder_to_resume(tmp_path, tiny, monkeypatch, capsys):
    """It said "continue with --resume" without the folder (the loop's own line names it)."""
    from gankit import api
    monkeypatch.setattr(api, "final_evaluation", stop_with(signal.SIGINT))
    monkeypatch.setattr(api, "_final_report", lambda run, quiet: None)     # time: the page is not the point
    out = tmp_path / "r"
    sets = [x for s in tiny + ["train.steps=10"] for x in ("--set", s)]
    assert run_main(["train", "ring-vanilla", "--out", out, *sets]) == 130
    assert lines(capsys)[-1] == (f"gankit: train stopped by SIGINT: {out} keeps what was written; continue "
                                 f"with gankit train --resume --out {out}")


def test_the_training_loops_own_line_is_kept_and_a_second_signal_names_the_resume(tmp_path, monkeypatch, capsys):
    from gankit.train.signals import TrainingInterrupted
    said = "SIGINT received: stopped after step 7 of 30, checkpoint c written; continue with gankit train " \
           "--resume --out r"

    def loop(a, out):
        raise TrainingInterrupted(signal.SIGINT, said)
    monkeypatch.setattr(cli_train, "_train", loop)
    assert run_main(["train", "ring", "--out", tmp_path / "r"]) == 130
    assert lines(capsys) == [f"gankit: {said}"]

    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.toml").write_text("")

    def second(a, out):
        raise TrainingInterrupted(signal.SIGINT, "stopped at once by a second SIGINT; the last checkpoint "
                                                 "written is kept", at_once=True)
    monkeypatch.setattr(cli_train, "_train", second)
    assert run_main(["train", "--resume", "--out", tmp_path / "r"]) == 130
    assert lines(capsys) == ["gankit: stopped at once by a second SIGINT; the last checkpoint written is kept; "
                             f"continue with gankit train --resume --out {tmp_path / 'r'}"]


def test_sigterm_from_torchrun_still_points_at_the_other_processes(tmp_path, monkeypatch, capsys):
    from gankit.train import distributed      # noqa: F401  (loaded, as in a command past its start-up)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("TORCHELASTIC_USE_AGENT_STORE", raising=False)     # no store to ask
    monkeypatch.setattr(cli_train, "_train", stop_with(signal.SIGTERM))
    assert run_main(["train", "ring", "--out", tmp_path / "r"]) == 143
    # the other process's error comes first: the same command, run again, fails the same way
    assert lines(capsys) == ["gankit: train stopped by SIGTERM; torchrun stops every process when one fails, so "
                             "another process's error may say why: no run folder was written; run the same "
                             "command again once that error is fixed"]
