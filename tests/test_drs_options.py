"""gankit drs's options refused in the user's words (audit F84): --steps, --quantile and --lr set
objective.drs_*, whose schema refusals named those keys; now the option as given and what to
give, before the run is opened for writing."""
import hashlib

import pytest

from gankit.cli import main
from test_using_runs import ring_run  # noqa: F401 (a fixture: a tiny ring run)


def _files(run) -> dict:
    return {p.relative_to(run).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(run.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("args, said", [
    (["--steps", "-1"], "drs --steps -1: give 0 or more"),
    (["--quantile", "1.5"], "drs --quantile 1.5: give 1.0 or less"),
    (["--quantile", "0"], "drs --quantile 0.0: give more than 0.0"),
    (["--lr", "0"], "drs --lr 0.0: give more than 0.0"),
    (["--lr", "nan"], "drs --lr nan: give a finite number"),
    (["--steps", "5", "--lr", "-1"], "drs --lr -1.0: give more than 0.0"),
])
def test_a_drs_option_out_of_range_is_named_as_given(ring_run, capsys, args, said):
    before = _files(ring_run)
    assert main(["drs", str(ring_run), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines()[-1] == f"gankit: error: {said}", err
    assert "objective.drs" not in err and _files(ring_run) == before
