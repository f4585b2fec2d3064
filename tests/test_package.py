"""Packaging: the version, presets and templates shipped as package data, an installed wheel
(not the source tree) trains a preset, and the Python API example runs."""
import os
import subprocess
import sys
from pathlib import Path


import gankit
from gankit import config as C
from gankit.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_version(capsys):
    assert main(["--version"]) == 0      # main() returns argparse's exit code
    assert capsys.readouterr().out.strip() == f"gankit {gankit.__version__}"


def test_presets_live_in_the_package():
    assert C.PRESET_DIR == Path(gankit.__file__).resolve().parent / "presets"
    assert {"ring", "grid", "mnist-dcgan", "fashion-cgan"} <= set(C.preset_names())


def test_list_prints_a_time_or_not_measured(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    ring = out[out.index("  ring "):].splitlines()[1]
    assert "min (" in ring or "time not measured" in ring


def test_installed_wheel_trains_a_preset(tmp_path, tiny_cli):
    """pip wheel --no-deps, installed into a folder of its own, run from outside the source tree."""
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(wheels), str(ROOT)], check=True, timeout=300)
    (wheel,) = wheels.glob("gankit-*.whl")
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": str(site), "OMP_NUM_THREADS": "1"}
    where = subprocess.run([sys.executable, "-c", "import gankit, sys; print(gankit.__file__)"], env=env,
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(site), where          # the wheel's copy, not the checkout
    assert (site / "gankit" / "presets" / "ring.toml").is_file()
    assert (site / "gankit" / "report" / "templates" / "report.html.j2").is_file()
    r = subprocess.run([sys.executable, "-m", "gankit", "train", "ring", *tiny_cli, "--out", str(tmp_path / "run")],
                       env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "run" / "report.html").is_file() and "modes covered" in r.stdout


def test_python_api_example_runs(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, str(ROOT / "examples" / "custom_parts.py"), str(tmp_path / "ex"), "60"],
                       env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "modes covered" in r.stdout and (tmp_path / "ex" / "report.html").is_file()
    cfg = (tmp_path / "ex" / "config.toml").read_text()
    assert 'name = "hexagon"' in cfg and 'name = "skip-mlp"' in cfg
