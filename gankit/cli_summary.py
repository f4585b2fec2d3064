"""How a result reads in one line: the sentences gankit train and gankit eval print after
``step N:`` (modes covered, JSD, Stacked MNIST modes, classes never generated), then every other
value a metric returned, briefly, and the line escaped (a reused record comes from metrics.jsonl)."""
from __future__ import annotations

import json

from gankit.cli_errors import _clipped


def _num(v, spec: str) -> str:
    """A metric's value; one a record holds as text ("inf") or null (NaN) printed as it is."""
    return format(v, spec) if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


def _summary(result: dict) -> str:
    """The result in one line, escaped (a reused record's keys and values come from metrics.jsonl)."""
    from gankit.data.text import printable
    parts = []
    if "modes_covered" in result:
        hq = result.get("hq_fraction")
        hq = f"{100 * hq:.1f}%" if isinstance(hq, (int, float)) and not isinstance(hq, bool) else str(hq)
        parts.append(f"modes covered {result['modes_covered']}/{result.get('modes_total')}, "
                     f"high quality {hq}, reverse KL {_num(result.get('reverse_kl'), '.3f')}")
    if "jsd" in result:
        parts.append(f"JSD {_num(result['jsd'], '.4f')} nats")
    if "stacked_modes" in result:
        parts.append(f"Stacked MNIST modes {result['stacked_modes']}/{result.get('stacked_modes_total')}")
    if "classes_missing" in result:
        n = result["classes_missing"]
        # the count first: after the words it reads as a class's number
        parts.append(f"{n} class{'' if n == 1 else 'es'} never generated")
    from gankit.metrics.base import RESERVED_KEYS       # mode_counts: the modes metric's histogram
    # every other value a metric returned (an int count, a flag, a word) is a measurement too
    rest = [f"{k} {_brief(v)}" for k, v in result.items() if k not in _SAID and k not in RESERVED_KEYS]
    return printable("; ".join(parts + rest) or "no metric applies to this data")


# the keys _summary's sentences above say
_SAID = {"modes_covered", "modes_total", "hq_fraction", "reverse_kl", "jsd", "stacked_modes",
         "stacked_modes_total", "classes_missing"}


def _brief(v) -> str:
    """A value _summary's sentences do not say: a float to 4 digits, an int or bool as it is, text or a list cut short."""
    if isinstance(v, float):
        return format(v, ".4g")
    if isinstance(v, (int, type(None))):
        return str(v)
    return _clipped(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str), 40)
