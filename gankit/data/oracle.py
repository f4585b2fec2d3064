"""SeqGAN's synthetic task: a random LSTM (vocab 5,000, length 20, hidden 32, every parameter
~ N(0, 1)) generates the training sequences, and because its density is known, G's samples can
be scored by it (NLL_oracle).  Its samples are cached on disk with a digest (``_oracle_data``).
"""
from __future__ import annotations

import functools
import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from gankit.config import opt
from gankit.data.text_dataset import TextDataset
from gankit.io import cache_folder, save_atomic
from gankit.ops import inverse_cdf_sample
from gankit.registry import DATASETS


class OracleLSTM(nn.Module):
    """SeqGAN's target LSTM: start token 0, embedding and hidden size ``hidden``,
    every parameter ~ N(0, 1) (drawn from an explicit generator)."""

    def __init__(self, vocab: int, hidden: int, generator: torch.Generator):
        super().__init__()
        self.vocab, self.hidden = vocab, hidden
        self.embed = nn.Embedding(vocab, hidden)
        self.lstm = nn.LSTM(hidden, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=generator))
        self.requires_grad_(False)

    def logits(self, x: Tensor) -> Tensor:
        """Teacher forcing: logits of x_t given x_<t, (n, L, V)."""
        inp = torch.cat([torch.zeros_like(x[:, :1]), x[:, :-1]], 1)
        h, _ = self.lstm(self.embed(inp))
        return self.out(h)

    @torch.no_grad()
    def token_nll(self, x: Tensor, batch: int = 2000) -> Tensor:
        """-log p_oracle(x_t | x_<t) for every position, (n, L)."""
        out = []
        for i in range(0, len(x), batch):
            xb = x[i:i + batch]
            lp = torch.log_softmax(self.logits(xb), -1)
            out.append(-lp.gather(-1, xb.unsqueeze(-1)).squeeze(-1))
        return torch.cat(out)

    @torch.no_grad()
    def generate(self, n: int, length: int, generator: torch.Generator, batch: int = 2000) -> Tensor:
        out = []
        for i in range(0, n, batch):
            b = min(batch, n - i)
            tok = torch.zeros(b, dtype=torch.long)
            state, seq = None, []
            for _ in range(length):
                h, state = self.lstm(self.embed(tok)[:, None], state)
                u = torch.rand(b, generator=generator)
                tok = inverse_cdf_sample(self.out(h[:, 0]), u)
                seq.append(tok)
            out.append(torch.stack(seq, 1))
        return torch.cat(out)


class OracleDataset(TextDataset):
    """Sequences from a random LSTM whose density is known (SeqGAN's synthetic data)."""

    def __init__(self, oracle: OracleLSTM, train: Tensor, test: Tensor):
        vocab = [f"t{i}" for i in range(oracle.vocab)]
        super().__init__(train, test, vocab, "token", None, None, None)
        self.oracle = oracle

    def oracle_nll(self, x: Tensor) -> Tensor:
        """Per-token NLL of each sequence under the oracle, (n,)."""
        return self.oracle.token_nll(torch.as_tensor(x).long()).mean(1)


ORACLE_CACHE_FORMAT = "gankit-oracle-samples"


def _samples_digest(key: str, x: Tensor) -> str:
    """sha256 of the cache key and the samples: a file damaged, edited or renamed from another
    key's since it was written no longer matches it."""
    return hashlib.sha256(key.encode() + b"\0" + x.contiguous().numpy().tobytes()).hexdigest()


def _cached_samples(path: Path, key: str, shape: tuple[int, int], vocab: int) -> Tensor | None:
    """The oracle's samples as written to ``path`` by ``_oracle_data``, or None (with a warning
    naming the file when one is there) for anything else: unreadable, another format, another
    dtype or shape, ids outside [0, vocab), or a digest that does not match."""
    if not path.is_file():
        return None
    try:
        obj = torch.load(path, weights_only=True)
    except Exception as e:    # truncated, not a torch file, unsafe pickle: all the same to a cache
        why = f"unreadable as a torch file ({type(e).__name__})"
    else:
        x = obj.get("samples") if isinstance(obj, dict) and obj.get("format") == ORACLE_CACHE_FORMAT else None
        if not isinstance(x, Tensor):
            why = "not a gankit oracle sample file"
        elif x.dtype != torch.long or tuple(x.shape) != shape:
            why = f"{x.dtype} {tuple(x.shape)} where int64 {shape} was expected"
        elif len(x) and not (0 <= int(x.min()) and int(x.max()) < vocab):
            why = f"token ids outside [0, {vocab})"
        elif obj.get("sha256") != _samples_digest(key, x):
            why = "its digest does not match its samples"
        else:
            return x
    warnings.warn(f"{path}: {why}; the oracle's samples are drawn again and the file rewritten",
                  stacklevel=2)
    return None


@functools.lru_cache(maxsize=4)
def _oracle_data(vocab: int, seq_len: int, hidden: int, n_train: int, n_test: int, seed: int):
    """The oracle (rebuilt from the seed) and its samples.  Drawing 12,000 sequences over a
    5,000-token vocabulary takes tens of seconds on a busy CPU, so the samples are cached on
    disk, keyed by every parameter; the cache only saves time (the same seed redraws them), so a
    file that fails ``_cached_samples``' checks is redrawn.  v1 files (a bare tensor, no digest)
    cannot be told from a look-alike and are not read."""
    g = torch.Generator().manual_seed(seed)
    oracle = OracleLSTM(vocab, hidden, g)
    key = f"oracle-v2-{vocab}-{seq_len}-{hidden}-{n_train}-{n_test}-{seed}"
    folder = cache_folder()
    path = None if folder is None else folder / f"{key}.pt"
    shape = (n_train + n_test, seq_len)
    x = None if path is None else _cached_samples(path, key, shape, vocab)
    if x is None and path is None:
        x = oracle.generate(n_train + n_test, seq_len, g)
    elif x is None:
        from gankit.io.locks import computing
        with computing(path, "the oracle's samples") as waited:
            x = _cached_samples(path, key, shape, vocab) if waited else None
            if x is None:
                x = oracle.generate(n_train + n_test, seq_len, g)
                try:
                    save_atomic({"format": ORACLE_CACHE_FORMAT, "samples": x,
                                 "sha256": _samples_digest(key, x)}, path)
                except OSError:
                    pass   # a read-only home: no cache, same data
    return oracle, x[:n_train], x[n_train:]


@dataclass
class OracleParams:
    vocab: int = opt(5000, "vocabulary size (SeqGAN: 5,000)", ge=2)
    seq_len: int = opt(20, "sequence length (SeqGAN: 20)", ge=2)
    hidden: int = opt(32, "the oracle LSTM's embedding and hidden size (SeqGAN: 32)", ge=1)
    n_train: int = opt(10000, "training sequences drawn from the oracle (SeqGAN: 10,000)", ge=1)
    n_test: int = opt(2000, "held-out sequences (NLL of held-out data under G, BLEU references)", ge=1)
    seed: int = opt(88, "seed of the oracle's weights and of its samples (not the run's seed)")


@DATASETS.register("oracle", OracleParams, "SeqGAN oracle: a random LSTM's sequences, known density")
def oracle(vocab, seq_len, hidden, n_train, n_test, seed):
    o, train, test = _oracle_data(vocab, seq_len, hidden, n_train, n_test, seed)
    return OracleDataset(o, train, test)
