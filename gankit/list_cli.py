"""``gankit list``: the presets with their measured times, and every registered component."""
from __future__ import annotations

import json


def add_parser(sub):
    li = sub.add_parser("list", help="presets, datasets, nets, losses, metrics")
    li.add_argument("-v", "--verbose", action="store_true", help="also every option with its description")
    li.set_defaults(fn=_cmd_list)


def _first_sentence(toml_text: str) -> str:
    """The preset's opening comment up to the end of its first sentence (comments wrap
    sentences over lines: the first line alone stopped mid-way)."""
    import re
    lines = []
    for line in toml_text.splitlines():
        if not line.startswith("#") or not line.lstrip("# ").strip():
            break
        lines.append(line.lstrip("# ").strip())
    text = " ".join(lines)
    depth = 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        # a sentence ends at a period outside brackets, followed by a space or the end, and not
        # one of "et al.", "e.g.", "i.e." or a decimal point
        if ch == "." and depth <= 0 and (i + 1 == len(text) or text[i + 1] == " ") \
                and not re.search(r"(\bal|\be\.g|\bi\.e)$", text[:i]):
            return text[:i + 1]
    return text


def _cmd_list(a):
    from gankit import config as C
    from gankit.registry import REGISTRIES
    times_file = C.PRESET_DIR / "times.json"
    times = json.loads(times_file.read_text(encoding="utf-8")) if times_file.is_file() else {}
    print("presets (time: measured set-up + train.steps x s/step of training alone, by "
          "benchmarks/preset_times.py in gankit's source repository):")
    for name in C.preset_names():
        first = _first_sentence((C.PRESET_DIR / f"{name}.toml").read_text(encoding="utf-8"))
        t = times.get(name)
        if t:   # the preset's own train.steps x the measured s/step: a later change of steps is counted
            steps = C.read_toml(C.PRESET_DIR / f"{name}.toml").get("train", {}).get("steps", t["steps"])
            est = round((t.get("setup_s", 0.0) + steps * t["s_per_step"]) / 60, 1)
            when = (f"~{est:g} min ({steps} steps, {t['threads']} threads, "
                    f"load {t.get('load', '?')}, {t['date']})")
        else:
            when = "time not measured (benchmarks/preset_times.py in gankit's source repository measures it)"
        print(f"  {name:<16} {first}\n  {'':<16} {when}")
    for kind, reg in REGISTRIES.items():
        print(f"{kind}:")
        for e in reg.entries():
            print(f"  {e.name:<16} {e.help}")
            if a.verbose:
                for key, default, help in reg.describe(e.name):
                    print(f"      {key} = {default!r}  # {help}")
    if a.verbose:
        from gankit.config import RunConfig
        print("config keys (--set key=value):")
        for key, default, help in C.describe(RunConfig):
            print(f"  {key} = {default!r}  # {help}")
