"""What a Run offers for drawing samples: conditions, G in eval mode, rejection, D's view.

A mixin of the Run (it reads the run's config, dataset, device, modules, objective and
point scaler), kept apart so the Run's file holds its life cycle; and ``condition_args``, a
user's label or caption checked and turned into what ``generate`` takes.
"""
from __future__ import annotations

import operator
import re
import unicodedata
import warnings
from contextlib import contextmanager

import torch

from gankit import config as C
from gankit import seeds
from gankit.data.class_names import ClassNumbering, folder_number
from gankit.ops import sample_noise
from gankit.process_state import autocast_off


def whole_number(v) -> int | None:
    """``v`` as an int where it is one (numpy's integers are; 1e3, a float, and True are not)."""
    import operator
    try:
        return operator.index(v) if not isinstance(v, bool) else None
    except TypeError:
        return None


def sample_count(n) -> int:
    """``n`` as a number of samples, or a one-line ConfigError (also before conditions are built
    for ``n`` rows: api.condition_args)."""
    count = whole_number(n)
    if count is None:
        raise C.ConfigError(f"sample count {n!r}: give an integer, e.g. 1000 (not 1e3)")
    if count < 1:
        raise C.ConfigError(f"asked for {count} samples; ask for at least 1")
    return count


def batch_size(batch) -> int:
    """``batch`` (rows generated at once) as an int >= 1, or a one-line ConfigError (torch's reshape or
    randn error, before)."""
    rows = whole_number(batch)
    if rows is None or rows < 1:
        raise C.ConfigError(f"batch {batch!r}: give the rows generated at once as a whole number of at least 1, "
                            "e.g. batch=10000")
    return rows


def module_modes(modules) -> dict:
    """Each sub-module's train/eval mode, parents first: restore_modes puts back exactly these (one
    module.train(was) would also switch a sub-module kept in eval on purpose)."""
    return {s: s.training for m in modules for s in m.modules()}


def restore_modes(modes: dict):
    for s, was in modes.items():     # parents first: a child's own mode is set after its parent's
        s.train(was)


@contextmanager
def eval_mode_kept(modules):
    """The block with ``modules`` in eval mode; every sub-module's mode found is put back after it."""
    modes = module_modes(modules)
    for m in modules:
        m.eval()
    try:
        yield
    finally:
        restore_modes(modes)


class RunSampling:
    def _open_for_reading(self):
        """A Run opened to read (write=False): its modules in eval mode, so a user's own run.G(z)
        leaves BatchNorm's running statistics (what generate and an evaluation read) as the
        checkpoint holds them; the modes training uses are kept for Run.train."""
        self._training_modes = module_modes(self.modules.values())
        for m in self.modules.values():
            m.eval()

    def _modes_for_training(self):
        """The modes built for training (batch statistics, dropout) back before a Run opened to read trains."""
        modes, self._training_modes = getattr(self, "_training_modes", None), None
        if modes:
            restore_modes(modes)

    def _check_condition_args(self, y, c, c_needed: bool = False):
        """The y/c a caller gave, refused in words where they cannot be used: any on an
        unconditional run (else dropped without a word, or G's raw TypeError), both at once (c
        won and y came back as the classes, wrong), none where G needs c (``c_needed``: G(z, c))."""
        if not self.conditional and (y is not None or c is not None):
            raise C.ConfigError("y/c: this run is not conditional (condition.kind = 'none'); give neither")
        if y is not None and c is not None:
            raise C.ConfigError("y and c: give one of them, not both (c already fixes the classes generated for)")
        if c_needed and self.conditional and c is None:
            raise C.ConfigError(f"c: this run is conditional (condition.kind = {self.cfg.condition.kind!r}); "
                                "give c, e.g. c, _ = run.conditions(len(z), y=classes)")

    def conditions(self, n: int, seed: int | None = None, y: torch.Tensor | None = None,
                   c: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Conditions to generate with: given ones, ones for classes y, or random classes."""
        self._check_condition_args(y, c)
        g = torch.Generator().manual_seed(seeds.stream_seed(self.cfg.seed, "fixed") if seed is None else seed)
        if c is None and y is not None:
            y = self._checked_classes(y)
        if c is None and y is None:   # fixed noise: every class in turn (even rows in reports)
            classes = self.dataset.classes
            y = (classes[torch.arange(n) % len(classes)] if seed is None
                 else self.dataset.random_classes(n, g))
        if c is None:
            c = self.dataset.conditions_for(y, g)
        return c, y

    def _checked_classes(self, y) -> torch.Tensor:
        """Classes given to generate(): a 1-D integer tensor of this run's classes (an embedding's
        IndexError, or torch's "Expected tensor for argument 'indices'", before)."""
        classes = torch.as_tensor(self.dataset.classes)
        shown = classes.tolist() if len(classes) <= 20 else f"{len(classes)} classes from {int(classes.min())}"
        y = torch.as_tensor(y)
        if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool or y.dim() != 1:
            raise C.ConfigError(f"y: give the classes as a 1-D tensor of integers (a {y.dtype} tensor of shape "
                                f"{tuple(y.shape)} was given); this run's classes: {shown}")
        unknown = y[~torch.isin(y, classes.to(y.dtype))]
        if len(unknown):
            raise C.ConfigError(f"y: class {int(unknown[0])} is not one of this run's classes: {shown}")
        return y

    @torch.no_grad()
    def generate_from(self, z: torch.Tensor, c: torch.Tensor | None = None, batch: int = 10000) -> torch.Tensor:
        """G(z) (or G(z, c)) in eval mode, in chunks, on the CPU."""
        batch = batch_size(batch)
        self._check_condition_args(None, c, c_needed=True)
        G = self.modules[self.objective.sample_module]
        out = torch.cat([self._in_eval(G, lambda i=i: self.objective.generate(z[i:i + batch], None if c is None
                                                                            else c[i:i + batch]))
                         for i in range(0, len(z), batch)]).cpu()
        return self._to_data(out)

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None, batch: int = 10000, y: torch.Tensor | None = None,
               c: torch.Tensor | None = None, rejection: bool = True):
        """(samples, classes): n samples from G, fixed noise unless a seed is given.

        Conditional runs generate for conditions ``c``, or classes ``y``, or classes in turn
        (fixed noise) / random classes (a seed); unconditional runs return classes None.
        A fitted rejection sampler filters G's proposals unless ``rejection`` is False.
        """
        chunks, classes = self.sample_chunks(n, seed, batch, y, c, rejection)
        return torch.cat(list(chunks)), classes

    @torch.no_grad()        # the eager part (noise, conditions); each chunk is made under its own
    def sample_chunks(self, n: int, seed: int | None = None, batch: int = 10000, y: torch.Tensor | None = None,
                      c: torch.Tensor | None = None, rejection: bool = True):
        """(chunks, classes): ``sample``'s n samples as an iterator of CPU tensors of at most
        ``batch`` rows, each generated as it is read, so a file of millions of samples is written
        without holding them all; joined, they are ``sample``'s.  The noise is drawn at once (n x
        noise.dim): torch's normal numbers drawn in pieces need not be those of one draw (they
        differ for draws under 16 numbers, and on CUDA)."""
        n, batch = sample_count(n), batch_size(batch)
        self._check_condition_args(y, c)     # before the noise is drawn
        if seed is not None:
            given, seed = seed, whole_number(seed)
            if seed is None or not 0 <= seed < 2 ** 63 - 1:
                # the rejection stream takes seed + 1 (torch seeds are 64-bit)
                raise C.ConfigError(f"sample seed {given!r}: give an integer in [0, 2^63 - 2]")
        seed_ = seeds.stream_seed(self.cfg.seed, "fixed") if seed is None else seed
        g = torch.Generator(self.device).manual_seed(seed_)
        noise = lambda k: sample_noise(k, self.cfg.noise.dim, self.cfg.noise.dist, g, self.device)  # noqa: E731
        G = self.modules[self.objective.sample_module]
        sampler = self.objective.rejection_sampler() if rejection else None
        if sampler is not None:   # DRS: proposals from G, kept by D's density ratio
            u_gen = torch.Generator().manual_seed(g.initial_seed() + 1)
            draw = lambda k: self._in_eval(G, lambda: self.objective.generate(noise(k)))  # noqa: E731
            return (self._to_data(x) for x in _each_autocast_off(sampler.chunks(n, draw, u_gen, batch))), None
        z = noise(n)
        if self.conditional:
            c, y = self.conditions(n, seed, y, c)
            c = c.to(self.device)
        else:
            c, y = None, None
        parts = (self._in_eval(G, lambda i=i: self.objective.generate(z[i:i + batch], None if c is None else
                                                                     c[i:i + batch])).cpu()
                 for i in range(0, n, batch))
        return (self._to_data(x) for x in parts), y

    @staticmethod
    @torch.no_grad()
    def _in_eval(G, make):
        """make() with G in eval mode, G's mode kept (chunks are made as their reader asks), and a
        caller's autocast off (Run.sample is not held: process_state)."""
        with eval_mode_kept([G]), autocast_off():
            return make()

    def generate(self, n: int, seed: int | None = None, batch: int = 10000, y: torch.Tensor | None = None,
                 c: torch.Tensor | None = None, rejection: bool = True) -> torch.Tensor:
        """n samples from G (see ``sample``)."""
        return self.sample(n, seed, batch, y, c, rejection)[0]

    @torch.no_grad()
    def d_prob(self, x: torch.Tensor) -> torch.Tensor | None:
        """D(x) as a probability (sigmoid of the logit; the raw critic for WGAN-type losses);
        None for an objective without a D."""
        # a D with batch-level features scores each point as one more of a batch of real samples
        # (the same ones for every snapshot: drawn by their own generator, not training's stream)
        n_ref = getattr(self.objective, "reference_rows", 0)
        kw = {"reference": self._to_model(self.dataset.sample(
            n_ref, torch.Generator().manual_seed(self.cfg.seed)).to(self.device))} if n_ref > 0 else {}
        with eval_mode_kept(list(self.modules.values())), autocast_off():    # modes back after an error too
            chunks = [self.objective.d_score(self._to_model(x[i:i + 20000].to(self.device)), **kw)
                      for i in range(0, len(x), 20000)]
        if any(c is None for c in chunks):
            return None
        logits = torch.cat(chunks).cpu()
        return torch.sigmoid(logits) if self.objective.score_is_logit(self.loss) else logits


def condition_args(run, n: int, label: int | str | None = None, text: str | None = None,
                   names: tuple[str, str] = ("label", "text")) -> dict:
    """``label`` (a class number, a string of digits too, or a class name: an image folder's
    sub-folder) / ``text`` of a conditional run -> generate()'s y or c, checked (``names``: how the
    caller's user spells them, e.g. the CLI's --label / --text)."""
    n = sample_count(n)     # before torch.full((n,), ...) or n captions make a traceback of it
    if label is None and text is None:
        return {}
    lab, txt = names
    if not run.conditional:
        raise C.ConfigError(f"{lab}/{txt}: this run is not conditional (condition.kind = 'none')")
    if label is not None and text is not None:     # the label won and the caption was dropped
        raise C.ConfigError(f"give {lab} or {txt}, not both: a caption names its class ({txt} "
                          f"\"a thick small trouser\"), and {lab} N draws random captions of class N")
    ds = run.dataset
    if label is not None:
        have = ds.classes.tolist()      # the classes with data
        called = getattr(ds, "folder_names", None) or getattr(ds, "class_names", None)
        try:                            # numpy's and torch's integers are integers too
            label = label if isinstance(label, bool) else operator.index(label)
        except TypeError:
            pass
        if isinstance(label, str) and re.fullmatch(r"\s*[+-]?[0-9]+\s*", label):
            label = int(label)          # digits are a class number, as gankit sample --label reads them
        asked = label
        if isinstance(label, str) and called:      # a name: NFC, as folder names are
            key = unicodedata.normalize("NFC", label)
            # "trouser" for "Trouser" (a caption's words are lower case), unless two names differ only so
            folded = [k for k, c in enumerate(called) if c.casefold() == key.casefold()]
            label = called.index(key) if key in called else folded[0] if len(folded) == 1 else label
        number = isinstance(asked, int) and not isinstance(asked, bool)     # given as a number, not a name
        # a number that is another class's folder name, not its class number (folders 3, 7, 100;
        # '2', 'apple', 'banana': label 2 is 'banana', folder '2' is class 0)
        named = [k for k in have if number and called and k < len(called) and k != label
                 and folder_number(called[k]) == label]
        if isinstance(label, bool) or not isinstance(label, int) or label not in have:
            listed = _classes_listed(have, called)
            hint = f" (folder {called[named[0]]!r} is class {named[0]}: {lab} {named[0]})" if named else ""
            what = "one of the numbers or names" if called else "one of the numbers"
            raise C.ConfigError(f"{lab} {asked!r}: the classes with data are {listed}; give {what}{hint}")
        if named:       # drawn as asked (a number is a class number), said where the folder may have been meant
            k = named[0]
            drawn = f"class {label} ({called[label]!r})" if label < len(called) else f"class {label}"
            warnings.warn(f"{lab} {asked!r} draws {drawn}, not folder {called[k]!r}, which is class {k}: "
                          f"{lab} {k} draws that one", ClassNumbering, stacklevel=2)
        # labels: the class itself; captions: random attribute words for that class
        return {"y": torch.full((n,), label, dtype=torch.long)}
    if ds.condition_kind != "text":
        raise C.ConfigError(f"{txt}: this run is conditioned on labels; use {lab} N")
    # a typed sentence's full stop or "!" is no word of the captions: "a thick bag." is "a thick bag"
    # (only where the word without it is known: captions may hold punctuation as words)
    vocab = ds.vocab
    text = " ".join(w.rstrip(".!?;:") if w not in vocab.index and w.rstrip(".!?;:") in vocab.index else w
                    for w in vocab.tokenize(text))
    k = ds.parse(text)[0]      # unknown words or no class name: a clear error
    have = ds.classes.tolist()
    if k not in have:          # its word is known, but G never saw an image of it
        called = getattr(ds, "folder_names", None) or ds.class_names
        raise C.ConfigError(f"{txt} {text!r}: class {k} ({ds.class_names[k]}) has no data; the classes with data "
                            f"are {_classes_listed(have, called)}; name one of them")
    return {"c": ds.encode_text([text] * n)}


def _classes_listed(have: list[int], called: list[str] | None) -> str:
    """'0 (circle), 1 (square)': the classes with data, as --label and --text refusals list them."""
    return ", ".join(f"{k} ({called[k]})" if called and k < len(called) else str(k) for k in have)


def _each_autocast_off(chunks):
    """``chunks``, each made with a caller's autocast off: off around each step alone, as a
    generator's reader runs between them with its own (DRS scores G's proposals with D)."""
    chunks = iter(chunks)
    while True:
        with autocast_off():
            x = next(chunks, None)
        if x is None:
            return
        yield x
