"""``gankit list``: the presets with their measured times, and every registered component."""
from __future__ import annotations

import json


def add_parser(sub):
    li = sub.add_parser("list", help="presets, datasets, nets, losses, metrics")
    li.add_argument("words", nargs="*", metavar="WORD",
                    help="show only what these words name: a kind (presets, losses, metrics, ...) or "
                         "words in a name or description (e.g. `gankit list ring`, `gankit list -v decay`)")
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


def _matches(words: list[str], *texts: str) -> bool:
    """Whether any word is in any of the texts (case-insensitive); every text matches no words."""
    return not words or any(w in t.lower() for w in words for t in texts)


def _cmd_list(a):
    from gankit import config as C
    from gankit.registry import REGISTRIES
    words = [w.lower() for w in a.words]
    kinds = {"presets", *REGISTRIES, "config"}
    # a kind's name (or its singular) shows all of that kind; other words filter every kind by
    # name and description, and with -v by option too
    kind_of = {w: next((k for k in (w, w + "s", w + "es") if k in kinds), None) for w in words}
    whole = {k for k in kind_of.values() if k}
    words = [w for w in words if not kind_of[w]]

    def shown(kind, *texts):
        return (not whole or kind in whole) and _matches(words, *texts)
    found = 0
    times_file = C.PRESET_DIR / "times.json"
    times = json.loads(times_file.read_text(encoding="utf-8")) if times_file.is_file() else {}
    lines = []
    for name in C.preset_names():
        first = _first_sentence((C.PRESET_DIR / f"{name}.toml").read_text(encoding="utf-8"))
        if not shown("presets", name, first):
            continue
        t = times.get(name)
        if t:   # the preset's own train.steps x the measured s/step: a later change of steps is counted
            steps = C.read_toml(C.PRESET_DIR / f"{name}.toml").get("train", {}).get("steps", t["steps"])
            est = round((t.get("setup_s", 0.0) + steps * t["s_per_step"]) / 60, 1)
            when = (f"~{est:g} min ({steps} steps, {t['threads']} threads, "
                    f"load {t.get('load', '?')}, {t['date']})")
        else:
            when = "time not measured (benchmarks/preset_times.py in gankit's source repository measures it)"
        lines.append(f"  {name:<16} {first}\n  {'':<16} {when}")
    if lines:
        found += len(lines)
        print("presets (time: measured set-up + train.steps x s/step of training alone, by "
              "benchmarks/preset_times.py in gankit's source repository):")
        print("\n".join(lines))
    for kind, reg in REGISTRIES.items():
        lines = []
        for e in reg.entries():
            options = reg.describe(e.name) if a.verbose else []
            if not shown(kind, e.name, e.help):     # an entry shown by its options shows only those
                options = [o for o in options if shown(kind, o[0], o[2])]
                if not options:
                    continue
            lines.append(f"  {e.name:<16} {e.help}")
            lines += [f"      {key} = {default!r}  # {help}" for key, default, help in options]
        if lines:
            found += len(lines)
            print(f"{kind}:")
            print("\n".join(lines))
    if a.verbose or "config" in whole:
        from gankit.config import RunConfig
        keys = [(key, default, help) for key, default, help in C.describe(RunConfig)
                if shown("config", key, help)]
        if keys:
            found += len(keys)
            print("config keys (--set key=value):")
            for key, default, help in keys:
                print(f"  {key} = {default!r}  # {help}")
    if not found and whole and not words:    # a kind gankit has none of its own (nets)
        raise C.ConfigError(f"no {' or '.join(sorted(whole))} are registered: gankit has none of its own; "
                            f"yours (e.g. gankit.registry.NETS.register, for an objective's ctx.build_net("
                            f"'nets', ...)) are listed with gankit --import MODULE list")
    if not found:
        import difflib
        names = [*C.preset_names(), *(e.name for reg in REGISTRIES.values() for e in reg.entries()), *kinds]
        close = [m for w in words for m in difflib.get_close_matches(w, names, n=3, cutoff=0.7)]
        hint = f" (did you mean {', '.join(dict.fromkeys(close))}?)" if close else ""
        among = f"among the {' and '.join(sorted(whole))}, " if whole else ""
        raise C.ConfigError(f"{among}nothing is named or described by {' '.join(words)!r}{hint}; "
                            f"`gankit list` shows everything, `gankit list KIND` one kind "
                            f"({', '.join(sorted(kinds))}), and `gankit list -v WORD` searches every option too")
