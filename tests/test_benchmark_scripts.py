"""The benchmark scripts' own logic (benchmarks/*.py), where a check is fast: their tables,
their refusals, their command lines.  The benchmarks themselves are not run here."""
import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(name: str, *args, cwd: Path) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, str(BENCH / f"{name}.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_pacgan_table_shows_an_infinite_reverse_kl():
    # a run that covers no mode: its records hold the reverse KL as "inf"
    pt = _script("pacgan_table")
    rec = {"label": "v", "dataset": "ring", "modes": 0, "hq": 0.0, "reverse_kl": "inf", "cpu_s": 1.0}
    good = {**rec, "modes": 8, "hq": 99.0, "reverse_kl": 0.01}
    md = pt.table([rec, good, {**rec, "label": "w"}], ["v", "w"], ["ring"])
    v, w = [line for line in md.splitlines() if line.startswith(("| v |", "| w |"))]
    assert v.split(" | ")[4] == "inf" and v.endswith(" 1/2 |")     # the finite run meets the goal
    assert w.split(" | ")[4] == "inf" and w.endswith(" 0/1 |")


def test_images_parzen_refuses_a_folder_it_did_not_make(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("x")
    p = _run("images_parzen", "--steps", "1", "--samples", "10", "--out", str(mine), cwd=tmp_path)
    assert p.returncode != 0 and "--reuse" in p.stderr and "another --out" in p.stderr
    assert (mine / "notes.txt").read_text() == "x"


def test_seqgan_oracle_pretraining_cpu_unknown_without_its_file(tmp_path, capsys):
    so = _script("seqgan_oracle")
    assert so.pretrain_cpu(tmp_path) is None
    assert "leaves the pretraining out" in capsys.readouterr().err
    (tmp_path / "cpu_s.txt").write_text("12.5")
    assert so.pretrain_cpu(tmp_path) == 12.5


def test_same_numbers_help_trains_nothing(tmp_path):
    p = _run("same_numbers", "--help", cwd=tmp_path)
    assert p.returncode == 0 and p.stdout.startswith("usage:") and "ring-vanilla" in p.stdout
    p = _run("same_numbers", "new", "no-such-case", cwd=tmp_path)
    assert p.returncode == 2 and "no-such-case" in p.stderr


FAM_TINY = ["data.name=mnist5k", "train.batch_size=16", "generator.width=8", "discriminator.width=8",
            "noise.dim=8", "train.n_fixed=16"]


def test_families_continues_a_run_to_more_steps_and_refuses_other_settings(tmp_path):
    fam = _script("families")
    out = tmp_path / "gan"

    def sets(steps, *extra):
        return [*FAM_TINY, *fam._common(out, steps, 50, 0), *extra]
    run, _ = fam.train("mnist-dcgan", sets(2), out)
    run.close()
    run, cpu = fam.train("mnist-dcgan", sets(4), out)     # only the steps grew: trained on
    assert (run.step, run.cfg.train.steps) == (4, 4) and math.isfinite(cpu)
    run.close()
    with pytest.raises(SystemExit, match="other settings.*optim_g.lr"):
        fam.train("mnist-dcgan", sets(6, "optim_g.lr=0.001"), out)
    with pytest.raises(SystemExit, match="trained to step 4"):
        fam.train("mnist-dcgan", sets(2), out)
