"""gankit's argument parsers: what argparse does, plus a "did you mean" for a mistyped command
or choice, a command's own usage for words it does not take, and `gankit` / `gankit help
[COMMAND]` showing the commands (gankit.cli builds the commands on them)."""
from __future__ import annotations

import argparse
import difflib
import sys


# path arguments by their dest, named as the usage names them: an empty one (an unset shell
# variable: gankit train "$CFG") would be taken as not given (train's default preset, a timestamped
# folder) or as the current folder
PATH_ARGUMENTS = {"config": "PRESET", "out": "--out", "run_dir": "RUN_DIR", "run_dirs": "RUN",
                  "results": "--results", "images": "--images", "imports": "--import",
                  "variants": "VARIANT"}


def empty_argument(args) -> str | None:
    """The one-line refusal of an empty path argument of ``args``, else None."""
    for dest, name in PATH_ARGUMENTS.items():
        value = getattr(args, dest, None)
        if any(v == "" for v in (value if isinstance(value, list) else [value])):
            fix = {"config": "a preset's name or a path to a .toml file, or leave PRESET out (ring)",
                   "out": "a path, or leave --out out for the default"}.get(dest, "one")
            return f"{name} is an empty string (an unset shell variable?); give {fix}"
    return None


# options of other tools, or of another command, given to a command: what to write instead
OPTION_HINTS = {("sweep", "--seed"): "one seed N: --first-seed N --seeds 1"}

# what --set takes in the commands that read a trained run, as they call
# cli_args.data_location_sets: (a section of keys besides the data's location, G's sampling
# settings too: not for invert / complete, which take image runs); train and sweep (a whole
# config's --set) are not here
RUN_SET_KEYS = {"eval": ("eval.", True), "sample": (None, True), "invert": (None, False),
                "complete": (None, False), "drs": (None, False), "report": (None, False)}


def set_takes(command: str, set_metavar: str | None, key: str) -> bool:
    """Whether ``command``'s --set takes the config ``key``: any key where --set is a config's
    (metavar KEY=VALUE), else the data's location, G's sampling settings and a section of its own."""
    if set_metavar == "KEY=VALUE" and command not in RUN_SET_KEYS:
        return True
    from gankit.identity import DATA_LOCATION_KEYS, SAMPLING_KEYS
    section, sampling = RUN_SET_KEYS.get(command, (None, False))
    return (key in {f"data.{k}" for k in DATA_LOCATION_KEYS}
            or sampling and key in {f"generator.{k}" for k in SAMPLING_KEYS}
            or section is not None and key.startswith(section))


class Parser(argparse.ArgumentParser):
    """A command's parser: a mistyped choice gets a "did you mean" (as a preset's name does), and
    words it does not take are refused with its own usage (argparse gave gankit's).  Options are
    never abbreviated: argparse's prefixes read sweep's --seed 2 as --seeds 2."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def _check_value(self, action, value):     # argparse's check of a choice, its only hook
        if action.choices is not None and value not in action.choices:
            names = [str(c) for c in action.choices]
            close = difflib.get_close_matches(str(value), names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise argparse.ArgumentError(action, f"invalid choice: {value!r}{hint}; choose from {', '.join(names)}")

    def parse_known_args(self, args=None, namespace=None):
        namespace, extra = super().parse_known_args(args, namespace)
        if extra:
            self.error(f"unrecognized arguments: {' '.join(extra)}{self._hint(extra)}")
        return namespace, extra

    def _hint(self, extra: list[str]) -> str:
        """What the first unknown --option may have meant: an option of this command (sample
        --n 4: -n 4), a config key given through --set where the command takes it (train --steps
        100: --set train.steps=100), or a close spelling of an option."""
        i, word = next(((i, w) for i, w in enumerate(extra) if w.startswith("--")), (0, ""))
        name, eq, value = word.partition("=")
        if not name:
            return ""
        command = self.prog.split()[-1]
        if (command, name) in OPTION_HINTS:
            return f" ({OPTION_HINTS[command, name]})"
        if not eq:
            value = extra[i + 1] if i + 1 < len(extra) and not extra[i + 1].startswith("-") else "VALUE"
        if name[1:] in self._option_string_actions:     # --n for the command's own -n
            return f" (did you mean {name[1:]} {value}?)"
        if "--set" in self._option_string_actions:
            try:
                keys = self._set_keys(command, name[2:].replace("-", "_"))
            except ImportError:     # the index loads every component, so torch: a broken one must not
                keys = []           # turn "unrecognized arguments" into "cannot import torch"
            if keys:
                return f" (a config key is set with --set: {' or '.join(f'--set {k}={value}' for k in keys[:2])})"
        options = [o for o in self._option_string_actions if o.startswith("--")]
        close = [o for o in options if o.startswith(name)] or difflib.get_close_matches(name, options, n=1)
        return f" (did you mean {close[0]}?)" if close else ""

    def _set_keys(self, command: str, key: str) -> list[str]:
        """The config keys this command's --set takes that the option --``key`` may have meant."""
        from gankit.config.schema import ALIASES, key_index
        index = key_index()
        metavar = self._option_string_actions["--set"].metavar
        keys = [k for k, owners in index.get(key, {}).items()
                if owners is not None and set_takes(command, metavar, k)]
        keys = [k for k in keys if not index[key][k]] or keys      # a fixed key before a component's
        return keys or [k for k in ALIASES.get(key.lower(), ())
                        if k in index.get(k.rsplit(".", 1)[-1], {}) and set_takes(command, metavar, k)]


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
