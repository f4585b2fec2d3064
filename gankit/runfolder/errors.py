"""The run folder's errors (their own module: the folder's parts raise them)."""


class RunFolderError(RuntimeError):
    """The folder is not a run, is in use, or none of its checkpoints can be read; the
    message says what to do."""


class _Vanished(Exception):
    """A checkpoint listed a moment ago is gone: a training run pruned it (not damage)."""
