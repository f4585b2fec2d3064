import subprocess
import sys

import pytest
import torch

from gankit import config as C
from gankit.registry import DATASETS, DISCRIMINATORS, GENERATORS
from gankit.config import ConfigError
from gankit.data.conditional import ConditionalData, Vocab, measure
from gankit.data.images import ImageDataset
from gankit.nets.conditional import CondDiscriminator, CondGenerator, ConditionEncoder
from gankit.train.run import Run



def synthetic_images(n=200, seed=0):
    """Blocks of random size and brightness in 4 classes (by position), uint8 (n, 1, 16, 16)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 1, 16, 16, dtype=torch.uint8)
    y = torch.randint(0, 4, (n,), generator=g)
    for i in range(n):
        s = int(torch.randint(2, 7, (1,), generator=g))
        v = int(torch.randint(140, 256, (1,), generator=g))
        r, c = divmod(int(y[i]), 2)
        x[i, 0, r * 8:r * 8 + s, c * 8:c * 8 + s] = v
    return ImageDataset(x, y, class_names=["tl", "tr", "bl", "br"], name="blocks")


@pytest.mark.parametrize("d_mode", ["concat", "projection", "acgan", "none"])
@pytest.mark.parametrize("kind", ["label", "text"])
def test_every_d_type_and_condition_kind(d_mode, kind):
    if d_mode == "acgan" and kind == "text":
        return
    data = ConditionalData(synthetic_images(), kind)
    enc = lambda: ConditionEncoder(kind, data.n_conditions, 8, "gru" if kind == "text" else "bag")
    base_g = GENERATORS.build("dcgan", {"width": 8}, noise_dim=4 + 8, data=data)
    base_d = DISCRIMINATORS.build("dcgan", {"width": 8}, data=data)
    G = CondGenerator(base_g, enc(), "concat")
    D = CondDiscriminator(base_d, enc(), d_mode, data.n_classes, base_d.feature_dim)
    x, c, y = data.sample_conditional(6, torch.Generator().manual_seed(0))
    assert c.shape == ((6,) if kind == "label" else (6, data.max_words))
    fake = G(torch.randn(6, 4), c)
    assert fake.shape == (6, 1, 16, 16)
    with pytest.raises(TypeError, match="condition"):
        D(fake, None)
    with pytest.raises(ValueError, match="rows"):
        D(fake, c[:3])
    out = D(fake, c)
    assert out.shape == (6,)
    out.sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in G.encoder.parameters())
    if d_mode in ("concat", "projection"):     # D's realism score depends on the condition
        other = data.mismatched(y, torch.Generator().manual_seed(1))
        assert not torch.allclose(D(x, c), D(x, other))
    else:                                      # acgan: c enters through the class loss only
        assert torch.allclose(D(x, c), D(x, data.mismatched(y, torch.Generator().manual_seed(1))))
    if d_mode == "acgan":
        assert D.class_logits(x).shape == (6, 4)


def test_conditional_batch_norm_depends_on_the_condition():
    data = ConditionalData(synthetic_images(), "label")
    base = GENERATORS.build("dcgan", {"width": 8}, noise_dim=4, data=data)
    G = CondGenerator(base, ConditionEncoder("label", 4, 8), "cbn")
    for m in G.modules():
        if hasattr(m, "gain"):
            torch.nn.init.normal_(m.gain.weight)
    z = torch.randn(5, 4)
    a = G(z, torch.zeros(5, dtype=torch.long))
    b = G(z, torch.full((5,), 3, dtype=torch.long))
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError, match="batch norm"):
        CondGenerator(GENERATORS.build("mlp", {}, noise_dim=4, data=DATASETS.build("ring", {})),
                      ConditionEncoder("label", 8, 8), "cbn")


def test_mismatched_sampler_never_pairs_a_sample_with_its_own_condition():
    g = torch.Generator().manual_seed(0)
    ring = ConditionalData(DATASETS.build("ring", {}), "label")
    y = torch.arange(8).repeat(500)
    assert (ring.mismatched(y, g) != y).all()
    text = ConditionalData(synthetic_images(), "text")
    _, c, y = text.sample_conditional(400, g)
    wrong = text.mismatched(y, g)
    assert not (wrong == c).all(1).any()
    wrong_classes = torch.tensor([text.parse(t)[0] for t in text.vocab.decode(wrong)])
    assert (wrong_classes != y).all()


def test_attribute_mismatches_keep_the_class_and_flip_an_attribute():
    g = torch.Generator().manual_seed(0)
    text = ConditionalData(synthetic_images(), "text")
    _, c, y = text.sample_conditional(400, g)
    assert torch.equal(text.caption_bits(c), text.attr_bits[:0].new_tensor(
        [[text.parse(t)[1][a] for a in ("thickness", "size", "brightness")] for t in text.vocab.decode(c)]))
    wrong = text.mismatched(y, g, c, attribute_share=0.5)
    assert not (wrong == c).all(1).any()                      # never the sample's own caption
    parsed = [text.parse(t) for t in text.vocab.decode(wrong)]
    same = torch.tensor([k for k, _ in parsed]) == y
    assert 0.4 < same.float().mean() < 0.6                    # about half keep the class...
    bits = torch.tensor([[a[n] for n in ("thickness", "size", "brightness")] for _, a in parsed])
    assert ((bits != text.caption_bits(c)).any(1) | ~same).all()   # ...and differ in an attribute
    every = text.mismatched(y, g, c, attribute_share=1.0)
    assert torch.equal(torch.tensor([text.parse(t)[0] for t in text.vocab.decode(every)]), y)
    # without the option the draws are those of before (runs keep their numbers)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(text.mismatched(y, g1), text.mismatched(y, g2, c, attribute_share=0.0))


def test_captions_measure_the_image_and_round_trip():
    data = ConditionalData(synthetic_images(400), "text")
    x, c, y = data.sample_conditional(50, torch.Generator().manual_seed(0))
    texts = data.vocab.decode(c)
    bits = data.attributes(x, y)
    for t, b, k in zip(texts, bits, y):
        cls, attrs = data.parse(t)
        assert cls == int(k)
        assert [attrs[a] for a in ("thickness", "size", "brightness")] == b.tolist()
    # larger blocks measure larger
    small, large = torch.full((1, 1, 16, 16), -1.0), torch.full((1, 1, 16, 16), -1.0)
    small[..., :2, :2], large[..., :6, :6] = 1.0, 1.0
    assert measure(large)["size"] > measure(small)["size"]
    assert (data.vocab.encode(["a thick tl"], 8) == data.vocab.encode(["A thick, tl"], 8)).all()
    with pytest.raises(ConfigError, match="unknown word"):
        data.parse("a purple tl")
    with pytest.raises(ConfigError, match="exactly one class"):
        data.parse("a thick")
    v = Vocab(["cat", "dog"])
    assert v.decode(v.encode(["dog cat"], 4)) == ["dog cat"]
    # the padding and unknown markers are no words a caption may give (audit a137)
    for marker in ("<pad>", "<unk>"):
        with pytest.raises(ConfigError, match=rf"unknown word\(s\) \['{marker}'\]"):
            data.parse(f"{marker} tl")
    assert v.unknown("<pad> cat <unk>") == ["<pad>", "<unk>"]
    assert v.encode(["<pad> cat"], 3).tolist() == [[1, v.index["cat"], 0]]   # <pad> typed is unknown, not padding
    assert v.encode(["cow"], 2)[0, 0] == 1      # unknown -> <unk>


def test_conditions_need_labels():
    with pytest.raises(ConfigError, match="no labels"):
        ConditionalData(DATASETS.build("swissroll", {}), "label")
    with pytest.raises(ConfigError, match="image"):
        ConditionalData(DATASETS.build("ring", {}), "text")


def test_a_short_run_obeys_the_label_on_an_easy_mixture(tmp_path):
    cfg = C.load("ring-cgan", ["train.steps=400", "train.progress=false", "data.n_modes=4",
                               "data.std=0.05", "train.sample_every=400", "eval.n_samples=400"])
    run = Run.create(cfg, tmp_path / "r").train()
    acc = run.evaluate(["cond_accuracy"])["cond_accuracy"]
    assert acc > 0.8, acc                      # chance is 0.25


def test_conditional_command_line(tmp_path, tiny, capsys):
    run = tmp_path / "run"
    # the conditional metric whose number is checked; the panels per condition are drawn from samples
    sets = [x for t in tiny + ["train.steps=20", 'eval.metrics=["cond_accuracy"]'] for x in ("--set", t)]
    env = {**__import__("os").environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "gankit"]
    p = subprocess.run(cmd + ["train", "ring-cgan", "--out", str(run), *sets], capture_output=True,
                       text=True, env=env)
    assert p.returncode == 0, p.stderr
    assert "cond_accuracy" in p.stdout
    assert "per condition" in (run / "report.html").read_text()
    from gankit.cli import main      # in this process: the command line itself is run above
    assert main(["sample", str(run), "-n", "20", "--label", "2", "--out", str(tmp_path / "s.npy")]) == 0
    capsys.readouterr()
    assert main(["sample", str(run), "-n", "5", "--label", "99", "--out", str(tmp_path / "s.npy")]) == 2
    assert "the classes with data are 0, 1, 2, 3, 4, 5, 6, 7" in capsys.readouterr().err


def test_one_class_is_refused_and_thin_classes_are_named_by_within_class(tmp_path, tiny):
    """One class: the mismatched-condition sampler drew from an empty range (a traceback at
    step 0).  within_class with fewer than 3 samples a class divided by zero."""
    import numpy as np
    x = torch.randint(0, 255, (30, 1, 8, 8), dtype=torch.uint8)
    with pytest.raises(ConfigError, match="one class"):
        ConditionalData(ImageDataset(x, np.zeros(30, dtype=np.int64), class_names=["only"]), "label")
    with pytest.raises(ConfigError, match="one class"):
        Run.create(C.load("ring-cgan", tiny + ["data.n_modes=1"]), tmp_path / "one")
    run = Run.create(C.load("ring-cgan", tiny + ["train.steps=4", "eval.n_samples=16"]), tmp_path / "r").train()
    from gankit.metrics.base import TooFewSamples
    from gankit.metrics import conditional as MC
    with pytest.raises(TooFewSamples, match="no class had 3") as e:
        MC._within_class(run.eval_context())
    # the count asked for is the one that also gives the real side enough (it asked for 24, then
    # warned that classes drew too few real samples and asked for 96)
    assert e.value.n_needed == MC._enough_for_every_class(run.dataset, 4 * MC.WITHIN_MIN) == 96


def test_conditional_metrics_measure_eval_n_samples_not_a_multiple_of_the_classes(tmp_path, tiny):
    """25 samples over 8 classes were measured as 24 beside eval.n_samples = 25."""
    from gankit.metrics import conditional as MC
    run = Run.create(C.load("ring-cgan", tiny + ["train.steps=2", "eval.n_samples=25"]), tmp_path / "r").train()
    y = MC._classes(run.eval_context(), 25)
    assert len(y) == 25 and sorted(torch.bincount(y).tolist()) == [3] * 7 + [4]
    seen = []
    ctx = run.eval_context()
    real_generate = ctx.generate
    ctx.generate = lambda n, *a, **k: seen.append(n) or real_generate(n, *a, **k)
    MC._cond_accuracy(ctx)
    assert seen == [25]


def test_class_names_that_are_caption_words_are_refused():
    import numpy as np
    x = torch.randint(0, 255, (40, 1, 8, 8), dtype=torch.uint8)
    y = np.repeat([0, 1], 20)
    with pytest.raises(ConfigError, match=r"\['small'\] are caption words"):
        ConditionalData(ImageDataset(x, y, class_names=["small", "cat"]), "text")


def test_api_sample_checks_labels_as_the_cli_does(tmp_path, tiny):
    from gankit import api
    from gankit.config import ConfigError
    from gankit.train.run import Run
    cond = Run.create(C.load("ring-cgan", tiny), tmp_path / "c").train()
    assert api.sample(cond, 4, label=2).shape == (4, 2)
    import numpy as np                          # numpy's and torch's integers are labels too
    assert torch.equal(api.sample(cond, 4, seed=1, label=np.int64(2)), api.sample(cond, 4, seed=1, label=2))
    assert torch.equal(api.sample(cond, 4, seed=1, label=torch.tensor(2)), api.sample(cond, 4, seed=1, label=2))
    for bad in (8, -1, True, 2.0, np.int64(9)):
        with pytest.raises(ConfigError, match=r"label .*the classes with data are 0, 1, 2, 3, 4, 5, 6, 7"):
            api.sample(cond, 4, label=bad)
    plain = Run.create(C.load("ring", tiny), tmp_path / "p").train()
    with pytest.raises(ConfigError, match="label/text: this run is not conditional"):
        api.sample(plain, 4, label=1)
    cond.close(), plain.close()


def test_captions_g_would_misread_are_refused(tmp_path):
    """A caption past condition.max_words was checked whole but encoded cut, class word and all;
    "a thick thin tl" read as thick.  Both are refused, by parse and by encode_text."""
    data = ConditionalData(synthetic_images(), "text", max_words=8)
    for text, want in [("a a a a a a a a a tl", r"has 10 words, more than condition.max_words = 8"),
                       ("a thick thin tl", r"both 'thin' and 'thick'.*contradictory"),
                       ("a small large faint bright tl", r"both 'small' and 'large'; both 'faint' and 'bright'")]:
        for check in (data.parse, lambda t: data.encode_text([t])):
            with pytest.raises(ConfigError, match=want):
                check(text)
    assert data.parse("a thick small faint tl") == (0, {"thickness": 1, "size": 0, "brightness": 0})
    # the example caption is one these data make (it was an MNIST digit's whatever the data)
    with pytest.raises(ConfigError, match="condition.max_words = 4 cuts the 5-word captions the data make "
                                          r"\(e.g. 'a thick large bright tl'\)"):
        ConditionalData(synthetic_images(), "text", max_words=4)


def test_cond_accuracy_reads_a_point_as_the_modes_metric_does():
    """Modes at 0 and 10 with stds 0.1 and 5: by the nearest centre, the wide mode's draws near 0
    were the narrow mode's and a G that draws exactly the asked mode read 0.92.  Nearest in std
    units, as `modes` puts them, it reads that rule's ceiling, 0.975 (docs/metrics.md), and a
    point 3 std from the narrow mode and 2 from the wide one is the wide mode's for both."""
    from types import SimpleNamespace

    from gankit.data.toy import GaussianMixture
    from gankit.metrics.conditional import _cond_accuracy
    from gankit.metrics.context import EvalContext
    from gankit.metrics.modes import mode_metrics
    base = GaussianMixture(torch.tensor([[0.0], [10.0]]), torch.tensor([0.1, 5.0]))

    def accuracy(draw):
        def sample(n, seed=None, y=None, c=None):
            return draw(y, torch.Generator().manual_seed(int(seed or 0))), None
        return _cond_accuracy(EvalContext(
            dataset=ConditionalData(base, "label"), settings=SimpleNamespace(n_samples=8000), seed=0,
            device=torch.device("cpu"), step=0, sample=sample))["cond_accuracy"]

    perfect = accuracy(lambda y, g: base.means[y] + torch.randn(len(y), 1, generator=g) * base.stds[y, None])
    assert abs(perfect - 0.975) < 0.006, perfect
    assert mode_metrics(torch.tensor([[0.3]]), base.modes, base.mode_std)["mode_counts"] == [0, 1]
    assert accuracy(lambda y, g: torch.where(y == 1, 0.3, 0.0)[:, None]) == 1.0


def test_a_conditional_runs_evaluation_draws_classes_at_the_datas_frequencies(tmp_path):
    """A 90/10 mixture: classes drawn uniformly scored a G that draws exactly the asked mode as
    if it had lost most of the large one (reverse KL 0.49 where the data read 0.00003)."""
    from gankit.data.toy import GaussianMixture
    g = torch.Generator().manual_seed(0)
    mix = ConditionalData(GaussianMixture(torch.tensor([[-2.0], [2.0]]), 0.3, [0.9, 0.1]), "label")
    assert abs(float((mix.random_classes(20000, g) == 0).float().mean()) - 0.9) < 0.01
    imgs = synthetic_images()                     # labelled data: the training labels' own shares
    data = ConditionalData(imgs, "label")
    want = torch.bincount(imgs.labels.long(), minlength=4).double() / len(imgs.labels)
    got = torch.bincount(data.random_classes(40000, g), minlength=4).double() / 40000
    assert torch.allclose(got, want, atol=0.01)
    run = Run.create(C.load("ring-cgan", ["data.name=mixture1d", "data.means=[-2.0, 2.0]", "data.stds=[0.3, 0.3]",
                                          "data.weights=[0.9, 0.1]", "train.steps=1", "train.progress=false",
                                          "eval.n_samples=2000"]), tmp_path / "r")
    run.objective.generate = lambda z, c=None: (torch.tensor([-2.0, 2.0])[c.long()] + 0.3 * z[:, 0])[:, None]
    x, y = run.sample(2000, seed=7)
    assert abs(float((y == 0).float().mean()) - 0.9) < 0.03
    assert run.evaluate(["modes"])["reverse_kl"] < 0.01
    assert run.evaluate(["jsd"])["jsd"] < 0.02


def _within_class_on_pixels(monkeypatch, ds, n):
    """within_class over a labelled image set, with pixels as features (no classifier to train)
    and uniform noise as G's samples."""
    from types import SimpleNamespace

    from gankit.metrics import conditional as MC
    monkeypatch.setattr(MC, "_features_and_predictions", lambda ctx, x, real=False: (x.flatten(1).double(), None))
    g = torch.Generator().manual_seed(0)
    ctx = SimpleNamespace(dataset=ConditionalData(ds, "label"), settings=SimpleNamespace(n_samples=n),
                          device="cpu", stream=lambda name: 19,
                          generate=lambda m, stream, y=None: torch.rand(m, *ds.shape, generator=g) * 2 - 1)
    return MC._within_class(ctx)


def test_a_class_with_one_real_image_is_left_out_of_the_diversity_ratio(monkeypatch):
    """Real images are drawn with replacement: a one-image class gave copies of one image, a
    mean pairwise distance of 0 and a diversity_ratio of ~1e10."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (56, 1, 8, 8), dtype=torch.uint8, generator=g)
    y = torch.cat([torch.arange(18).repeat_interleave(3), torch.tensor([18, 19])])
    ds = ImageDataset(x, y, class_names=[f"class{i:02d}" for i in range(20)], holdout=0)
    with pytest.warns(UserWarning, match=r"2 of 20 classes \(class18, class19\) hold fewer than 3 distinct images"):
        out = _within_class_on_pixels(monkeypatch, ds, 2000)
    assert out["diversity_classes"] == 18 and 0.1 < out["diversity_ratio"] < 10
    # no class of 3 distinct images: neither the ratio nor a Frechet distance against one point
    one = ImageDataset(x[:2], torch.tensor([0, 1]), class_names=["a", "b"], holdout=0)
    from gankit.metrics.base import TooFewSamples
    with pytest.raises(TooFewSamples, match=r"every class holds fewer than 3 distinct images \(a, b\)"):
        _within_class_on_pixels(monkeypatch, one, 200)


def test_caption_class_words_are_one_known_word_each_and_collisions_are_refused():
    """Folders "T shirt" and "t-shirt" both became the word 't-shirt' (two classes, one caption);
    "ring,box" stayed one vocabulary word that the tokenizer splits at the comma, so its
    captions encoded as <unk> <unk>."""
    from gankit.ops import UNK
    x = synthetic_images().x
    y = synthetic_images().labels
    with pytest.raises(ConfigError, match=r"share a caption word \('T shirt', 't-shirt' -> 't-shirt'"):
        ConditionalData(ImageDataset(x, y, class_names=["T shirt", "ring,box", "t-shirt", "cat"]), "text")
    with pytest.raises(ConfigError, match=r"class name\(s\) \[' , '\] hold no caption word"):
        ConditionalData(ImageDataset(x, y, class_names=["T shirt", " , ", "dog", "cat"]), "text")
    names = ["T shirt", "ring,box", "Top/Coat  x", "Hat, Cap"]
    data = ConditionalData(ImageDataset(x, y, class_names=names), "text")
    assert data.class_names == ["t-shirt", "ring-box", "top-coat-x", "hat-cap"]
    k = len(names)
    for bits in torch.cartesian_prod(*[torch.tensor([0, 1])] * 3):
        captions = data.caption(bits.repeat(k, 1), torch.arange(k))
        ids = data.vocab.encode(captions, data.max_words)
        assert not (ids == UNK).any(), captions
        assert data.vocab.decode(ids) == captions
        assert [data.parse(c)[0] for c in captions] == list(range(k))


def test_a_zero_weight_mixture_mode_is_no_class(tmp_path, tiny):
    """Means [-2, 0, 2] with weights [1, 0, 1]: the empty mode was a class, so training ended in
    a ZeroDivisionError (within_class's sample hint), a third of the evaluation's and the grids'
    classes asked for it, and --label 1 was accepted."""
    from gankit import api
    sets = tiny + ["data.name=mixture1d", "data.means=[-2.0, 0.0, 2.0]", "data.stds=[0.2, 0.2, 0.2]",
                   "data.weights=[1.0, 0.0, 1.0]", "eval.n_samples=300"]
    run = Run.create(C.load("ring-cgan", sets), tmp_path / "r").train()
    ds = run.dataset
    assert ds.classes.tolist() == [0, 2]
    assert set(ds.mismatched(torch.tensor([0, 2] * 50), torch.Generator().manual_seed(0)).tolist()) == {0, 2}
    assert set(run.sample(40)[1].tolist()) == {0, 2}          # fixed-noise samples: classes in turn
    from gankit.metrics.conditional import _enough_for_every_class
    assert _enough_for_every_class(ds) == 6           # 3 a class, over the 2 classes with data
    assert "fd_within_class" in run.evaluate(["within_class"])
    with pytest.raises(ConfigError, match=r"the classes with data are 0, 2"):
        api.sample(run, 4, label=1)
    run.close()


@pytest.mark.parametrize("d_mode", ["concat", "projection", "acgan", "none"])
def test_minibatch_features_on_a_conditional_d(tmp_path, tiny, d_mode):
    """Minibatch std / discrimination on a conditional D were refused as the user's D lacking
    'head' / 'feature_dim'.  Modes with a linear head on the features (projection, acgan, none)
    take them; concat, whose MLP reads [features, condition], is refused in the config's terms."""
    for mb in ("std", "discrimination"):
        sets = tiny + [f"condition.d_mode={d_mode}", f"objective.minibatch={mb}", "train.steps=2"]
        if d_mode == "concat":
            with pytest.raises(ConfigError, match=f"objective.minibatch={mb} with condition.d_mode=concat.*"
                                                  "use condition.d_mode=projection"):
                Run.create(C.load("ring-cgan", sets), tmp_path / f"{d_mode}-{mb}")
            continue
        run = Run.create(C.load("ring-cgan", sets), tmp_path / f"{d_mode}-{mb}")
        assert type(run.objective.D.head).__name__ == "MinibatchHead"
        run.train().close()


def test_generate_checks_the_classes_and_takes_a_numpy_seed(tmp_path, tiny):
    """Run.generate(n, y=...) with a class the run lacks raised the embedding's IndexError, a float
    y torch's "Expected tensor for argument 'indices'"; seed=np.int64(3) was "not an integer"."""
    import numpy as np
    run = Run.create(C.load("ring-cgan", tiny + ["train.steps=2"]), tmp_path / "r")
    with pytest.raises(C.ConfigError, match=r"y: class 99 is not one of this run's classes: \[0, 1, 2, 3, 4, 5, 6, 7\]"):
        run.generate(3, y=torch.tensor([0, 1, 99]))
    with pytest.raises(C.ConfigError, match="1-D tensor of integers"):
        run.generate(3, y=torch.tensor([0.0, 1.0, 2.0]))
    assert torch.equal(run.generate(3, y=torch.tensor([0, 1, 2])), run.generate(3, y=np.array([0, 1, 2])))
    assert torch.equal(run.generate(5, seed=np.int64(3)), run.generate(5, seed=3))
    with pytest.raises(C.ConfigError, match="sample seed True"):
        run.generate(5, seed=True)
    run.close()
