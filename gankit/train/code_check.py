"""The user's own parts a run trains with (a dataset, nets, a loss, an objective registered in a
notebook cell or an --import) as each checkpoint records them: a cell edited and run again
registers other code under the same name, and the same config would then resume on other data
or nets, or measure them, without a word.  Each checkpoint records ``code_record`` (the sha1 of
each part's code, gankit.metrics.user_code.trained_code): a resume on other code, and a command
that only reads the run (eval, sample), warn.  Runs of gankit's own parts record nothing,
and checkpoints without the record open as before."""
from __future__ import annotations

import warnings

from gankit.metrics.user_code import CodeChanged, changed_code, code_changed_line  # noqa: F401  (tests, users)


def check_trained_code(run, state: dict, write: bool) -> None:
    """Warns once where parts' code differs from the checkpoint's record: a resume (``write``)
    trains on with the code registered now, a reader's numbers are of it.  A warning, not a
    refusal: a value a part reads may differ between processes (a time, a path) with no code
    changed, and a refusal would leave no way to go on."""
    changed = changed_code(state, run.code_record)
    if changed and run.is_main:
        warnings.warn(CodeChanged(code_changed_line(changed, write=write)), stacklevel=5)
