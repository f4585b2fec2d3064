"""The report's text section: decoded fixed-noise samples over training, beside real ones."""
from __future__ import annotations

import torch


def text_sections(dataset, snaps: list[dict], n: int = 20) -> list:
    """Sections: the first ``n`` fixed-noise samples at the first and last snapshot (marked *
    when the sample is a training sequence), and ``n`` real test sequences."""
    from gankit.data.text import printable     # bidi overrides would reorder the page's text
    from gankit.report.page import Section
    if not snaps:
        return []
    train = dataset.train_lines
    chosen = [snaps[0], snaps[-1]] if len(snaps) > 1 else snaps[-1:]
    cols = []
    for s in chosen:
        lines = dataset.decode(torch.as_tensor(s["samples"][:n]))
        cols.append((f"step {int(s['step'])}",
                     [printable(f"{x} *" if x in train else x) or "<empty>" for x in lines]))
    cols.append(("held-out real", [printable(x) or "<empty>" for x in dataset.decode(dataset.test[:n])]))
    return [Section("Samples", ["Fixed-noise samples from G, decoded (* = copies a training "
                                "sequence), beside real held-out ones."], columns=cols, anchor="samples")]
