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
