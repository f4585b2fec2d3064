"""Text data: token-id sequences with a vocabulary.

Three sources, one interface (``TextDataset``, gankit/data/text_dataset.py, which says what a
sample is and which special tokens it holds):
- ``oracle``: SeqGAN's synthetic task (gankit/data/oracle.py).
- ``textfile``: a user's file with one sample per line, tokenised by character
  or by whitespace-separated word.
- ``words``: English words from the Debian package ``wamerican``
  (/usr/share/dict/words), one character-level sample per word.
"""
from __future__ import annotations

import hashlib
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch

from gankit.registry import DATASETS
from gankit.config import ConfigError, opt
from gankit.data.text_dataset import END, PAD, UNK, TextDataset
from gankit.data.text_encoding import CONTROLS as _CONTROLS, REPLACEMENT, read_lines


def printable(text: str) -> str:
    """``text`` with every control character escaped as \\xHH or \\uHHHH, for a terminal to show
    rather than act on (a backslash itself is left as it is)."""
    return _CONTROLS.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}",
                         text)


def _warn_controls(lines: list[str], source: str) -> None:
    """One warning when samples hold control characters: they are tokens like any other, but a
    user who did not know they were there should hear of it."""
    hits = [s for s in lines if _CONTROLS.search(s)]
    if hits:
        warnings.warn(f"{source}: {len(hits)} line(s) hold control characters, e.g. "
                      f"'{printable(hits[0][:60])}'; they are kept as tokens (`gankit sample` prints "
                      f"them escaped)", ControlCharacters, stacklevel=3)


def check_vocabulary(old: list[str] | None, now: list[str]) -> None:
    """Refuses a vocabulary other than the one a run trained on (``old``, kept in its checkpoints):
    rebuilt from a data file edited since, G's tokens would decode as other words."""
    if old is None or list(old) == list(now):
        return
    i = next((i for i, (a, b) in enumerate(zip(old, now)) if a != b), min(len(old), len(now)))
    then = repr(old[i]) if i < len(old) else "nothing"
    here = repr(now[i]) if i < len(now) else "nothing"
    raise ConfigError(f"data: the vocabulary differs from the one this run trained on (token {i}: "
                      f"{then} then, {here} now), so G's tokens would decode as other words: the "
                      f"data file changed since training; restore it or train a new run")


def lines_digest(lines: list[str]) -> str:
    """Which distinct lines ``lines`` holds, whatever their order or copies (sha256, 16 hex digits)."""
    return hashlib.sha256("\n".join(sorted(set(lines))).encode("utf-8")).hexdigest()[:16]


def refuse_other_split(state: dict, ds, where: str) -> None:
    """Refuses a held-out split of other lines than a run recorded (its checkpoint's "data_split"),
    their number unchanged: lines reordered (``sort -o``) or edited in place change which lines
    the permutation holds out, so held-out measures would score lines the run trained on and a
    resume would train on held-out ones.  A checkpoint without the record (older) opens as before."""
    was, now = state.get("data_split"), getattr(ds, "split_digest", None)
    if was is None or now is None or was == now:
        return
    check_vocabulary((state.get("objective") or {}).get("vocab"), ds.vocab)    # names the token that changed
    raise ConfigError(f"{where}: its held-out split ({ds.cut[1]} of {ds.cut[0]} distinct lines, as many as when "
                      f"this run was trained) now holds other lines, so it would include lines the run trained "
                      f"on: the file's lines were reordered or edited, and their order decides the split; restore "
                      f"the file as it was (or give a copy of it with --set data.path=...), or train a new run "
                      f"on the data as they are")


# ---------------------------------------------------------------- text files

def build_vocab(token_lists: list[list[str]], min_count: int, max_vocab: int) -> list[str]:
    """<pad>, <end>, <unk>, then tokens by falling count (ties by token), at least min_count times.
    Literal specials in the text are not new tokens, and U+FFFD (bytes that were not UTF-8)
    stays out, so it reads as <unk>."""
    counts = Counter(t for toks in token_lists for t in toks)
    kept = sorted((t for t, c in counts.items() if c >= min_count and t not in (PAD, END, UNK)
                   and REPLACEMENT not in t), key=lambda t: (-counts[t], t))
    if max_vocab:
        kept = kept[: max(0, max_vocab - 3)]
    return [PAD, END, UNK] + kept


def _no_token_kept(tokens: list[str], n_lines: int, level: str, min_count: int, source: str) -> ConfigError:
    """Why the vocabulary of the training lines' ``tokens`` holds only the specials, and what to
    change: data.min_count where it cut every token, else the file (where its tokens hold bytes
    that are not UTF-8, converting it: no data.min_count, 1 at least, keeps such a token)."""
    counts = Counter(t for t in tokens if t not in (PAD, END, UNK) and REPLACEMENT not in t)
    where = f"of the {n_lines} training lines of {source}"
    if counts:
        (top, n), = counts.most_common(1)
        return ConfigError(f"data.min_count = {min_count}: no {level} token {where} is kept (the most "
                           f"frequent {level} token, {top!r}, occurs {n} time(s)), so every token would be "
                           f"{UNK}; lower data.min_count")
    bad = sum(REPLACEMENT in t for t in tokens)
    specials = f"the special tokens {PAD}, {END}, {UNK} written out"
    what = ("every one holds bytes that are not UTF-8" if bad == len(tokens) else
            f"{bad} of the {len(tokens)} hold bytes that are not UTF-8, the others are {specials}" if bad
            else f"they are {specials}")
    fix = "convert the file to UTF-8 (the warning above names the command)" if bad else "give a file of other text"
    return ConfigError(f"data: no {level} token {where} can be kept ({what}), so every token would be {UNK}; "
                       f"{fix}")


def _no_usable_lines(lines: list[str], tok, level: str, max_len: int, source: str) -> ConfigError:
    """Why fewer than 2 distinct lines of 1..max_len tokens are left, and what to change."""
    distinct = list(dict.fromkeys(lines))
    lengths = sorted(len(tok(s)) for s in distinct)
    if not distinct:
        return ConfigError(f"data: {source} has no non-blank line; give a file with one sample per line")
    if len(distinct) >= 2:   # the lines are there, max_len leaves them out
        fitting = sum(n <= max_len for n in lengths)
        return ConfigError(f"data: {source} has {fitting} distinct line(s) of 1..{max_len} {level} "
                           f"tokens ({len(distinct) - fitting} longer, left out); raise data.max_len "
                           f"(--set data.max_len={lengths[1]} keeps the 2 shortest)")
    return ConfigError(f"data: {source} has {len(distinct)} distinct line ({len(lines)} non-blank); a GAN "
                       f"needs at least 2 different samples (one to train on, one held out): add lines")


def _split_distinct(lines: list[str], test_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """(train, test) lines, every copy of a line kept (a line repeated in the file is that much
    more frequent in the data) and every copy on the same side, so no test line is a training
    line; ``test_fraction`` is the share of distinct lines held out.  ([], []) with fewer than
    2 distinct lines."""
    distinct = list(dict.fromkeys(lines))
    if len(distinct) < 2:
        return [], []
    g = torch.Generator().manual_seed(seed)
    order = [distinct[i] for i in torch.randperm(len(distinct), generator=g).tolist()]
    # at least one line on each side, whatever test_fraction rounds to
    n_test = min(max(1, int(round(test_fraction * len(order)))), len(order) - 1)
    copies: dict[str, int] = {}
    for s in lines:
        copies[s] = copies.get(s, 0) + 1
    sides = [[s for s in order[n_test:] for _ in range(copies[s])],
             [s for s in order[:n_test] for _ in range(copies[s])]]
    if len(lines) > len(distinct):
        # the copies of a line sit together: shuffled, so test[:BLEU_REFERENCES] is a fair draw
        # (a file without repeats keeps the order, and with it the splits of existing runs)
        sides = [[side[i] for i in torch.randperm(len(side), generator=g).tolist()] for side in sides]
    return sides[0], sides[1]


class LinesLeftOut(UserWarning):
    """Lines of the file were left out, longer than data.max_len or filtered (said when a run is
    made, not each time a trained one is opened: gankit.data.build_run_dataset ignores this class
    and its subclasses, and the run's max_len and filters are part of the model then)."""


class ControlCharacters(LinesLeftOut):
    """Lines hold control characters.  Not lines left out: a subclass so that build_run_dataset's
    filter keeps it, too, to the run's making (sample and eval print them escaped anyway)."""


def _warn_long(lines: list[str], tok, level: str, max_len: int, source: str) -> None:
    """One warning when lines longer than ``max_len`` tokens are left out: how many, and the
    max_len that keeps 95% of the lines (a user who left the default may lose most of a file)."""
    lengths = sorted(len(tok(s)) for s in lines if tok(s))
    long = sum(n > max_len for n in lengths)
    if not long:
        return
    most = lengths[max(0, -(-95 * len(lengths) // 100) - 1)]    # the 95th percentile, rounded up
    # a few lines far beyond max_len (a whole book on one line) are outliers: a max_len that keeps
    # them would make every sequence that long, so they are named, and only the rest offered
    reach = min(4 * max_len, 512)
    far, near = sum(n > reach for n in lengths), [n for n in lengths if max_len < n <= reach]
    keep = (f"--set data.max_len={most} keeps 95% of them" if most > max_len
            else f"--set data.max_len={lengths[-1]} keeps them all" if not far
            else f"{far} of them are outliers of up to {lengths[-1]:,} tokens (over {reach}{', 4 x data.max_len' if reach < 512 else ''}), too long to "
                 f"train on: split such a line where it holds several samples"
                 + (f"; --set data.max_len={near[-1]} keeps the other {len(near)}" if near else ""))
    warnings.warn(f"data: {long} of the {len(lengths)} lines of {source} are longer than data.max_len = "
                  f"{max_len} {level} tokens and are left out; {keep}", LinesLeftOut, stacklevel=3)


class HeldOutShare(UserWarning):
    """The held-out split is far more of the file's samples than data.test_fraction asks."""


def _warn_held_out(usable: list[str], test: list[str], test_fraction: float, source: str) -> None:
    """One warning when the held-out split is more than twice ``test_fraction`` of the samples.
    The split is on distinct lines (no held-out line is a training line), so a line's copies all
    go one way, and with few distinct lines (900 "yes", 100 "no") the test split can take most of
    the data; evenly repeated lines hold out round(test_fraction x distinct), 1 at least, whatever
    the seed (4 lines x 25 copies: 25% at test_fraction 0.1), so a seed is suggested only where
    the lines' copy counts differ."""
    (top, n_top), = Counter(test).most_common(1)
    n, share = len(usable), len(test) / len(usable)
    if share <= 2 * test_fraction:
        return
    line = (f" and training never sees '{printable(top[:40])}' ({n_top} copies, {n_top / n:.1%} of them)"
            if n_top > 1 else "")
    copies = Counter(usable)
    distinct = len(copies)
    # _split_distinct holds out round(test_fraction x distinct), but never fewer than 1 line
    held = (f"1 line, the minimum, = {1 / distinct:.1%} of the {distinct} distinct lines"
            if round(test_fraction * distinct) < 1 else f"{len(set(test))} of the {distinct} distinct lines")
    each = "" if n == distinct else ", with every copy" if len(set(test)) == 1 else ", each with every copy"
    # with equal copy counts every seed holds out the same share
    seed = " (or try another data.seed)" if len(set(copies.values())) > 1 else ""
    warnings.warn(f"data: the held-out split is {len(test)} of the {n} samples of {source} ({share:.1%}; "
                  f"data.test_fraction = {test_fraction:g}){line}: the split holds out {held}{each}; add "
                  f"distinct lines{seed}", HeldOutShare, stacklevel=3)


def lines_dataset(lines: list[str], level: str, max_len: int, min_count: int, max_vocab: int,
                  test_fraction: float, seed: int, source: str, warn_long: bool = True) -> TextDataset:
    """Split lines (shuffled by ``seed``) into train/test, on distinct lines with every copy kept
    (``_split_distinct``); the vocabulary comes from train only.  At word level a line is its
    token sequence: "a  b" and "a\tb" are the sample "a b", so they count as one distinct line
    and sit on one side of the split (split on the raw text, a test line could be a training line)."""
    tok = (lambda s: list(s)) if level == "char" else (lambda s: s.split())
    if level != "char":
        lines = [" ".join(s.split()) for s in lines]
    if 0 < max_vocab <= 3:
        raise ConfigError(f"data.max_vocab = {max_vocab} leaves no room for tokens: it counts the 3 "
                          f"specials {PAD}, {END}, {UNK}; use 0 (every token) or at least 4")
    usable = [s for s in lines if 0 < len(tok(s)) <= max_len]
    train, test = _split_distinct(usable, test_fraction, seed)
    if not train:
        raise _no_usable_lines(lines, tok, level, max_len, source)
    if warn_long:
        _warn_long(lines, tok, level, max_len, source)
    vocab = build_vocab([tok(s) for s in train], min_count, max_vocab)
    if len(vocab) == 3:
        raise _no_token_kept([t for s in train for t in tok(s)], len(train), level, min_count, source)
    _warn_held_out(usable, test, test_fraction, source)
    ds = TextDataset(torch.zeros(0, max_len + 1, dtype=torch.long), torch.zeros(0, max_len + 1),
                     vocab, level, 0, 1, 2)
    ds.train, ds.test = ds.encode(train), ds.encode(test)
    ds.size = len(ds.train)
    # the split follows the number of distinct lines and their order: a run records both
    # (gankit.train.run_state; refuse_other_split)
    ds.cut = (len(set(train)) + len(set(test)), len(set(test)))
    ds.split_digest = lines_digest(test)
    ds.source = source
    return ds


@dataclass
class TextFileParams:
    path: str = opt("", "a UTF-8 text file with one sample per line (gzip, bzip2 or xz compressed too)")
    level: str = opt("word", "tokens: characters or whitespace-separated words", choices=["char", "word"])
    max_len: int = opt(20, "longest sample in tokens (longer lines are left out); +1 for <end>", ge=1)
    min_count: int = opt(1, "tokens seen fewer times in training become <unk>", ge=1)
    max_vocab: int = opt(0, "keep at most this many tokens, specials included (0: all)", ge=0)
    lowercase: bool = opt(False, "lowercase every line first")
    test_fraction: float = opt(0.1, "share of distinct lines held out as the test split (every copy of a "
                               "line on the same side)", gt=0.0, le=0.9)
    seed: int = opt(0, "seed of the train/test split")


@DATASETS.register("textfile", TextFileParams, "a text file, one sample per line (char or word tokens)")
def textfile(path, level, max_len, min_count, max_vocab, lowercase, test_fraction, seed):
    lines = read_lines(path, lowercase, "; give data.path = a text file with one sample per line",
                       f"they read as {UNK}")
    _warn_controls(lines, path)
    return lines_dataset(lines, level, max_len, min_count, max_vocab, test_fraction, seed, path)


WORDS_PATH = "/usr/share/dict/words"


@dataclass
class WordsParams:
    path: str = opt(WORDS_PATH, "word list, one word a line (Debian package wamerican)")
    max_len: int = opt(12, "longest word in characters (longer words are left out)", ge=1)
    lowercase_only: bool = opt(True, "keep only words of the letters a-z (no names, no possessives)")
    test_fraction: float = opt(0.1, "share of words held out (for the share of real unseen words)",
                               gt=0.0, le=0.9)
    seed: int = opt(0, "seed of the train/test split")


@DATASETS.register("words", WordsParams, "English words as character sequences (wamerican)")
def words(path, max_len, lowercase_only, test_fraction, seed):
    hint = ("; install the word list with `apt-get install wamerican` (it provides "
            "/usr/share/dict/words) or set data.path to any file with one word a line")
    # lowercase_only keeps a-z words: a word with bytes that are not UTF-8 is not one of them
    lines = read_lines(path, False, hint, "the words holding them are left out (data.lowercase_only keeps "
                       "only a-z words)" if lowercase_only else f"they read as {UNK}")
    if lowercase_only:
        kept = [w for w in lines if w.isascii() and w.isalpha() and w.islower()]
        if len(set(kept)) < 2 <= len(set(w for w in lines if w.strip())):
            bad = sum(REPLACEMENT in w for w in lines)
            fix = (f"{bad} of them hold bytes that are not UTF-8: convert the file to UTF-8 (the warning "
                   "above names the command), and for words beyond a-z --set data.lowercase_only=false"
                   if bad else "use --set data.lowercase_only=false, or data.name='textfile' for any text")
            raise ConfigError(f"data: data.lowercase_only keeps {len(set(kept))} of the {len(lines)} lines of "
                              f"{path} (only lowercase a-z words pass); {fix}")
        # documented for wamerican (39% of its lines are names and possessives); a user's list
        # hears of a sizeable share left out (a name or two among many words is no news)
        own = Path(path).expanduser().resolve() != Path(WORDS_PATH).resolve()
        out = len(lines) - len(kept)
        if own and out and (out > 3 or 10 * out >= len(lines)):
            first = next(w for w in lines if not (w.isascii() and w.isalpha() and w.islower()))
            warnings.warn(f"data: data.lowercase_only leaves out {out} of the {len(lines)} lines of {path} "
                          f"(only lowercase a-z words pass; e.g. '{printable(first[:40])}'); "
                          f"--set data.lowercase_only=false keeps them", LinesLeftOut, stacklevel=2)
        lines = kept
    _warn_controls(lines, path)
    # max_len here is a filter on which words to learn (5% of wamerican's are longer than 12
    # letters), documented as such: no warning for the words it leaves out
    return lines_dataset(lines, "char", max_len, 1, 0, test_fraction, seed, path, warn_long=False)

