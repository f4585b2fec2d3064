"""gankit: train, watch and measure generative adversarial networks.

Library use starts from ``gankit.config.load`` and ``gankit.train.run.Run``;
``load_builtins()`` fills the registries (they also fill themselves on first use).
"""
__version__ = "0.1.0"


def load_builtins() -> None:
    """Register gankit's own components and the installed plug-ins (idempotent)."""
    from gankit.builtins import load_builtins as _load
    _load()
