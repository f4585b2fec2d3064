"""gankit.api's latent inversion: fit a trained G's code to a program's images (``invert``) or
fill a masked part of them from G fitted to the rest (``complete``), as ``gankit invert`` and
``gankit complete`` do, returning tensors instead of writing files.

    from gankit import api
    inv = api.invert("runs/mnist", x)              # x: (n, 1, 28, 28) uint8 or floats in [-1, 1]
    inv.z, inv.recon, inv.error                    # codes, G(z) in [-1, 1], MSE per pixel
    filled, inv = api.complete("runs/mnist", "heldout:16", mask="left")
"""
from __future__ import annotations

from gankit.process_state import holding
from gankit.train.inversion import Inversion, complete as _complete, invert_run
from gankit.train.inversion_inputs import load_images, make_mask


def _said(name: str, given) -> str:
    return f"{name}={given!r}" if isinstance(given, str) else name


def _images(run, images):
    return load_images(images, run.dataset, said=_said("images", images))


@holding
def invert(run_or_dir, images, steps: int = 300, lr: float = 0.05, restarts: int = 1,
           use_encoder: bool = True, seed: int = 0) -> Inversion:
    """Fit G's code z to each image: ``images`` an array or tensor ((n, C, H, W), (n, H, W, C),
    one image, or (n, H, W) for grey data; uint8 pixels or floats in [-1, 1]), a path to a .npy
    file, an image file or a folder of them (resized to the run's size), a glob pattern
    (``"imgs/*.png"``, its matches sorted) or a list of image files, or ``"heldout[:N]"``.
    Starts from the run's encoder where it has one (BiGAN, VAE, AE) unless ``use_encoder`` is
    False, else from the prior (``seed``); the best of ``restarts`` starts is kept per image.
    Returns ``Inversion(z, recon, error)`` on the CPU: recon in [-1, 1], error the mean squared
    error per pixel."""
    from gankit.api import _run
    run = _run(run_or_dir)
    return invert_run(run, _images(run, images), steps=steps, lr=lr, restarts=restarts,
                      use_encoder=use_encoder, seed=seed, command="api.invert")


@holding
def complete(run_or_dir, images, mask, steps: int = 300, lr: float = 0.05, restarts: int = 1,
             use_encoder: bool = True, seed: int = 0):
    """Fill the part ``mask`` marks missing: "top", "bottom", "left", "right", "centre", a path
    to a .npy file, or an array of (H, W), (1, H, W) or (C, H, W) with 1 = missing, 0 = known
    (one mask for every image).  ``images`` and the rest as ``invert``'s.  Returns (the
    completed images in [-1, 1], the ``Inversion`` fitted to the known part)."""
    from gankit.api import _run
    run = _run(run_or_dir)
    x = _images(run, images)
    missing = make_mask(mask, tuple(x.shape[1:]), said=_said("mask", mask))
    return _complete(run, x, missing, steps=steps, lr=lr, restarts=restarts, use_encoder=use_encoder,
                     seed=seed, command="api.complete")
