import os
import sys

from gankit.cli import main

rc = main()
# loaded by every command that set up a process group; not imported here otherwise (it imports
# torch, which may be what main() found broken and told in one line)
dist = sys.modules.get("gankit.train.distributed")

if dist is not None and dist.launched():
    # a torchrun process: the process group is torn down while Python is whole, then the process
    # leaves without C++'s static destructors, where gloo's worker threads could abort a run that
    # had finished cleanly (SIGABRT, "terminate called without an active exception")
    from gankit.rank_errors import mark_left
    mark_left()      # os._exit runs no atexit: without it this rank would look killed to the others
    dist._teardown()
    for stream in (sys.stdout, sys.stderr):     # None where the stream was closed (2>&-)
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(rc if isinstance(rc, int) else 0 if rc is None else 1)
sys.exit(rc)
