"""Sequence networks: an autoregressive LSTM/GRU/relational-memory generator and two discriminators.

G is a decoder over the dataset's vocabulary.  It does not own a training step:
the objective (gankit/train/seqgan.py) asks it for teacher-forced log-probabilities
(maximum likelihood, REINFORCE), for samples and for Monte-Carlo completions of
prefixes (SeqGAN rollouts), or for a Gumbel-softmax relaxed sample.

Sampling takes its randomness as explicit uniforms ``u`` in [0, 1), one per step:
token_t = inverse CDF of softmax(logits_t / T) at u_t.  The same u gives the same
sequence, so fixed noise gives comparable snapshots over training.

Both discriminators read token ids (n, L) or one-hot / relaxed rows (n, L, V)
(embedding = rows @ W, which equals W[ids] for exact one-hots):
- ``cnn``: SeqGAN's D: convolutions of several widths over embeddings, max over
  time, a highway layer, dropout -> one logit per sequence (n,);
- ``lstm_step``: ScratchGAN's D: an LSTM reading the sequence -> one logit per
  step (n, L), D's belief that the prefix x_<=t is real.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.registry import DISCRIMINATORS, GENERATORS
from gankit.config import ConfigError, opt
from gankit.nets.relational import RelationalMemory
from gankit.ops import inverse_cdf_sample


def _need_text(data, who: str):
    if getattr(data, "kind", None) != "text":
        raise ConfigError(f"{who}: needs text data (data.name = oracle, words or textfile), "
                          f"got {getattr(data, 'kind', '?')} data")


def embed_any(embedding: nn.Embedding, x: Tensor) -> Tensor:
    """Token ids (n, L) -> W[ids]; one-hot or relaxed rows (n, L, V) -> rows @ W."""
    if x.dtype in (torch.long, torch.int32, torch.int64):
        return embedding(x)
    return x @ embedding.weight


# Bytes of vocabulary-wide logits that an evaluation over many sequences holds at once: with
# a large vocabulary, (rows, L, V) float logits for a fixed number of rows run to gigabytes.
LOGIT_BUDGET = 256 * 2 ** 20


def chunk_rows(width: int) -> int:
    """How many rows of ``width`` float32 logits each (L * V, or V for one step) fit LOGIT_BUDGET."""
    return max(1, LOGIT_BUDGET // (4 * max(width, 1)))


def tempered(logits: Tensor, temperature: float) -> Tensor:
    """logits / T, shifted so the largest is 0 first: at a tiny T the others go to -inf, not
    the largest to +inf (softmax(inf - inf) is NaN), so T -> 0 is the argmax."""
    if temperature == 1.0:
        return logits
    # a T below the dtype's smallest normal number (1e-46 rounds to 0 in float32) would make
    # the largest 0 / 0 = NaN: divide by that number instead, which is already the argmax
    return (logits - logits.amax(-1, keepdim=True)) / max(temperature, torch.finfo(logits.dtype).tiny)


def gumbel_softmax_st(logits: Tensor, tau: float, u: Tensor, hard: bool = True) -> Tensor:
    """Straight-through Gumbel-softmax: a one-hot forward, the relaxed gradient backward.

    g = -log(-log u) ~ Gumbel(0, 1); y_soft = softmax((logits + g) / tau);
    y = onehot(argmax y_soft) + y_soft - stop_grad(y_soft).  ``hard = False``: y_soft itself
    (RelGAN's relaxation; its argmax is the same sampled token).
    """
    g = -torch.log(-torch.log(u.clamp(1e-10, 1 - 1e-7)))
    y_soft = torch.softmax((logits + g) / tau, -1)
    if not hard:
        return y_soft
    onehot = F.one_hot(y_soft.argmax(-1), logits.shape[-1]).to(y_soft.dtype)
    return onehot + y_soft - y_soft.detach()


class SeqGenerator(nn.Module):
    """Autoregressive decoder: p(x) = prod_t softmax(W h_t)[x_t], h_t = cell(emb(x_{t-1}), h_{t-1})."""

    def __init__(self, vocab: int, seq_len: int, end_id: int | None, pad_id: int | None,
                 cell: str, embed_dim: int, hidden: int, dropout: float, temperature: float,
                 slots: int = 1, heads: int = 2):
        super().__init__()
        self.vocab, self.seq_len = vocab, seq_len
        self.end_id, self.pad_id = end_id, pad_id
        self.temperature = temperature
        self.embed = nn.Embedding(vocab, embed_dim)
        self.start = nn.Parameter(torch.randn(embed_dim) * 0.1)   # the input at step 0
        if cell == "rmc":
            self.rnn = RelationalMemory(embed_dim, slots, heads, hidden)
        elif (slots, heads) != (1, 2):
            raise ConfigError(f"generator.slots / generator.heads shape the relational memory, but "
                              f"generator.cell = {cell!r}: set generator.cell='rmc', or leave them out")
        else:
            self.rnn = {"lstm": nn.LSTM, "gru": nn.GRU}[cell](embed_dim, hidden, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(self.rnn.hidden_size, vocab)

    def _load_from_state_dict(self, state_dict, prefix, *args):
        # the vocabulary comes from the data, rebuilt when a run is opened: a text file edited
        # since training gives another size, which is no config change
        w = state_dict.get(prefix + "embed.weight")
        if w is not None and w.shape[0] != self.vocab:
            raise ConfigError(f"data: the vocabulary has {self.vocab} tokens now, G was trained on "
                              f"{w.shape[0]}: the data file changed since training; restore it or "
                              f"train a new run")
        super()._load_from_state_dict(state_dict, prefix, *args)

    # ---------------------------------------------------------------- teacher forcing
    def _inputs(self, x: Tensor) -> Tensor:
        e = embed_any(self.embed, x[:, :-1])
        start = self.start.expand(len(x), 1, -1)
        return torch.cat([start, e], 1)

    def forward(self, x: Tensor) -> Tensor:
        """Logits of x_t given x_<t for every t, (n, L, V)."""
        h, _ = self.rnn(self.drop(self._inputs(x)))
        return self.out(self.drop(h))

    def token_logp(self, x: Tensor, temperature: float = 1.0) -> Tensor:
        """log p(x_t | x_<t), (n, L), under softmax(logits / temperature)."""
        z = tempered(self(x), temperature)
        # picked logit - logsumexp = log_softmax then gather, with no (n, L, V) log-probabilities kept
        return z.gather(-1, x.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(z, -1)

    # ---------------------------------------------------------------- sampling
    def _step(self, inp: Tensor, state):
        h, state = self.rnn(self.drop(inp)[:, None], state)
        return self.out(self.drop(h[:, 0])), state

    def _fix_after_end(self, tok: Tensor, done: Tensor) -> tuple[Tensor, Tensor]:
        if self.end_id is None:
            return tok, done
        tok = torch.where(done, torch.full_like(tok, self.pad_id), tok)
        return tok, done | (tok == self.end_id)

    def sample(self, u: Tensor, temperature: float | None = None) -> Tensor:
        """Sequences (n, L) from uniforms u (n, >= L); after <end> only <pad>.  Rows are drawn
        in chunks whose (rows, V) logits fit LOGIT_BUDGET (rows are independent given u)."""
        rows = chunk_rows(self.vocab)
        if len(u) > rows:
            return torch.cat([self.sample(u[i:i + rows], temperature) for i in range(0, len(u), rows)])
        t_ = self.temperature if temperature is None else temperature
        n = len(u)
        inp = self.start.expand(n, -1)
        state, done, seq = None, torch.zeros(n, dtype=torch.bool, device=u.device), []
        for t in range(self.seq_len):
            logits, state = self._step(inp, state)
            tok, done = self._fix_after_end(inverse_cdf_sample(tempered(logits, t_), u[:, t]), done)
            seq.append(tok)
            inp = self.embed(tok)
        return torch.stack(seq, 1)

    def states(self, x: Tensor) -> list:
        """The recurrent state after each step of teacher forcing on x: states[t] has read
        the inputs of steps 0..t (start, x_0, ..., x_{t-1})."""
        inputs = self._inputs(x)
        state, out = None, []
        for t in range(x.shape[1]):
            _, state = self.rnn(self.drop(inputs[:, t:t + 1]), state)
            out.append(state)
        return out

    def complete(self, x: Tensor, t: int, state, u: Tensor) -> Tensor:
        """Keep x[:, :t], sample x[:, t:] given the state after step t-1 (Monte-Carlo rollout)."""
        done = torch.zeros(len(x), dtype=torch.bool, device=x.device)
        if self.end_id is not None:
            done = (x[:, :t] == self.end_id).any(1)
        seq = [x[:, :t]]
        inp = self.embed(x[:, t - 1])
        for s in range(t, self.seq_len):
            logits, state = self._step(inp, state)
            tok, done = self._fix_after_end(inverse_cdf_sample(logits, u[:, s]), done)
            seq.append(tok[:, None])
            inp = self.embed(tok)
        return torch.cat(seq, 1)

    def sample_relaxed(self, n: int, tau: float, u: Tensor, hard: bool = True) -> Tensor:
        """Straight-through Gumbel-softmax sequences (n, L, V): one-hot values whose gradient
        flows into G through the relaxed softmax; u (n, L, V) uniforms.  ``hard = False``: the
        relaxed rows themselves (RelGAN), each step fed the sampled token's embedding, as RelGAN
        does, so the tokens are those of the hard version."""
        inp = self.start.expand(n, -1)
        state, done, seq = None, torch.zeros(n, dtype=torch.bool, device=u.device), []
        pad = None if self.pad_id is None else F.one_hot(
            torch.tensor(self.pad_id, device=u.device), self.vocab).float()
        for t in range(self.seq_len):
            logits, state = self._step(inp, state)
            y = gumbel_softmax_st(logits, tau, u[:, t], hard)
            tok = y.argmax(-1)
            if self.end_id is not None:
                y = torch.where(done[:, None], pad, y)
                tok = torch.where(done, self.pad_id, tok)
                done = done | (tok == self.end_id)
            seq.append(y)
            inp = y @ self.embed.weight if hard else self.embed(tok)
        return torch.stack(seq, 1)


class CNNDiscriminator(nn.Module):
    """SeqGAN's D: embeddings -> convolutions of several widths -> max over time -> highway
    -> dropout -> logit (n,).

    ``reps > 1`` is RelGAN's D with multiple representations (Nie et al. 2019): the embedding
    is cut into ``reps`` slices of ``embed_dim / reps`` numbers, the same convolutions, highway
    and head read each slice as its own sequence, and each slice gives a logit.  The loss is
    taken over all of them (``rep_logits``, (n, reps)); ``forward`` is their mean, the one
    score per sequence that rewards, D's accuracy and sampling read."""

    def __init__(self, vocab: int, seq_len: int, embed_dim: int, widths: list[int], filters: int,
                 dropout: float, reps: int = 1):
        super().__init__()
        widths = [w for w in widths if w <= seq_len] or [seq_len]   # a width > L sees nothing
        self.reps = reps
        self.embed = nn.Embedding(vocab, embed_dim)
        self.convs = nn.ModuleList(nn.Conv1d(embed_dim // reps, filters, w) for w in widths)
        d = filters * len(widths)
        self.highway = nn.Linear(d, 2 * d)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(d, 1)

    def rep_logits(self, x: Tensor) -> Tensor:
        """One logit per sequence and representation, (n, reps)."""
        e = embed_any(self.embed, x)                                      # (n, L, E)
        n, L, E = e.shape
        e = e.view(n, L, self.reps, E // self.reps).permute(0, 2, 3, 1).reshape(n * self.reps, -1, L)
        f = torch.cat([F.relu(c(e)).amax(-1) for c in self.convs], 1)   # max over time
        h, gate = self.highway(f).chunk(2, -1)
        gate = torch.sigmoid(gate)
        f = gate * F.relu(h) + (1 - gate) * f                            # highway
        return self.head(self.drop(f)).view(n, self.reps)

    def forward(self, x: Tensor) -> Tensor:
        return self.rep_logits(x).mean(1)


class StepDiscriminator(nn.Module):
    """ScratchGAN's D: an LSTM over embeddings; logit_t scores the prefix x_<=t, (n, L)."""

    def __init__(self, vocab: int, embed_dim: int, hidden: int, dropout: float):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed_dim)
        self.rnn = nn.LSTM(embed_dim, hidden, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: Tensor) -> Tensor:
        h, _ = self.rnn(self.drop(embed_any(self.embed, x)))
        return self.head(self.drop(h))[..., 0]


@dataclass
class SeqGParams:
    cell: str = opt("lstm", "recurrent cell (rmc: RelGAN's relational memory, gankit/nets/relational.py)",
                    choices=["lstm", "gru", "rmc"])
    embed_dim: int = opt(32, "token embedding size", ge=1)
    hidden: int = opt(32, "recurrent state size (rmc: the size of each memory row)", ge=1)
    slots: int = opt(1, "rmc: memory rows (RelGAN: 1)", ge=1)
    heads: int = opt(2, "rmc: attention heads (RelGAN: 2; hidden must be divisible by it)", ge=1)
    dropout: float = opt(0.0, "dropout on the cell's inputs and outputs while training", ge=0, le=0.9)
    temperature: float = opt(1.0, "sampling temperature of generated samples (< 1: sharper)", gt=0.0)


@dataclass
class CNNDParams:
    embed_dim: int = opt(64, "token embedding size", ge=1)
    widths: list[int] = opt([1, 2, 3, 4, 5, 8, 10, 15, 20], "convolution widths in tokens "
                            "(widths longer than the sequence are dropped)")
    filters: int = opt(64, "filters per width", ge=1)
    dropout: float = opt(0.25, "dropout before the output layer", ge=0, le=0.95)
    reps: int = opt(1, "RelGAN's multiple representations: the embedding cut into this many slices, "
                    "each read by the same CNN and scored on its own; the loss averages over them "
                    "(RelGAN: 64 slices of a 64-wide embedding)", ge=1)

    def check(self, where):
        if not self.widths or any(w < 1 for w in self.widths):
            raise ConfigError(f"{where}.widths: need widths >= 1, got {self.widths}")
        if self.embed_dim % self.reps:
            raise ConfigError(f"{where}.reps = {self.reps} must divide {where}.embed_dim = "
                              f"{self.embed_dim} (each representation is an equal slice of the "
                              f"embedding); e.g. --set {where}.embed_dim={self.reps * max(1, self.embed_dim // self.reps)}")


@dataclass
class StepDParams:
    embed_dim: int = opt(32, "token embedding size", ge=1)
    hidden: int = opt(64, "LSTM state size", ge=1)
    dropout: float = opt(0.25, "dropout on the embeddings and on the LSTM's outputs", ge=0, le=0.95)


@GENERATORS.register("seq", SeqGParams, "LSTM/GRU/relational-memory (RelGAN) decoder over the vocabulary (text data)")
def seq_generator(noise_dim, data, **kw):
    _need_text(data, "generator 'seq'")
    if noise_dim < data.seq_len:
        raise ConfigError(f"noise.dim: the sequence generator draws one uniform per token, so it "
                          f"needs noise.dim >= {data.seq_len} (the data's length); "
                          f"use --set noise.dim={data.seq_len}")
    return SeqGenerator(data.vocab_size, data.seq_len, data.end_id, data.pad_id, **kw)


@DISCRIMINATORS.register("cnn", CNNDParams, "SeqGAN's CNN over token embeddings (text data)")
def cnn_discriminator(data, **kw):
    _need_text(data, "discriminator 'cnn'")
    return CNNDiscriminator(data.vocab_size, data.seq_len, **kw)


@DISCRIMINATORS.register("lstm_step", StepDParams, "ScratchGAN's LSTM D: one logit per step (text data)")
def step_discriminator(data, **kw):
    _need_text(data, "discriminator 'lstm_step'")
    return StepDiscriminator(data.vocab_size, **kw)
