"""The compare page's figure: the runs overlaid, one style per run in every panel, and the
runs' legend above the panels (figure_compare, which gankit.report.compare.write_compare draws;
the panels it is given are compare_curves.panels)."""
from __future__ import annotations

from gankit.report.axes import _grid, _legend, _style, _summarise_infinite, code_segments, literal_text, run_style
from gankit.report.curve_values import _plot, settings_parts
from gankit.report.metricinfo import Measuring
from gankit.report.page import figure_text
from gankit.report.plots import _tight


# the markers of a run's parts measured at other settings than its first (run_style's own marker for that)
PART_MARKERS = ["x", "*", "P", "X"]


@literal_text
def figure_compare(runs: list[tuple[str, list[dict]]], panels: list[tuple]):
    """Runs overlaid: ``runs`` = [(name, records)], ``panels`` = [(title, kind, key)] with
    kind "train" or "eval", or [(title, kind, key, indices)] drawing those runs alone (the
    losses of one objective: compare_curves.panels); one style per run (run_style: colour,
    line style, marker), the same in every panel."""
    from matplotlib.lines import Line2D
    if not panels:
        return None
    runs = [(figure_text(name), recs) for name, recs in runs]    # in the panels' legends of infinities too
    fig, axes = _grid(len(panels), cols=3, w=4.4, h=2.8)
    styles = [run_style(i) for i in range(len(runs))]
    shown: set[int] = set()        # runs any panel draws (a VAE logs no loss_d)
    measuring = Measuring() if any(p[1] == "eval" for p in panels) else None
    for ax, (title, kind, key, *only) in zip(axes, panels):
        notes, named = [], []
        for i, (name, recs) in enumerate(runs):
            if only and i not in only[0]:
                continue
            st = styles[i]
            recs = [r for r in recs if r.get("kind") == kind]
            # a run's numbers measured with other eval settings (or metric code) than its others:
            # lines of their own in its colour, another marker each, named in the panel
            parts = (settings_parts(code_segments(recs, key, measuring), key, measuring) if kind == "eval"
                     else [(recs, None, None)])
            for j, (part, note, setting) in enumerate(parts):
                marker = st.marker if j == 0 else PART_MARKERS[(j - 1) % len(PART_MARKERS)]
                line, inf = _plot(ax, part, key, name, st.colour, lone_marker=marker, lw=1.3, ls=st.ls,
                                  marker=marker if kind == "eval" else None, ms=3)
                if line is not None or inf:
                    shown.add(i)
                if len(parts) > 1:
                    label = f"{name} @ {setting}" if setting else name
                    named.append((line or Line2D([], [], color=st.colour, ls=st.ls, marker=marker, ms=3),
                                  f"{label}, {note}" if note else label))
                notes += inf
        _style(ax, title)
        ax.title.set_fontsize(9)
        _legend(ax, named + _summarise_infinite(notes), fontsize=6, frameon=False)
    # one entry per run shown, in run order, in its full style; explicit labels, since
    # matplotlib would drop a run whose folder name starts with "_"
    order = sorted(shown)
    if order:
        handles = [Line2D([], [], color=styles[i].colour, ls=styles[i].ls, marker=styles[i].marker, ms=4,
                          lw=1.3) for i in order]
        labels = [runs[i][0] for i in order]
        _legend_on_top(fig, handles, labels)
    else:
        _tight(fig)
    return fig


def _legend_on_top(fig, handles: list, labels: list[str], pad_in: float = 0.1):
    """The runs' legend above the panels in the columns (at most 4) the figure's width takes, the
    figure made taller by its own height (inches), so it covers no panel however many runs it names."""
    renderer = fig.canvas.get_renderer()
    for ncol in range(min(len(labels), 4), 0, -1):
        legend = fig.legend(handles, labels, loc="upper center", ncol=ncol, fontsize=8, frameon=False,
                            handlelength=3, bbox_to_anchor=(0.5, 1.0))
        if ncol == 1 or legend.get_window_extent(renderer).width <= fig.bbox.width:
            break
        legend.remove()
    height_in = legend.get_window_extent(renderer).height / fig.dpi + pad_in
    fig.set_figheight(fig.get_figheight() + height_in)
    _tight(fig, rect=(0, 0, 1, 1 - height_in / fig.get_figheight()))
