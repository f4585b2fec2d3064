"""`gankit --help`, `--version` and a command's --help answer without importing torch (about
1.5 s of a 2-second wait): the parser's modules keep torch inside the commands that use it."""
import subprocess
import sys

import pytest

from conftest import child_env

CODE = """
import sys
from gankit.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print("torch imported:", "torch" in sys.modules, file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["invert", "--help"], ["sweep", "--help"]])
def test_the_parser_alone_does_not_import_torch(args):
    p = subprocess.run([sys.executable, "-c", CODE, *args], capture_output=True, text=True, env=child_env(),
                       timeout=120)
    assert "torch imported: False" in p.stderr, p.stderr[-2000:]
    assert p.stdout.strip()          # the help or version was printed
