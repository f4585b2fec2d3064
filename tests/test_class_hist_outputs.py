"""class_hist's declared outputs (audit a157 F4): class_max_share, which class_histogram
returns, was listed in every image run's report under "other recorded numbers no registered
metric declares"."""
import numpy as np


def test_every_number_class_hist_records_is_declared():
    from gankit.metrics.image_measures import class_histogram
    from gankit.report.metricinfo import info, key_infos
    res = class_histogram(np.array([0, 0, 1, 2]), 3)
    numbers = [k for k, v in res.items() if isinstance(v, (int, float))]
    assert "class_max_share" in numbers and res["class_max_share"] == 0.5
    infos = key_infos()
    for k in numbers:
        assert info(k, infos).metric == "class_hist", (k, info(k, infos))
    assert infos["class_max_share"].label == "share of the commonest class"
