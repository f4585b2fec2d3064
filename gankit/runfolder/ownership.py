"""Whether gankit made a run folder: its lock file, or (a run from before the lock file) nothing
but what a run holds, something only training writes, and a resolved config.toml."""
from __future__ import annotations

import re
import tomllib

from gankit.config import toml_read
from gankit.runfolder.config_file import RECOVERED_CONFIG
from gankit.runfolder.lock import LOCK_NAME

STEP_FILE = re.compile(r"^step_(\d+)\.(pt|npz)$")

# what a run folder may hold; a folder holding anything else is the user's, not a run
RUN_ENTRIES = {"config.toml", "metrics.jsonl", "checkpoints", "samples", "report.html", LOCK_NAME,
               RECOVERED_CONFIG, "metrics.discarded.jsonl"}
_NOT_DAMAGED = re.compile(r"\.damaged(\.\d+)?$")     # a checkpoint set aside, by the step it held
# config.toml.recovered, and .1, .2, ... written where the user's copy of it differed (write_recovered)
_RECOVERED = re.compile(re.escape(RECOVERED_CONFIG) + r"(\.\d+)?$")


class Ownership:
    """The ownership half of RunFolder (it uses the folder's path, lock_path, config_path,
    records_path, checkpoint_dir and samples_dir)."""

    def is_gankit_run(self) -> bool:
        """Whether gankit made this folder: it has the lock file, or (a run from before the
        lock file) it holds only what a run holds, something only training writes, and a resolved
        config.toml.  A config.toml alone is no run: it may be the user's own, copied from a run
        and edited, which a new run there would write over."""
        if self.lock_path.is_file():
            return True
        if not self.path.is_dir() or not all(p.name in RUN_ENTRIES or _RECOVERED.fullmatch(p.name)
                                             for p in self.path.iterdir()) or not self._trained_here():
            return False
        try:
            raw = toml_read.loads(self.config_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return False
        return all(isinstance(raw.get(k), dict) for k in ("train", "optim_d", "generator", "data"))

    def _trained_here(self) -> bool:
        """Records, or a step file in checkpoints/ or samples/ (set aside as damaged too)."""
        if self.records_path.is_file():
            return True
        return any(folder.is_dir() and any(STEP_FILE.match(_NOT_DAMAGED.sub("", p.name)) for p in folder.iterdir())
                   for folder in (self.checkpoint_dir, self.samples_dir))
