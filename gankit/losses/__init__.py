"""Adversarial losses (pure functions of D outputs) and, apart, regularisers."""
from gankit.losses import adversarial  # noqa: F401
from gankit.losses.adversarial import LossPair  # noqa: F401
