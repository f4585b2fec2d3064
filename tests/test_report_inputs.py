"""What the report makes of odd run folders (audit a124): commands it suggests pasteable whatever
the folder's name, names with bidirectional controls written out, a config.toml edited to a
wrong type named as such, and a run whose samples/ was deleted told rather than left blank."""
import json
import re
import shlex
import shutil
import tomllib

import numpy as np
import pytest
import tomli_w

from gankit.config import ConfigError
from gankit.report import report_context, write_report


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def _without_evaluations(run):
    lines = (run / "metrics.jsonl").read_text().splitlines()
    kept = [line for line in lines if json.loads(line)["kind"] not in ("eval", "reference")]
    (run / "metrics.jsonl").write_text("".join(line + "\n" for line in kept))


def _command(text: str, verb: str) -> list[str]:
    """The words of the command ``gankit VERB ...`` that ``text`` suggests, as a shell splits them."""
    return shlex.split(text[text.index(f"gankit {verb}"):].removesuffix(" measures it"))


def test_the_commands_the_page_suggests_name_the_folder_when_pasted(tmp_path, tiny_run_dir):
    """The badge of a run without its final evaluation printed `gankit eval PATH` unquoted: a folder
    "my run" gave a command that failed, one named `x; rm -rf ~` a second command."""
    run = _copy(tiny_run_dir, tmp_path / "x; rm -rf ~")
    _without_evaluations(run)
    ctx = report_context(run)
    assert _command(ctx["unevaluated"], "eval") == ["gankit", "eval", str(run)]
    assert _command(ctx["rebuild"], "report") == ["gankit", "report", str(run)]


def test_a_folder_name_with_a_bidirectional_control_is_shown_written_out(tmp_path, tiny_run_dir):
    """A folder "run\\u202eabc" showed its header as "run [finished] cba"."""
    run = _copy(tiny_run_dir, tmp_path / "run\u202eabc")
    _without_evaluations(run)
    ctx = report_context(run)
    assert ctx["title"] == "run\\u202eabc"
    for key in ("unevaluated", "rebuild"):           # pasteable, and no control on the page
        assert "\u202e" not in ctx[key] and "$'" in ctx[key], ctx[key]
    page = write_report(run).read_text()
    assert "\u202e" not in page


def test_class_labels_of_the_per_condition_figure_are_shown_written_out(monkeypatch):
    from gankit.report import conditional
    from gankit.report.plots import figs
    seen = []

    def panels(dataset, x, y, classes, label):
        seen.extend(label(k) for k in classes)
        return figs.subplots(figsize=(1, 1))[0]
    monkeypatch.setattr(conditional, "_point_panels", panels)

    class Data:
        kind, condition_kind, class_names, classes = "points", "label", ["z\u202eevil", "plain"], [0, 1]
    snap = {"step": 3, "samples": np.zeros((4, 2), np.float32), "labels": np.array([0, 0, 1, 1])}
    conditional.condition_sections(Data(), [snap])
    assert seen == ["0: z\\u202eevil", "1: plain"]


def _edited_config(run, section: str, key: str, value):
    raw = tomllib.loads((run / "config.toml").read_text())
    raw[section][key] = value
    (run / "config.toml").write_text(tomli_w.dumps(raw))


@pytest.mark.parametrize("section, key, value", [("data", "std", "0.05"), ("eval", "metrics", "jsd,modes"),
                                                 ("train", "steps", "thirty")])
def test_a_config_value_of_the_wrong_type_is_named_with_its_file(tmp_path, tiny_run_dir, section, key, value):
    """`std = "0.01"` in config.toml said `data.std: expected a number, got '0.01' (--set values
    are TOML ...)`: no file named, and advice for a --set that was never given."""
    run = _copy(tiny_run_dir, tmp_path / "r")
    _edited_config(run, section, key, value)
    with pytest.raises(ConfigError) as e:
        write_report(run)
    said = str(e.value)
    assert said.startswith(f"{run / 'config.toml'}: {section}.{key}: expected") and "--set" not in said, said
    assert (run / "config.toml.recovered").is_file() and "config.toml.recovered" in said
    assert not (run / "report.html").exists()


def test_a_wrong_data_location_is_still_said_to_be_the_argument_s(tmp_path, tiny_run_dir):
    run = _copy(tiny_run_dir, tmp_path / "r")
    with pytest.raises(ConfigError) as e:
        report_context(run, overrides=["data.path=elsewhere.csv"])      # ring data has no path
    assert str(e.value).startswith("data.path:") and not (run / "config.toml.recovered").exists()


def _nav_targets(page: str) -> tuple[list[str], set[str]]:
    nav = page[page.index("<nav>"):page.index("</nav>")]
    return re.findall(r'href="#([^"]+)"', nav), set(re.findall(r'\bid="([^"]+)"', page))


def test_a_run_without_its_samples_folder_says_why_and_links_only_what_is_there(tmp_path, tiny_run_dir):
    """The page had no samples section, no word why, and a nav link "samples" to nothing."""
    run = _copy(tiny_run_dir, tmp_path / "r")
    shutil.rmtree(run / "samples")
    page = write_report(run).read_text()
    links, ids = _nav_targets(page)
    assert links and all(a in ids for a in links), (links, ids)
    assert re.search(r'id="samples">\s*<h2>Samples</h2>\s*<p>No samples: \S+ is missing', page)


def test_the_nav_links_no_section_the_page_lacks():
    from gankit.report.page import Section, render
    ctx = dict(title="t", live=False, refresh=15, step=3, total=3, progress=100.0, stopped="", diverged=False,
               unevaluated="", train_time="1 s", built="now", built_epoch=0, interval="1 s", stale_after=600,
               evaluates=False, rebuild="", facts=[], headline=[], eval_step=None, groups=[], mixed="", data_note=None,
               reference=None, sections=[Section("Text", ["words"])], curves=[], sessions=[], config="")
    links, ids = _nav_targets(render("report.html.j2", **ctx))
    assert "samples" not in links and all(a in ids for a in links), (links, ids)
