"""A user's points file far from unit scale: trained standardised by default (data.standardize =
global for data.name = points), the built-in mixtures as they are; an explicit none still
trains raw and says once why it may learn little."""
import re
import warnings

import numpy as np
import pytest

from gankit import config as C
from gankit.train.run import Run


ADVICE = r"data\.path: .*--set data\.standardize=global"     # the scale advice, whichever


@pytest.fixture
def big(tmp_path):
    """2-D points centred at 1e4 with spread 1e3 (the audit's file)."""
    path = tmp_path / "big.npy"
    np.save(path, 1e4 + 1e3 * np.random.default_rng(0).normal(size=(600, 2)))
    return path


def _points(tiny, path, *more):
    return C.load("ring-vanilla", tiny + ["data.name=points", f"data.path='{path}'", *more])


def test_a_points_file_defaults_to_global_and_the_toy_data_to_none(tmp_path, tiny):
    np.save(tmp_path / "p.npy", np.zeros((10, 2)))
    assert _points(tiny, tmp_path / "p.npy").data.params["standardize"] == "global"
    # the presets' data keep the raw scale their recipes and recorded numbers were tuned at
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # the ring's options not carried over to the others
        for name in ("ring", "grid", "gmm", "mixture1d", "linear", "swissroll"):
            assert C.load("ring", [f"data.name={name}"]).data.params["standardize"] == "none", name
    assert _points(tiny, tmp_path / "p.npy", "data.standardize='none'").data.params["standardize"] == "none"


def test_points_far_from_unit_scale_train_by_default_and_samples_stay_in_their_units(big, tmp_path, tiny):
    """At the old default (none) G's samples after 400 steps were centred near 19 against the
    data's 10,000 (1,000 steps: near 4,700, prdc precision 0.026), and nothing said why."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", ADVICE)      # nothing to advise: the nets see unit scale
        run = Run.create(_points(tiny, big, "train.steps=400", "train.batch_size=64", 'eval.metrics=["energy"]',
                                 "train.checkpoint_every=400", "train.sample_every=400", "train.log_every=100"),
                         tmp_path / "r")
    try:
        assert run.scaler is not None and run.scaler.mode == "global"
        assert abs(float(run.scaler.shift.mean()) - 1e4) < 200 and 800 < float(run.scaler.scale[0]) < 1200
        run.train(final_report=False)
        x = run.generate(2000, seed=0).numpy()
    finally:
        run.close()
    data = np.load(big)
    assert (np.abs(x.mean(0) - data.mean(0)) < 0.5 * data.std(0)).all(), x.mean(0)


def test_an_explicit_none_trains_raw_and_warns_once_naming_global(big, tmp_path, tiny):
    with pytest.warns(UserWarning) as rec:
        run = Run.create(_points(tiny, big, "data.standardize='none'", "train.steps=2", "train.checkpoint_every=2",
                                 'eval.metrics=["energy"]'), tmp_path / "r")
    said = [str(w.message) for w in rec if re.match(ADVICE, str(w.message))]
    assert len(said) == 1, said
    assert re.search(r"far from unit scale \(overall std 9\d\d, a coordinate's mean 1e\+04\)", said[0]), said
    assert "--set data.standardize=global" in said[0]
    assert run.scaler is None                       # the nets see the data as they are
    # a divergence's advice names the data's scale before any learning rate
    assert "data.standardize=global first" in run._nan_hint()
    run.train(final_report=False)
    run.close()
    # said when the run is made, not by every command that opens it (its standardisation is fixed)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", ADVICE)
        Run.open(tmp_path / "r").close()


@pytest.mark.parametrize("rows, words", [
    (1e25, "overflow float32"),                            # beyond float32: that warning alone
    (1e-4, "far from unit scale"),                         # spread 1e-4
    (1e3 + np.zeros(1), "far from unit scale"),            # unit spread, mean 1,000
])
def test_none_warns_for_each_scale_far_from_unit_once(tmp_path, tiny, rows, words):
    r = np.random.default_rng(0).normal(size=(500, 2))
    x = r * rows if np.isscalar(rows) else r + rows
    np.save(tmp_path / "p.npy", x)
    with pytest.warns(UserWarning) as rec:
        Run.create(_points(tiny, tmp_path / "p.npy", "data.standardize='none'"), tmp_path / "r").close()
    said = [str(w.message) for w in rec if re.match(ADVICE, str(w.message))]
    assert len(said) == 1 and words in said[0] and "--set data.standardize=global" in said[0], said


@pytest.mark.parametrize("x", [np.random.default_rng(0).normal(size=(500, 2)),            # unit scale
                               50 + 2 * np.random.default_rng(0).normal(size=(500, 2)),   # kelvin-like
                               np.full((5, 2), 7e3)])                                     # no spread to fix
def test_none_on_points_near_unit_scale_says_nothing(tmp_path, tiny, x):
    np.save(tmp_path / "p.npy", x)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", ADVICE)
        from gankit.registry import DATASETS
        DATASETS.build("points", {"path": str(tmp_path / "p.npy"), "standardize": "none"})


BOUNDED = r"generator\.output=(tanh|sigmoid) bounds G's samples"


def _trained_warnings(make) -> list[str]:
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        run = make()
        run.train(final_report=False)
        run.close()
    return [str(w.message) for w in rec if re.match(BOUNDED, str(w.message))]


@pytest.mark.parametrize("preset, output, more, low, high", [
    ("ring-vanilla", "tanh", [], -1, 1),                                 # standardised: +-1 std
    ("ring-vae", "tanh", [], -1, 1),                                     # the VAE's decoder likewise
    ("ring-vanilla", "sigmoid", ["data.standardize='none'"], 0, 1),      # raw points, mostly below 0
])
def test_a_bounded_g_output_on_points_is_warned_with_the_share_outside_once_at_training_start(
        tmp_path, tiny, preset, output, more, low, high):
    """generator.output=tanh on standardised points capped every sample at one std from the mean
    (half the data out of G's reach) without a word."""
    x = np.random.default_rng(0).normal(size=(400, 2)).astype(np.float32)
    np.save(tmp_path / "p.npy", x)
    cfg = C.load(preset, tiny + ["data.name=points", f"data.path='{tmp_path / 'p.npy'}'", "train.steps=2",
                                 "train.checkpoint_every=2", 'eval.metrics=["energy"]', f"generator.output={output}",
                                 *more])
    holder = {}

    def make():
        holder["run"] = Run.create(cfg, tmp_path / "r")
        return holder["run"]
    said = _trained_warnings(make)
    scaler = holder["run"].scaler
    xm = x if scaler is None else ((x - scaler.shift.numpy()) / scaler.scale.numpy())
    share = float(((xm < low) | (xm > high)).any(1).mean())
    assert 0.2 < share < 0.99, share
    assert len(said) == 1 and f"[{low}, {high}]" in said[0], said
    assert f"and {100 * share:.0f}% of the training points lie outside" in said[0], said
    assert "--set generator.output=none" in said[0], said
    # not on resume, nor on any command that only opens the run
    assert _trained_warnings(lambda: Run.open(tmp_path / "r", ["train.steps=4"], write=True)) == []
    with warnings.catch_warnings():
        warnings.filterwarnings("error", BOUNDED)
        Run.open(tmp_path / "r").close()


def test_a_bounded_output_warns_for_a_mixture_beyond_it_and_not_for_points_inside_it_nor_images(tmp_path, tiny):
    """The ring (radius 1, std 0.01) pokes past +-1 at its 4 modes on the axes: half of each."""
    def said(preset, *sets):
        folder = tmp_path / str(len(list(tmp_path.iterdir())))
        return _trained_warnings(lambda: Run.create(C.load(preset, tiny + ["train.steps=2", *sets]), folder))
    ring = said("ring-vanilla", "generator.output=tanh")
    assert len(ring) == 1 and re.search(r"and 2[45]% of the training", ring[0]), ring
    assert said("ring-vanilla", "generator.output=none") == []
    np.save(tmp_path / "in.npy", np.random.default_rng(0).uniform(0.1, 0.9, size=(100, 2)))
    assert said("ring-vanilla", "data.name=points", f"data.path='{tmp_path / 'in.npy'}'", "data.standardize='none'",
                "generator.output=sigmoid", 'eval.metrics=["energy"]') == []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # the ring's data options, not carried over to images
        cfg = C.load("ring-vanilla", tiny + ["train.steps=2", "data.name=digits8x8", "generator.output=tanh",
                                             "eval.metrics=[]"])
    assert _trained_warnings(lambda: Run.create(cfg, tmp_path / "img")) == []


def test_a_bounded_output_that_standardising_overshoots_suggests_training_the_raw_points(tmp_path, tiny):
    """Points in [0, 1] under sigmoid, standardised (global) to about +-1.7: the warning blamed G and
    advised generator.output=none only; the raw points fit the bound, so data.standardize=none keeps
    the output chosen (audit a163)."""
    def said(path, *sets):
        folder = tmp_path / f"r{len(list(tmp_path.glob('r*')))}"
        return _trained_warnings(lambda: Run.create(C.load("ring-vanilla", tiny + [
            "data.name=points", f"data.path='{path}'", "train.steps=2", 'eval.metrics=["energy"]', *sets]), folder))
    np.save(tmp_path / "unit.npy", np.random.default_rng(0).uniform(0, 1, (400, 2)).astype(np.float32))
    unit = said(tmp_path / "unit.npy", "generator.output=sigmoid")
    assert len(unit) == 1 and "data.standardize = global" in unit[0], unit
    assert unit[0].endswith("the raw points all lie inside [0, 1]: set --set data.standardize=none (keeps "
                            "generator.output=sigmoid), or --set generator.output=none (unbounded)"), unit
    assert said(tmp_path / "unit.npy", "generator.output=sigmoid", "data.standardize='none'") == []   # the advice
    # raw points beyond the bound too: standardising is not to blame, only the unbounded output is advised
    np.save(tmp_path / "wide.npy", np.random.default_rng(0).normal(0, 3, (400, 2)).astype(np.float32))
    wide = said(tmp_path / "wide.npy", "generator.output=tanh")
    assert len(wide) == 1 and wide[0].endswith("G can never draw them; set --set generator.output=none (unbounded)")
