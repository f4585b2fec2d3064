"""Feature extractors for image metrics: gankit's shipped classifiers, and Inception-v3.

No weights are downloaded.  gankit ships small CNN classifiers for MNIST and
Fashion-MNIST (``gankit/eval_weights/*.safetensors``, trained by
``benchmarks/train_eval_classifier.py``; test accuracy in docs/images.md).  A
dataset names the classifier that fits it (``dataset.classifier``), so no metric
names a dataset.

Inception-v3 (the FID variant) is used from a local file the user names: the
TorchScript file ``inception-2015-12-05.pt`` that StyleGAN2-ADA, clean-fid and
others load; its pool3 features are the ones the standard FID uses.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.config import ConfigError

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "eval_weights"
INCEPTION_ENV = "GANKIT_INCEPTION"
INCEPTION_HELP = (
    "Inception-v3 features need the FID Inception weights as a local file; gankit never downloads. "
    "On a machine with internet fetch the TorchScript file used by StyleGAN2-ADA and clean-fid, "
    "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt "
    f"(about 95 MB), copy it here and point gankit at it: --set eval.inception_weights=PATH or "
    f"export {INCEPTION_ENV}=PATH. Offline, use eval.features=classifier (gankit's shipped "
    "MNIST/Fashion-MNIST classifiers).")


class EvalClassifier(nn.Module):
    """A small CNN for 28x28 digits/clothes: logits and a 128-d feature layer.

    conv3x3(32) -> pool -> conv3x3(64) -> pool -> conv3x3(128) -> global mean
    -> fc 128 (features, ReLU) -> fc n_classes.  Input in [-1, 1].
    """

    resolution = 28

    def __init__(self, in_channels: int = 1, n_classes: int = 10, width: int = 32):
        super().__init__()

        def block(a, b):
            return [nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b), nn.ReLU(inplace=True)]
        w = width
        self.body = nn.Sequential(*block(in_channels, w), nn.MaxPool2d(2), *block(w, 2 * w), nn.MaxPool2d(2),
                                  *block(2 * w, 4 * w), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(4 * w, 128), nn.ReLU(inplace=True))
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(128, n_classes)
        self.in_channels, self.n_classes, self.width = in_channels, n_classes, width
        # channels-last weights make the convolutions, pooling and batch norm take oneDNN's
        # NHWC kernels: features 1.8x faster, training 1.4x, same values to float rounding
        # (benchmarks/classifier_speed.py, docs/speed.md); loaded weights keep this layout
        self.to(memory_format=torch.channels_last)

    @classmethod
    def fit_input(cls, x: Tensor) -> Tensor:
        """To 28x28: 32x32 is taken as 28 zero-padded (centre crop, exact); other sizes resample,
        which a shipped classifier reads well only at some sides (data/images.py SHIPPED_SIDES)."""
        h = x.shape[-1]
        if h == cls.resolution:
            return x
        if h == 32 and x.shape[-2] == 32:
            return x[..., 2:30, 2:30]
        return F.interpolate(x, size=(cls.resolution, cls.resolution), mode="bilinear",
                             antialias=h > cls.resolution, align_corners=False)

    def features(self, x: Tensor) -> Tensor:
        return self.body(self.fit_input(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.drop(self.features(x)))


def weights_path(key: str) -> Path:
    return WEIGHTS_DIR / f"{key}.safetensors"


def available_classifiers() -> list[str]:
    return sorted(p.stem for p in WEIGHTS_DIR.glob("*.safetensors"))


_CACHE: dict[str, EvalClassifier] = {}


def load_classifier(key: str) -> EvalClassifier:
    """The shipped classifier ``key`` (e.g. "mnist", "fashion"), in eval mode."""
    if key in _CACHE:
        return _CACHE[key]
    path = weights_path(key)
    if not path.is_file():
        raise ConfigError(f"no evaluation classifier {key!r} in {WEIGHTS_DIR} (have: "
                          f"{', '.join(available_classifiers()) or 'none'}); train it with "
                          f"python benchmarks/train_eval_classifier.py --data ... --out {path} (a script "
                          "in gankit's source repository)")
    from safetensors import safe_open
    from safetensors.torch import load_file
    with safe_open(str(path), "pt") as f:
        meta = f.metadata() or {}
    arch = json.loads(meta.get("arch", "{}"))
    with torch.random.fork_rng(devices=[]):    # default init, overwritten: the caller's stream untouched
        net = EvalClassifier(**arch)
    net.load_state_dict(load_file(str(path)))
    net.eval()
    net.meta = meta
    _CACHE[key] = net
    return net


@torch.no_grad()
def classifier_outputs(net: nn.Module, x: Tensor, batch: int | None = None,
                       device: torch.device | str | None = None) -> tuple[Tensor, Tensor]:
    """(features (n, 128), class probabilities (n, K)) of images x in [-1, 1], on the CPU.

    Batches (default) of 100 on the CPU: 1,000 images' activations (100 MB a layer) ran
    1.7-1.9x slower than 100 (5,000 Fashion-MNIST-sized images, docs/speed.md); 1,000 elsewhere.

    With a device (the run's GPU), the net and each batch move there for the forward pass.
    """
    was = net.training
    net.eval()
    if device is not None:
        net.to(device)
    dev = next(net.parameters()).device
    batch = batch or (100 if dev.type == "cpu" else 1000)
    feats, probs = [], []
    for i in range(0, len(x), batch):
        f = net.features(x[i:i + batch].to(dev).float())
        feats.append(f.cpu())
        probs.append(torch.softmax(net.head(f), 1).cpu())
    net.train(was)
    return torch.cat(feats), torch.cat(probs)


def channel_probs(net: nn.Module, x: Tensor, device: torch.device | str | None = None) -> Tensor:
    """Class probabilities (n, C, K) of each channel of x classified on its own (Stacked MNIST)."""
    return torch.stack([classifier_outputs(net, x[:, c:c + 1], device=device)[1]
                        for c in range(x.shape[1])], 1)


def inception_weights_file(path: str | None) -> Path:
    """The Inception weights file named by ``path`` (eval.inception_weights) or $GANKIT_INCEPTION;
    ConfigError when there is none, or it is a folder or missing (checked when training starts too,
    so a run does not train to its first evaluation before finding out)."""
    path = path or os.environ.get(INCEPTION_ENV, "")
    if not path:
        raise ConfigError("eval.features=inception: no weights file given. " + INCEPTION_HELP)
    p = Path(path).expanduser()
    if p.is_dir():
        raise ConfigError(f"Inception weights {str(p)!r} is a folder; give the file. " + INCEPTION_HELP)
    if not p.is_file():
        raise ConfigError(f"Inception weights {str(p)!r} do not exist. " + INCEPTION_HELP)
    return p


class InceptionFeatures:
    """Inception-v3 pool3 features (2048) and class probabilities (1008) from the FID TorchScript file.

    Images in [-1, 1] with 1 or 3 channels; grey images are repeated to RGB.  The
    network resizes to 299x299 itself, as in the standard FID code.
    """

    def __init__(self, path: str | None, device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        p = inception_weights_file(path)
        from gankit.metrics.feature_nets import file_hash
        self.weights_hash = file_hash(p)
        try:
            self.net = torch.jit.load(str(p), map_location=self.device).eval()
        except Exception as e:  # a pickle, a truncated download, another network
            raise ConfigError(f"{str(p)!r} is not the TorchScript inception-2015-12-05.pt ({type(e).__name__}: "
                              f"{e}). " + INCEPTION_HELP) from None

    @torch.no_grad()
    def __call__(self, x: Tensor, batch: int = 100) -> tuple[Tensor, Tensor]:
        feats, probs = [], []
        for i in range(0, len(x), batch):
            xb = x[i:i + batch].to(self.device).float()
            if xb.shape[1] == 1:
                xb = xb.repeat(1, 3, 1, 1)
            u8 = ((xb + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)   # the file expects 0..255
            # float64 on the CPU: mps has no float64
            feats.append(self.net(u8, return_features=True).cpu().double())
            probs.append(self.net(u8, no_output_bias=True).cpu().double())      # StyleGAN2-ADA's IS protocol
        return torch.cat(feats), torch.cat(probs)
