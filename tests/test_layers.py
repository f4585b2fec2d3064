"""The package's layers: each module imports on its own, and no layer reaches up.

    config + registry + builtins          the base (config checks component names in the registry
                                          at call time; builtins load the components)
    io, ops, seeds, kernels, *_numba,     leaves: no gankit imports (l1kernel: kernels only; streams: io)
    rank_errors
    data, nets, losses                    components: import neither train, cli nor report
    metrics                               features -> numbers: no train, cli, report
    report                                reads the run folder: no train, no cli
    train                                 the loop, objectives, Run
    cli, sweep                            the top
"""
import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "gankit"
TOP = {"cli", "cli_args", "cli_summary", "cli_train", "sweep", "sweep_cli", "sweep_table", "compare_cli", "list_cli",
       "invert_cli", "sample_cli", "sample_targets", "cli_errors", "__main__"}
FORBIDDEN = {
    "config": {"data", "nets", "losses", "metrics", "report", "train", *TOP},
    "io": {"config", "registry", "data", "nets", "losses", "metrics", "report", "train", *TOP},
    "ops": {"config", "registry", "data", "nets", "losses", "metrics", "report", "train", *TOP},
    "streams": {"config", "registry", "data", "nets", "losses", "metrics", "report", "train", *TOP},
    "trusted_imports": {"config", "registry", "data", "nets", "losses", "metrics", "report", "train", *TOP},
    "l1kernel": {"config", "registry", "data", "nets", "losses", "metrics", "report", "train", *TOP},
    "l1kernel_numba": {"config", "registry", "data", "nets", "losses", "metrics", "report", "train", *TOP},
    "kernels": {"config", "registry", "data", "nets", "losses", "metrics", "report", "train", *TOP},
    "nn_index_numba": {"config", "registry", "data", "nets", "losses", "metrics", "report", "train", *TOP},
    "seeds": {"config", "registry", "data", "nets", "losses", "metrics", "report", "train", *TOP},
    "rank_errors": {"config", "registry", "data", "nets", "losses", "metrics", "report", "train", *TOP},
    "wording": {"registry", "data", "nets", "losses", "metrics", "report", "train", *TOP},
    "registry": {"data", "nets", "losses", "metrics", "report", "train", *TOP},
    "runfolder": {"registry", "data", "nets", "losses", "metrics", "report", "train", *TOP},
    "data": {"nets", "losses", "metrics", "report", "train", *TOP},
    "nets": {"data", "losses", "metrics", "report", "train", *TOP},
    "losses": {"data", "nets", "metrics", "report", "train", *TOP},
    "metrics": {"report", "train", *TOP},
    "report": {"train", *TOP},
    "train": TOP,
}


def modules() -> list[str]:
    out = []
    for f in sorted(ROOT.rglob("*.py")):
        parts = list(f.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts[-1] == "__main__":      # runs the command line when imported
            continue
        out.append(".".join(parts))
    return out


def gankit_imports(path: pathlib.Path, text: str | None = None) -> set[str]:
    """Every gankit module a file imports, at module level or inside functions."""
    pkg = list(path.relative_to(ROOT.parent).parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text() if text is None else text)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = pkg[:len(pkg) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            found.add(mod)
            found |= {f"{mod}.{a.name}" for a in node.names}   # `from gankit import train`
    return {m for m in found if m.split(".")[0] == "gankit"}


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_no_layer_imports_a_higher_one():
    bad = []
    for f in ROOT.rglob("*.py"):
        src = layer_of(".".join(f.relative_to(ROOT.parent).with_suffix("").parts))
        for m in gankit_imports(f):
            if layer_of(m) in FORBIDDEN.get(src, set()):
                bad.append(f"{f.relative_to(ROOT.parent)} imports {m}")
    assert not bad, "\n".join(sorted(bad))


def test_the_rule_checker_sees_a_violation():
    probe = ROOT / "data" / "probe.py"    # not written: its text is given
    found = gankit_imports(probe, "def f():\n    from ..train.run import Run\n")
    assert "gankit.train.run" in found
    assert layer_of("gankit.train.run") in FORBIDDEN["data"]


@pytest.mark.parametrize("group", range(4))
def test_every_module_imports_alone_in_a_fresh_interpreter(group):
    """No import cycle, and no module relies on another having been imported first."""
    mods = [m for i, m in enumerate(modules()) if i % 4 == group]
    code = ("import importlib, sys\n"
            "for m in sys.argv[1:]:\n"
            "    for k in [k for k in sys.modules if k == 'gankit' or k.startswith('gankit.')]:\n"
            "        del sys.modules[k]\n"
            "    importlib.import_module(m)\n")
    # one interpreter per module would be slowest; clearing gankit from sys.modules between
    # modules gives each a fresh import of the whole package graph (torch stays loaded)
    r = subprocess.run([sys.executable, "-c", code, *mods], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]


def test_registries_are_filled_without_importing_anything_first():
    r = subprocess.run([sys.executable, "-c",
                        "from gankit.registry import LOSSES, METRICS, OBJECTIVES\n"
                        "print(len(LOSSES.names()), 'modes' in METRICS.names(), OBJECTIVES.names())"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    n, has_modes, objs = r.stdout.split(" ", 2)
    assert int(n) >= 5 and has_modes == "True" and "gan" in objs and "seqgan" in objs
