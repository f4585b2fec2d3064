"""G's samples holding NaN or inf (G diverged): an evaluation stops with one line and records
nothing, rather than numbers that look real (a JSD of ln 2, no mode, a support 2.8x the data's)
or a library's traceback (sklearn's KMeans in ndb, numpy's eigenvalues in FID)."""
from __future__ import annotations

import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from gankit import config as C
from gankit.metrics.context import EvalContext, NonFiniteSamples


def _ctx(draw, step=7, kind="points"):
    """An EvalContext over a ring's data whose G draws ``draw(n)``."""
    from gankit.builtins import load_builtins
    from gankit.data import build_dataset
    load_builtins()
    cfg = C.load("ring", ["eval.n_samples=200", "eval.jsd_samples=500"])
    return EvalContext(dataset=build_dataset(cfg) if kind == "points" else SimpleNamespace(kind=kind),
                       settings=cfg.eval, seed=0, device=torch.device("cpu"), step=step,
                       sample=lambda n, seed=None, y=None, c=None: (draw(n), None))


def _some_nan(n):
    x = torch.randn(n, 2)
    x[:3, 1] = float("nan")
    x[3, 0] = float("inf")
    return x


def test_every_points_metric_stops_with_one_line_naming_the_step_and_count():
    from gankit.metrics import evaluate
    for names in (["modes", "jsd", "birthday", "prdc_points"], ["c2st", "energy", "mmd", "sliced_wasserstein"],
                  ["ndb"]):   # ndb: sklearn's KMeans "Input X contains NaN" before
        with pytest.raises(NonFiniteSamples) as e:
            evaluate(_ctx(_some_nan), names)
        msg = str(e.value)
        assert "\n" not in msg and "G diverged" in msg and "at step 7" in msg, msg
        assert "4 of 200 samples" in msg and "checkpoints/" in msg and "lower learning rate" in msg, msg


def test_a_users_metric_does_not_leave_the_divergence_out_as_its_own_failure():
    """Training's evaluations leave out a user's metric that raises; a divergence is no bug of it."""
    from gankit.metrics import evaluate
    from gankit.metrics.base import Output, register_metric

    @register_metric("nf_mean", lambda ds: True, "mean of G's samples",
                     outputs={"nf_mean": Output("mean", None, ".3f")}, reads=("n_samples",))
    def nf_mean(ctx):
        return {"nf_mean": float(ctx.generate(10).mean())}
    with pytest.raises(NonFiniteSamples):
        evaluate(_ctx(lambda n: torch.full((n, 2), float("inf"))), ["nf_mean"], named=False)


def test_finite_samples_and_token_ids_pass_untouched():
    x = torch.randn(50, 2)
    assert _ctx(lambda n: x).generate(50) is x
    ids = torch.randint(0, 9, (20, 6))           # token ids are integers: never non-finite
    assert _ctx(lambda n: ids, kind="text").generate(20) is ids


def test_images_with_nan_stop_fid(digits):
    """numpy's "Eigenvalues did not converge" (LinAlgError) from frechet_distance before."""
    from gankit.data import build_dataset
    from gankit.metrics import evaluate
    cfg = C.load("mnist-dcgan", digits + ["eval.features=random"])
    ds = build_dataset(cfg)
    shape = ds.sample(1, torch.Generator().manual_seed(0)).shape[1:]
    ctx = EvalContext(dataset=ds, settings=cfg.eval, seed=0, device=torch.device("cpu"), step=3,
                      sample=lambda n, seed=None, y=None, c=None: (torch.full((n, *shape), float("nan")), None))
    with pytest.raises(NonFiniteSamples, match="200 of 200 samples drawn at step 3"):
        evaluate(ctx, ["fid"])


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory):
    """A tiny trained ring run sampled from G itself (the rejection sampler's own draw is
    rejection.py's to check), checkpoints at 10 and 20."""
    from conftest import TINY
    from gankit.train.run import Run
    path = tmp_path_factory.mktemp("plain") / "run"
    Run.create(C.load("ring", TINY + ["train.steps=20", "objective.drs=false"]), path).train().close()
    return path


def _poisoned(src, dst):
    """A copy of run ``src`` whose newest checkpoint's G overflows to inf (finite weights, as a
    step with a huge learning rate leaves them)."""
    shutil.copytree(src, dst)
    path = sorted((dst / "checkpoints").glob("step_*.pt"))[-1]
    state = torch.load(path, map_location="cpu", weights_only=True)
    for name, weights in state["models"].items():
        if name.startswith("G"):
            for k, v in weights.items():
                if v.is_floating_point() and k.endswith("weight"):
                    weights[k] = v * 1e38
    torch.save(state, path)
    return dst


def test_gankit_eval_says_one_line_exits_1_and_records_nothing(plain_run, tmp_path, capsys):
    from gankit.cli import main
    run = _poisoned(plain_run, tmp_path / "run")
    before = (run / "metrics.jsonl").read_text()
    assert main(["eval", str(run), "--metrics", "modes,jsd,ndb"]) == 1
    err = capsys.readouterr().err
    line = [x for x in err.splitlines() if x.startswith("gankit: error:")]
    assert len(line) == 1 and "G diverged" in line[0] and "at step 20" in line[0], err
    assert "Traceback" not in err
    assert (run / "metrics.jsonl").read_text() == before


def test_training_and_final_evaluations_record_nothing(plain_run, tmp_path):
    from gankit import api
    from gankit.train.run import Run
    run = Run.open(_poisoned(plain_run, tmp_path / "run"))
    try:
        before = run.folder.records("eval")
        with pytest.raises(NonFiniteSamples):
            api.final_evaluation(run, log=None)
        from gankit.train.callbacks import PeriodicEval
        with pytest.raises(NonFiniteSamples):
            PeriodicEval(run, 1)._evaluate(SimpleNamespace(step=run.step), stop=None)
        assert run.folder.records("eval") == before
    finally:
        run.close()


def test_real_data_with_nan_are_refused_at_load(tmp_path):
    """The check is for G's side: real data never reach a metric with NaN."""
    from gankit.data import build_dataset
    rows = np.random.default_rng(0).normal(size=(50, 2))
    rows[4, 1] = np.nan
    np.save(tmp_path / "nan.npy", rows)
    cfg = C.load("ring", ["data.name=points", f'data.path="{tmp_path / "nan.npy"}"'])
    with pytest.raises(C.ConfigError, match="NaN or infinite"):
        build_dataset(cfg)


def test_a_periodic_evaluation_of_non_finite_samples_stops_training_as_a_divergence(tmp_path, monkeypatch):
    """Where the fixed-noise check passes (it draws 64) and the evaluation's draw does not, training
    stopped with NonFiniteSamples: no stop record for the report, and not the divergence error."""
    from gankit.runfolder import RunFolder
    from gankit.train import callbacks
    from gankit.train.loop import NonFiniteLoss
    from gankit.train.run import Run
    monkeypatch.setattr(callbacks.FiniteSamples, "on_step_end", lambda self, trainer: None)
    run = Run.create(C.load("ring", ["train.steps=30", "train.batch_size=32", "train.log_every=10",
                                     "train.checkpoint_every=10", "train.eval_every=10", "train.progress=false",
                                     "objective.drs=false", "eval.n_samples=200", 'eval.metrics=["modes"]']),
                     tmp_path / "r")

    def blow_up(o, args, kwargs):
        if run.step == 19:
            with torch.no_grad():
                for p in run.modules["G"].parameters():
                    p.mul_(1e30)
    run.optimizers["g"].register_step_post_hook(blow_up)
    with pytest.raises(NonFiniteLoss, match="G diverged: 200 of 200 samples drawn at step 20"):
        run.train()
    (stop,) = RunFolder(tmp_path / "r").records("stop")
    assert stop["reason"] == "diverged" and "G diverged" in stop["message"]


def test_gankit_sample_writes_no_file_of_nan_rows(plain_run, tmp_path, capsys):
    from gankit.cli import main
    run = _poisoned(plain_run, tmp_path / "run")
    assert main(["sample", str(run), "-n", "50", "--out", str(tmp_path / "x.csv")]) == 1
    err = capsys.readouterr().err
    assert "G diverged: 50 of 50 samples" in err and "Traceback" not in err
    assert not (tmp_path / "x.csv").exists()


def test_rejection_sampling_of_a_diverged_g_names_the_divergence(tmp_path):
    """A fitted sampler rejected NaN proposals one by one: 600,000 proposals, then "the calibration
    D rejects almost everything G makes", a traceback."""
    from gankit.train.rejection import RejectionSampler
    sampler = RejectionSampler(torch.nn.Linear(2, 1), pack=1, steps=0, lr=1e-4, quantile=0.95, batch_size=8)
    sampler.M, sampler.acceptance = torch.tensor(0.0), torch.tensor(0.5)     # as fitted
    x = sampler.sample(30, lambda k: torch.full((k, 2), float("nan")), torch.Generator().manual_seed(0), 100)
    assert x.shape == (30, 2) and torch.isnan(x).all()    # returned as drawn: EvalContext.generate names it
    with pytest.raises(NonFiniteSamples, match="30 of 30"):
        _ctx(lambda n: sampler.sample(n, lambda k: torch.full((k, 2), float("nan")),
                                      torch.Generator().manual_seed(0), 100)).generate(30)
