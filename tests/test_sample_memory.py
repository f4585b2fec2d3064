"""gankit sample writes .npy and .csv files chunk by chunk (the same bytes as one np.save /
np.savetxt of all samples), refuses what would not fit in memory up front with its size, and
refuses an image grid too large to see."""
import gc
import weakref

import numpy as np
import pytest
import torch

from gankit import seeds
from gankit.cli import main
from gankit.ops import sample_noise
from gankit.train.run import Run

N = 25003       # three chunks of gankit's 10000


def _as_before(run, n: int) -> np.ndarray:
    """The samples as gankit sample drew them before: all noise at once, G in chunks, joined."""
    g = torch.Generator(run.device).manual_seed(seeds.stream_seed(run.cfg.seed, "fixed"))
    z = sample_noise(n, run.cfg.noise.dim, run.cfg.noise.dist, g, run.device)
    return run.generate_from(z).numpy()


@pytest.fixture
def plain_run(tmp_path, tiny_cli):
    """A tiny ring run without rejection sampling (G's samples as they come)."""
    out = tmp_path / "plain"
    assert main(["train", "ring", "--out", str(out), *tiny_cli]) == 0
    return out


def test_npy_and_csv_are_the_bytes_of_one_save_of_all_samples(tmp_path, plain_run):
    run = Run.open(plain_run)
    x = _as_before(run, N)
    names = getattr(run.dataset, "column_names", None)
    run.close()
    assert main(["sample", str(plain_run), "-n", str(N), "--out", str(tmp_path / "s.npy")]) == 0
    assert main(["sample", str(plain_run), "-n", str(N), "--out", str(tmp_path / "s.csv")]) == 0
    np.save(tmp_path / "ref.npy", x)
    named = bool(names) and len(names) == x.shape[1]
    np.savetxt(tmp_path / "ref.csv", x, delimiter=",", fmt="%.9g", header=",".join(names) if named else "",
               comments="" if named else "# ")
    assert (tmp_path / "s.npy").read_bytes() == (tmp_path / "ref.npy").read_bytes()
    assert (tmp_path / "s.csv").read_bytes() == (tmp_path / "ref.csv").read_bytes()


def test_rejection_sampled_files_are_the_samples_drawn_at_once(tmp_path, tiny_run_dir):
    """With DRS the accepted samples come in pieces of any size (empty ones too): the file is
    still sample()'s n samples, and those are RejectionSampler.sample's."""
    assert main(["sample", str(tiny_run_dir), "-n", str(N), "--seed", "3", "--out", str(tmp_path / "s.npy")]) == 0
    run = Run.open(tiny_run_dir)
    assert run.objective.rejection_sampler() is not None
    x = run.generate(N, seed=3)
    g = torch.Generator(run.device).manual_seed(3)
    noise = lambda k: sample_noise(k, run.cfg.noise.dim, run.cfg.noise.dist, g, run.device)  # noqa: E731
    run.G.eval()
    whole = run.objective.rejection_sampler().sample(N, lambda k: run.objective.generate(noise(k)),
                                                    torch.Generator().manual_seed(4), 10000)
    run.close()
    assert torch.equal(x, run._to_data(whole))
    assert np.array_equal(np.load(tmp_path / "s.npy"), x.numpy())


def test_a_file_holds_one_chunk_in_memory_at_a_time(tmp_path, tiny_run_dir, monkeypatch):
    """All samples were kept in a list, joined, then saved: 1.8 GB of memory for a 627 MB file."""
    real = Run.sample_chunks
    alive = []

    def watched(self, *a, **kw):
        chunks, classes = real(self, *a, **kw)

        def each():
            for x in chunks:
                gc.collect()
                # the one before may still be bound to the writer's loop variable; none older
                held = [i for i, r in enumerate(alive) if r() is not None]
                assert held in ([], [len(alive) - 1]), f"chunks {held} of {len(alive)} are still held"
                alive.append(weakref.ref(x))
                yield x
                del x
        return each(), classes
    monkeypatch.setattr(Run, "sample_chunks", watched)
    for out in ("s.npy", "s.csv"):
        alive.clear()
        assert main(["sample", str(tiny_run_dir), "-n", str(N), "--out", str(tmp_path / out)]) == 0
        assert len(alive) == 3


def test_samples_that_would_not_fit_in_memory_are_refused_up_front(tmp_path, tiny_run_dir, capsys, monkeypatch):
    from gankit import sample_cli
    monkeypatch.setattr(sample_cli, "_mem_available", lambda: 5_000_000)
    assert main(["sample", str(tiny_run_dir), "-n", str(400_000), "--out", str(tmp_path / "s.pdf")]) == 2
    err = capsys.readouterr().err
    assert "would take about" in err and "GB is available" in err and ".npy or .csv" in err, err
    assert not (tmp_path / "s.pdf").exists()
    # the noise alone (n x noise.dim) is more than there is: refused before it is drawn
    assert main(["sample", str(tiny_run_dir), "-n", str(10_000_000), "--out", str(tmp_path / "s.npy")]) == 2
    assert "sample -n 10000000: the noise would take about" in capsys.readouterr().err
    # a file is written piece by piece: what fits one chunk at a time is not refused
    assert main(["sample", str(tiny_run_dir), "-n", str(400_000), "--out", str(tmp_path / "s.npy")]) == 0
    assert np.load(tmp_path / "s.npy").shape[0] == 400_000


def test_an_image_grid_too_large_to_see_is_refused(tmp_path, capsys, tiny_img):
    """200000 images were tiled into one PNG of 12544 x 12544 pixels (a memory error past that)."""
    run = tmp_path / "img"
    sets = [a for kv in [*tiny_img, "data.name=digits8x8"] for a in ("--set", kv)]
    assert main(["train", "mnist-dcgan", "--out", str(run), *sets]) == 0
    capsys.readouterr()
    out = tmp_path / "g.png"
    assert main(["sample", str(run), "-n", "10001", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == (f"gankit: error: sample -n 10001 --out {out}: a plot tiles at most 10000 images (100 x 100; "
                   "more would be too small to see); ask for -n 10000 or fewer, or write them all to .npy or "
                   ".csv\n"), err
    assert not out.exists()
    assert main(["sample", str(run), "-n", "10000", "--out", str(out)]) == 0 and out.is_file()
