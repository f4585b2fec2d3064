"""The report's provenance table: one row per training session (when, which command, versions,
device, what a resume changed), read from the session records of metrics.jsonl.  Each field
comes from disk and may hold any JSON value: a field of the wrong type is left out with a
warning, the rest of its session shown."""
from __future__ import annotations

import warnings

from gankit.io import shown_name


SESSION_TEXT = ("started", "command", "gankit", "torch", "python", "git", "device", "schedule")


def sessions(records: list[dict], source: str = "metrics.jsonl") -> list[dict]:
    """The provenance table's rows.  Each field is read from disk, so may hold any JSON value:
    a field of the wrong type is left out with a warning naming it (``source``: the file),
    the rest of its session shown."""
    out = []
    for r in records:
        if r.get("kind") != "session":
            continue

        def bad(field: str, want: str):
            warnings.warn(f"{source}: session record at step {r['step']}: its {field!r} is not "
                          f"{want}; left out of the report")

        text = {}
        for k in SESSION_TEXT:
            v = r.get(k)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (str, int, float))):
                bad(k, "text")
                v = None
            text[k] = "" if v is None else shown_name(v)     # a folder name's U+202E would reverse the row
        if isinstance(r.get("command"), str) and not r["command"].isprintable():
            text["command"] = _pasteable(r["command"]) or text["command"]
        resume = r.get("resume")
        if not isinstance(resume, bool):
            if resume is not None:
                bad("resume", "true or false")
            resume = r["step"] > 0        # what it means: the session started from a checkpoint
        overrides = r.get("overrides")
        if overrides is not None and not (isinstance(overrides, list)
                                          and all(isinstance(o, str) for o in overrides)):
            bad("overrides", "a list of strings")
            overrides = None
        world = r.get("world_size")         # data-parallel: the command is one process's
        many = isinstance(world, int) and not isinstance(world, bool) and world > 1
        out.append({"step": r["step"], "started": text["started"], "command": text["command"],
                    "processes": f"each of {world} processes (--nproc {world} or torchrun)" if many else "",
                    "resume": resume, "overrides": overrides or [], "changed": _changes(r.get("changed"), bad),
                    "versions": f"gankit {text['gankit'] or '?'}, torch {text['torch'] or '?'}, "
                                f"Python {text['python'] or '?'}",
                    "git": text["git"] or "not a git checkout", "device": text["device"],
                    "schedule": text["schedule"]})
    return out


def _pasteable(command: str) -> str | None:
    """A recorded command (shlex.join of its words) holding control or bidirectional characters,
    quoted as the page's suggested commands are ($'...' with \\xHH: gankit.report.page.command_word),
    so that pasted into a shell it names the same folder; None where it does not split into words."""
    import shlex

    from gankit.report.page import command_word
    try:
        return " ".join(command_word(w) for w in shlex.split(command))
    except ValueError:         # an edited record: unbalanced quotes
        return None


def _changes(changed, bad) -> list[str]:
    """A resume's changes, {key: [old, new]}, as lines; entries of another shape are left out
    (``bad`` warns)."""
    if changed is None:
        return []
    if not isinstance(changed, dict):
        bad("changed", "a table of {key: [old, new]}")
        return []
    lines = []
    for k, v in changed.items():
        if isinstance(v, list) and len(v) == 2:
            lines.append(f"{k}: {v[0]!r} \u2192 {v[1]!r}")
        else:
            bad(f"changed.{k}", "a pair [old, new]")
    return lines
