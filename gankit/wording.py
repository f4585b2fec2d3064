"""The words of an error or a warning's advice: gankit.api's (resume=True, out=, overrides=) where a
program called it, the command line's (--resume, --out, --set) where the gankit command did (it calls
gankit.api too)."""
from __future__ import annotations

import contextlib
from contextvars import ContextVar

COMMAND_LINE: ContextVar[bool] = ContextVar("gankit_command_line", default=False)


@contextlib.contextmanager
def command_line():
    """Errors raised inside keep the command line's words."""
    token = COMMAND_LINE.set(True)
    try:
        yield
    finally:
        COMMAND_LINE.reset(token)


@contextlib.contextmanager
def api_words():
    """The run folder's and the config's errors in this API's words: they advise the command line's
    (--resume, --out NEW, --set KEY=VALUE), which a program calling train() does not have; a whole
    command they suggest ("gankit train --resume --out RUN") stays one to paste."""
    from gankit.config import ConfigError
    from gankit.runfolder import RunFolderError
    try:
        yield
    except (ConfigError, RunFolderError) as e:
        if e.args and isinstance(e.args[0], str):
            e.args = (callers_words(e.args[0]), *e.args[1:])
        raise


def callers_words(text: str) -> str:
    """Advice written in the command line's words (--resume, --out, --set KEY=VALUE), as whoever
    called gankit reads it: unchanged under the gankit command (command_line), else in gankit.api's
    (resume=True, out=, overrides=["KEY=VALUE"]).  api_words rewrites errors with it; a warning
    (a metric skipped for too few samples) is written with it, since no except clause sees it."""
    import re
    if COMMAND_LINE.get():
        return text
    words = ((r"--resume\b", "resume=True"), (r"--out (?=[A-Z])", "out="), (r"--out\b", "out="),
             (r"--set '((?:[^']|'\\'')*)'", _item), (r"--set ([^\s'=:;,()]+=[^\s';,()]+)", _item),
             (r"\] overrides=\[", ", "),      # --set a=1 --set b=2: one list
             (r"--set ([\w.]+)", r"overrides \1"))
    commands = re.findall(r"gankit [a-z]+\b[^;()]*", text)
    msg = re.sub(r"gankit [a-z]+\b[^;()]*", "\0", text)
    for cli, api in words:
        msg = re.sub(cli, api, msg)
    return re.sub("\0", lambda _: commands.pop(0), msg)


def _item(m) -> str:
    """A --set item as overrides= holds it: the shell's quotes taken off ('...', with '\\'' for a
    quote inside), then quoted as Python ("train.device="1"" in double quotes would not parse)."""
    text = repr(m.group(1).replace(_SHELL_QUOTE, "'"))
    if '"' not in text:         # double quotes as gankit's own advice writes them, overrides=["seed=3"]
        text = f'"{text[1:-1]}"'
    return f"overrides=[{text}]"


_SHELL_QUOTE = "'\\''"      # a single quote inside a single-quoted shell word
