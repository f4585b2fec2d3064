"""Conditions for conditional GANs: class labels, or captions measured from each image.

A conditional dataset serves ``(x, c, y)``: the sample, its condition (a label, or
a caption's token ids) and its class.  Captions say more than the class: each
image's stroke thickness, size and brightness are measured and compared with the
median of its class, giving e.g. "a thick small faint seven".  The same
measurements judge generated images (attribute accuracy), so the words are
checkable.
"""
from __future__ import annotations

import unicodedata
import warnings

import torch
from torch import Tensor

from gankit.config import ConfigError
from gankit.data.class_names import _refuse_same_names, _warn_numbered_names
from gankit.ops import PAD, UNK

# (property, word below the class median, word above it)
ATTRIBUTES = [("thickness", "thin", "thick"), ("size", "small", "large"), ("brightness", "faint", "bright")]
DIGIT_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def measure(x: Tensor) -> dict[str, Tensor]:
    """Properties of images in [-1, 1] (n, C, H, W): ink area, bounding-box area, ink brightness."""
    ink = (x.float().mean(1) + 1) / 2                        # (n, H, W) in [0, 1]
    on = ink > 0.5
    area = on.flatten(1).float().mean(1)                      # thickness: share of inked pixels
    rows, cols = on.any(2).float(), on.any(1).float()         # which rows / cols hold ink
    h, w = ink.shape[1:]
    idx_r, idx_c = torch.arange(h).float(), torch.arange(w).float()

    def extent(mask, idx):
        lo = torch.where(mask > 0, idx, torch.full_like(idx, 1e9)).min(1).values
        hi = torch.where(mask > 0, idx, torch.full_like(idx, -1e9)).max(1).values
        return (hi - lo + 1).clamp_min(0)
    box = extent(rows, idx_r) * extent(cols, idx_c) / (h * w)
    bright = (ink * on).flatten(1).sum(1) / on.flatten(1).sum(1).clamp_min(1)
    return {"thickness": area, "size": box, "brightness": bright}


class Vocab:
    """Word-level vocabulary; 0 is padding, 1 the unknown word."""

    def __init__(self, words: list[str], order: dict[str, str] | None = None):
        # ``order``: a word's sort key where it is not the word itself (see ConditionalData)
        self.words = ["<pad>", "<unk>"] + sorted(set(words), key=lambda w: (order or {}).get(w, w))
        # the two markers are no words a caption may use: G never saw <pad> before a word or <unk> at all
        self.index = {w: i for i, w in enumerate(self.words) if i > UNK}

    def __len__(self):
        return len(self.words)

    @staticmethod
    def tokenize(text: str) -> list[str]:
        # NFC: macOS and zip files spell folder names decomposed (NFD), users type composed
        # text; both spellings must be one word
        return unicodedata.normalize("NFC", text).lower().replace(",", " ").split()

    def unknown(self, text: str) -> list[str]:
        return [w for w in self.tokenize(text) if w not in self.index]

    def encode(self, texts: list[str], max_words: int) -> Tensor:
        out = torch.full((len(texts), max_words), PAD, dtype=torch.long)
        for i, t in enumerate(texts):
            ids = [self.index.get(w, UNK) for w in self.tokenize(t)][:max_words]
            out[i, :len(ids)] = torch.tensor(ids, dtype=torch.long)
        return out

    def decode(self, ids: Tensor) -> list[str]:
        return [" ".join(self.words[i] for i in row.tolist() if i != PAD) for row in ids]


def _class_words(names: list[str]) -> list[str]:
    """Each class name as one caption word, by the tokenizer's own rule (lowercase; spaces,
    commas and '/' become '-'), so a caption's class word always encodes to itself; names
    that become the same word, or no word, are refused (one word cannot tell two classes apart)."""
    words = ["-".join(Vocab.tokenize(n.replace("/", " "))) for n in names]
    empty = [n for n, w in zip(names, words) if not w]
    if empty:
        raise ConfigError(f"condition.kind = 'text': class name(s) {empty} hold no caption word "
                          "(only spaces or commas); rename those class folders")
    by_word: dict[str, list[str]] = {}
    for n, w in zip(names, words):
        by_word.setdefault(w, []).append(n)
    same = [f"{', '.join(repr(n) for n in ns)} -> {w!r}" for w, ns in by_word.items() if len(ns) > 1]
    if same:
        raise ConfigError(f"condition.kind = 'text': class folders share a caption word ({'; '.join(same)}: "
                          "names are Unicode-normalised (NFC) and lowercased, spaces, commas and '/' become '-'); "
                          "rename all but one of each")
    return words


def unlabelled(base) -> str:
    """Why ``base`` has no labels, in the user's terms (also said by the objectives that need labels: ssgan)."""
    if type(base).__name__ == "PointsFile":
        return (f"the points file {getattr(getattr(base, 'path', None), 'name', '')!r} has no labels (every "
                "column of a points file is a coordinate, a 'label' column too)")
    if getattr(base, "kind", None) == "images":
        return ("these images have no labels (an image folder without class sub-folders, or MNIST-format "
                "files whose labels were left out: the warning above says why)")
    return f"the data ({getattr(base, 'name', type(base).__name__)}) have no labels"


class ConditionalData:
    """Wraps a dataset with labels; everything else is forwarded to it."""

    def __init__(self, base, kind: str, max_words: int = 8):
        self.base, self.condition_kind, self.max_words = base, kind, max_words
        self.labels = getattr(base, "labels", None)
        if isinstance(getattr(base, "modes", None), Tensor) and self.labels is None and base.kind == "points":
            self.n_classes = len(base.modes)           # a mixture: the condition is which mode
        elif self.labels is not None:
            self.n_classes = int(getattr(base, "n_classes", None) or int(self.labels.max()) + 1)
        else:
            raise ConfigError(f"condition.kind = {kind!r}: {unlabelled(base)}; use labelled data (a "
                              "mixture, MNIST, Fashion-MNIST, a folder of images with one sub-folder per "
                              "class) or condition.kind = 'none'")
        # the classes with data: labels index a classifier's classes (MNIST-format files of digits
        # 3, 5, 7 keep those digits) and a mixture's labels its modes (a mode of weight 0 has no
        # samples), so 0 .. n_classes - 1 may include classes without any
        if self.labels is None:
            weights = getattr(base, "weights", None)
            self.classes = (torch.arange(self.n_classes) if weights is None
                            else (torch.as_tensor(weights) > 0).nonzero()[:, 0])
        else:
            self.classes = torch.unique(self.labels.long()).sort().values
        if len(self.classes) < 2:
            raise ConfigError(f"condition.kind = {kind!r}: the data hold one class, so there is nothing to "
                              "condition on (a folder needs two or more class sub-folders); use "
                              "condition.kind = 'none'")
        names = names_on_disk = getattr(base, "class_names", None)
        # the names --label takes and checkpoints record (folder names: NFC, as typed)
        self.folder_names = [unicodedata.normalize("NFC", n) for n in names] if names else None
        if self.folder_names:
            _refuse_same_names(self.folder_names)
            if kind == "label":
                _warn_numbered_names(self.folder_names)
        if kind == "text":
            if base.kind != "image":
                raise ConfigError("condition.kind = 'text': captions are measured from images; "
                                  "use an image dataset or condition.kind = 'label'")
            names = self.folder_names or [
                DIGIT_NAMES[i] if self.n_classes <= 10 else f"class{i}" for i in range(self.n_classes)]
            self.class_names = _class_words(names)
            need = len(ATTRIBUTES) + 2          # "a", the attribute words, the class
            if max_words < need:            # the example caption is one these data make
                example = " ".join(["a", *(hi for _, _, hi in ATTRIBUTES), self.class_names[int(self.classes[0])]])
                raise ConfigError(f"condition.max_words = {max_words} cuts the {need}-word captions the data "
                                  f"make (e.g. '{example}'), class word included; use at least {need}")
            taken = {w for _, lo, hi in ATTRIBUTES for w in (lo, hi)} | {"a"}
            clash = [n for n in self.class_names if n in taken]
            if clash:   # a caption names one class and attribute words: the same word cannot be both
                raise ConfigError(f"condition.kind = 'text': class name(s) {clash} are caption words "
                                  f"({', '.join(sorted(taken))}); rename those class folders")
            x = base.split("train")
            props = measure(x)
            # per-class medians: a word says "more or less than usual for this class"
            self.thresholds = torch.stack([
                torch.stack([props[a][self.labels == k].median() if (self.labels == k).any()
                             else props[a].median() for k in range(self.n_classes)])
                for a, _, _ in ATTRIBUTES])                  # (n_attr, n_classes)
            self.attr_bits = self.attributes(x, self.labels)  # (n, n_attr) of 0/1
            words = [w for _, lo, hi in ATTRIBUTES for w in (lo, hi)] + self.class_names + ["a"]
            # ids in the order of the names as spelt on disk, as before names were normalised: a
            # decomposed (NFD) name sorts elsewhere composed, and runs made then keep their word ids
            # (data without class names, e.g. MNIST's digits, caption the digit names: plain order)
            order = None
            if names_on_disk:
                spelt = ["-".join(n.replace("/", " ").lower().replace(",", " ").split()) for n in names_on_disk]
                order = dict(zip(self.class_names, spelt))
            self.vocab = Vocab(words, order)
            self.n_conditions = len(self.vocab)
        else:
            self.n_conditions = self.n_classes

    def __getattr__(self, name):          # forward dataset attributes (shape, kind, modes, ...)
        if name == "base":
            raise AttributeError(name)
        return getattr(self.base, name)

    @property
    def shape(self):
        return self.base.shape

    # ------------------------------------------------------------ captions
    def attributes(self, x: Tensor, y: Tensor) -> Tensor:
        """0/1 per attribute: above this class's median?"""
        props = measure(x)
        return torch.stack([(props[a] > self.thresholds[i, y]).long() for i, (a, _, _) in enumerate(ATTRIBUTES)], 1)

    def caption(self, bits: Tensor, y: Tensor) -> list[str]:
        out = []
        for b, k in zip(bits.tolist(), y.tolist()):
            words = [ATTRIBUTES[i][2] if v else ATTRIBUTES[i][1] for i, v in enumerate(b)]
            out.append("a " + " ".join(words) + " " + self.class_names[k])
        return out

    def _refuse_unreadable(self, text: str, words: list[str]):
        """A caption G would not read as written: longer than condition.max_words (its encoding
        is cut there, the class word with it), or naming both words of an attribute."""
        if len(words) > self.max_words:
            raise ConfigError(f"caption {text!r} has {len(words)} words, more than condition.max_words = "
                              f"{self.max_words} (G reads only the first {self.max_words}); shorten it")
        both = [f"{lo!r} and {hi!r}" for _, lo, hi in ATTRIBUTES if lo in words and hi in words]
        if both:
            raise ConfigError(f"caption {text!r} names both {'; both '.join(both)}: contradictory "
                              "attribute words; keep one of each")

    def words(self, text: str) -> list[str]:
        """A typed caption's words, where a class name is typed as its folder's name: consecutive
        words that make a class word by its own rule (_class_words: "red circle", "T-shirt/top")
        and hold a word the captions lack are that one word ("red-circle"), the longest first."""
        tokens, out, i = Vocab.tokenize(text), [], 0
        while i < len(tokens):
            word, i = self._class_word_at(tokens, i) or (tokens[i], i + 1)
            out.append(word)
        return out

    def _class_word_at(self, tokens: list[str], i: int) -> tuple[str, int] | None:
        """(class word, the index after it) where tokens[i:] begin with a class typed as its
        name, else None.  A window of known words is left as it is: captions G was trained on."""
        # a class word of p parts ('-') is typed as p words at most
        longest = max(len(w.split("-")) for w in self.class_names)
        for j in range(min(len(tokens), i + longest), i, -1):
            window = tokens[i:j]
            if all(w in self.vocab.index for w in window):
                continue
            # a typed sentence's full stop after the name ("... red circle.") is no part of it
            for last in dict.fromkeys((window[-1], window[-1].rstrip(".!?;:"))):
                word = "-".join(Vocab.tokenize(" ".join(window[:-1] + [last]).replace("/", " ")))
                if word in self.class_names:
                    return word, j
        return None

    def parse(self, text: str) -> tuple[int, dict[str, int]]:
        """Caption -> (class, {attribute: 0/1}) for the words it names."""
        words = self.words(text)
        self._refuse_unreadable(text, words)
        # the words offered: a class without data (an unreadable folder, a digit absent from the
        # files) keeps its word id but is not offered, as --label does not offer it
        have = [self.class_names[k] for k in self.classes.tolist()]
        unknown = [w for w in words if w not in self.vocab.index]
        if unknown:
            known = [w for w in self.vocab.words[2:] if w not in self.class_names or w in have]
            # an unknown word that is part of a class of several words ('box' of 'big-box'): name it whole
            part = [w for w in have if "-" in w and set(unknown) & set(w.split("-"))]
            hint = f" ({', '.join(part)}: a class is named whole, its words with spaces or '-')" if part else ""
            raise ConfigError(f"unknown word(s) {unknown} in {text!r}; known words: {', '.join(known)}{hint}")
        # distinct classes: "a thick circle circle" names one class (as a repeated attribute word
        # names one attribute); two different classes are refused
        classes = list(dict.fromkeys(self.class_names.index(w) for w in words if w in self.class_names))
        if len(classes) != 1:
            raise ConfigError(f"{text!r} must name exactly one class of: {', '.join(have)}")
        attrs = {a: (1 if hi in words else 0) for a, lo, hi in ATTRIBUTES if lo in words or hi in words}
        return classes[0], attrs

    def encode_text(self, texts: list[str]) -> Tensor:
        # a class typed as its folder's name ("red circle") is encoded as its class word (words)
        joined = {t: " ".join(self.words(t)) for t in dict.fromkeys(texts)}
        for t, j in joined.items():
            self._refuse_unreadable(t, j.split())
            bad = self.vocab.unknown(j)
            if bad:
                warnings.warn(f"unknown word(s) {bad} in {t!r} are read as <unk>")
        return self.vocab.encode([joined[t] for t in texts], self.max_words)

    # ------------------------------------------------------------ sampling
    def _draw(self, n, generator):
        if self.labels is None:                       # mixture: the mode index is the class
            return self.base.sample_with_labels(n, generator)
        idx = torch.randint(0, len(self.labels), (n,), generator=generator)
        return self.base.to_float(self.base.x[idx]), self.labels[idx], idx

    def sample_conditional(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        """(x, condition, class) for n training samples."""
        x, y, *rest = self._draw(n, generator)
        if self.condition_kind == "label":
            return x, y, y
        bits = self.attr_bits[rest[0]]
        return x, self.vocab.encode(self.caption(bits, y), self.max_words), y

    def sample(self, n, generator):
        return self._draw(n, generator)[0]

    def conditions_for(self, y: Tensor, generator: torch.Generator) -> Tensor:
        """A condition for each class in y (captions get random attribute words)."""
        if self.condition_kind == "label":
            return y
        bits = torch.randint(0, 2, (len(y), len(ATTRIBUTES)), generator=generator)
        return self.vocab.encode(self.caption(bits, y), self.max_words)

    def random_classes(self, n: int, generator: torch.Generator) -> Tensor:
        """n classes at the data's own frequencies, as training draws them: a G that matches
        each class is then measured against the data as they are (uniform draws scored a perfect
        G on a 90/10 mixture as if it had dropped most of the large class)."""
        if self.labels is None:                       # a mixture: its weights
            return torch.multinomial(self.base.weights, n, replacement=True, generator=generator)
        return self.labels[torch.randint(0, len(self.labels), (n,), generator=generator)].long()

    def caption_bits(self, captions: Tensor) -> Tensor:
        """Caption token ids (n, max_words) -> the attribute bits they name, (n, n_attr)."""
        hi = torch.tensor([self.vocab.index[w] for _, _, w in ATTRIBUTES], device=captions.device)
        return (captions[:, :, None] == hi).any(1).long()

    def mismatched(self, y: Tensor, generator: torch.Generator, captions: Tensor | None = None,
                   attribute_share: float = 0.0) -> Tensor:
        """For each row a wrong condition, never a sample's own: another class; or, for a share
        ``attribute_share`` of the rows of a caption batch (``captions``, the real ones), the
        same class with a random non-empty set of its attribute words flipped, so D learns
        that the attribute words must match too."""
        # another class with data: shift the class's place among them (all classes: the label itself)
        k = len(self.classes)
        classes = self.classes.to(y.device)
        place = torch.searchsorted(classes, y)
        shift = torch.randint(1, k, (len(y),), generator=generator).to(y.device)
        wrong = self.conditions_for(classes[(place + shift) % k], generator)
        if attribute_share <= 0 or self.condition_kind != "text" or captions is None:
            return wrong          # no further draws: runs without the option stay as they were
        n, A = len(y), len(ATTRIBUTES)
        pick = torch.rand(n, generator=generator) < attribute_share
        flip = torch.randint(1, 2 ** A, (n,), generator=generator)[:, None] >> torch.arange(A) & 1
        bits = self.caption_bits(captions.cpu()) ^ flip
        same = self.vocab.encode(self.caption(bits, y.cpu()), self.max_words)
        return torch.where(pick[:, None], same, wrong.cpu()).to(wrong.device)


def make_conditional(dataset, cfg):
    """Wrap ``dataset`` for ``cfg.condition`` (returns it unchanged when unconditional)."""
    if cfg.condition.kind == "none":
        return dataset
    return ConditionalData(dataset, cfg.condition.kind, cfg.condition.max_words)
