"""The run report: one self-contained HTML file built from the run folder alone."""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from gankit.report import plots
from gankit.runfolder import RunFolder


def read_metrics(run_dir: str | Path) -> list[dict]:
    return RunFolder(run_dir).records()


def _png(fig) -> str:
    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return f'<img src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _table(rows: list[tuple], header: tuple) -> str:
    th = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _fmt(v):
    return f"{v:.4g}" if isinstance(v, float) else v


def write_report(run_dir: str | Path) -> Path:
    import torch

    from gankit import config as C
    from gankit.data import build_dataset
    from gankit.report.conditional import condition_sections

    folder = RunFolder(run_dir)
    run_dir = folder.path
    cfg = C.load(folder.read_config())
    dataset = build_dataset(cfg)
    records = folder.records()
    train = [r for r in records if r.get("kind") == "train"]
    evals = [r for r in records if r.get("kind") == "eval"]
    snaps = folder.snapshots()
    sections = []

    if evals:
        last = evals[-1]
        rows = [(k, _fmt(v)) for k, v in last.items() if k not in ("kind", "mode_counts")]
        sections.append(f"<h2>Evaluation at step {html.escape(str(last.get('step')))}</h2>" + _table(rows, ("metric", "value")))
        if "mode_counts" in last:
            counts = last["mode_counts"]
            total = max(sum(counts), 1)
            modes = dataset.modes.numpy() if dataset.modes is not None else None
            mrows = [(i, ", ".join(f"{c:.2f}" for c in modes[i]) if modes is not None else "", n,
                      f"{100 * n / total:.1f}%", "yes" if n else "MISSED") for i, n in enumerate(counts)]
            sections.append("<h2>Modes</h2><p>High-quality samples per mode (ideal: equal shares).</p>"
                            + _table(mrows, ("mode", "centre", "HQ samples", "share", "covered")))

    if snaps and dataset.dim in (1, 2):
        chosen = plots.pick_snapshots(snaps, 6)
        real = dataset.sample(2500, torch.Generator().manual_seed(0)).numpy()
        if dataset.dim == 2:
            modes = dataset.modes.numpy() if dataset.modes is not None and len(dataset.modes) <= 100 else None
            fig = plots.figure_2d(chosen, real, modes)
            sections.append("<h2>Generated points over real ones, on D(x)</h2>"
                            "<p>Black: real data. Orange: G's samples from fixed noise. Colour: D's "
                            "output (red = judged real).</p>" + _png(fig))
        else:
            grid = chosen[-1]["grid"][:, 0] if "grid" in chosen[-1] else np.linspace(
                real.min(), real.max(), 400)
            p = np.exp(dataset.log_prob(torch.as_tensor(grid[:, None])).numpy()) if dataset.has_density else None
            fig = plots.figure_1d(chosen, grid, p, real[:, 0])
            sections.append("<h2>Figure 1: p_data, p_g and D(x) over training</h2>" + _png(fig))
    elif snaps and getattr(dataset, "kind", "points") not in ("image", "text"):
        x = snaps[-1]["samples"]
        sections.append(f"<h2>Samples</h2><p>{len(x)} fixed-noise samples of dimension {x.shape[1]} "
                        f"at step {int(snaps[-1]['step'])} (first two coordinates):</p>")
        real = dataset.sample(len(x), torch.Generator().manual_seed(0)).numpy()
        fig = plots.figure_2d([{"step": snaps[-1]["step"], "samples": x[:, :2]}], real[:, :2])
        sections.append(_png(fig))

    if getattr(dataset, "kind", None) == "image":  # grids, z interpolation, nearest neighbours
        from gankit.report.images import image_sections
        sections += image_sections(snaps, _png)
    if getattr(dataset, "kind", None) == "text":  # decoded samples over training
        from gankit.report.text import text_sections
        sections += text_sections(dataset, snaps)

    sections += condition_sections(dataset, snaps, _png)   # conditional runs: a row per condition

    fig = plots.figure_curves(train, evals)
    if fig is not None:
        sections.append("<h2>Training curves</h2>" + _png(fig))

    sections.append("<h2>Config</h2><pre>" + html.escape(C.dumps_toml(cfg)) + "</pre>")
    title = f"gankit run: {html.escape(run_dir.name)}"
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:1400px;margin:2em auto;padding:0 1em;color:#222}}
table{{border-collapse:collapse;margin:0.5em 0}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}}
th{{background:#f0f0f0}}img{{max-width:100%}}pre{{background:#f7f7f7;padding:1em;font-size:12px}}</style>
</head><body><h1>{title}</h1>
<p>{html.escape(cfg.data.name)} data, {html.escape(cfg.loss.name)} loss,
{len(train)} log points, {len(snaps)} snapshots. Everything here was rebuilt from the run folder.</p>
{''.join(sections)}</body></html>"""
    return folder.write_report(page)
