"""The report's image figures keep the white gaps between tiles at any image side (audit a162:
at 96 px a fixed-size figure drew 1-px gaps with "nearest" and dropped most of them)."""
import base64
import io

import matplotlib.image
import numpy as np
import pytest

from gankit.report.images import grid_figure, interpolation_figure, neighbours_figure
from gankit.report.page import png


def _page_png(fig) -> bytes:
    return base64.b64decode(png(fig).b64)          # as the report draws it (90 dpi, tight box)


def _dark_runs(line: np.ndarray) -> int:
    """How many separate dark stretches (tiles) a row or column of pixels crosses."""
    dark = line < 0.5
    return int(dark[0]) + int(np.count_nonzero(dark[1:] & ~dark[:-1]))


def _tiles_seen(data: bytes, rows: int, cols: int) -> tuple[int, int]:
    """All-black tiles on white: dark stretches along the middle of the first tile row and column."""
    a = matplotlib.image.imread(io.BytesIO(data))[..., :3].mean(-1)
    dark = a < 0.5
    ys = np.nonzero(dark.sum(1) > dark.sum(1).max() / 2)[0]     # the grid's rows, not the title's
    xs = np.nonzero(dark[ys].sum(0) > 0)[0]
    top, bottom, left, right = ys.min(), ys.max(), xs.min(), xs.max()
    y = top + (bottom - top) // (2 * rows)          # middle of the first row of tiles
    x = left + (right - left) // (2 * cols)         # middle of the first column of tiles
    return _dark_runs(a[y, left:right + 1]), _dark_runs(a[top:bottom + 1, x])


@pytest.mark.parametrize("side", [8, 28, 96])
def test_grid_figure_keeps_the_gaps_between_tiles(side):
    black = -np.ones((64, 1, side, side), np.float32)
    assert _tiles_seen(_page_png(grid_figure([{"samples": black, "step": 0}])), 8, 8) == (8, 8)


def test_interpolation_and_neighbour_figures_keep_the_gaps_at_96_px():
    black = -np.ones((60, 1, 96, 96), np.float32)
    assert _tiles_seen(_page_png(interpolation_figure(black, steps=10)), 6, 10) == (10, 6)
    blocks = black[:40].reshape(8, 5, 1, 96, 96)
    # the white column between a sample and its neighbours joins two gaps: 1 + 4 tiles across
    assert _tiles_seen(_page_png(neighbours_figure(blocks)), 8, 6) == (5, 8)


def test_small_image_grids_keep_their_size():
    x = np.zeros((64, 1, 8, 8), np.float32)
    fig = grid_figure([{"samples": x, "step": s} for s in range(6)])
    assert tuple(fig.get_size_inches()) == pytest.approx((2.6 * 6, 2.8))


def test_six_96_px_grids_stay_a_light_page_figure():
    # digit-like content: blobs of 12x12 random pixels blown up to 96 px, a new set per snapshot
    rng = np.random.default_rng(0)
    snaps = [{"samples": np.kron(np.where(rng.random((64, 1, 12, 12)) < 0.3, 1.0, -1.0),
                                 np.ones((8, 8))).astype(np.float32), "step": s} for s in range(6)]
    data = _page_png(grid_figure(snaps))
    h, w = matplotlib.image.imread(io.BytesIO(data)).shape[:2]
    assert w <= 1500 and h <= 1800, (w, h)         # the page's width (main: max 1500 px)
    assert len(data) < 1_500_000, len(data)
