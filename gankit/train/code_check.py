"""The user's own parts a run trains with (a dataset, nets, a loss, an objective registered in a
notebook cell or an --import) as each checkpoint records them: a cell edited and run again
registers other code under the same name, and the same config would then resume on other data
or nets, or measure them, without a word.  Each checkpoint records ``code_record`` (the sha1 of
each part's code, gankit.metrics.user_code.trained_code): a resume on other code is refused, a
command that only reads the run (eval, sample) warns.  Runs of gankit's own parts record nothing,
and checkpoints without the record open as before."""
from __future__ import annotations

import warnings

from gankit import config as C
from gankit.metrics.user_code import CodeChanged, changed_code, code_changed_line  # noqa: F401  (tests, users)


def check_trained_code(run, state: dict, write: bool) -> None:
    """Refuses to train (``write``: --resume, drs) on parts whose code differs from the checkpoint's
    record; a reader is warned once, as its numbers are of the code registered now."""
    changed = changed_code(state, run.code_record)
    if not changed:
        return
    if write:     # every rank: each computed the same record
        raise C.ConfigError(code_changed_line(changed, write=True))
    if run.is_main:
        warnings.warn(CodeChanged(code_changed_line(changed, write=False)), stacklevel=5)
