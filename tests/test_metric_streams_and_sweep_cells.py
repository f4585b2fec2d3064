"""audit a170: a plug-in metric's own random streams, and the sweep table's formats and headers."""
import pytest
import torch

from gankit import seeds
from gankit.metrics.context import EvalContext


def _ctx(seed=5, asked=None):
    # sample(n, seed) notes the seed it was asked for, so a draw says which stream it used
    def sample(n, s, y=None, c=None):
        (asked if asked is not None else []).append(s)
        return torch.zeros(n, 2), None
    return EvalContext(dataset=None, settings=None, seed=seed, device=torch.device("cpu"), step=0, sample=sample)


def test_a_metric_names_its_own_stream_and_may_not_draw_the_training_noise():
    asked = []
    ctx = _ctx(asked=asked)
    own = ctx.stream("my_stream")        # was KeyError: unknown random stream 'my_stream'
    assert own == _ctx().stream("my_stream") != ctx.stream("my_other") != _ctx(6).stream("my_stream")
    fixed = {seeds.stream_seed(5, n) for n in [*seeds.TRAIN, *seeds.EVAL]}
    assert all(abs(own - f) > 10 ** 7 for f in fixed)
    assert len(ctx.generate(3, "my_stream")) == 3 and asked == [own]
    # gankit's own metrics' streams are as they were: seed + offset
    assert {n: ctx.stream(n) for n in seeds.EVAL} == {n: 5 + o for n, o in seeds.EVAL.items()}
    for name in seeds.TRAIN:              # "noise" handed the metric the training noise's seed
        with pytest.raises(ValueError, match=rf"random stream '{name}' is a training stream, which a metric "
                                             r"may not draw; use one of modes, jsd, samples, .* or a name"):
            ctx.stream(name)
    with pytest.raises(ValueError, match="training stream"):
        ctx.generate(2, "noise")


def test_an_own_stream_seed_is_hashed_again_when_it_lands_near_a_fixed_stream(monkeypatch):
    import hashlib
    real = hashlib.sha256
    seed = 7

    def near_first(data):                 # the first hash lands exactly on seed + noise's offset
        if not data.endswith(b"again"):
            value = (seed + seeds.TRAIN["noise"]) << 2
            return type("D", (), {"digest": lambda self: value.to_bytes(8, "little") + bytes(24)})()
        return real(data)
    monkeypatch.setattr(hashlib, "sha256", near_first)
    s = seeds.own_stream_seed(seed, "mine")
    assert s != seed + seeds.TRAIN["noise"] and (s - seed + 1) % seeds.SEED_SPAN > 5_000_000


def test_the_sweep_table_escapes_its_headers():
    from gankit.sweep_table import markdown_table, summarise
    rows = summarise([{"label": "a", "k<b>ey": 1.0, "x|y&z": 2.0}, {"label": "a", "k<b>ey": 3.0, "x|y&z": 2.0}])
    table = markdown_table(rows).splitlines()
    assert table[0] == "| label | runs | k&lt;b&gt;ey | x\\|y&amp;z |"     # k<b>ey rendered as HTML
    assert table[2] == "| a | 2 | 2.00 ± 1.00 | 2.00 ± 0.00 |"


def test_the_sweep_table_uses_each_metrics_format():
    from gankit.sweep_table import markdown_table, summarise
    rows = summarise([{"label": "a", "hq_fraction": 0.50}, {"label": "a", "hq_fraction": 0.52}])
    # hq_fraction declares ".1%": it read 0.510 ± 0.010
    assert markdown_table(rows).splitlines()[2] == "| a | 2 | 51.0% ± 1.0% |"
    # a declared ".3f", given as formats: three decimals, more for a small mean, the s.e. its digit
    rows = summarise([{"label": "b", "m": 0.00271}, {"label": "b", "m": 0.00273}])
    assert markdown_table(rows, formats={"m": ".3f"}).splitlines()[2] == "| b | 2 | 0.00272 ± 0.00001 |"
    rows = summarise([{"label": "c", "m": 3.0}, {"label": "c", "m": 4.0}])
    assert markdown_table(rows, formats={"m": ".3f"}).splitlines()[2] == "| c | 2 | 3.500 ± 0.500 |"
    assert markdown_table(rows, formats={"m": "d"}).splitlines()[2] == "| c | 2 | 3.50 ± 0.50 |"


def test_a_metric_tells_the_reference_row_by_ctx_real():
    """A metric comparing samples with the held-out split reads ~0 on real data (that split with
    itself): ctx.real lets it raise NoReference there, and only there."""
    from gankit import config as C
    from gankit.data import build_dataset
    from gankit.metrics.reference import reference_context
    cfg = C.load("ring", [])
    ctx, _ = reference_context(build_dataset(cfg), cfg.eval, 0)
    assert ctx.real is True
    from gankit.metrics.context import EvalContext
    assert EvalContext(dataset=None, settings=None, seed=0, device=None, step=0, sample=None).real is False
