"""``gankit compare --text`` and ``--json``: the comparison of ``gankit.report.compare.compare_data``
as a table for a terminal, or as strict JSON; and compare's words for a run's state."""
from __future__ import annotations

import json
import math

from gankit.report import metricinfo as MI

TEXT_WIDTH = 120     # a terminal's line: wider, the table is turned (one row per run) if that is narrower


def to_text(data: dict) -> str:
    """The comparison as a table for a terminal: what comes from the run folders (their names,
    record keys, texts, config values) escaped as text samples are (a terminal acts on control
    characters: colours, title changes), before the columns are measured.  One column per run
    while the runs fit TEXT_WIDTH; past it one row per run (60 runs made 873-character rows),
    unless that is wider still (a full evaluation's 27 metrics over 8 runs)."""
    lines, wide = _text_lines(data, turned=False)
    if wide > TEXT_WIDTH:
        other, turned_wide = _text_lines(data, turned=True)
        if turned_wide < wide:
            lines = other
    return "\n".join(lines)


def _text_lines(data: dict, turned: bool) -> tuple[list[str], int]:
    """to_text's lines, one column per run, or ``turned``: one row per run; and the width of
    their tables (the notes under them are the same either way)."""
    from gankit.data.text import printable
    names = [printable(r["name"]) for r in data["runs"]]
    keys = [printable(m["key"]) for m in data["metrics"]] + [printable(d["key"]) for d in data["config_diff"]]
    w = max([len("eval step")] + [len(k) for k in keys])
    steps = [step_shown(r) for r in data["runs"]]
    states = [STATE_SHOWN.get(r.get("state"), "?") for r in data["runs"]]
    # the metrics are those of each run's last evaluation, which may be older than its step
    eval_steps = ["none" if r["eval_step"] is None else str(r["eval_step"]) for r in data["runs"]]
    metric_cells = [[printable(s) + (" *" if i in m["best"] else "") for i, s in enumerate(m["shown"])]
                    for m in data["metrics"]]
    config_cells = [["-" if v is None else printable(json.dumps(v, ensure_ascii=False)) for v in d["values"]]
                    for d in data["config_diff"]]
    better = {"higher": "higher is better", "lower": "lower is better"}
    # each run's column as wide as its widest cell ("1.234e+400 *", a config value), not its name only
    cw = [max([len(n), 12] + [len(col[i]) for col in [steps, states, eval_steps] + metric_cells + config_cells])
          for i, n in enumerate(names)]

    def row(first: str, cells: list[str], tail: str = "") -> str:
        return first.ljust(w) + "  " + "  ".join(c.rjust(n) for c, n in zip(cells, cw)) + tail

    if turned:
        table = _by_run(names, ["step", "state", "eval step"] + [printable(m["key"]) for m in data["metrics"]],
                        [steps, states, eval_steps] + metric_cells)
        lines = list(table)
        for word in ("higher", "lower"):
            mine = [printable(m["key"]) for m in data["metrics"] if m["better"] == word]
            if mine:
                lines.append(f"{better[word]}: {', '.join(mine)}")
    else:
        lines = [row("run", names)]
        lines.append("-" * len(lines[0]))
        lines.append(row("step", steps))
        lines.append(row("state", states))
        lines.append(row("eval step", eval_steps))
        for m, cells in zip(data["metrics"], metric_cells):
            lines.append(row(printable(m["key"]), cells, f"  ({better[m['better']]})" if m["better"] in better
                             else ""))
        table = list(lines)
    if not data["metrics"]:
        lines.append("no evaluation recorded in these runs (gankit eval RUN records one)")
    elif data.get("note", "").startswith("no value is marked better"):
        lines.append(f"* {printable(data['note'])}")
    else:
        if any(m["best"] for m in data["metrics"]):    # a legend for no star (one run measured) misleads
            lines.append(f"* the better value (ties within {MI.TIE_REL_TOL:g} relative: each; none when all tie)")
        if data.get("note"):
            lines.append(f"* {printable(data['note'])}")
    for r in data["runs"]:
        if r.get("other_temperatures"):
            lines.append(f"{printable(r['name'])}: evaluations at generator.temperature "
                         f"{', '.join(f'{t:g}' for t in r['other_temperatures'])} left out (it samples at "
                         f"{r['temperature']:g}; its report shows them apart)")
    if data["config_diff"]:
        lines += ["", "config differences:"]
        if turned:
            diff = _by_run(names, [printable(d["key"]) for d in data["config_diff"]], config_cells)
        else:
            diff = [row(printable(d["key"]), cells) for d, cells in zip(data["config_diff"], config_cells)]
        lines += diff
        table = table + diff
    else:
        lines.append("configs: identical")
    return lines, max(map(len, table))


# a run's state (gankit.report.compare._state) in a table cell, and in a sentence where its values
# are not final (the states missing here: finished, unknown)
STATE_SHOWN = {"training": "training", "stopped": "stopped", "diverged": "diverged",
               "unevaluated": "no final eval", "finished": "finished", "unknown": "unknown"}
STATE_WORDS = {"training": "still training", "stopped": "stopped", "diverged": "diverged",
               "unevaluated": "trained, its final evaluation not recorded"}


def unfinished_note(runs: list[dict], finals: list[dict]) -> str:
    """Which runs' values come from an unfinished run, and that they are not marked against
    finished ones ("" when every run with values finished)."""
    said = [f"{r['name']} {STATE_WORDS[r['state']]} (step {r['step']} of {r['total_steps']}, "
            f"{'last ' * (r['state'] == 'unevaluated')}evaluated at step {r['eval_step']})"
            for r, e in zip(runs, finals) if e and r["state"] in STATE_WORDS]
    if not said:
        return ""
    return (f"not final: {', '.join(said)}; "
            + ("their values are not marked against those of finished runs" if len(said) < sum(map(bool, finals))
               else "values are marked only where every run was evaluated at the same step"))


def measured_only(where: str, final: dict, infos) -> dict:
    """The final evaluation without its values that are no number ("many", {}, []: an edited
    record), which the report leaves out too (MI.is_measured, gankit.report.inputs.warn_left_out),
    with the report's warning; compare printed them as metric values."""
    odd = {k: v for k, v in final.items() if k not in MI.META_KEYS and v is not None and not MI.is_measured(v)}
    # named as the report names them: a metric's declared number (a declared text, features, is no number)
    said = [f"{k} = {json.dumps(v, default=str)[:40]}" for k, v in odd.items() if k in infos and infos[k].fmt != "s"]
    if said:
        import warnings

        from gankit.streams import listed
        warnings.warn(f"{where}: the evaluation of step {final.get('step')} holds {listed(said)}: no number, left "
                      "out of the comparison (an edited record?)", stacklevel=3)
    return {k: v for k, v in final.items() if k not in odd}


def edited_note(names: list[str], paths: list, edited: list) -> str:
    """The runs whose config.toml no longer describes their checkpoints (``edited``: the keys
    it differs in, None where it agrees; compare marks none of their values)."""
    from gankit.report.page import command_word
    return "; ".join(f"{n}: its config.toml differs from its checkpoints in {', '.join(e) or 'what defines the run'} "
                     f"(edited by hand? gankit eval {command_word(p)} says how to put it back), so none of its "
                     "values is marked" for n, p, e in zip(names, paths, edited) if e is not None)


def step_shown(run: dict) -> str:
    """A run's step out of those it trains to: "866 of 2000" ("866" where unknown)."""
    total = run.get("total_steps")
    return str(run["step"]) if total is None else f"{run['step']} of {total}"


def _by_run(names: list[str], headers: list[str], columns: list[list[str]]) -> list[str]:
    """A table with one row per run (in the order given) and one column per header."""
    first = max([len("run")] + [len(n) for n in names])
    widths = [max([len(h)] + [len(c) for c in col]) for h, col in zip(headers, columns)]

    def row(name: str, cells: list[str]) -> str:
        return "  ".join([name.ljust(first)] + [c.rjust(n) for c, n in zip(cells, widths)]).rstrip()

    head = row("run", headers)
    return [head, "-" * len(head)] + [row(n, [col[i] for col in columns]) for i, n in enumerate(names)]


def _plain(v):
    """Strict JSON: NaN as null, infinities as "inf" / "-inf" (as the records write them)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def to_json(data: dict) -> str:
    return json.dumps(_plain({k: v for k, v in data.items() if not k.startswith("_")}), indent=1,
                      allow_nan=False)
