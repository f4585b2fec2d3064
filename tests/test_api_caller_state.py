"""gankit.api under a caller's torch state (autocast, inference mode), the numbers it hands back,
and a Run opened with its data's new place (gankit/process_state.py, gankit/api.py)."""
from __future__ import annotations


import numpy as np
import pytest
import torch

from gankit import api
from gankit.config import ConfigError
from conftest import weights_digest
from test_using_runs import digit_run, ring_run  # noqa: F401 (fixtures: tiny digits8x8 and ring runs)


def _train(out, extra=()):
    from conftest import TINY
    return api.train("ring-vanilla", out=out, overrides=TINY + list(extra), evaluate=False, report=False,
                     progress=False, log=None)


def test_a_callers_autocast_changes_no_number_and_stays_the_callers(ring_run, digit_run, tmp_path):
    x0 = api.sample(ring_run, 50, seed=3)
    e0 = api.evaluate(ring_run, ["c2st", "mmd"], record=False)
    inv0 = api.invert(digit_run, "heldout:2", steps=3)
    run0 = _train(tmp_path / "plain")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        x = api.sample(ring_run, 50, seed=3)
        e = api.evaluate(ring_run, ["c2st", "mmd"], record=False)
        inv = api.invert(digit_run, "heldout:2", steps=3)
        run = _train(tmp_path / "cast")          # its snapshots were a TypeError on bfloat16
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") is torch.bfloat16
    assert x.dtype is torch.float32 and torch.equal(x, x0)
    assert e == e0
    assert inv.recon.dtype is torch.float32 and torch.equal(inv.recon, inv0.recon)
    assert weights_digest(run) == weights_digest(run0)


def test_a_runs_own_sampling_under_a_callers_autocast_is_float32(ring_run):
    """Run.sample/generate/generate_from/d_prob are not held (a user's metric samples from its own
    threads): they switch a caller's autocast off themselves, chunk by chunk."""
    run = api.open_run(ring_run)
    z = torch.randn(7, run.cfg.noise.dim, generator=torch.Generator().manual_seed(0))
    plain = (run.generate(40, seed=2), run.generate_from(z), list(run.sample_chunks(30, seed=1, batch=8)[0]))
    plain_d = run.d_prob(plain[0])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        cast = (run.generate(40, seed=2), run.generate_from(z), list(run.sample_chunks(30, seed=1, batch=8)[0]))
        cast_d = run.d_prob(cast[0])
        assert torch.is_autocast_enabled("cpu")
    for a, b in ((plain[0], cast[0]), (plain[1], cast[1]), (torch.cat(plain[2]), torch.cat(cast[2])),
                 (plain_d, cast_d)):
        assert b.dtype is torch.float32 and torch.equal(a, b)


def test_inversion_under_a_callers_inference_mode(digit_run, monkeypatch):
    import gankit.metrics.inference as inference
    monkeypatch.setattr(inference, "RECON_STEPS", 3)
    pixels = np.random.default_rng(1).uniform(-1, 1, (2, 1, 8, 8)).astype(np.float32)
    inv0 = api.invert(digit_run, "heldout:2", steps=3)
    given0 = api.invert(digit_run, torch.tensor(pixels), steps=3)
    filled0, _ = api.complete(digit_run, "heldout:2", mask="left", steps=3)
    e0 = api.evaluate(digit_run, ["recon_error"], record=False)
    with torch.inference_mode():
        given = torch.tensor(pixels)
        assert given.is_inference()
        inv = api.invert(digit_run, "heldout:2", steps=3)
        from_given = api.invert(digit_run, given, steps=3)
        filled, _ = api.complete(digit_run, "heldout:2", mask="left", steps=3)
        e = api.evaluate(digit_run, ["recon_error"], record=False)
        assert torch.is_inference_mode_enabled()
    assert torch.equal(inv.recon, inv0.recon) and torch.equal(inv.z, inv0.z)
    assert torch.equal(from_given.recon, given0.recon)
    assert torch.equal(filled, filled0)
    assert e == e0


def test_final_result_is_the_callers_own(tmp_path):
    ov = ["train.steps=20", "train.log_every=10", "train.batch_size=32", "generator.hidden=[16,16]",
          "discriminator.hidden=[16,16]", "eval.metrics=['modes']", "eval.n_samples=500", "train.progress=false"]
    api.train("ring-vanilla", out=tmp_path / "a", overrides=ov, report=False, log=None)
    again = api.train(out=tmp_path / "a", resume=True, report=False, log=None)      # the record reused
    counts = list(again.final_result["mode_counts"])
    again.final_result["mode_counts"][0] = 777                # a notebook edits what it got
    later = api.train(out=tmp_path / "a", resume=True, report=False, log=None)
    assert later.final_result["mode_counts"] == counts
    assert [r["mode_counts"] for r in later.folder.records("eval")] == [counts]


@pytest.fixture
def moved_points_run(tmp_path):
    """A run of a points file, then the file moved: (run folder, the file's new path)."""
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 2 * np.pi, 600)
    np.save(tmp_path / "pts.npy", np.stack([np.cos(a), np.sin(a)], 1).astype(np.float32))
    api.train({"data": {"name": "points", "path": str(tmp_path / "pts.npy")}}, out=tmp_path / "run",
              overrides=["train.steps=10", "train.batch_size=32", "eval.metrics=['mmd']", "eval.n_samples=200",
                         "generator.hidden=[16,16]", "discriminator.hidden=[16,16]", "train.progress=false"],
              log=None)
    (tmp_path / "pts.npy").rename(tmp_path / "moved.npy")
    return tmp_path / "run", tmp_path / "moved.npy"


def test_api_report_of_a_run_opened_at_its_datas_new_place_draws_the_points(moved_points_run, recwarn):
    from gankit.cli import main
    run_dir, moved = moved_points_run
    where = [f"data.path={moved}"]
    assert main(["report", str(run_dir), "--set", where[0]]) == 0
    cli_page = (run_dir / "report.html").read_text()
    (run_dir / "report.html").unlink()
    page = api.report(api.open_run(run_dir, where)).read_text()
    # it warned "data.path = ... is missing ... --set data.path=NEW" and left the real points out
    assert not [str(w.message) for w in recwarn if "data" in str(w.message)]
    assert "is missing" not in page and "is missing" not in cli_page


def test_api_evaluate_of_a_folder_takes_the_datas_new_place_as_gankit_eval(moved_points_run):
    run_dir, moved = moved_points_run
    where = [f"data.path={moved}"]
    run = api.open_run(run_dir, where)
    want = api.evaluate(run, ["mmd"], record=False)
    assert api.evaluate(run_dir, ["mmd"], overrides=where, record=False) == want
    with pytest.raises(ConfigError, match=r"open it with them \(api.open_run\(run_dir, \['data.path="):
        api.evaluate(run, ["mmd"], overrides=where, record=False)
    with pytest.raises(ConfigError, match=r"overrides \['seed=4'\]: .*\['seed=4'\] define the run \(its model identity\)"):
        api.evaluate(run_dir, ["mmd"], overrides=["seed=4"], record=False)
