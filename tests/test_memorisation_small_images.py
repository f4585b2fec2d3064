"""memorisation's tau missed noisy copies below ~12 px (its noise tolerance was measured at 28x28):
it now reports copy_noise_floor and warns where noisy copies lie beyond tau (audit a162)."""
import warnings

from gankit.data.images import mnist5k
from gankit.metrics.memorisation import memorisation


def _run(side):
    ds = mnist5k(side, 0.1)
    train, held = ds.split("train")[:1500], ds.split("heldout")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = memorisation(train[:16], train, held)
    return out, [str(x.message) for x in w if "noise" in str(x.message)]


def test_noisy_copies_beyond_tau_on_8px_digits_are_reported_and_warned():
    out, said = _run(8)
    assert out["copy_noise_floor"] > out["copy_tau"] and said and "(8, 8)" in said[0], (out, said)


def test_at_28px_noisy_copies_stay_below_tau_without_a_warning():
    out, said = _run(0)
    assert 0 < out["copy_noise_floor"] < out["copy_tau"] and not said, (out, said)
