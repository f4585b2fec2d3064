"""gankit compare on long runs (audit a135 F1): each run keeps only what is shown (its evaluations,
and for the page each drawn train key thinned as the drawing thins it), and --text --out reads
every log once (2.02 GB for 7 runs of 2.0 M records with --text, which draws nothing)."""
import json
import math

import numpy as np

from gankit.cli import main
from gankit.report import axes
from gankit.report import compare as CMP
from gankit.runfolder import RunFolder

N = 20_000
INFS = {7_000, 7_002, 15_000}       # 7_001 is a lone point between two infinities


def _run(path, n: int = N) -> str:
    """A hand-made run of ``n`` train records (a spike at 12_345, infinities) and one evaluation."""
    rng = np.random.default_rng(0)
    f = RunFolder(path)
    f.path.mkdir(parents=True)
    f.write_config('seed = 0\n[loss]\nname = "hinge"\n[train]\nsteps = 20000\n')
    lines = []
    for s in range(1, n + 1):
        v = 1.0 + 0.3 * math.sin(s / 500) + 0.05 * float(rng.normal())
        lines.append({"step": s, "kind": "train", "loss_d": 50.0 if s == 12_345 else ("inf" if s in INFS else v),
                      "loss_g": v, "grad_norm_d": v, "time": s / 100})
    lines.append({"step": n, "kind": "eval", "source": "final", "mmd2": 0.01})
    f.records_path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    return str(f.path)


def _drawn(records, key):
    s, v, pos, neg = axes._series(records, key)
    return s, v, pos, neg, axes.decimate(s, v), [s[i] for i in axes._isolated(v)]


def test_compare_keeps_each_drawn_key_thinned_as_it_is_drawn(tmp_path):
    run = _run(tmp_path / "a")
    full = RunFolder(run).records()
    data = CMP.compare_data([run])
    (kept,) = data["_records"]
    train = [r for r in kept if r["kind"] == "train"]
    assert len(train) < N // 2                       # was every record, ~1 KB each as parsed
    assert not any("grad_norm_d" in r for r in kept)     # a diagnostic no compare panel draws
    assert [r for r in kept if r["kind"] == "eval"] == [r for r in full if r["kind"] == "eval"]
    for key in ("loss_d", "loss_g"):
        s, v, pos, neg, (ds, dv), lone = _drawn(full, key)
        ks, kv, kpos, kneg, _, klone = _drawn(kept, key)
        assert (kpos, kneg) == (pos, neg) and klone == lone       # infinities and lone markers as whole
        points = set(zip(ks, kv))
        assert all((a, b) in points or (math.isnan(b) and a in kpos) for a, b in zip(ds, dv))
    s, v, pos, _, _, lone = _drawn(kept, "loss_d")
    assert (s[int(np.nanargmax(v))], np.nanmax(v)) == (12_345, 50.0) and lone == [7_001] and pos == sorted(INFS)


def test_text_and_json_keep_no_records(tmp_path):
    data = CMP.compare_data([_run(tmp_path / "a", 50)], curves=False)
    assert "_records" not in data and data["metrics"][0]["values"] == [0.01]


def test_text_with_a_page_builds_the_comparison_once(tmp_path, monkeypatch, capsys):
    """--text --out parsed every log twice (1.79 GB against 1.07 GB for --out alone)."""
    runs = [_run(tmp_path / "a", 50), _run(tmp_path / "b", 50)]
    built = []
    real = CMP.compare_data

    def counted(*a, **k):
        built.append(k.get("curves", True))
        return real(*a, **k)
    monkeypatch.setattr(CMP, "compare_data", counted)
    assert main(["compare", *runs, "--text", "--out", str(tmp_path / "c.html")]) == 0
    assert built == [True]
    assert "mmd2" in capsys.readouterr().out and "mmd2" in (tmp_path / "c.html").read_text(encoding="utf-8")
    built.clear()
    assert main(["compare", *runs, "--json"]) == 0
    assert built == [False]
