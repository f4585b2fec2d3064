"""Datasets: low-dimensional mixtures with known modes, and user data."""
from gankit.data import toy  # noqa: F401  (registers the datasets)
from gankit.data import text  # noqa: F401  (oracle, words, text files)
from gankit.data import images  # noqa: F401  (image datasets)
from gankit.data.base import PointDataset  # noqa: F401
