"""DRS's fit at the last step is off the training clock (audit F140): the last train record is
written before the fit and the checkpoint after it, so a fit on the clock left the checkpoint's
train_time above the record's `time` (the page and compare under-reported it) and a resume's
curve jumped by the fit's time.  The fit is made slow here so that it cannot hide in the noise."""
import time

import torch

from gankit import config as C
from gankit.runfolder import RunFolder
from gankit.train.rejection import RejectionSampler
from gankit.train.run import Run

FIT_S = 0.5       # far above the time of a few tiny steps


def _train_times(path) -> dict[int, float]:
    return {r["step"]: r["time"] for r in RunFolder(path).records() if r["kind"] == "train"}


def _checkpoint_time(path, step: int) -> float:
    ckpt = path / "checkpoints" / f"step_{step:08d}.pt"
    return float(torch.load(ckpt, weights_only=False, map_location="cpu")["train_time"])


def test_the_drs_fit_is_in_neither_the_last_record_nor_the_checkpoint_and_a_resume_does_not_jump(
        tmp_path, monkeypatch):
    torch.set_num_threads(1)
    fit = RejectionSampler.fit
    fits = []

    def slow_fit(self, *a, **kw):
        fits.append(1)
        time.sleep(FIT_S)
        return fit(self, *a, **kw)
    monkeypatch.setattr(RejectionSampler, "fit", slow_fit)
    over = ["train.batch_size=32", "train.log_every=4", "train.sample_every=100", "train.checkpoint_every=100",
            "train.n_fixed=64", "train.progress=false", "generator.hidden=[16, 16]",
            "discriminator.hidden=[16, 16]", 'objective.name="gan"', "objective.r1=0",
            "objective.drs=true", "objective.drs_steps=5", 'eval.metrics=["modes"]', "eval.n_samples=200",
            "objective.lr_decay_final=1.0"]       # no lr decay: no note on extending its schedule
    path = tmp_path / "run"
    run = Run.create(C.load("ring", over + ["train.steps=8"]), path).train(final_report=False)
    assert run.objective.rejection.ready and len(fits) == 1
    run.close()
    first = _train_times(path)
    assert sorted(first) == [4, 8]
    # the checkpoint holds the last record's training time (records round it to 1 ms)
    assert abs(_checkpoint_time(path, 8) - first[8]) < 0.05, (first, _checkpoint_time(path, 8))

    Run.open(path, ["train.steps=16"]).train(final_report=False).close()
    assert len(fits) == 2                      # the new last step fitted it again
    times = _train_times(path)
    assert sorted(times) == [4, 8, 12, 16]
    steps = [times[s + 4] - times[s] for s in (4, 8, 12)]   # 4 steps' training time each
    assert all(d > 0 for d in steps), times
    # across the resume (8 -> 12) as within a session: no fit's seconds in it
    assert steps[1] < FIT_S / 2, times
    assert abs(_checkpoint_time(path, 16) - times[16]) < 0.05, (times, _checkpoint_time(path, 16))
