"""Train one of gankit's shipped evaluation classifiers and write it as safetensors.

    python benchmarks/train_eval_classifier.py --data fashion-mnist --epochs 12 --flip \
        --out gankit/eval_weights/fashion.safetensors
    python benchmarks/train_eval_classifier.py --data mnist5k --epochs 30 \
        --out gankit/eval_weights/mnist.safetensors
    python benchmarks/train_eval_classifier.py --data mnist --root ~/mnist --epochs 6 \
        --out gankit/eval_weights/mnist.safetensors      # full MNIST, where a user has it
    python benchmarks/train_eval_classifier.py --data digits8x8 --epochs 40 --max-shift 1 \
        --out gankit/eval_weights/digits8x8.safetensors

Trains on the dataset's training split only and reports accuracy on its
held-out split (the official test set for IDX data; the 500 held-out digits for
mnist5k).  Random shifts of up to 2 pixels augment the training images.  The
test accuracy, data, command and date go into the file's metadata.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from gankit.registry import DATASETS
from gankit.metrics.features import EvalClassifier
import _cli   # benchmarks/_cli.py: this folder is on sys.path


def shift(x: torch.Tensor, g: torch.Generator, max_shift: int = 2) -> torch.Tensor:
    """Random translation by up to max_shift pixels (pad with the background -1, crop)."""
    n, _, h, w = x.shape
    p = max_shift
    xp = F.pad(x, (p, p, p, p), value=-1.0)
    dx = torch.randint(0, 2 * p + 1, (n,), generator=g)
    dy = torch.randint(0, 2 * p + 1, (n,), generator=g)
    rows = (dy[:, None] + torch.arange(h)[None])              # (n, h)
    cols = (dx[:, None] + torch.arange(w)[None])              # (n, w)
    idx = torch.arange(n)[:, None, None]
    return xp[idx, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


@torch.no_grad()
def accuracy(net, x, y) -> float:
    net.eval()
    pred = torch.cat([net(x[i:i + 1000]).argmax(1) for i in range(0, len(x), 1000)])
    net.train()
    return float((pred == y).float().mean())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, choices=["mnist", "mnist5k", "fashion-mnist", "digits8x8"])
    ap.add_argument("--root", default="", help="IDX folder (mnist; fashion-mnist has a default)")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--flip", action="store_true", help="also random horizontal flips (clothes, not digits)")
    ap.add_argument("--max-shift", type=int, default=2, help="random shifts of up to this many pixels (1 for 8x8 digits)")
    ap.add_argument("--smoothing", type=float, default=0.05, help="label smoothing of the cross-entropy")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    _cli.at_least(ap, a, epochs=1, batch=1, width=1, threads=1, max_shift=0)
    if not 0 <= a.smoothing <= 1:
        ap.error(f"--smoothing must be between 0 and 1, got {a.smoothing}")
    out = Path(a.out)
    if out.is_dir() or not out.parent.is_dir():    # said now, not after the training
        _cli.fail(f"--out {a.out}: {'a folder' if out.is_dir() else 'its folder does not exist'}; "
                  f"give a file path in an existing folder")
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    kw = {"root": a.root} if a.root or a.data == "mnist" else {}
    ds = DATASETS.build(a.data, kw)
    x, y = ds.split("train"), ds.split_labels("train")
    xt, yt = ds.split("heldout"), ds.split_labels("heldout")
    print(f"{a.data}: {len(x)} training, {len(xt)} held-out images", flush=True)
    net = EvalClassifier(ds.shape[0], ds.n_classes, a.width)
    opt = torch.optim.AdamW(net.parameters(), lr=a.lr, weight_decay=1e-4)
    steps = a.epochs * ((len(x) + a.batch - 1) // a.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, a.lr, total_steps=steps, pct_start=0.15)
    g = torch.Generator().manual_seed(a.seed)
    t0 = time.time()
    for ep in range(a.epochs):
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), a.batch):
            b = perm[i:i + a.batch]
            xb = shift(x[b], g, a.max_shift) if a.max_shift > 0 else x[b]
            if a.flip:
                f = torch.rand(len(b), generator=g) < 0.5
                xb = torch.where(f[:, None, None, None], xb.flip(-1), xb)
            loss = F.cross_entropy(net(xb), y[b], label_smoothing=a.smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        print(f"epoch {ep + 1}/{a.epochs}: loss {loss.item():.3f}, held-out accuracy "
              f"{accuracy(net, xt, yt):.4f} ({time.time() - t0:.0f} s)", flush=True)
    acc = accuracy(net, xt, yt)
    from safetensors.torch import save_file
    meta = {"arch": json.dumps({"in_channels": ds.shape[0], "n_classes": ds.n_classes, "width": a.width}),
            "data": a.data, "train_images": str(len(x)), "test_images": str(len(xt)),
            "test_accuracy": f"{acc:.4f}", "epochs": str(a.epochs), "seed": str(a.seed),
            "flip": str(a.flip), "max_shift": str(a.max_shift), "label_smoothing": str(a.smoothing),
            "command": " ".join(["python", *sys.argv]), "date": time.strftime("%Y-%m-%d")}
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, a.out, metadata=meta)
    print(json.dumps({"out": a.out, "test_accuracy": acc, "seconds": round(time.time() - t0)}))


if __name__ == "__main__":
    _cli.run_main(main)
