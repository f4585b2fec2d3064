"""gankit train: the run folder it names (a new timestamped one, removed again where the run
left it empty), --resume's checks, --nproc's launch of the ranks (the config checked once, before
them), and the lines it prints after the final evaluation."""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

from gankit.cli_args import shown_path
from gankit.cli_summary import _summary
from gankit.config import ConfigError
from gankit.streams import StdoutFailed


def _cmd_train(a):
    from gankit.rank_errors import launched
    if a.nproc < 1:
        raise ConfigError(f"--nproc {a.nproc}: give the number of processes, 1 or more")
    if not a.out and not a.resume and launched():   # each process would name its own timestamped folder
        raise ConfigError("under torchrun give --out RUN_DIR: every process must use the same run folder")
    made = None if a.out or a.resume else _default_out("ring" if a.config is None else a.config, a.set)
    a.run_folder = a.out or made     # what an interruption's line names
    from gankit.runfolder import gone_if_left_empty
    with gone_if_left_empty(made) as remove_if_empty:
        code = _train(a, a.out or made)
        if code:          # processes launched by --nproc failed
            remove_if_empty()
        return code


def _train(a, out: str | None):
    if a.nproc > 1:
        # a resume's config is the folder's, which rank 0 checks under its lock
        device = _device_of_resume(a) if a.resume else _check_before_launch(a).train.device
        a.out = out
        from gankit.cli_errors import train_stop_advice
        from gankit.train.launch import check_cores, launch, train_argv
        check_cores(a.nproc, _on_cpu(device))     # before N processes start, not after minutes of them
        a.run_folder = out          # the ranks' folder, whose config.toml says whether to --resume
        return launch(a.nproc, train_argv(a), lambda: train_stop_advice(a))
    from gankit import api
    if a.resume:
        if not a.out:
            raise ConfigError("--resume needs --out RUN_DIR (the run folder to continue)")
        if a.config is not None:
            raise ConfigError(f"--resume continues {a.out} with its own config.toml, so the preset "
                              f"{a.config!r} would be ignored; drop it (change options with --set, "
                              "e.g. --set train.steps=N)")
        run = api.train(out=a.out, overrides=a.set, resume=True, imports=a.imports)    # config.toml records a new one
    else:
        source = "ring" if a.config is None else a.config
        run = api.train(source, out, a.set, imports=a.imports)
    if not run.is_main:   # rank 0 alone evaluates, writes the report and prints
        return
    try:      # the final evaluation's own numbers: a later record (a quick gankit eval) is no result
        # labelled as gankit eval's line is: bare, it read as the real-data row announced on stderr above it
        print(f"step {run.step}: {_summary(run.final_result)}")
        print(f"run folder: {shown_path(run.dir.resolve())}")
        print(f"report:     {shown_path(run.folder.report_path.resolve())}")
        if sys.stdout is not None:     # None: closed (>&-), where print writes nothing
            sys.stdout.flush()    # a file's buffer is written here, while the failure can be told
    except StdoutFailed as e:
        e.note = "the run folder is complete"
        raise


def _check_before_launch(a):
    """The config every rank would load, loaded and split here: a bad --set key or a global
    batch the processes cannot share is the one line it is, not N processes started to each
    refuse it and torchrun's warnings about their exit codes after it."""
    from gankit import config as C
    from gankit.train.distributed import World, local_config
    with warnings.catch_warnings():     # the config's notes: rank 0 says them, once
        warnings.simplefilter("ignore")
        cfg = C.load(C.resolve_source("ring" if a.config is None else a.config), a.set)
    local_config(cfg, World(size=a.nproc))
    return cfg


def _device_of_resume(a) -> str | None:
    """train.device of the run a --resume continues: its last --set, else the folder's
    config.toml's (cpu, the default, where it names none); None where that cannot be read (rank 0
    then says why, under the folder's lock)."""
    from gankit.config.overrides import parse_override
    from gankit.config.toml_read import loads     # a damaged file's depth refused, not a RecursionError
    try:
        device = None
        for item in a.set:
            path, value = parse_override(item)
            device = value if path == ["train", "device"] else device
        if device is None and a.out:
            text = (Path(a.out) / "config.toml").read_text(encoding="utf-8")
            device = loads(text).get("train", {}).get("device", "cpu")
        return device if isinstance(device, str) else None
    except (OSError, ValueError, ConfigError, AttributeError):
        return None


def _on_cpu(device: str | None) -> bool:
    """Whether the ranks train on the CPU: train.device cpu, or any (auto, unknown) without CUDA."""
    import torch
    if not torch.cuda.is_available():
        return True
    try:
        return device is not None and torch.device(device).type == "cpu"
    except RuntimeError:     # not a device name: the ranks refuse it
        return False


def _default_out(source: str, overrides: list[str]) -> str:
    from gankit import config as C
    from gankit.runfolder import default_run_dir
    return str(default_run_dir(Path(source).stem, C.load(C.resolve_source(source), overrides).seed))
