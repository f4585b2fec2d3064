import os
import sys

from gankit.cli import main

rc = main()
from gankit.train.distributed import _teardown, launched  # noqa: E402

if launched():
    # a torchrun process: the process group is torn down while Python is whole, then the process
    # leaves without C++'s static destructors, where gloo's worker threads could abort a run that
    # had finished cleanly (SIGABRT, "terminate called without an active exception")
    _teardown()
    for stream in (sys.stdout, sys.stderr):     # None where the stream was closed (2>&-)
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(rc if isinstance(rc, int) else 0 if rc is None else 1)
sys.exit(rc)
