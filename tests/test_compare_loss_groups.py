"""gankit compare's loss panels (audit a157 F1): WGAN-GP's -E f(G(z)), a VAE's -ELBO per
dimension and a GAN's -log D(G(z)) were drawn on one "G loss" axis, as if one quantity."""
import matplotlib.pyplot as plt

from gankit.report import compare as CMP
from gankit.report.compare_figure import figure_compare
from gankit.runfolder import RunFolder


def _run(path, objective: str, loss: str, g_scale: float, with_d: bool = True):
    f = RunFolder(path)
    f.path.mkdir(parents=True)
    f.write_config(f'seed = 0\n[objective]\nname = "{objective}"\n[loss]\nname = "{loss}"\n[train]\nsteps = 4\n')
    for s in range(1, 5):
        f.append({"step": s, "kind": "train", "loss_g": g_scale * s, "time": 0.1 * s,
                  **({"loss_d": 1.0 + 0.1 * s} if with_d else {})})
    return f.path


def _drawn_colours(ax) -> set:
    return {ln.get_color() for ln in ax.get_lines() if len(ln.get_xdata())}


def test_losses_of_different_objectives_are_drawn_in_panels_of_their_own(tmp_path):
    runs = [_run(tmp_path / "wgp", "gan", "wgan", -0.1), _run(tmp_path / "vae", "vae", "nonsaturating", 2.0, False),
            _run(tmp_path / "gan", "gan", "nonsaturating", 0.7)]
    data = CMP.compare_data(runs)
    panels = CMP._panels(data["_records"], data["metrics"], data["config_diff"])
    by_title = {p[0]: p for p in panels}
    # the VAE logs no loss_d: D's loss splits by loss alone, G's by objective (and loss within gan)
    assert [t for t in by_title if "loss" in t] == ["D loss (wgan)", "D loss (nonsaturating)", "G loss (gan, wgan)",
                                                    "G loss (vae)", "G loss (gan, nonsaturating)"], list(by_title)
    assert "G loss" not in by_title and "D loss" not in by_title
    names = [r["name"] for r in data["runs"]]
    fig = figure_compare(list(zip(names, data["_records"])), panels)
    from gankit.report.axes import run_style
    colours = [run_style(i).colour for i in range(3)]
    for ax, p in zip(fig.axes, panels):
        if p[2] in ("loss_d", "loss_g"):
            assert len(p) == 4 and len(p[3]) == 1, p
            assert _drawn_colours(ax) == {colours[p[3][0]]}, (p, _drawn_colours(ax))
    plt.close(fig)
    page = CMP.write_compare(runs, tmp_path / "cmp.html").read_text()
    assert "Loss curves of runs with different objectives/losses are not comparable" in page


def test_runs_of_one_objective_and_loss_share_the_loss_panels(tmp_path):
    runs = [_run(tmp_path / "a", "gan", "wgan", -0.1), _run(tmp_path / "b", "gan", "wgan", -0.2)]
    data = CMP.compare_data(runs)
    panels = CMP._panels(data["_records"], data["metrics"], data["config_diff"])
    assert ("D loss", "train", "loss_d") in panels and ("G loss", "train", "loss_g") in panels
    assert not CMP.curves_note(["a", "b"], data["_records"], data["config_diff"])
    fig = figure_compare([(r["name"], recs) for r, recs in zip(data["runs"], data["_records"])], panels)
    assert len(_drawn_colours(fig.axes[[p[2] for p in panels].index("loss_g")])) == 2
    plt.close(fig)
