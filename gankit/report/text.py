"""The report's text section: decoded fixed-noise samples over training, beside real ones."""
from __future__ import annotations

import torch


def split_changed(state: dict, dataset, where: str) -> str | None:
    """Why the text file's training and held-out lines now differ from those the run recorded
    in checkpoint ``state``: the first clause of the refusal gankit sample and eval give
    (gankit.data.refuse_changed_data: the number of distinct lines, then the held-out lines);
    None when they agree or the checkpoint recorded neither."""
    from gankit.config import ConfigError
    from gankit.data import refuse_changed_data
    try:
        refuse_changed_data(state, dataset, where, vocabulary=False)
    except ConfigError as e:
        return str(e).split("; ")[0]
    return None


def _copies(dataset, rows, lines: list[str]) -> list[bool]:
    """Which decoded samples copy a training line, by novelty's rule (gankit.metrics.text): a
    sample holding an <unk> copies none, as "cat <unk>" is not the real "cat purred"."""
    from gankit.data.text_dataset import UNK
    from gankit.metrics.text import novelty_scores
    train = dataset.train_lines
    return [novelty_scores([x], train, set(), [UNK in toks])["novelty"] == 0.0
            for x, toks in zip(lines, dataset.token_lists(rows))]


def text_sections(dataset, snaps: list[dict], n: int = 20, changed: str | None = None) -> list:
    """Sections: the first ``n`` fixed-noise samples at the first and last snapshot (marked *
    when the sample is a training sequence), and ``n`` real test sequences.  ``changed``: why
    the data file no longer holds the run's split (split_changed): the held-out lines and the
    marks, which come from the file, are left out."""
    from gankit.data.text import printable     # bidi overrides would reorder the page's text
    from gankit.report.page import Section
    if not snaps:
        return []
    chosen = [snaps[0], snaps[-1]] if len(snaps) > 1 else snaps[-1:]
    cols = []
    for s in chosen:
        rows = torch.as_tensor(s["samples"][:n])
        lines = dataset.decode(rows)
        copies = [False] * len(lines) if changed else _copies(dataset, rows, lines)
        cols.append((f"step {int(s['step'])}",
                     [printable(f"{x} *" if c else x) or "<empty>" for x, c in zip(lines, copies)]))
    if changed:
        return [Section("Samples", [f"Fixed-noise samples from G, decoded. {changed}: the held-out lines and "
                                    "the marks of samples that copy a training line, both read from the file, "
                                    "are left out; restore the file as it was (or give a copy of it with "
                                    "--set data.path=...) to see them."], columns=cols, anchor="samples")]
    cols.append(("held-out real", [printable(x) or "<empty>" for x in dataset.decode(dataset.test[:n])]))
    return [Section("Samples", ["Fixed-noise samples from G, decoded (* = copies a training "
                                "sequence), beside real held-out ones."], columns=cols, anchor="samples")]
