"""The report's text section: decoded fixed-noise samples over training, beside real ones."""
from __future__ import annotations

import html

import torch


def _list(lines: list[str]) -> str:
    return "<ol>" + "".join(f"<li><code>{html.escape(s) or '&lt;empty&gt;'}</code></li>"
                            for s in lines) + "</ol>"


def text_sections(dataset, snaps: list[dict], n: int = 20) -> list[str]:
    """HTML sections: the first ``n`` fixed-noise samples at the first and last snapshot
    (marked * when the sample is a training sequence), and ``n`` real test sequences."""
    if not snaps:
        return []
    train = dataset.train_lines
    chosen = [snaps[0], snaps[-1]] if len(snaps) > 1 else snaps[-1:]
    cols = []
    for s in chosen:
        lines = dataset.decode(torch.as_tensor(s["samples"][:n]))
        lines = [f"{x} *" if x in train else x for x in lines]
        cols.append(f"<td style='vertical-align:top'><b>step {int(s['step'])}</b>{_list(lines)}</td>")
    real = dataset.decode(dataset.test[:n])
    cols.append(f"<td style='vertical-align:top'><b>held-out real</b>{_list(real)}</td>")
    return ["<h2>Samples</h2><p>Fixed-noise samples from G, decoded (* = copies a training "
            "sequence), beside real held-out ones.</p><table><tr>" + "".join(cols) + "</tr></table>"]
