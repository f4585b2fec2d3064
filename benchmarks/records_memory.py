"""Memory the records cache keeps when one process reads many big run logs.

    python benchmarks/records_memory.py [--runs 10] [--records 30000]

Writes ``--runs`` folders, each a metrics.jsonl of ``--records`` training records shaped as a
ring run logs them, then reads each one's records in turn (as ``gankit report`` or ``compare``
in a notebook would) and prints the process's resident memory after each read, with how many
logs the cache holds (gankit/io/jsonl.py JsonlLogs: bounded by records, least recently read
dropped first).
"""
from __future__ import annotations

import argparse
import gc
import json
import tempfile
from pathlib import Path


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--records", type=int, default=30000)
    a = ap.parse_args(argv)
    from gankit.runfolder import RunFolder
    from gankit.runfolder.records import _LOGS
    with tempfile.TemporaryDirectory() as tmp:
        lines = "".join(json.dumps({"step": s, "kind": "train", "loss_d": 1.2 + s * 1e-6, "loss_g": 0.7,
                                    "d_real": 0.55, "d_fake": 0.45, "grad_norm_d": 0.31, "grad_norm_g": 0.12,
                                    "lr_d": 2e-4, "lr_g": 2e-4, "time": s * 0.01}) + "\n"
                        for s in range(a.records))
        folders = []
        for i in range(a.runs):
            f = Path(tmp) / f"run{i}"
            f.mkdir()
            (f / "metrics.jsonl").write_text(lines)
            folders.append(f)
        gc.collect()
        print(f"start: {rss_mb():.0f} MB", flush=True)
        for i, f in enumerate(folders):
            n = len(RunFolder(f).records())
            gc.collect()
            print(f"after reading run {i + 1} ({n} records): {rss_mb():.0f} MB, {len(_LOGS)} logs cached", flush=True)


if __name__ == "__main__":
    main()
