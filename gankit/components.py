"""The registries of pluggable parts; importing this module fills them."""
from gankit.registry import Registry

DATASETS = Registry("dataset")
GENERATORS = Registry("generator")
DISCRIMINATORS = Registry("discriminator")
LOSSES = Registry("loss")
METRICS = Registry("metric")
OBJECTIVES = Registry("objective")

REGISTRIES = {
    "datasets": DATASETS,
    "generators": GENERATORS,
    "discriminators": DISCRIMINATORS,
    "losses": LOSSES,
    "metrics": METRICS,
    "objectives": OBJECTIVES,
}

# Modules register themselves on import.
from gankit import data as _data  # noqa: E402,F401
from gankit import nets as _nets  # noqa: E402,F401
from gankit import losses as _losses  # noqa: E402,F401
from gankit import metrics as _metrics  # noqa: E402,F401
from gankit.train import gan as _gan  # noqa: E402,F401
from gankit.train import seqgan as _seqgan  # noqa: E402,F401
from gankit.metrics import text as _text_metrics  # noqa: E402,F401
from gankit.metrics import conditional as _cond_metrics  # noqa: E402,F401
