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


def test_the_noise_floor_is_measured_once_per_training_bank(monkeypatch):
    """It depends on the training images alone: an evaluation and its reference row (and the next
    evaluation of the same data) share it, as they share the bank's index."""
    from gankit.metrics import memorisation as M
    ds = mnist5k(8, 0.1)
    train, held = ds.split("train")[:600], ds.split("heldout")
    first = memorisation(train[:16], train, held)
    sizes = []
    real = M.copy_distance
    monkeypatch.setattr(M, "copy_distance", lambda q, index: (sizes.append(len(q)), real(q, index))[1])
    again = memorisation(train[16:32], train.clone(), held)      # the same images: the same bank
    assert again["copy_noise_floor"] == first["copy_noise_floor"]
    assert M.NOISE_COPIES not in sizes and sizes == [16, len(held)]
