"""The run folder: the one module that writes and reads it.

Training, evaluation, sampling and the report meet only here:

    config.toml        the resolved config (every option, defaults filled in)
    metrics.jsonl      append-only records {"step", "kind": "train" | "eval" | ..., ...}
    checkpoints/       step_<8 digits>.pt: every declared module and optimizer, objective
                       state, step, config, all RNG states
    samples/           step_<8 digits>.npz: fixed-noise samples, D on a grid (1-D/2-D data),
                       and the figures that need the model (z interpolation, nearest
                       training images), so the report never builds a model
    report.html        rebuilt from the folder alone

Every file is written atomically (temp file, fsync, rename); checkpoints load with
``torch.load(weights_only=True)``, so a damaged or hostile file cannot run code.
"""
from __future__ import annotations

import re
import tomllib
import warnings
from pathlib import Path

import numpy as np

from gankit.io import append_jsonl, read_jsonl, save_atomic, save_npz_atomic, write_text_atomic

STEP_FILE = re.compile(r"^step_(\d+)\.(pt|npz)$")


class RunFolderError(RuntimeError):
    """The folder is not a run, or none of its checkpoints can be read; the message says what to do."""


class RunFolder:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    # ------------------------------------------------------------------ layout
    @property
    def config_path(self) -> Path:
        return self.path / "config.toml"

    @property
    def records_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / "checkpoints"

    @property
    def samples_dir(self) -> Path:
        return self.path / "samples"

    @property
    def report_path(self) -> Path:
        return self.path / "report.html"

    @property
    def tensorboard_dir(self) -> Path:
        """TensorBoard event files (train.tensorboard = true), written by TensorBoard's writer."""
        return self.path / "tensorboard"

    def is_run(self) -> bool:
        return self.config_path.is_file()

    def require_run(self):
        if not self.is_run():
            raise RunFolderError(f"{self.path} is not a run folder (no config.toml); create one with "
                                 f"gankit train PRESET --out {self.path}")

    # ------------------------------------------------------------------ config
    def read_config(self) -> dict:
        """The raw config dict of config.toml."""
        self.require_run()
        try:
            return tomllib.loads(self.config_path.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise RunFolderError(f"{self.config_path} is damaged ({e}); restore it or train anew") from None

    def write_config(self, toml_text: str):
        write_text_atomic(self.config_path, toml_text)

    # ------------------------------------------------------------------ records
    def append(self, record: dict):
        self.path.mkdir(parents=True, exist_ok=True)
        append_jsonl(self.records_path, record)

    def records(self, kind: str | None = None) -> list[dict]:
        recs = read_jsonl(self.records_path)
        return [r for r in recs if kind is None or r.get("kind") == kind]

    def clear_records(self):
        self.records_path.unlink(missing_ok=True)

    def truncate_records(self, step: int):
        """Drop records written after ``step`` (a resume continues from that checkpoint)."""
        if not self.records_path.exists():
            return
        import json
        keep = [r for r in self.records() if r.get("step", 0) <= step]
        write_text_atomic(self.records_path, "".join(json.dumps(r) + "\n" for r in keep))

    # ------------------------------------------------------------------ checkpoints
    def _numbered(self, folder: Path, ext: str) -> list[tuple[int, Path]]:
        if not folder.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in folder.iterdir()
                 if (m := STEP_FILE.match(p.name)) and m.group(2) == ext]
        return sorted(found)

    def checkpoints(self) -> list[tuple[int, Path]]:
        return self._numbered(self.checkpoint_dir, "pt")

    def save_checkpoint(self, state: dict, step: int, keep: int) -> Path:
        """Write step_<step>.pt, then remove older checkpoints beyond the ``keep`` newest.
        Files of later steps (left by a run that was resumed from an earlier checkpoint
        because they could not be read) are never removed here."""
        path = save_atomic(state, self.checkpoint_dir / f"step_{step:08d}.pt")
        older = [p for s, p in self.checkpoints() if s < step]
        for old in older[:max(0, len(older) - (keep - 1))]:
            old.unlink(missing_ok=True)
        return path

    @staticmethod
    def load_file(path: str | Path) -> dict:
        import torch
        return torch.load(path, map_location="cpu", weights_only=True)

    def load_checkpoint(self) -> tuple[dict, Path]:
        """The newest checkpoint that loads (on the CPU).  A damaged newer one is skipped
        with a warning naming it."""
        errors = []
        for _, path in reversed(self.checkpoints()):
            try:
                state = self.load_file(path)
            except Exception as e:  # truncated, empty or not a checkpoint: try the one before
                errors.append(f"{path.name}: {type(e).__name__}: {str(e)[:200]}")
                continue
            if errors:
                warnings.warn(f"{self.checkpoint_dir}: skipped unreadable {'; '.join(errors)}; "
                              f"using {path.name}", stacklevel=2)
            return state, path
        detail = ("; unreadable: " + "; ".join(errors)) if errors else ""
        raise RunFolderError(f"no loadable checkpoint in {self.checkpoint_dir}{detail}. Train first: "
                             "gankit train PRESET --out RUN_DIR")

    # ------------------------------------------------------------------ snapshots
    def save_snapshot(self, step: int, arrays: dict):
        save_npz_atomic(self.samples_dir / f"step_{step:08d}.npz", {"step": np.int64(step), **arrays})

    def snapshots(self) -> list[dict]:
        """Every readable snapshot, oldest first (a damaged file is skipped with a warning)."""
        out = []
        for _, p in self._numbered(self.samples_dir, "npz"):
            try:
                with np.load(p, allow_pickle=False) as z:
                    out.append({k: z[k] for k in z.files})
            except Exception as e:
                warnings.warn(f"{p}: damaged snapshot skipped ({type(e).__name__})", stacklevel=2)
        return sorted(out, key=lambda s: int(s["step"]))

    def clear_snapshots(self):
        for _, p in self._numbered(self.samples_dir, "npz"):
            p.unlink(missing_ok=True)

    # ------------------------------------------------------------------ report
    def write_report(self, html_text: str) -> Path:
        return write_text_atomic(self.report_path, html_text)
