"""What checking a checkpoint's zip CRC-32s adds to loading it (docs/reliability.md).

Writes a checkpoint of --mb megabytes of float32 weights with gankit's atomic writer, then times,
interleaved, gankit.io.checksum_failure (reads every entry once) and torch.load(weights_only=True),
from the page cache; prints the medians and their ratio.

    python benchmarks/checkpoint_check_speed.py --mb 50 --rounds 7
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from gankit.io import checksum_failure, save_atomic


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=50.0, help="size of the weights in megabytes")
    ap.add_argument("--rounds", type=int, default=7)
    a = ap.parse_args()
    n = int(a.mb * 2**20 / 4)
    state = {"models": {"G": {f"w{i}": torch.randn(n // 8) for i in range(8)}}}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "step_00000001.pt"
        save_atomic(state, path)
        checksum_failure(path), torch.load(path, weights_only=True)     # into the page cache
        crc, load = [], []
        for _ in range(a.rounds):
            t = time.perf_counter()
            assert checksum_failure(path) is None
            crc.append(time.perf_counter() - t)
            t = time.perf_counter()
            torch.load(path, weights_only=True)
            load.append(time.perf_counter() - t)
        size = path.stat().st_size / 2**20
    c, l_ = statistics.median(crc), statistics.median(load)
    print(f"checkpoint {size:.1f} MB: CRC check {1000 * c:.1f} ms, torch.load {1000 * l_:.1f} ms "
          f"(median of {a.rounds}); the check adds {c / l_:.2f}x a load")


if __name__ == "__main__":
    main()
