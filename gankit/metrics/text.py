"""Metrics for generated sequences (text data: ``dataset.kind == "text"``).

- ``nll_oracle``: per-token NLL of G's samples under the data's known density (the
  SeqGAN oracle); lower = samples the oracle finds likely (precision, not diversity).
- ``nll_test``: per-token NLL of held-out sequences under G (coverage / diversity).
- ``bleu``: BLEU-2..5 of samples against the test split (NLTK's implementation,
  smoothing method 1, each sample against all references, averaged; Texygen's protocol);
  an <unk> matches nothing, not even another <unk>.
- ``self_bleu``: BLEU-2..5 of each sample against the other samples (high = repetitive).
- ``novelty``: share of samples not in the training set, share of distinct samples,
  share equal to some real sequence (train or test), and share equal to a held-out
  sequence not in training (for words: real English words G never saw).

BLEU cost grows with hypotheses x references, so it uses at most ``BLEU_HYPOTHESES``
samples and ``BLEU_REFERENCES`` test sequences.  An order n at which most samples (or most
test lines) are shorter than n tokens is left out with a warning, and all-empty samples skip
BLEU and self-BLEU (``measurable_orders``): there, the numbers would measure nothing.
"""
from __future__ import annotations

import warnings

import torch

from gankit.metrics.base import NotForThisRun, Output, TooFewSamples, register_metric

BLEU_HYPOTHESES = 50
BLEU_REFERENCES = 200   # NLTK scores each hypothesis against every reference: ~1 ms per pair
ORDERS = (2, 3, 4, 5)
# recorded with every evaluation of text data (eval records' "settings"); raise it when a text
# metric's definition changes.  2 (2026-12-05): <unk> matches nothing in BLEU and self-BLEU, a
# <pad> before <end> is a token, word-level lines are their token sequences (1: none of these)
TEXT_PROTOCOL = 2


def _nltk_bleu():
    """NLTK's sentence_bleu and SmoothingFunction.  NLTK's import looks for a download folder
    under the home folder and raises ValueError where there is none (HOME unset, a user id
    with no passwd entry); BLEU downloads nothing, so the import then runs with a temporary
    folder as HOME."""
    try:
        from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
    except ValueError:
        import os
        import sys
        import tempfile
        for name in [m for m in sys.modules if m == "nltk" or m.startswith("nltk.")]:
            del sys.modules[name]            # the failed import's half-made modules
        before = os.environ.get("HOME")
        os.environ["HOME"] = tempfile.gettempdir()
        try:
            from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
        finally:
            if before is None:
                del os.environ["HOME"]
            else:
                os.environ["HOME"] = before
    return sentence_bleu, SmoothingFunction


# An unknown word is no word in particular: two <unk> are not the same word, so an n-gram
# holding one must never match (else "<unk> <unk> ..." outscores real text wherever the
# references hold <unk>).  Before NLTK sees them, <unk> becomes one of two tokens that no
# text can hold (a NUL inside) and that differ between hypothesis and references.
_UNK_HYP, _UNK_REF = "\0unk-hypothesis", "\0unk-reference"


def _hide_unk(tokens: list[str], mark: str) -> list[str]:
    from gankit.data.text_dataset import UNK
    return [mark if t == UNK else t for t in tokens]


def _sentence_bleus(references, hypothesis, orders) -> list[float]:
    """NLTK's sentence BLEU for each order (uniform n-gram weights, smoothing method 1), <unk>
    matching nothing."""
    sentence_bleu, SmoothingFunction = _nltk_bleu()
    s = sentence_bleu([_hide_unk(r, _UNK_REF) for r in references], _hide_unk(hypothesis, _UNK_HYP),
                      weights=[tuple([1.0 / n] * n) for n in orders],
                      smoothing_function=SmoothingFunction().method1)
    return [s] if isinstance(s, (int, float)) else list(s)     # one weight tuple: a number (int 0 for no match)


def bleu_scores(hypotheses: list[list[str]], references: list[list[str]],
                orders=ORDERS) -> dict[int, float]:
    """Mean sentence BLEU-n of each hypothesis against all references (uniform n-gram weights);
    an <unk> matches nothing, not even another <unk>."""
    orders = tuple(orders)
    sums = [0.0] * len(orders)
    for h in hypotheses:
        for i, v in enumerate(_sentence_bleus(references, h, orders)):
            sums[i] += v
    return {n: sums[i] / max(len(hypotheses), 1) for i, n in enumerate(orders)}


def self_bleu_scores(hypotheses: list[list[str]], orders=ORDERS) -> dict[int, float]:
    """Mean BLEU-n of each hypothesis against all the others (diversity: lower is more diverse);
    an <unk> matches nothing."""
    if len(hypotheses) < 2:
        # TooFewSamples (a ValueError): the reference row's one real test line is skipped, not an error
        raise TooFewSamples(f"self-BLEU compares each hypothesis with the others: needs 2 or more, "
                            f"got {len(hypotheses)}", more_helps=False)
    orders = tuple(orders)
    sums = [0.0] * len(orders)
    for i, h in enumerate(hypotheses):
        for j, v in enumerate(_sentence_bleus(hypotheses[:i] + hypotheses[i + 1:], h, orders)):
            sums[j] += v
    return {n: sums[i] / max(len(hypotheses), 1) for i, n in enumerate(orders)}


def measurable_orders(metric: str, hypotheses: list[list[str]], references: list[list[str]] | None = None,
                      orders=ORDERS) -> tuple[int, ...]:
    """The orders at which BLEU (``references`` given) or self-BLEU measures something, with one
    warning naming those left out and why.  A sample shorter than n tokens has no n-grams: NLTK
    scores an empty one 0 (self-BLEU's best, "diverse") and smoothing fills a short one's missing
    precisions with a constant (identical one-token samples read 0.316 at order 2).  So an order
    at which most samples (for BLEU, or most references) are shorter than n is left out; all
    samples empty leave out the metric."""
    name = "self-BLEU" if references is None else "BLEU"
    if hypotheses and not any(hypotheses):
        which = "the one sample is" if len(hypotheses) == 1 else f"all {len(hypotheses)} samples are"
        warnings.warn(f"metric {metric!r} skipped: {which} empty (<end> first), and {name} scores "
                      f"an empty sample 0"
                      + (", which reads as the most diverse" if references is None else ""), stacklevel=3)
        return ()
    kept, short, short_refs = [], [], []
    for n in orders:
        h, r = sum(len(x) < n for x in hypotheses), sum(len(x) < n for x in references or [])
        if 2 * h > len(hypotheses):
            short.append((n, h))
        elif references and 2 * r > len(references):
            short_refs.append((n, r))
        else:
            kept.append(n)
    why = [f"{what} shorter than n tokens: {found[0][1]} of {total} at n = {found[0][0]}"
           + "".join(f", {k} at {n}" for n, k in found[1:])
           for what, found, total in (("samples", short, len(hypotheses)),
                                      ("test lines", short_refs, len(references or [])))
           if found]
    if why:
        left = " skipped" if not kept else ": " + ", ".join(f"{name}-{n}" for n, _ in sorted(short + short_refs)) \
            + " left out"
        warnings.warn(f"metric {metric!r}{left} ({'; '.join(why)}): a sequence shorter "
                      f"than n tokens has no n-grams, and NLTK's smoothing fills in a constant that measures "
                      f"nothing", stacklevel=3)
    return tuple(kept)


def novelty_scores(samples: list[str], train: set[str], test: set[str],
                   unknown: list[bool] | None = None) -> dict[str, float]:
    """Shares of samples not in training, distinct, in training or test, in test alone.
    ``unknown``: the samples holding an <unk>, which match no line (as in BLEU): "cat <unk>" is
    not the real "cat purred" or "cat yawned" whose rare word also became <unk>."""
    n = max(len(samples), 1)
    unknown = unknown or [False] * len(samples)
    known = [s for s, u in zip(samples, unknown) if not u]
    return {"novelty": 1.0 - sum(s in train for s in known) / n if samples else 0.0,
            "unique": len(set(samples)) / n,
            "real_share": sum(s in train or s in test for s in known) / n,
            "unseen_real_share": sum(s in test and s not in train for s in known) / n}


# at most this many sequences a forward pass: below the logit budget, G's own activations (rows x
# L x hidden, several per layer) are what grow with the rows (3.4 GB at 20,000 rows, hidden 512)
NLL_ROWS = 1000


@torch.no_grad()
def model_nll(G, x: torch.Tensor, end_id, batch: int | None = None) -> float:
    """Per-token NLL of sequences x under G (valid positions only), G in eval mode, at G's
    sampling temperature: the distribution its samples come from (Caccia et al. 2020 trace
    quality against this diversity measure over temperatures).  ``batch`` rows at a time;
    by default as many as keep their (rows, L, V) logits within LOGIT_BUDGET, at most NLL_ROWS."""
    from gankit.data.text_dataset import valid_mask
    from gankit.nets.sequence import chunk_rows
    batch = batch or min(NLL_ROWS, chunk_rows(x.shape[1] * G.vocab))
    was = G.training
    G.eval()
    dev = next(G.parameters()).device
    temp = getattr(G, "temperature", 1.0)
    total, count = 0.0, 0
    for i in range(0, len(x), batch):
        xb = x[i:i + batch].to(dev)
        m = valid_mask(xb, end_id)
        # where, not * m: at a tiny T a masked position's log p can be -inf, and -inf * 0 is NaN
        total += float(torch.where(m, -G.token_logp(xb, temp), 0.0).sum())
        count += int(m.sum())
    G.train(was)
    return total / max(count, 1)


def _samples(ctx, n: int) -> torch.Tensor:
    return ctx.generate(n, "samples")


def _tok(ds, x):
    """Rows of ids -> token lists (a character-level <unk> is one token, not the 5 of its name)."""
    return ds.token_lists(x)


def _is_text(ds):
    return getattr(ds, "kind", None) == "text"


@register_metric("nll_oracle", lambda ds: hasattr(ds, "oracle_nll"),
                 "per-token NLL of G's samples under the known oracle (SeqGAN)",
                 {"nll_oracle": Output("NLL_oracle (nats/token)", "lower", ".3f", headline=True)},
                 reads=("n_samples", "text_protocol"))
def _nll_oracle(ctx):
    from gankit.nets.sequence import chunk_rows
    x = _samples(ctx, ctx.settings.n_samples)
    # the oracle's log-probabilities are vocabulary-wide too: score the samples by chunks
    rows = chunk_rows(x.shape[1] * ctx.dataset.vocab_size)
    return {"nll_oracle": float(torch.cat([ctx.dataset.oracle_nll(x[i:i + rows])
                                           for i in range(0, len(x), rows)]).mean())}


@register_metric("nll_test", _is_text, "per-token NLL of held-out sequences under G at its sampling temperature (text)",
                 {"nll_test": Output("NLL_test (nats/token)", "lower", ".3f")}, reads=("text_protocol",))
def _nll_test(ctx):
    if ctx.likelihood is None:
        # the reference row's real data (gankit.metrics.reference) and a G without token_logp have no
        # likelihood: raised, the row lists nll_test as skipped ("no real counterpart", not a blank)
        raise NotForThisRun("NLL_test needs G's likelihood of held-out sequences (a generator with token_logp), "
                            "which this run's G lacks: leave nll_test out of eval.metrics")
    _warn_unk_targets(ctx.dataset)
    return {"nll_test": model_nll(ctx.likelihood, ctx.dataset.test, ctx.dataset.end_id)}


def unk_share(ds, x: torch.Tensor) -> float:
    """Share of the scored positions (up to and including <end>) of rows x that are <unk>."""
    from gankit.data.text_dataset import valid_mask
    if getattr(ds, "unk_id", None) is None or not len(x):
        return 0.0
    m = valid_mask(x, ds.end_id)
    return float(((x == ds.unk_id) & m).sum()) / max(int(m.sum()), 1)


def _warn_unk_targets(ds) -> None:
    """The vocabulary comes from the training split, so a held-out word training never holds is
    <unk> there.  Where training holds no <unk> (data.min_count = 1, no data.max_vocab cap), G
    learns to give <unk> almost no probability, those positions can dominate NLL_test, and it then
    measures the file's unseen words: warned, with a data.min_count above the rarest training
    token's count (2 on ordinary text), so training holds <unk> too.  Where training holds <unk>
    (min_count >= 2 or a max_vocab cap, what docs/sequence.md recommends) nothing is said: G
    learns p(<unk>) from training's rare words, which stand for the unseen ones; training's share
    is then usually below the held-out one at any min_count (on Zipfian text about half of it at
    2), so advice drawn from comparing the two sent runs back and forth between raising and
    lowering the cap.  Python shows a warning once per message and place, so the evaluations of one training
    run say it once."""
    from gankit.data.text_dataset import valid_mask
    test = unk_share(ds, ds.test)
    if test == 0 or unk_share(ds, ds.train) > 0:
        return
    # every training token is in the vocabulary, so min_count <= the rarest one's count: one more
    # makes training hold <unk>, and is never the setting the run already has
    x = ds.train[valid_mask(ds.train, ds.end_id) & (ds.train != ds.end_id)]
    counts = torch.bincount(x) if len(x) else torch.ones(1, dtype=torch.long)
    rarest = int(counts[counts > 0].min())
    eg = "e.g. 2" if rarest == 1 else f"e.g. {rarest + 1}: every training token occurs {rarest} times or more"
    warnings.warn(f"nll_test: {test:.1%} of the held-out tokens are <unk>, words training never holds, and "
                  f"training holds no <unk>, so G gives it almost no probability and NLL_test largely "
                  f"measures the file's unseen words; raise data.min_count ({eg}) so training holds <unk> "
                  f"too (docs/sequence.md)", stacklevel=3)


@register_metric("bleu", _is_text, "BLEU-2..5 of samples against the test split (NLTK; text)",
                 {f"bleu{n}": Output(f"BLEU-{n}", "higher", ".3f") for n in ORDERS},
                 reads=("n_samples", "text_protocol"))
def _bleu(ctx):
    ds = ctx.dataset
    hyp = _tok(ds, _samples(ctx, min(ctx.settings.n_samples, BLEU_HYPOTHESES)))
    refs = _tok(ds, ds.test[:BLEU_REFERENCES])
    orders = measurable_orders("bleu", hyp, refs)
    return {f"bleu{n}": v for n, v in bleu_scores(hyp, refs, orders).items()} if orders else {}


@register_metric("self_bleu", _is_text, "self-BLEU-2..5 of samples (repetitiveness; text)",
                 {f"self_bleu{n}": Output(f"self-BLEU-{n}", "lower", ".3f") for n in ORDERS},
                 reads=("n_samples", "text_protocol"))
def _self_bleu(ctx):
    ds = ctx.dataset
    if ctx.settings.n_samples < 2:   # skipped, not fatal: the other metrics of the evaluation still run
        from gankit.wording import callers_words     # overrides=[...] where a program called gankit.api
        warnings.warn(f"metric 'self_bleu' skipped: it scores each sample against the others, so it needs "
                      f"eval.n_samples >= 2 (got {ctx.settings.n_samples}); use "
                      + callers_words(f"--set eval.n_samples={BLEU_HYPOTHESES}"), stacklevel=2)
        return {}
    hyp = _tok(ds, _samples(ctx, min(ctx.settings.n_samples, BLEU_HYPOTHESES)))
    orders = measurable_orders("self_bleu", hyp)
    return {f"self_bleu{n}": v for n, v in self_bleu_scores(hyp, orders).items()} if orders else {}


@register_metric("novelty", _is_text, "shares of novel, distinct, real and real-but-unseen samples (text)",
                 {"novelty": Output("share not in training", None, ".3f"),
                  "unique": Output("share distinct", "higher", ".3f"),
                  "real_share": Output("share real (train or test)", "higher", ".3f"),
                  "unseen_real_share": Output("share real and unseen in training", "higher", ".3f")},
                 reads=("n_samples", "text_protocol"))
def _novelty(ctx):
    ds = ctx.dataset
    x = _samples(ctx, ctx.settings.n_samples)
    from gankit.data.text_dataset import UNK
    return novelty_scores(ds.decode(x), ds.train_lines, set(ds.decode(ds.test)),
                          [UNK in toks for toks in _tok(ds, x)])
