"""The fast routes of the evaluation give the numbers of the plain ones (docs/speed.md)."""
import io

import numpy as np
import pytest
import torch

from gankit.metrics import image_measures as M
from gankit.metrics import memorisation as Mem
from gankit.metrics.nn_index import NNIndex
from gankit.metrics.progress import AFTER, Progress


@pytest.mark.parametrize("n1,n2,subsets,size", [(300, 250, 7, 100), (60, 80, 5, 1000), (40, 40, 3, 40)])
def test_vectorised_kid_equals_the_subset_loop(n1, n2, subsets, size):
    g = np.random.default_rng(0)
    a, b = g.normal(size=(n1, 16)), g.normal(size=(n2, 16)) + 0.2
    fast, loop = M.kid(a, b, subsets, size, seed=3), M.kid_loop(a, b, subsets, size, seed=3)
    if n1 == n2 == size:        # every subset the whole sets: the same mean, and no spread to show
        assert fast[0] == pytest.approx(loop[0], rel=1e-10) and np.isnan(fast[1]) and loop[1] < 1e-15
        return
    assert fast == pytest.approx(loop, rel=1e-10, abs=1e-13)
    if size < min(n1, n2):      # the seed picks the subsets
        assert M.kid(a, b, subsets, size, seed=4)[0] != pytest.approx(loop[0], rel=1e-6)


def test_kid_blocks_do_not_change_the_answer(monkeypatch):
    g = np.random.default_rng(1)
    a, b = g.normal(size=(90, 8)), g.normal(size=(70, 8))
    whole = M.kid(a, b, 4, 50, seed=0)
    monkeypatch.setattr(M, "_KID_BLOCK", 16)
    assert M.kid(a, b, 4, 50, seed=0) == pytest.approx(whole, rel=1e-12)


@pytest.mark.parametrize("block", [4096, 64, 37])     # one block; the walk across blocks of the bank
def test_nn_index_finds_the_exact_nearest_rows(monkeypatch, block):
    from gankit.metrics import nn_index
    monkeypatch.setattr(nn_index, "BLOCK", block)
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(20, 50, generator=g)
    bank = centres.repeat(30, 1) + 0.3 * torch.randn(600, 50, generator=g)   # clustered, like images
    q = torch.cat([bank[:40] + 1e-3 * torch.randn(40, 50, generator=g), torch.randn(60, 50, generator=g)])
    d, j = NNIndex(bank, k=8).query(q, chunk=32)
    full = torch.cdist(q.double(), bank.double()) ** 2
    assert torch.equal(j, full.argmin(1))
    assert torch.allclose(d.double(), full.min(1).values, atol=1e-5)


def test_numba_and_torch_routes_of_the_index_agree(monkeypatch, numba_cannot_load):
    from gankit.metrics import nn_index
    monkeypatch.setattr(nn_index, "BLOCK", 100)        # the ties (rows 500-549 repeat 0-49) in other blocks
    g = torch.Generator().manual_seed(1)
    bank = torch.randn(20, 40, generator=g).repeat(25, 1) + 0.2 * torch.randn(500, 40, generator=g)
    bank = torch.cat([bank, bank[:50]])                 # exact ties: the lowest row wins
    q = torch.cat([bank[:30], torch.randn(50, 40, generator=g), torch.zeros(3, 40)])
    index = NNIndex(bank, k=6)
    d, j = index.query(q, chunk=16)
    dp, jp = index.query_projected(q, chunk=16)
    assert torch.equal(j, jp) and torch.allclose(d, dp, atol=1e-5)
    assert torch.equal(j[:30], torch.arange(30))
    monkeypatch.setattr(nn_index, "MAX_CANDIDATES", 3)     # most queries take the full scan
    dh, jh = index.query(q, chunk=16)
    full = torch.cdist(q.double(), bank.double()) ** 2
    assert torch.equal(jh, j) and torch.equal(jh, full.argmin(1)) and torch.allclose(dh, d, atol=1e-5)
    # numba that cannot load or cache: one warning, the torch route
    numba_cannot_load("nn_index_numba")
    with pytest.warns(UserWarning, match="NUMBA_CACHE_DIR"):
        df, jf = index.query(q, chunk=16)
    assert torch.equal(jf, jp) and torch.equal(df, dp)


def _images(n, seed, shape=(1, 12, 12)):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, *shape, generator=g) * 2 - 1
    x[..., :4] = 1.0
    return x


@pytest.mark.parametrize("shape", [(1, 12, 12), (3, 9, 14)])     # grey and colour, not square
def test_copy_distance_equals_the_shift_by_shift_scan(shape):
    train = _images(200, 0, shape)
    x = torch.cat([_images(30, 1, shape), train[:10].flip(-1), torch.roll(train[10:20], 1, -1),
                   train[30:40].flip(-2), 0.9 * train[20:30] + 0.02 * torch.randn(10, *shape)])
    fast_d, fast_o = Mem.copy_distance(x, Mem.train_index(train))
    scan_d, scan_o = Mem.copy_distance_scan(x, Mem.train_bank(train))
    assert torch.equal(fast_o, scan_o)
    assert (fast_o[30:40] == 1).all() and (fast_o[50:60] == 2).all() and (fast_d[30:40] < 1e-3).all()
    # the scan's ||a||^2 + ||b||^2 - 2 a.b loses ~1e-6 to cancellation: sqrt makes it ~1e-3 at 0
    assert torch.allclose(fast_d, scan_d, atol=2e-3)
    far = scan_d > 0.05
    assert torch.allclose(fast_d[far], scan_d[far], rtol=1e-4)


def test_flipped_bank_equals_embedding_flipped_images():
    train = _images(20, 0)
    e, n = Mem.train_bank(train)
    direct = torch.cat([Mem.embed(train), Mem.embed(train.flip(-1)), Mem.embed(train.flip(-2))])
    assert n == 20 and torch.allclose(e, direct, atol=1e-6)


def test_memorisation_with_given_heldout_distances_is_the_same():
    train, held, x = _images(150, 0), _images(60, 1), _images(40, 2)
    dh = Mem.heldout_distance(train, held)
    assert Mem.memorisation(x, train, held, dh) == Mem.memorisation(x, train, held)


def test_progress_is_silent_when_quick_and_plain_lines_when_slow():
    out = io.StringIO()
    with Progress(3, "evaluating", stream=out) as bar:
        for name in "abc":
            bar.step(name)
            bar.advance()
    assert out.getvalue() == ""
    out = io.StringIO()
    with Progress(2, "evaluating", stream=out, after=0.0) as bar:
        for name in ("fid", "kid"):
            bar.step(name)
            bar.advance()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("evaluating: fid (1/2") and "kid (2/2" in lines[1]


def test_nn_index_scans_queries_that_bound_nothing(monkeypatch):
    import gankit.metrics.nn_index as N
    monkeypatch.setattr(N, "MAX_CANDIDATES", 5)
    g = torch.Generator().manual_seed(1)
    bank = torch.randn(300, 20, generator=g)
    q = torch.cat([bank[:10] + 1e-3 * torch.randn(10, 20, generator=g), torch.zeros(5, 20)])
    d, j = NNIndex(bank, k=4).query(q, chunk=8)
    full = torch.cdist(q.double(), bank.double()) ** 2
    assert torch.equal(j, full.argmin(1))
    assert torch.allclose(d.double(), full.min(1).values, atol=1e-5)


def test_embedding_blur_equals_the_binomial_convolution():
    import torch.nn.functional as F
    for shape in [(7, 1, 12, 12), (5, 3, 9, 16)]:
        x = torch.rand(*shape, generator=torch.Generator().manual_seed(2)) * 2 - 1
        k = torch.tensor([1.0, 2.0, 1.0])
        w = ((k[:, None] * k[None]) / 16).expand(shape[1], 1, 3, 3)
        b = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), w, groups=shape[1]).reshape(len(x), -1)
        b = b - b.mean(1, keepdim=True)
        assert torch.allclose(Mem.embed(x, chunk=3), b / b.norm(dim=1, keepdim=True), atol=1e-6)


def test_nn_index_gives_nan_for_non_finite_queries():
    g = torch.Generator().manual_seed(2)
    bank = torch.randn(200, 16, generator=g)
    q = bank[:6] + 1e-3 * torch.randn(6, 16, generator=g)
    q[2, 5], q[4, 0] = float("nan"), float("inf")
    d, j = NNIndex(bank, k=4).query(q, chunk=4)
    assert torch.isnan(d[[2, 4]]).all() and torch.equal(j[[2, 4]], torch.zeros(2, dtype=torch.long))
    keep = [0, 1, 3, 5]
    assert torch.equal(j[keep], torch.tensor(keep)) and torch.isfinite(d[keep]).all()


def _small_blocks(monkeypatch, block: int, max_candidates: int):
    """gankit.metrics.nn_index with blocks of ``block`` rows and the full scan after ``max_candidates``."""
    from gankit.metrics import nn_index
    monkeypatch.setattr(nn_index, "BLOCK", block)
    monkeypatch.setattr(nn_index, "MAX_CANDIDATES", max_candidates)
    return nn_index


def _clustered(g, centres: int, copies: int, dim: int, spread: float) -> torch.Tensor:
    return torch.randn(centres, dim, generator=g).repeat(copies, 1) + spread * torch.randn(
        centres * copies, dim, generator=g)


@pytest.mark.parametrize("max_candidates", [4096, 3])     # the walk; most queries scanned in full
def test_grouped_queries_answer_the_nearest_row_over_each_group(monkeypatch, max_candidates):
    nn_index = _small_blocks(monkeypatch, 64, max_candidates)
    g = torch.Generator().manual_seed(4)
    bank = _clustered(g, 15, 20, 30, 0.2)
    bank = torch.cat([bank, bank[:40]])                     # exact ties: the lowest row wins
    near = bank[:24] + 1e-3 * torch.randn(24, 30, generator=g)
    q = torch.cat([torch.randn(24, 30, generator=g), near, bank[10:34], near])   # 4 queries a group
    groups = np.tile(np.arange(24), 4)
    q[[5, 24 + 5]] = bank[7]                  # group 5: the same row found by two queries: the first's
    index = NNIndex(bank, k=5)
    d, j = index.query(q, chunk=16, groups=groups)
    full = torch.cdist(q.double(), bank.double()) ** 2
    per_query = full.min(1).values.reshape(4, 24)
    assert torch.allclose(d.double(), per_query.min(0).values, atol=1e-5)
    expect = full.argmin(1).reshape(4, 24).gather(0, per_query.argmin(0)[None])[0]
    assert torch.equal(j, expect)
    assert torch.equal(j[10:24], torch.arange(20, 34)) and int(j[5]) == 7
    # the same as the torch route's answer per query, reduced group by group
    dq, jq = index.query_projected(q, chunk=16)
    assert torch.equal(nn_index._group_min(dq, jq, groups, 24)[1], j)


def test_a_group_with_a_non_finite_query_has_no_nearest_row():
    g = torch.Generator().manual_seed(5)
    bank = torch.randn(100, 12, generator=g)
    q = torch.cat([bank[:4], bank[4:8] + 0.01])
    q[6, 3] = float("nan")
    d, j = NNIndex(bank, k=3).query(q, chunk=3, groups=np.tile(np.arange(4), 2))
    assert torch.isnan(d[2]) and int(j[2]) == 0
    keep = [0, 1, 3]
    assert torch.equal(j[keep], torch.tensor(keep)) and torch.allclose(d[keep], torch.zeros(3), atol=1e-6)


@pytest.mark.parametrize("max_candidates", [4096, 2])     # the walk; most queries scanned in full
def test_permuted_rows_are_searched_as_the_bank_they_stand_for(monkeypatch, max_candidates):
    _small_blocks(monkeypatch, 50, max_candidates)
    g = torch.Generator().manual_seed(6)
    rows = _clustered(g, 8, 15, 12, 0.3)
    perms = [torch.arange(12), torch.arange(12).flip(0), torch.randperm(12, generator=g)]
    built = torch.cat([rows[:, p] for p in perms])           # row o * 120 + r = rows[r][perms[o]]
    q = torch.cat([built[[5, 130, 250, 300]] + 1e-3 * torch.randn(4, 12, generator=g),
                   torch.randn(20, 12, generator=g)])
    index = NNIndex(rows, k=4, perms=perms)
    d, j = index.query(q, chunk=8)
    full = torch.cdist(q.double(), built.double()) ** 2
    assert torch.equal(j, full.argmin(1)) and torch.equal(j[:4], torch.tensor([5, 130, 250, 300]))
    assert torch.allclose(d.double(), full.min(1).values, atol=1e-5)
    dp, jp = index.query_projected(q, chunk=8)
    assert torch.equal(jp, j) and torch.allclose(dp, d, atol=1e-5)
    with pytest.raises(ValueError, match="permutation of the 12 columns"):
        NNIndex(rows, perms=[torch.arange(12), torch.zeros(12, dtype=torch.long)])


def test_rows_closer_than_the_margin_are_told_apart():
    # 200 rows within ~1e-4 of each other around 5 centres: many rows' bounds lie within the
    # margin of the nearest one, and the exact nearest row differs from the bounds' order
    g = torch.Generator().manual_seed(7)
    centres = torch.nn.functional.normalize(torch.randn(5, 64, generator=g), dim=1)
    bank = centres.repeat(40, 1) + 1e-4 * torch.randn(200, 64, generator=g)
    q = bank[torch.arange(0, 200, 7)] + 3e-5 * torch.randn(29, 64, generator=g)
    d, j = NNIndex(bank, k=16).query(q, chunk=8)
    full = torch.cdist(q.double(), bank.double()) ** 2
    assert torch.equal(j, full.argmin(1)) and torch.allclose(d.double(), full.min(1).values, atol=1e-7)


def test_queries_of_another_shape_are_refused_with_the_shapes():
    index = NNIndex(torch.randn(50, 12), k=3)
    with pytest.raises(ValueError, match="queries have 10 numbers each, the bank's rows 12"):
        index.query(torch.randn(4, 10))
    with pytest.raises(ValueError, match="3 group numbers for 4 queries"):
        index.query(torch.randn(4, 12), groups=[0, 0, 1])


def _eigh_at_most(monkeypatch, side):
    """torch.linalg.eigh that refuses a matrix wider than side (a D x D one of wide images)."""
    real = torch.linalg.eigh
    sizes = []

    def eigh(a, *args, **kw):
        sizes.append(a.shape[-1])
        assert a.shape[-1] <= side, f"eigh of a {a.shape[-1]} x {a.shape[-1]} matrix"
        return real(a, *args, **kw)
    monkeypatch.setattr(torch.linalg, "eigh", eigh)
    return sizes


@pytest.mark.parametrize("n,rank", [(40, 40), (90, 5)])     # rows of full rank; a rank below k
def test_nn_index_of_wide_rows_fits_its_directions_on_the_rows_and_stays_exact(monkeypatch, n, rank):
    g = torch.Generator().manual_seed(3)
    d = 3 * 24 * 24                                          # wider than the bank is long
    bank = (torch.randn(n, rank, generator=g) @ torch.randn(rank, d, generator=g)) / d ** 0.5
    q = torch.cat([bank[:10] + 1e-3 * torch.randn(10, d, generator=g), torch.randn(20, d, generator=g)])
    sizes = _eigh_at_most(monkeypatch, n)
    index = NNIndex(bank, k=64)
    assert sizes and max(sizes) <= n
    V = index.V.double()
    assert torch.allclose(V.T @ V, torch.eye(index.k, dtype=torch.float64), atol=1e-5)
    dist, j = index.query(q, chunk=8)
    full = torch.cdist(q.double(), bank.double()) ** 2
    assert torch.equal(j, full.argmin(1)) and torch.allclose(dist.double(), full.min(1).values, atol=1e-5)


def test_memorisation_of_64x64_colour_images_decomposes_no_pixel_by_pixel_matrix(monkeypatch):
    """At 64x64 RGB (D = 12,288) a D x D eigh took minutes; at 128x128 its matrix is 9.7 GB."""
    Mem._LAST.clear()
    train, held = _images(24, 0, (3, 64, 64)), _images(8, 1, (3, 64, 64))
    _eigh_at_most(monkeypatch, 3 * 24)
    out = Mem.memorisation(torch.cat([train[:4], train[4:8].flip(-1), held[:4]]), train, held)
    assert out["copy_frac"] == pytest.approx(8 / 12) and out["flip_copy_frac"] == pytest.approx(4 / 12)


def test_the_bank_index_is_reused_for_the_same_images_in_a_new_tensor(monkeypatch):
    Mem._LAST.clear()
    train = _images(60, 0)
    first = Mem.bank_index(train)
    assert Mem.bank_index(train.clone()) is first        # ds.split("train") builds a new tensor each call
    other = train.clone()
    other[5, 0, 3, 3] += 0.5
    second = Mem.bank_index(other)
    assert second is not first and Mem.bank_index(train) is not second
    assert len(Mem._LAST) == 2                            # one bank kept: the key and its index


def test_copy_distance_in_batches_equals_the_scan(monkeypatch):
    train = _images(120, 0)
    x = torch.cat([_images(20, 1), train[:10].flip(-1), torch.roll(train[10:15], 1, -1)])
    monkeypatch.setattr(Mem, "QUERY_NUMBERS", 9 * 7 * 144)      # 7 images a batch, the last one short
    fast_d, fast_o = Mem.copy_distance(x, Mem.train_index(train))
    scan_d, scan_o = Mem.copy_distance_scan(x, Mem.train_bank(train))
    assert len(fast_d) == len(x) and torch.equal(fast_o, scan_o) and torch.allclose(fast_d, scan_d, atol=2e-3)


def test_progress_on_a_terminal_draws_a_bar_after_its_delay(terminal):
    """stderr on a terminal takes the tqdm bar: its delay is the default AFTER when none is given
    (None reached tqdm and every evaluation on a terminal ended in a TypeError)."""
    with Progress(2, "evaluating", stream=terminal.tty) as bar:     # the default delay: nothing drawn
        assert bar.bar is not None and bar.bar.delay == AFTER
        for name in ("fid", "kid"):
            bar.step(name)
            bar.advance()
    with Progress(2, "evaluating", stream=terminal.tty, after=0.0) as bar:
        bar.step("fid")
        bar.advance()
    drawn = terminal.drawn()
    assert "evaluating" in drawn and "0/2" in drawn


def test_gankit_eval_with_stderr_on_a_terminal(tmp_path, tiny_run_dir, terminal):
    import os
    import shutil
    import subprocess
    import sys
    run = tmp_path / "run"
    shutil.copytree(tiny_run_dir, run)
    out = subprocess.run([sys.executable, "-m", "gankit", "eval", str(run), "--metrics", "energy", "--no-record"],
                         stdout=subprocess.PIPE, stderr=terminal.slave, text=True, timeout=300,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, terminal.drawn()
    assert "energy" in out.stdout
