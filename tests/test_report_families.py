"""The report of a run whose objective leaves parts unread (gankit/report/__init__.py _read_parts,
gankit/report/points.py): its facts name only what the run trains, and the energy model's map is
-E(x) with Langevin samples, not D's judgement of G's samples."""
from __future__ import annotations

from gankit import config as C
from gankit.report import report_context, write_report
from gankit.train.run import Run

TINY = ["train.steps=4", "train.batch_size=16", "train.log_every=2", "train.sample_every=2",
        "train.checkpoint_every=4", "train.eval_every=0", "train.progress=false", "train.live_report=false",
        'eval.metrics=["mmd"]']


def _facts(preset, sets, out):
    run = Run.create(C.load(preset, TINY + sets), out)
    run.train()
    run.close()
    return dict(report_context(out)["facts"])


def test_the_energy_models_page_has_no_g_and_no_loss_and_draws_minus_e(tmp_path):
    out = tmp_path / "ebm"
    facts = _facts("mnist-ebm", ["data.name=grid", "discriminator.name=mlp", "discriminator.hidden=[8]",
                                 "noise.dim=2", "objective.buffer_size=64", "objective.sample_steps=2"], out)
    assert "G" not in facts and "loss" not in facts
    assert facts["D"] == "mlp" and facts["objective"] == "ebm"
    page = write_report(out).read_text()
    assert "on -E(x)" in page and "Langevin samples" in page
    assert "judged real" not in page and "G&#39;s samples" not in page


def test_an_auto_encoders_page_names_no_loss_and_a_gans_names_every_part(tmp_path):
    vae = _facts("ring-vae", ["generator.hidden=[8]", "discriminator.hidden=[8]"], tmp_path / "vae")
    assert "loss" not in vae and vae["G"] == "mlp" and vae["D"] == "mlp"
    gan = _facts("ring", ["generator.hidden=[8]", "discriminator.hidden=[8]"], tmp_path / "gan")
    assert {"G", "D", "loss"} <= set(gan)
