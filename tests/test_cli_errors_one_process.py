"""A command that runs in one process, started by torchrun on several: every rank refuses it
before its imports, and a rank that torchrun's SIGTERM stops before the command began says
nothing of results it never touched (rank 0's refusal is the one line)."""
import signal

import pytest

from gankit import builtins, cli

REFUSAL = ("gankit: error: gankit sweep runs in one process, but torchrun started 2: only gankit train trains "
           "on many; run it without torchrun (gankit sweep ...)")
SWEEP = ["sweep", "a=ring", "--results", "r.jsonl"]


def as_rank(monkeypatch, tmp_path, rank: int | None):
    """This process as torchrun's rank ``rank`` of 2 on this machine, rank 0's error mark in the
    attempt's folder (as its refusal leaves it); None: a plain command."""
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "TORCHELASTIC_USE_AGENT_STORE",
              "TORCHELASTIC_ERROR_FILE", "TORCHELASTIC_RESTART_COUNT", "MASTER_PORT"):
        monkeypatch.delenv(k, raising=False)
    if rank is None:
        return
    attempt = tmp_path / "attempt_0"
    (attempt / str(rank)).mkdir(parents=True)
    (attempt / "gankit-error-rank-0").touch()
    for k, v in {"RANK": rank, "LOCAL_RANK": rank, "WORLD_SIZE": 2, "LOCAL_WORLD_SIZE": 2,
                 "TORCHELASTIC_ERROR_FILE": attempt / str(rank) / "error.json"}.items():
        monkeypatch.setenv(k, str(v))


def sigterm(*a, **k):
    signal.raise_signal(signal.SIGTERM)      # main's handler turns it into the stop
    raise AssertionError("SIGTERM did not stop the command")


def stderr(capsys) -> list[str]:
    return [x for x in capsys.readouterr().err.splitlines() if x.strip()]


def test_each_rank_refuses_before_its_imports(tmp_path, monkeypatch, capsys):
    """The refusal came after the plug-ins and --import modules loaded (seconds on a loaded
    machine): torchrun stopped a slower rank there, once rank 0 had refused."""
    monkeypatch.chdir(tmp_path)
    as_rank(monkeypatch, tmp_path, 0)

    def loading():
        raise AssertionError("plug-ins loaded before the refusal")
    monkeypatch.setattr(builtins, "load_builtins", loading)
    assert cli.main(SWEEP) == 2
    assert stderr(capsys) == [REFUSAL]


@pytest.mark.parametrize("argv", [SWEEP, ["drs", "runs/x", "--steps", "30"]], ids=["sweep", "drs"])
def test_a_rank_stopped_before_the_command_began_leaves_the_line_to_rank_0(tmp_path, monkeypatch, capsys, argv):
    """Rank 1, stopped by torchrun after rank 0 refused, said "sweep stopped by SIGTERM; ... the
    runs that finished are recorded in r.jsonl; ... rerun the same command with --resume" though
    no run had started and r.jsonl did not exist (drs: "run gankit drs runs/x --steps 30 again")."""
    monkeypatch.chdir(tmp_path)
    as_rank(monkeypatch, tmp_path, 1)
    monkeypatch.setattr(cli, "_expand_home", sigterm)     # before the command's check and imports
    assert cli.main(argv) == 143
    assert stderr(capsys) == []
    assert not (tmp_path / "r.jsonl").exists()


@pytest.mark.parametrize("rank", [None, 0])
def test_a_sweep_stopped_before_it_began_says_nothing_was_changed(tmp_path, monkeypatch, capsys, rank):
    monkeypatch.chdir(tmp_path)
    as_rank(monkeypatch, tmp_path, rank)
    monkeypatch.setattr(builtins, "load_builtins", sigterm)
    monkeypatch.setattr(cli, "_one_process_only", lambda args: None)    # as if it were allowed here
    assert cli.main(SWEEP) == 143
    assert stderr(capsys) == ["gankit: sweep stopped by SIGTERM: nothing was changed; run the same command again"]
