import math

import numpy as np
import pytest
import torch

from gankit.registry import DATASETS
from gankit import config as C
from gankit.config import ConfigError


def g(seed=0):
    return torch.Generator().manual_seed(seed)


def test_ring_and_grid_defaults_follow_pacgan():
    ring = DATASETS.build("ring", {})
    assert ring.modes.shape == (8, 2) and ring.mode_std == 0.01
    assert torch.allclose(ring.modes.norm(dim=1), torch.ones(8))
    grid = DATASETS.build("grid", {})
    assert grid.modes.shape == (25, 2) and grid.mode_std == 0.05
    assert sorted(set(grid.modes[:, 0].tolist())) == [-4, -2, 0, 2, 4]


def test_parameterised_sizes():
    assert DATASETS.build("ring", {"n_modes": 12}).modes.shape == (12, 2)
    assert DATASETS.build("grid", {"n": 7}).modes.shape == (49, 2)
    gm = DATASETS.build("gmm", {"dim": 10, "n_modes": 5})
    assert gm.sample(100, g()).shape == (100, 10) and gm.modes.shape == (5, 10)


def test_sampling_is_reproducible_from_the_generator():
    ds = DATASETS.build("ring", {})
    assert torch.equal(ds.sample(50, g(3)), ds.sample(50, g(3)))
    assert not torch.equal(ds.sample(50, g(3)), ds.sample(50, g(4)))


def test_mixture_log_prob_is_a_density():
    ds = DATASETS.build("mixture1d", {"means": [-2.0, 2.0], "stds": [0.5, 1.0], "weights": [1.0, 3.0]})
    x = torch.linspace(-10, 10, 20001)[:, None]
    assert abs(float(torch.trapezoid(ds.log_prob(x).exp(), x[:, 0])) - 1) < 1e-4
    s = ds.sample(40000, g())
    # P(x > 0) = 0.75 P(N(2, 1) > 0) + 0.25 P(N(-2, 0.5) > 0)
    expected = 0.75 * 0.97725 + 0.25 * 3.2e-5
    assert abs(float((s > 0).float().mean()) - expected) < 0.01


def test_linear_gaussian_of_seed_001():
    ds = DATASETS.build("linear", {})
    x = ds.sample(200000, g())
    A = torch.tensor([[1.0, 2.0], [-0.1, 0.5]])
    assert torch.allclose(x.mean(0), torch.tensor([1.0, 2.0]), atol=0.02)
    assert torch.allclose(torch.cov(x.T), A.T @ A, atol=0.03)


def test_swissroll_shape():
    assert DATASETS.build("swissroll", {}).sample(10, g()).shape == (10, 2)


def test_points_file_npy_and_csv(tmp_path):
    arr = np.random.default_rng(0).normal(size=(20, 3))
    np.save(tmp_path / "a.npy", arr)
    np.savetxt(tmp_path / "a.csv", arr, delimiter=",", header="x,y,z")
    for name in ("a.npy", "a.csv"):
        ds = DATASETS.build("points", {"path": str(tmp_path / name)})
        assert ds.size == 20 and ds.dim == 3
        s = ds.sample(7, g()).numpy()
        assert all(np.isclose(arr, row, atol=1e-5).all(1).any() for row in s)


def test_points_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        DATASETS.build("points", {"path": str(tmp_path / "nope.npy")})
    (tmp_path / "bad.csv").write_text("1,2\nx,y\nfoo,bar\n")
    with pytest.raises(ConfigError, match="cannot read"):
        DATASETS.build("points", {"path": str(tmp_path / "bad.csv")})
    np.save(tmp_path / "nan.npy", np.array([[1.0, math.nan]]))
    with pytest.raises(ConfigError, match="NaN"):
        DATASETS.build("points", {"path": str(tmp_path / "nan.npy")})
    with pytest.raises(ConfigError, match="give the file"):
        DATASETS.build("points", {})


def test_points_csv_a_numeric_first_line_is_never_a_header(tmp_path):
    """A first line of numbers with one value too many was dropped as a header: 3 rows loaded."""
    (tmp_path / "ragged.csv").write_text("1.0,2.0,3.0\n4.0,5.0\n6.0,7.0\n8.0,9.0\n")
    with pytest.raises(ConfigError, match=r"line 1 holds 3 values but 3 of the 4 rows hold 2"):
        DATASETS.build("points", {"path": str(tmp_path / "ragged.csv")})
    (tmp_path / "late.csv").write_text("1,2\n3,4\n5,6,7\n")
    with pytest.raises(ConfigError, match=r"line 3 holds 3 values"):
        DATASETS.build("points", {"path": str(tmp_path / "late.csv")})
    (tmp_path / "cell.csv").write_text("1,2\n3,4;\n")
    with pytest.raises(ConfigError, match=r"line 2, column 2: '4;' is not a number"):
        DATASETS.build("points", {"path": str(tmp_path / "cell.csv")})


@pytest.mark.parametrize("first", ["NA,2", "12O,7", "0x10,2"])
def test_points_csv_a_first_row_with_one_non_number_is_a_fault_not_a_header(tmp_path, first):
    """A header is words only; a first row that mixes numbers and a typo or "NA" was dropped
    silently, while the same fault on line 2 was an error."""
    (tmp_path / "p.csv").write_text(f"{first}\n3,4\n5,6\n")
    with pytest.raises(ConfigError, match=rf"line 1, column 1: '{first.split(',')[0]}' is not a number"):
        DATASETS.build("points", {"path": str(tmp_path / "p.csv")})


@pytest.mark.parametrize("weights", [[1.0, -1.0], [0.0, 0.0]])
def test_mixture1d_weights_below_zero_or_all_zero_are_a_config_error(weights):
    with pytest.raises(ConfigError, match=r"weights: .* must be >= 0 and not all 0"):
        C.load("figure1-1d", ["data.means=[0.0, 3.0]", "data.stds=[0.5, 0.5]", f"data.weights={weights}"])


def test_points_csv_header_and_faults_named_by_the_files_own_lines(tmp_path):
    (tmp_path / "h.csv").write_text("x,y\n1,2\n\n3,4\n")
    assert DATASETS.build("points", {"path": str(tmp_path / "h.csv")}).x.tolist() == [[1, 2], [3, 4]]
    (tmp_path / "bad.csv").write_text("x,y\n1,2\n\n3,abc\n")   # line 4 as an editor shows it
    with pytest.raises(ConfigError, match=r"line 4, column 2: 'abc' is not a number"):
        DATASETS.build("points", {"path": str(tmp_path / "bad.csv")})


def test_points_npy_without_columns_is_refused(tmp_path):
    np.save(tmp_path / "empty.npy", np.zeros((5, 0)))
    with pytest.raises(ConfigError, match=r"no columns"):
        DATASETS.build("points", {"path": str(tmp_path / "empty.npy")})


@pytest.mark.parametrize("A", [[[1.0, 2.0], [2.0, 4.0]], [[1.0, 0.0, 2.0], [0.0, 1.0, 1.0]]])
def test_linear_gaussian_with_singular_cov_samples_without_a_density(A):
    """X = z A + b with rank(A) < d lies on a subspace: it samples, but has no density."""
    from gankit.registry import METRICS
    ds = DATASETS.build("linear", {"A": A, "b": [0.5] * len(A[0])})
    x = ds.sample(20000, g())
    At = torch.tensor(A)
    assert x.shape == (20000, len(A[0])) and torch.allclose(torch.cov(x.T), At.T @ At, rtol=0.05, atol=0.05)
    assert not ds.has_density and not METRICS.build("jsd").applies(ds)
    with pytest.raises(ValueError, match="rank"):
        ds.log_prob(x)


def test_points_csv_with_a_byte_order_mark_keeps_its_first_row(tmp_path):
    """Spreadsheets write a BOM: the first row then failed to parse and was dropped as a header."""
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf1.0,2.0\r\n3,4\r\n")
    assert DATASETS.build("points", {"path": str(tmp_path / "bom.csv")}).x.tolist() == [[1, 2], [3, 4]]
    (tmp_path / "bomh.csv").write_bytes(b"\xef\xbb\xbfx,y\n3,4\n")
    assert DATASETS.build("points", {"path": str(tmp_path / "bomh.csv")}).x.tolist() == [[3, 4]]


def _load_points(path, **kw):
    return DATASETS.build("points", {"path": str(path), **kw})


def test_points_with_a_large_offset_warn_and_standardise_from_the_files_own_values(tmp_path):
    """Timestamps near 1.7e9 with std 100: float32 (spacing 128) merged 500 distinct values into
    5 without a word, and data.standardize divided by the rounded values' std (111, not 103)."""
    from gankit.data.scaling import point_scaler
    r = np.random.default_rng(0)
    arr = np.c_[1.7e9 + r.normal(0, 100, 500), r.normal(size=500)]
    np.save(tmp_path / "ts.npy", arr)
    with pytest.warns(UserWarning, match=r"column 1: its 500 distinct values become \d, .*subtract that "
                                         r"column's offset before saving") as rec:
        ds = _load_points(tmp_path / "ts.npy", standardize="per_dim")
    assert len(rec) == 1 and "column 2" not in str(rec[0].message)
    assert np.allclose(point_scaler(ds, "per_dim").scale.numpy(), arr.std(0), rtol=1e-5)
    # whole numbers above 2^24 are merged in pairs: named by the header of a .csv
    np.savetxt(tmp_path / "ids.csv", np.c_[2 ** 24 + np.arange(300), np.arange(300) % 7], fmt="%d",
               delimiter=",", header="id,k", comments="")
    with pytest.warns(UserWarning, match=r"column 1 \('id'\): its 300 distinct values become 151"):
        _load_points(tmp_path / "ids.csv")


@pytest.mark.parametrize("arr", [np.random.default_rng(1).normal(size=(50000, 2)),          # plain floats
                                 300 + 10 * np.random.default_rng(2).normal(size=(50000, 1)),  # kelvin
                                 np.random.default_rng(3).integers(0, 1000, (100, 2))])
def test_points_that_float32_holds_well_enough_load_without_a_warning(tmp_path, arr):
    """Float32 merges a few neighbours of many fine floats; that costs nothing and is no warning."""
    np.save(tmp_path / "p.npy", arr)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _load_points(tmp_path / "p.npy")


def test_points_bounds_follow_the_scale_of_the_data(tmp_path):
    """An absolute pad floor of 1e-3 framed data of span 6e-6 in a box 50 times wider."""
    arr = np.random.default_rng(0).normal(size=(400, 2)) * 1e-6 + 1e-5
    np.save(tmp_path / "small.npy", arr)
    lo, hi = _load_points(tmp_path / "small.npy").bounds()
    span = arr.max(0) - arr.min(0)
    assert np.allclose((hi - lo).numpy(), 1.3 * span, rtol=1e-3)
    # a constant column still gets a frame, also at an offset float32 cannot resolve finely
    for const in (0.0, 7.0, 1.7e9):
        np.save(tmp_path / "c.npy", np.c_[np.full(5, const), np.arange(5.0)])
        lo, hi = _load_points(tmp_path / "c.npy").bounds()
        assert bool((hi > lo).all()) and lo[0] < const < hi[0]
    # the datasets gankit draws from frame themselves by the same rule (a swiss roll at scale 1e5)
    from gankit.data.toy import SwissRoll
    roll = SwissRoll(0.0, 1e5)
    x = roll.sample(20000, torch.Generator().manual_seed(12345))
    lo, hi = roll.bounds()
    assert torch.allclose(hi - lo, 1.3 * (x.max(0).values - x.min(0).values), rtol=1e-3)


def test_points_csv_written_by_pandas_with_its_row_index(tmp_path):
    """df.to_csv() writes ',x,y' and a first column 0..n-1: it was read as a coordinate."""
    arr = np.random.default_rng(1).normal(size=(30, 2))
    lines = [",x,y"] + [f"{i},{a!r},{b!r}" for i, (a, b) in enumerate(arr.tolist())]
    (tmp_path / "pd.csv").write_text("\n".join(lines) + "\n")
    ds = _load_points(tmp_path / "pd.csv")
    assert ds.dim == 2 and np.allclose(ds.x.numpy(), arr, atol=1e-6)
    # an index of another kind (rows filtered out before saving) is refused, naming the fix
    (tmp_path / "filtered.csv").write_text("\n".join(lines[:5] + lines[6:]) + "\n")
    with pytest.raises(ConfigError, match=r"first name is empty.*index=False"):
        _load_points(tmp_path / "filtered.csv")


def test_points_file_errors_name_the_separator_the_suffix_and_missing_rows(tmp_path):
    import warnings
    for name, text, sep in (("semi.csv", "1;2\n3;4\n", "semicolons"), ("tab.csv", "1\t2\n", "tabs"),
                            ("space.csv", "x y\n1 2\n3 4\n", "spaces")):
        (tmp_path / name).write_text(text)
        with pytest.raises(ConfigError, match=rf"is separated by {sep}, but gankit reads commas"):
            _load_points(tmp_path / name)
    # e-notation holds letters: its first row is still a row, not a header, and named as line 1
    (tmp_path / "e.csv").write_text("9.77e-01;1.2e+00\n3.1e-01;4.0e+00\n")
    with pytest.raises(ConfigError, match=r"line 1: '9.77e-01;1.2e\+00' is separated by semicolons"):
        _load_points(tmp_path / "e.csv")
    for name in ("p.txt", "z.npz"):      # .npy or .csv, as the docs say
        (tmp_path / name).write_text("1,2\n")
        with pytest.raises(ConfigError) as e:
            _load_points(tmp_path / name)
        msg = str(e.value)
        assert "files are not supported" in msg and msg.count("data.path") == 1 and "cannot read" not in msg
    (tmp_path / "h.csv").write_text("x,y\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")       # numpy's "input contained no data" stays inside
        with pytest.raises(ConfigError, match=r"holds a header but no rows of numbers"):
            _load_points(tmp_path / "h.csv")


@pytest.mark.parametrize("scale, words", [(1e25, "values up to 3.\\d+e\\+25.*overflow float32"),
                                          (1e-25, "values no larger than .*e-25.*underflow")])
def test_points_whose_scale_float32_cannot_train_warn_to_standardise(tmp_path, scale, words):
    """Points of scale 1e25 diverged at the first step, and the error advised a lower learning
    rate, which cannot help: loading them says so and names data.standardize=global, unless
    the nets see them standardised already."""
    import warnings
    np.save(tmp_path / "p.npy", (np.random.default_rng(0).normal(size=(2000, 2)) * scale).astype(np.float32))
    with pytest.warns(UserWarning, match=words + ".*--set data.standardize=global"):
        _load_points(tmp_path / "p.npy", standardize="none")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = _load_points(tmp_path / "p.npy", standardize="global")
    # and following the advice works: the nets see points of unit scale (a floor of 1e-12 on the
    # scale left points of scale 1e-17 as they were)
    from gankit.data.scaling import point_scaler
    seen = point_scaler(ds, "global").to_model(ds.x)
    assert 0.5 < float(seen.std()) < 2.0
