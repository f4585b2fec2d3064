"""Datasets: low-dimensional mixtures with known modes, and user data."""
from gankit.data import toy  # noqa: F401  (registers the datasets)
from gankit.data.base import PointDataset  # noqa: F401
