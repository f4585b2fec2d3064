"""gankit's argument parsers: what argparse does, plus a "did you mean" for a mistyped command
or choice, a command's own usage for words it does not take, and `gankit` / `gankit help
[COMMAND]` showing the commands (gankit.cli builds the commands on them)."""
from __future__ import annotations

import argparse
import difflib
import sys


class Parser(argparse.ArgumentParser):
    """A command's parser: a mistyped choice gets a "did you mean" (as a preset's name does), and
    words it does not take are refused with its own usage (argparse gave gankit's)."""

    def _check_value(self, action, value):     # argparse's check of a choice, its only hook
        if action.choices is not None and value not in action.choices:
            names = [str(c) for c in action.choices]
            close = difflib.get_close_matches(str(value), names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise argparse.ArgumentError(action, f"invalid choice: {value!r}{hint}; choose from {', '.join(names)}")

    def parse_known_args(self, args=None, namespace=None):
        namespace, extra = super().parse_known_args(args, namespace)
        if extra:
            self.error(f"unrecognized arguments: {' '.join(extra)}")
        return namespace, extra


class Gankit(Parser):
    """gankit's own parser: no command shows the commands (exit 2); `help [COMMAND]` a help (exit 0)."""

    def parse_known_args(self, args=None, namespace=None):
        namespace, extra = super().parse_known_args(args, namespace)
        if namespace.command is None:
            self.print_help(sys.stderr)
            self.exit(2)
        if namespace.command == "help":
            (self.commands.choices[namespace.topic] if namespace.topic else self).print_help()
            self.exit(0)
        return namespace, extra
