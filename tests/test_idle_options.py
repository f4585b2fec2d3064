"""Options that do nothing in the chosen combination are named when training starts."""
import warnings

import pytest

from gankit import config as C
from gankit.config.files import preset_names
from gankit.train.idle_options import idle_options
from gankit.train.run import Run


@pytest.mark.parametrize("sets,said", [
    (["optim_d.name='rmsprop'", "optim_d.betas=[0.0, 0.9]"], "optim_d.betas=[0.0, 0.9] has no effect: betas are Adam's"),
    (["optim_d.name='sgd'", "optim_d.betas=[0.0, 0.9]"], "optim_d.name is sgd"),
    (["optim_g.momentum=0.9"], "optim_g.momentum=0.9 has no effect: optim_g.name is adam, whose momentum is optim_g.betas[0]"),
    (["train.lr_final=0.5"], "train.lr_final=0.5 has no effect: train.lr_schedule is constant"),
    (["train.lr_decay_start=0.5"], "train.lr_decay_start=0.5 has no effect"),
    (["condition.embed_dim=8", "condition.aux_weight=2"], "condition.embed_dim, condition.aux_weight have no effect: condition.kind is none"),
])
def test_an_option_the_run_does_not_use_is_named(sets, said):
    assert any(said in line for line in idle_options(C.load("ring", sets))), idle_options(C.load("ring", sets))


def test_conditional_options_of_another_d_mode_or_kind_are_named():
    cfg = C.load("fashion-cgan", ["condition.d_mode='acgan'", "condition.mismatch_weight=2", "condition.max_words=4"])
    said = "\n".join(idle_options(cfg))
    assert "condition.mismatch_weight=2 has no effect" in said and "not acgan" in said
    assert "condition.max_words has no effect: it applies to captions and condition.kind is label" in said
    assert not idle_options(C.load("fashion-cgan", ["condition.d_mode='acgan'", "condition.aux_weight=2"]))


def test_no_preset_and_no_schedule_in_use_is_warned_about():
    for name in preset_names():
        assert idle_options(C.load(name)) == [], name
    assert idle_options(C.load("ring", ["train.lr_schedule='linear'", "train.lr_final=0.5"])) == []
    assert idle_options(C.load("ring", ["optim_d.name='sgd'", "optim_d.momentum=0.9"])) == []


def test_training_and_a_resume_that_sets_one_warn(tmp_path, tiny):
    with pytest.warns(UserWarning, match="train.lr_final=0.5 has no effect"):
        run = Run.create(C.load("ring", tiny + ["train.lr_final=0.5"]), tmp_path / "r")
    run.train().close()
    with pytest.warns(UserWarning) as said:
        Run.open(tmp_path / "r", ["train.steps=40", "optim_g.momentum=0.9"], write=True).close()
    # the resume's own setting, not again the one config.toml holds
    assert [str(w.message).split(" has")[0] for w in said] == ["optim_g.momentum=0.9"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        Run.open(tmp_path / "r").close()        # reading the run says nothing


def test_clipping_beside_a_gradient_penalty_is_warned_about(tmp_path, tiny):
    with pytest.warns(UserWarning, match="objective.clip=0.01 with objective.gp=10: the gradient penalty replaces"):
        Run.create(C.load("wgan-gp", tiny + ["objective.clip=0.01"]), tmp_path / "r").close()
