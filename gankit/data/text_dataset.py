"""The interface every text source returns: ``TextDataset`` (token-id sequences with a
vocabulary), its special tokens, and which positions of a sequence count (``valid_mask``).
The sources that build one are gankit/data/text.py (text files, word lists) and
gankit/data/oracle.py.

A sample is a row of ``seq_len`` token ids.  Files get three special tokens:
``<pad>`` (after the end), ``<end>`` (closes every sample) and ``<unk>``
(a token not in the training vocabulary).  Oracle sequences have a fixed length
and no special tokens (``pad_id = end_id = None``).
"""
from __future__ import annotations

import torch
from torch import Tensor

from gankit.data.base import Dataset

PAD, END, UNK = "<pad>", "<end>", "<unk>"


class TextDataset(Dataset):
    """Token-id sequences (n, seq_len), a training and a held-out test split."""

    kind = "text"

    def __init__(self, train: Tensor, test: Tensor, vocab: list[str], level: str,
                 pad_id: int | None, end_id: int | None, unk_id: int | None):
        self.train, self.test = train.long(), test.long()
        self.vocab = list(vocab)
        self.index = {t: i for i, t in enumerate(self.vocab)}
        self.level = level                       # "char" | "word" | "token": how decode joins
        self.pad_id, self.end_id, self.unk_id = pad_id, end_id, unk_id
        self.seq_len = self.train.shape[1]
        self.dim = self.seq_len
        self.size = len(self.train)
        self._train_lines = None

    # ---------------------------------------------------------------- interface
    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.seq_len,)

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """n training sequences drawn uniformly with replacement."""
        idx = torch.randint(0, self.size, (n,), generator=generator)
        return self.train[idx]

    def bounds(self):
        raise ValueError("text data has no bounding box")

    def mask(self, x: Tensor) -> Tensor:
        """True at the positions that count (tokens up to and including <end>)."""
        return valid_mask(x, self.end_id)

    # ---------------------------------------------------------------- tokens <-> text
    def tokens(self, line: str) -> list[str]:
        if self.level == "char":
            return list(line)
        return line.split()

    def encode(self, lines: list[str]) -> Tensor:
        """Lines -> (n, seq_len) ids: tokens, <end>, then <pad>; unknown tokens -> <unk>.
        Lines longer than seq_len - 1 tokens are cut."""
        if self.end_id is None:
            out = torch.tensor([[self.index[t] for t in self.tokens(line)] for line in lines])
            return out.reshape(len(lines), self.seq_len)
        out = torch.full((len(lines), self.seq_len), self.pad_id, dtype=torch.long)
        # a literal "<pad>" or "<end>" in a line is text, not a control token: it reads as <unk>
        control = {self.vocab[self.pad_id], self.vocab[self.end_id]}
        for i, line in enumerate(lines):
            ids = [self.unk_id if t in control else self.index.get(t, self.unk_id)
                   for t in self.tokens(line)][: self.seq_len - 1]
            out[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            out[i, len(ids)] = self.end_id
        return out

    def token_lists(self, x: Tensor) -> list[list[str]]:
        """(n, seq_len) ids -> each row's tokens up to <end>.  A <pad> before <end> (G may
        sample one; real rows never hold one) stays, as "<pad>": dropping it would show G's
        "dog <pad> ran" as the real-looking "dog ran".  Unlike ``tokens(decode(x))`` a
        character-level <unk> or <pad> stays one token (not 5 characters)."""
        out = []
        for row in torch.as_tensor(x).tolist():
            toks = []
            for i in row:
                if i == self.end_id:
                    break
                if not 0 <= i < len(self.vocab):    # a negative id would read the last word
                    raise ValueError(f"token id {i} is outside the vocabulary of {len(self.vocab)}")
                toks.append(self.vocab[i])
            out.append(toks)
        return out

    def decode(self, x: Tensor) -> list[str]:
        """(n, seq_len) ids -> lines; stops at <end> (see ``token_lists``)."""
        sep = "" if self.level == "char" else " "
        return [sep.join(toks) for toks in self.token_lists(x)]

    @property
    def train_lines(self) -> set[str]:
        if self._train_lines is None:
            self._train_lines = set(self.decode(self.train))
        return self._train_lines


def valid_mask(x: Tensor, end_id: int | None) -> Tensor:
    """(n, L) bool: positions up to and including the first <end> (all of them without one)."""
    if end_id is None:
        return torch.ones_like(x, dtype=torch.bool)
    is_end = (x == end_id).long()
    before = is_end.cumsum(1) - is_end            # number of <end> strictly before each position
    return before == 0
