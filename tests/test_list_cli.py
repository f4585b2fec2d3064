"""``gankit list WORD ...``: a kind's name shows that kind; other words filter by name and
description (and with -v by option); nothing found is an error that names what exists."""
from __future__ import annotations

import pytest

from gankit.cli import main


def _list(capsys, *args) -> tuple[int, str, str]:
    rc = main(["list", *args])
    out = capsys.readouterr()
    return rc, out.out, out.err


def _section(out: str, title: str) -> list[str]:
    """The entry names under ``title:`` (a section's lines are indented by two spaces)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    names = []
    for line in lines[start + 1:]:
        if not line.startswith("  "):
            break
        if line[2] != " " and not line.startswith("      "):
            names.append(line.split()[0])
    return names


def test_a_kind_shows_all_of_it_and_only_it(capsys):
    rc, out, _ = _list(capsys, "loss")          # the singular too
    assert rc == 0
    assert _section(out, "losses:") == ["hinge", "lsgan", "minimax", "nonsaturating", "rsgan", "wgan"]
    assert "presets" not in out and "metrics:" not in out


def test_a_word_filters_every_kind_by_name_and_description(capsys):
    rc, out, _ = _list(capsys, "ring")
    assert rc == 0
    presets = _section(out, "presets")
    assert {"ring", "ring-vanilla", "ring-cgan", "ring-vae"} <= set(presets)
    assert "mnist-dcgan" not in presets and "grid" not in presets
    assert "ring" in _section(out, "datasets:")
    assert "losses:" not in out                 # no loss names or describes a ring


def test_a_kind_and_a_word_together(capsys):
    rc, out, _ = _list(capsys, "metrics", "fid")
    assert rc == 0 and _section(out, "metrics:") == ["fid"] and "presets" not in out


def test_verbose_searches_options_and_config_keys(capsys):
    rc, out, _ = _list(capsys, "-v", "ema_start")
    assert rc == 0
    assert "      ema_start = 0" in out          # the gan objective's option that matched
    assert "      clip = " not in out            # not its other options
    assert "train." not in out                   # no config key has it
    rc, out, _ = _list(capsys, "config", "lr_schedule")
    assert rc == 0 and "train.lr_schedule = 'constant'" in out and "optim_d.lr" not in out


def test_nothing_found_is_an_error_with_a_suggestion(capsys):
    rc, out, err = _list(capsys, "rign")
    assert rc == 2 and out == ""
    assert "'rign'" in err and "did you mean ring" in err and "gankit list KIND" in err


@pytest.mark.parametrize("args", [[], ["-v"]])
def test_no_words_lists_everything(capsys, args):
    rc, out, _ = _list(capsys, *args)
    assert rc == 0
    for title in ("presets", "datasets:", "generators:", "discriminators:", "losses:", "metrics:", "objectives:"):
        assert title in out
    assert ("config keys" in out) == bool(args)


def test_nothing_found_within_a_kind_says_the_kind_and_quotes_only_the_words(capsys):
    rc, _, err = _list(capsys, "-v", "losses", "decay")
    assert rc == 2 and "among the losses, nothing is named or described by 'decay'" in err
