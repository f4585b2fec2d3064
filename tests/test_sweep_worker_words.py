"""A sweep job's advice speaks the words of whoever started the sweep: `gankit sweep` takes --set,
a program calling run_sweep its overrides=[...].  A worker runs its jobs outside the command's
context (gankit.wording.COMMAND_LINE), so the sweep hands the words over with each job."""
import warnings

from gankit import sweep as S

TINY = ["train.steps=4", "train.batch_size=16", "generator.hidden=[8, 8]", "discriminator.hidden=[8, 8]",
        "objective.drs=false", "eval.n_samples=3"]


def _said(tmp_path, command_line: bool) -> str:
    job = S.Job("few", "ring", TINY, 0)
    root = tmp_path / str(command_line)
    root.mkdir()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = S._work(job, ["prdc_points"], str(root), 0, command_line)
    assert got[0] == "ok", got
    return " | ".join(str(w.message) for w in caught if "skipped" in str(w.message))


def test_a_job_of_the_sweep_command_advises_set(tmp_path):
    said = _said(tmp_path, True)
    assert "metric 'prdc_points' skipped" in said and "--set eval.n_samples=500" in said, said
    assert "overrides=" not in said, said


def test_a_job_of_a_programs_sweep_advises_overrides(tmp_path):
    said = _said(tmp_path, False)
    assert 'overrides=["eval.n_samples=500"]' in said and "--set" not in said, said


class _InProcessPool:
    """ProcessPoolExecutor's part run_sweep uses, running each job here at submit: what reaches a
    worker is the submitted arguments alone (a spawned worker has none of this process's context)."""

    def __init__(self, *args, **kwargs):
        self._processes = {}

    def submit(self, fn, *args):
        from concurrent.futures import Future
        from gankit.wording import COMMAND_LINE
        token = COMMAND_LINE.set(False)     # the worker's own context: not the command's
        try:
            done = Future()
            done.set_result(fn(*args))
            return done
        finally:
            COMMAND_LINE.reset(token)

    def shutdown(self, *args, **kwargs):
        pass


def test_the_sweep_command_hands_its_words_to_the_workers(tmp_path, monkeypatch):
    from gankit.wording import command_line
    monkeypatch.setattr(S, "ProcessPoolExecutor", _InProcessPool)
    said = {}
    for cli in (True, False):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with command_line() if cli else warnings.catch_warnings():
                S.run_sweep([S.Job("few", "ring", TINY, 0)], tmp_path / f"{cli}.jsonl", 1, ["prdc_points"],
                            log=lambda line: None)
        said[cli] = " | ".join(str(w.message) for w in caught if "skipped" in str(w.message))
    assert "--set eval.n_samples=500" in said[True] and "overrides=" not in said[True], said
    assert 'overrides=["eval.n_samples=500"]' in said[False], said
