"""Minibatch discrimination's closeness kernel equals torch's cdist expression."""
import pytest
import torch

from gankit import l1kernel
from gankit.l1kernel import closeness, closeness_torch
from gankit.train.remedies import MinibatchDiscrimination


# n around the kernels' tiles of 4 rows, C around their passes of 4 dimensions
@pytest.mark.parametrize("shape", [(3, 17, 5), (1, 1, 1), (2, 64, 8), (4, 2, 3), (2, 5, 4), (1, 9, 7),
                                   (2, 8, 12), (1, 130, 3)])
def test_values_and_gradients_equal_torch(shape):
    g = torch.Generator().manual_seed(sum(shape))
    M = torch.randn(*shape, generator=g).requires_grad_(True)
    w = torch.randn(shape[0], shape[1], generator=g)
    ours = closeness(M)
    (ours * w).sum().backward()
    grad = M.grad.clone()
    M.grad = None
    ref = closeness_torch(M)
    (ref * w).sum().backward()
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(grad, M.grad, rtol=1e-4, atol=1e-5)


def test_gradcheck_float64():
    M = torch.randn(2, 9, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(closeness, (M,), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("n", [4, 11])               # the last rows alone; and tiles of 4
def test_ties_have_zero_subgradient_like_torch(n):
    M = torch.zeros(1, n, 6, requires_grad=True)      # all points equal: sign(0) = 0
    closeness(M).sum().backward()
    assert torch.equal(M.grad, torch.zeros_like(M))
    assert torch.allclose(closeness(M.detach()), torch.full((1, n), n - 1.0))


def test_partial_ties_match_torch():
    g = torch.Generator().manual_seed(3)
    M = torch.randn(2, 13, 5, generator=g)
    M[:, 6] = M[:, 1]                                  # duplicate points (a collapsed batch)
    M[:, 2:9, 3] = 0.5                                 # one dimension tied across tiles
    M.requires_grad_(True)
    w = torch.randn(2, 13, generator=g)
    (closeness(M) * w).sum().backward()
    grad = M.grad.clone()
    M.grad = None
    (closeness_torch(M) * w).sum().backward()
    torch.testing.assert_close(grad, M.grad, rtol=1e-4, atol=1e-5)


def test_far_points_underflow_to_zero():
    """exp(-d) below float32's normal range (d > 87.3) is 0 instead of a subnormal (< 1.2e-38);
    nearer pairs keep float32 precision, also where torch's expression, exp(-cdist).sum() - 1,
    loses a term below 6e-8 of the self-term it subtracts."""
    M = torch.tensor([0.0, 1.0, 45.0, 90.0, 91.0, 135.0, 180.0, 224.5, 260.0])[None, :, None]
    D = torch.cdist(M.double(), M.double(), p=1)
    ref = (torch.exp(-D) * (1 - torch.eye(9, dtype=torch.float64))).sum(-1)
    torch.testing.assert_close(closeness(M).double(), ref, rtol=1e-6, atol=1.2e-38)


def test_bfloat16_input_keeps_its_dtype():
    M = torch.randn(2, 8, 4).bfloat16()
    out = closeness(M)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), closeness_torch(M.float()), rtol=2e-2, atol=2e-2)


def test_bad_shape_named():
    with pytest.raises(ValueError, match="kernels, n, dim"):
        closeness(torch.randn(4, 5))


def test_minibatch_discrimination_layer_uses_it_with_chunks():
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(6, kernels=3, kernel_dim=2, chunk=5)
    h = torch.randn(12, 6)
    out = layer(h)
    M = (h @ layer.T).view(12, 3, 2).transpose(0, 1)
    ref = torch.cat([closeness_torch(M[:, i:i + 5]).T for i in (0, 5, 10)])
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    assert out.shape == (12, 3)


def test_numba_that_cannot_load_falls_back_to_torch_with_a_warning(monkeypatch, numba_cannot_load):
    monkeypatch.setattr(l1kernel, "_kernels", None)
    monkeypatch.setattr(l1kernel, "HAVE_NUMBA", True)
    numba_cannot_load("l1kernel_numba")
    M = torch.randn(2, 6, 3)
    with pytest.warns(UserWarning, match="NUMBA_CACHE_DIR"):
        out = closeness(M)
    torch.testing.assert_close(out, closeness_torch(M))
    assert l1kernel.HAVE_NUMBA is False


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_a_non_finite_entry_gives_torchs_nan_pattern(bad, dtype):
    """The kernels assume finite numbers (fastmath): one NaN left rows 4-8 of a batch of 9 finite
    and an inf entry read 0.0, where the reference gives NaN for every row (NaN) or its own (inf)."""
    g = torch.Generator().manual_seed(0)
    M = torch.randn(2, 9, 4, generator=g)
    M[0, 3, 1] = bad
    M = M.to(dtype).requires_grad_(True)
    ours, ref = closeness(M), closeness_torch(M.float()).to(dtype)
    assert ours.dtype == dtype and torch.equal(torch.isnan(ours), torch.isnan(ref))
    assert torch.isnan(ref[0]).sum() == (9 if bad != bad else 1) and not torch.isnan(ref[1]).any()
    torch.testing.assert_close(ours[1], ref[1], rtol=2e-2, atol=2e-2)
    ours.nansum().backward()                           # the fallback keeps a gradient
    assert M.grad is not None and torch.isfinite(M.grad[1]).all()
