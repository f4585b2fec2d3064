"""The bad-input battery: every case ends in one line ``gankit: error: ...`` naming the problem,
with exit code 2 (bad input) or 1 (a run folder, the disk), and never a traceback.

Cases run ``gankit.cli.main`` in-process; files are made in tmp_path by a small builder named in
each case, so one table lists them all.  Config values generated with Hypothesis over the
schema are in test_config_properties.py.
"""
from __future__ import annotations

import io
import shutil
import struct
import zlib

import numpy as np
import pytest
import torch

from gankit.cli import main

FAST = ["--set", "train.steps=2", "--set", "train.progress=false", "--set", "train.batch_size=8",
        "--set", "train.n_fixed=16", "--set", "eval.n_samples=100"]


def run_cli(argv, capsys):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_clear_error(rc, out, err, code, words):
    assert "Traceback" not in out + err
    errors = [line for line in err.splitlines() if line.startswith("gankit: error:")]
    assert len(errors) == 1, err          # exactly one error line ...
    assert rc == code, (rc, err)
    for w in words:                       # ... naming the problem
        assert w.lower() in errors[0].lower(), (w, errors[0])


# ---------------------------------------------------------------- file builders
def _png(path, w, h):
    """A PNG header declaring w x h pixels (the pixels themselves are not needed to open it)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    return path


def make(kind, tmp):
    """A bad file or folder of the given kind; returns its path."""
    if kind == "binary.toml":
        p = tmp / "bad.toml"
        p.write_bytes(bytes(range(256)) * 4)
    elif kind == "latin1.toml":
        p = tmp / "latin.toml"
        p.write_bytes("seed = 1\n# caf\xe9\n".encode("latin-1"))
    elif kind == "broken.toml":
        p = tmp / "broken.toml"
        p.write_text("[train\nsteps = 3\n")
    elif kind == "unknown-key.toml":
        p = tmp / "c.toml"
        p.write_text("[train]\nstepz = 3\n")
    elif kind == "string-steps.toml":
        p = tmp / "c.toml"
        p.write_text('[train]\nlog_every = "many"\n')
    elif kind == "folder":
        p = tmp / "a-folder.toml"
        p.mkdir()
    elif kind == "file":
        p = tmp / "a-file"
        p.write_text("mine\n")
    elif kind == "file/sub":
        (tmp / "a-file").write_text("mine\n")
        p = tmp / "a-file" / "sub"
    elif kind == "user-folder":
        p = tmp / "mine"
        p.mkdir()
        (p / "config.toml").write_text("my own notes\n")
        (p / "metrics.jsonl").write_text("{}\n")
    elif kind.endswith(".npy") or kind.endswith(".csv") or kind.endswith(".json"):
        p = tmp / kind
        arrays = {"strings.npy": np.array(["a", "b", "c"]), "huge.npy": np.full((20, 2), 1e39),
                  "nan.npy": np.array([[0.0, np.nan], [1.0, 2.0]]), "3d.npy": np.zeros((4, 2, 2)),
                  "empty.npy": np.zeros((0, 2)), "complex.npy": np.ones((5, 2), np.complex64),
                  "dates.npy": np.array(["2020-01-01"] * 5, dtype="datetime64[D]")}
        if kind in arrays:
            np.save(p, arrays[kind])
        elif kind == "truncated.npy":
            buf = io.BytesIO()
            np.save(buf, np.zeros((100, 2)))
            p.write_bytes(buf.getvalue()[:150])
        elif kind == "objects.npy":
            np.save(p, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
        elif kind == "words.csv":
            p.write_text("x,y\none,two\nthree,four\n")
        elif kind == "binary.csv":
            p.write_bytes(bytes(range(256)) * 8)
        else:
            p.write_text("[1, 2]")
    elif kind == "images:empty":
        p = tmp / "imgs"
        p.mkdir()
    elif kind == "images:corrupt":
        p = tmp / "imgs"
        p.mkdir()
        (p / "a.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
        (p / "b.jpg").write_bytes(b"")
    elif kind == "images:bomb":        # past Pillow's own limit: refused when opened
        p = tmp / "imgs"
        p.mkdir()
        _png(p / "bomb.png", 30000, 30000)
    elif kind == "images:big":         # under Pillow's limit, over gankit's: refused before decoding
        p = tmp / "imgs"
        p.mkdir()
        _png(p / "big.png", 9000, 9000)
    elif kind == "images:oblong":
        from PIL import Image
        p = tmp / "imgs"
        p.mkdir()
        Image.new("L", (8, 6)).save(p / "a.png")
    else:
        raise KeyError(kind)
    return p


# ---------------------------------------------------------------- configs and options
CONFIG_CASES = [
    # (config file kind or preset, extra --set items, exit code, words of the message)
    ("binary.toml", [], 2, ["UTF-8"]),
    ("latin1.toml", [], 2, ["UTF-8"]),
    ("broken.toml", [], 2, ["not valid TOML"]),
    ("unknown-key.toml", [], 2, ["train.stepz", "steps"]),
    ("string-steps.toml", [], 2, ["train.log_every", "integer"]),
    ("folder", [], 2, ["is a folder"]),
    ("ring", ["seed=18446744073709551616"], 2, ["seed", "64 bits"]),
    ("ring", ["seed=-1"], 2, ["seed", ">= 0"]),
    ("ring", ["optim_d.lr=nan"], 2, ["optim_d.lr", "finite"]),
    ("ring", ["optim_g.lr=inf"], 2, ["optim_g.lr", "finite"]),
    ("ring", ["optim_g.lr=1e400"], 2, ["optim_g.lr", "finite"]),
    ("ring", ["optim_d.weight_decay=nan"], 2, ["optim_d.weight_decay", "finite"]),
    ("ring", ["optim_d.momentum=-inf"], 2, ["optim_d.momentum", "finite"]),
    ("ring", ["optim_d.betas=[nan, 0.9]"], 2, ["optim_d.betas[0]", "finite"]),
    ("ring", ["optim_d.betas=[0.5]"], 2, ["optim_d.betas"]),
    ("ring", ["eval.hq_std=nan"], 2, ["eval.hq_std", "finite"]),
    ("ring", ["data.radius=inf"], 2, ["data.radius", "finite"]),
    ("ring", ["data.std=nan"], 2, ["data.std", "finite"]),
    ("ring", ["loss.label_smoothing=nan"], 2, ["loss.label_smoothing", "finite"]),
    ("ring", ["objective.gp=inf"], 2, ["objective.gp", "finite"]),
    ("figure1-1d", ["data.means=[0.0, nan]"], 2, ["data.means[1]", "finite"]),
    ("ring", ["train.steps=0"], 2, ["train.steps", ">= 1"]),
    ("ring", ["train.steps=18446744073709551616"], 2, ["train.steps", "64 bits"]),
    ("ring", ["train.batch_size=-3"], 2, ["train.batch_size"]),
    ("ring", ["train.batch_size=1000000000"], 2, ["would need", "GB", "train.batch_size"]),
    ("ring", ["train.batch_size=1e12"], 2, ["would need", "GB"]),
    ("ring", ["generator.hidden=[100000, 100000]"], 2, ["would need", "weights"]),
    ("ring", ["eval.jsd_bins=1000000"], 2, ["would need", "JSD grid"]),
    ("ring", ["noise.dim=100000000000"], 2, ["would need"]),
    ("mnist-dcgan", ["data.name=digits8x8", "generator.width=200000"], 2, ["would need", "GB"]),
    ("ring", ["nokey"], 2, ["key=value"]),
    ("ring", ["train=5"], 2, ["train"]),
    ("ring", ["data.name=nosuch"], 2, ["nosuch", "ring"]),
    ("ring", ["loss.name=nosuch"], 2, ["nosuch"]),
    ("ring", ["optim_d.name=adamw"], 2, ["optim_d.name", "adam"]),
    ("ring", ["train.device=tpu9"], 2, ["train.device"]),
    ("ring", ["train.precision=fp8"], 2, ["train.precision", "bf16"]),
    ("ring", ['eval.metrics=["nope"]'], 2, ["eval.metrics", "nope"]),
    ("ring", ["foo=1"], 2, ["foo"]),
    ("ring", ['imports=["no_such_module_xyz"]'], 2, ["no_such_module_xyz"]),
    ("nosuchpreset", [], 2, ["nosuchpreset"]),
    ("missing.toml", [], 2, ["does not exist"]),
]


@pytest.mark.parametrize("source,sets,code,words", CONFIG_CASES,
                         ids=[f"{c[0]}:{' '.join(c[1])}" for c in CONFIG_CASES])
def test_bad_config(tmp_path, capsys, source, sets, code, words):
    if source.endswith(".toml") and source != "missing.toml" or source == "folder":
        source = make(source, tmp_path)
    argv = ["train", source, "--out", tmp_path / "run", *FAST]
    for s in sets:
        argv += ["--set", s]
    assert_clear_error(*run_cli(argv, capsys), code, words)
    assert not (tmp_path / "run").exists()   # refused before the run folder was made


# ---------------------------------------------------------------- point files and image folders
DATA_CASES = [
    ("points", "strings.npy", ["not numbers"]),
    ("points", "huge.npy", ["float32"]),
    ("points", "nan.npy", ["NaN"]),
    ("points", "3d.npy", ["shape"]),
    ("points", "empty.npy", ["shape"]),
    ("points", "complex.npy", ["not numbers"]),
    ("points", "dates.npy", ["not numbers"]),
    ("points", "truncated.npy", ["cannot read"]),
    ("points", "objects.npy", ["cannot read"]),
    ("points", "words.csv", ["cannot read"]),
    ("points", "binary.csv", ["cannot read"]),
    ("points", "p.json", ["not supported"]),
    ("points", "folder", ["is a folder"]),
    ("points", "missing", ["does not exist"]),
    ("image-folder", "images:empty", ["no images"]),
    ("image-folder", "images:corrupt", ["could be read"]),
    ("image-folder", "images:bomb", ["could be read"]),
    ("image-folder", "images:big", ["could be read"]),
    ("image-folder", "images:oblong", ["not square"]),
    ("image-folder", "file", ["is a file"]),
    ("image-folder", "missing", ["does not exist"]),
    ("words", "folder", ["is a folder"]),
]


@pytest.mark.parametrize("dataset,kind,words", DATA_CASES, ids=[f"{d}:{k}" for d, k, _ in DATA_CASES])
def test_bad_data_file(tmp_path, capsys, dataset, kind, words):
    path = tmp_path / "nothing-here" if kind == "missing" else make(kind, tmp_path)
    preset = {"points": "ring", "image-folder": "mnist-dcgan", "words": "words"}[dataset]
    argv = ["train", preset, "--out", tmp_path / "run", *FAST, "--set", f"data.name={dataset}",
            "--set", f'data.path="{path}"']
    rc, out, err = run_cli(argv, capsys)
    assert_clear_error(rc, out, err, 2, ["data.path" if kind != "images:oblong" else "data.size", *words])
    if kind in ("images:bomb", "images:big"):   # the warning names the file and why it was skipped
        assert "pixels" in err or "decompression bomb" in err.lower(), err


# ---------------------------------------------------------------- run folders, checkpoints, samples
def _copy_run(template, tmp_path):
    dst = tmp_path / "r"
    shutil.copytree(template, dst)
    return dst


def _damage(kind, run):
    ck = sorted((run / "checkpoints").glob("step_*.pt"))
    if kind == "no checkpoints":
        shutil.rmtree(run / "checkpoints")
    elif kind == "all truncated":
        for p in ck:
            p.write_bytes(p.read_bytes()[:300])
    elif kind == "all empty":
        for p in ck:
            p.write_bytes(b"")
    elif kind == "foreign":           # another run's checkpoint (other loss), newest of the folder
        state = torch.load(ck[-1], weights_only=True)
        state["config"]["loss"] = {"name": "wasserstein"}
        from gankit.identity import model_identity
        state["identity"] = model_identity(state["config"])
        state["step"] = 99999
        torch.save(state, ck[-1].with_name("step_00099999.pt"))
    elif kind == "other shapes":      # an old checkpoint (no identity) of other nets
        state = torch.load(ck[-1], weights_only=True)
        state.pop("identity", None)
        state["models"]["G"] = {k: torch.zeros(3, 3) for k in state["models"]["G"]}
        for p in ck:
            torch.save(state, p)
    elif kind == "not gankit":
        for p in ck:
            torch.save(torch.zeros(3), p)
    elif kind == "checkpoint folder":
        for p in ck:
            p.unlink()
            p.mkdir()
    elif kind == "config damaged":
        (run / "config.toml").write_bytes(b"\xff\xfe\x00garbage")
    elif kind == "config unknown key":
        (run / "config.toml").write_text((run / "config.toml").read_text() + "\nbogus = 1\n")
    else:
        raise KeyError(kind)


FOLDER_CASES = [
    # (damage, command, exit code, words)
    ("no checkpoints", "eval", 1, ["no loadable checkpoint"]),
    ("all truncated", "eval", 1, ["no loadable checkpoint", "step_"]),
    ("all empty", "sample", 1, ["no loadable checkpoint", "step_"]),
    ("foreign", "eval", 1, ["belongs to another run", "step_00099999.pt", "loss.name"]),
    ("foreign", "resume", 1, ["belongs to another run"]),
    ("other shapes", "eval", 1, ["does not fit", "networks"]),
    ("not gankit", "eval", 1, ["no loadable checkpoint", "not a gankit checkpoint"]),
    ("checkpoint folder", "eval", 1, ["no loadable checkpoint"]),
    ("config damaged", "eval", 1, ["config.toml", "damaged"]),
    ("config damaged", "report", 1, ["config.toml", "damaged"]),
    ("config unknown key", "eval", 2, ["bogus"]),
]


@pytest.mark.parametrize("damage,command,code,words", FOLDER_CASES, ids=[f"{d}:{c}" for d, c, *_ in FOLDER_CASES])
def test_damaged_run_folder(tiny_run_dir, tmp_path, capsys, damage, command, code, words):
    run = _copy_run(tiny_run_dir, tmp_path)
    _damage(damage, run)
    argv = {"eval": ["eval", run], "report": ["report", run],
            "sample": ["sample", run, "--out", tmp_path / "s.npy"],
            "resume": ["train", "--resume", "--out", run, "--set", "train.steps=40"]}[command]
    assert_clear_error(*run_cli(argv, capsys), code, words)


def test_a_damaged_snapshot_and_a_torn_record_are_skipped_with_warnings(tiny_run_dir, tmp_path, capsys):
    run = _copy_run(tiny_run_dir, tmp_path)
    snap = sorted((run / "samples").glob("step_*.npz"))[-1]
    snap.write_bytes(snap.read_bytes()[:100])
    np.savez(run / "samples" / "step_00000001.npz", samples=np.zeros((3, 2)))   # no step in it
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"step": 31, "kind": "tra')                                       # a torn last line
    rc, out, err = run_cli(["report", run], capsys)
    assert rc == 0 and "Traceback" not in err
    assert f"{snap.name}: damaged snapshot skipped" in err
    assert "step_00000001.npz: damaged snapshot skipped" in err
    assert "metrics.jsonl: line" in err and "damaged" in err
    assert all(line.startswith("gankit: warning:") for line in err.splitlines())


def test_a_fallback_to_an_older_checkpoint_warns_and_names_the_skipped_file(tiny_run_dir, tmp_path, capsys):
    run = _copy_run(tiny_run_dir, tmp_path)
    ck = sorted((run / "checkpoints").glob("step_*.pt"))
    ck[-1].write_bytes(ck[-1].read_bytes()[:500])
    rc, out, err = run_cli(["eval", run, "--metrics", "modes"], capsys)     # one metric: the checkpoint read is tested
    assert rc == 0
    assert "gankit: warning:" in err and ck[-1].name in err and f"using {ck[-2].name}" in err
    assert out.startswith(f"step {int(ck[-2].stem.split('_')[1])}:")


OUT_CASES = [
    ("file", 1, ["is a file"]),
    ("file/sub", 1, ["is a file"]),
    ("user-folder", 1, ["not a gankit run", "config.toml"]),
]


@pytest.mark.parametrize("kind,code,words", OUT_CASES, ids=[c[0] for c in OUT_CASES])
def test_train_out_that_is_not_a_folder_for_a_run(tmp_path, capsys, kind, code, words):
    out = make(kind, tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert_clear_error(*run_cli(["train", "ring", "--out", out, *FAST], capsys), code, words)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before   # untouched


def test_train_out_a_trained_run(tiny_run_dir, tmp_path, capsys):
    run = _copy_run(tiny_run_dir, tmp_path)
    assert_clear_error(*run_cli(["train", "ring", "--out", run, *FAST], capsys), 1,
                       ["already holds a trained run", "--resume"])


CLI_CASES = [
    (["sample", "{run}", "-n", "0", "--out", "{tmp}/s.npy"], 2, ["-n 0", "at least 1"]),
    (["sample", "{run}", "-n", "-5", "--out", "{tmp}/s.npy"], 2, ["at least 1"]),
    (["sample", "{run}", "--out", "{tmp}"], 2, ["is a folder"]),
    (["sample", "{run}", "--out", "{tmp}/s.xyz"], 2, ["unknown format", ".xyz"]),
    (["sample", "{run}", "--out", "{tmp}/s.txt"], 2, ["text data"]),
    (["sample", "{run}", "--out", "{run}/config.toml/s.npy"], 2, ["is a file"]),
    (["sample", "{run}"], 2, ["--out"]),
    (["sample", "{run}", "--label", "3", "--out", "{tmp}/s.npy"], 2, ["not conditional"]),
    (["eval", "{run}", "--metrics", "nosuch"], 2, ["nosuch"]),
    (["eval", "{run}/config.toml"], 1, ["is a file"]),
    (["eval", "{tmp}/nothing"], 1, ["not a run folder"]),
    (["report", "{tmp}"], 1, ["not a run folder"]),
    (["drs", "{tmp}/nothing"], 1, ["not a run folder"]),
    (["train", "--resume"], 2, ["--out"]),
    (["train", "ring", "--resume", "--out", "{run}"], 2, ["drop it"]),
    (["train", "--resume", "--out", "{tmp}/nothing"], 1, ["not a run folder"]),
    (["--import", "no_such_module_xyz", "list"], 2, ["no_such_module_xyz"]),
    (["--import", "{tmp}/nope.py", "list"], 2, ["is not a file"]),
]


@pytest.mark.parametrize("argv,code,words", CLI_CASES, ids=[" ".join(c[0]) for c in CLI_CASES])
def test_bad_cli_arguments(tiny_run_dir, tmp_path, capsys, argv, code, words):
    run = _copy_run(tiny_run_dir, tmp_path)
    argv = [a.format(run=run, tmp=tmp_path) for a in argv]
    assert_clear_error(*run_cli(argv, capsys), code, words)


@pytest.mark.parametrize("argv", [["nosuch"], ["sample", "r", "-n", "abc"], ["train", "--bogus"]])   # []: test_cli_entry
def test_argparse_errors_return_2_without_a_traceback(capsys, argv):
    rc, out, err = run_cli(argv, capsys)
    assert rc == 2 and "Traceback" not in err and "error:" in err


PLUGINS = {
    "raises": ('raise ValueError("oops")\n', ["importing", "raises_mod", ":1", "ValueError: oops"]),
    "dep": ("import not_installed_pkg_xyz\n", ["imports 'not_installed_pkg_xyz'", "not installed"]),
    "clash": ("from gankit import api\n@api.register_loss('hinge', None, 'x')\ndef hinge():\n    pass\n",
              ["loss 'hinge' is registered twice", "another name"]),
    "keyclash": ("from gankit import api\n@api.register_metric('my_jsd', lambda ds: True, 'x', "
                 "{'jsd': api.Output('mine', 'higher')})\ndef my_jsd(ctx):\n    return {}\n",
                 ["declares output(s) ['jsd']", "'jsd' (gankit.metrics.points)"]),
    "typo": ("from dataclasses import dataclass\nfrom gankit import api\n@dataclass\nclass P:\n    widht: int = 3\n"
             "@api.register_generator('typo_g', P, 'x')\ndef typo_g(noise_dim, data, width):\n    pass\n",
             ["['widht']", "not arguments of typo_g"]),
}


@pytest.mark.parametrize("kind", sorted(PLUGINS))
def test_a_plugins_mistakes_are_one_line(tmp_path, capsys, kind):
    """A user's --import module that raises, lacks a dependency, reuses a built-in name or whose
    options do not match its factory: one line naming it, not a traceback."""
    code, words = PLUGINS[kind]
    (tmp_path / f"{kind}_mod.py").write_text(code)
    assert_clear_error(*run_cli(["--import", str(tmp_path / f"{kind}_mod.py"), "list"], capsys), 2, words)


def test_a_plugin_metric_returning_tensors_or_failing(tmp_path, tiny_run_dir, capsys):
    """A user's metric returning a 0-d tensor was a traceback (not JSON); one that is not a dict,
    or raises, names the metric and its module."""
    (tmp_path / "mymetrics.py").write_text(
        "import torch\nfrom gankit import api\n"
        "@api.register_metric('m_tensor', lambda ds: True, 'x')\ndef m_tensor(ctx):\n    return {'m_t': torch.tensor(0.5)}\n"
        "@api.register_metric('m_float', lambda ds: True, 'x')\ndef m_float(ctx):\n    return 0.5\n"
        "@api.register_metric('m_raise', lambda ds: True, 'x')\ndef m_raise(ctx):\n    raise KeyError('nope')\n")
    run = _copy_run(tiny_run_dir, tmp_path)
    imp = ["--import", str(tmp_path / "mymetrics.py")]
    rc, out, err = run_cli(imp + ["eval", run, "--metrics", "m_tensor", "--json"], capsys)
    assert rc == 0 and '"m_t": 0.5' in out
    assert_clear_error(*run_cli(imp + ["eval", run, "--metrics", "m_float"], capsys), 2,
                       ["'m_float' (mymetrics) returned float"])
    assert_clear_error(*run_cli(imp + ["eval", run, "--metrics", "m_raise"], capsys), 2,
                       ["'m_raise' (mymetrics) failed: KeyError"])


def test_a_relative_plugin_file_is_recorded_absolute_and_compare_loads_it(tmp_path, monkeypatch, capsys, tiny_cli):
    """`--import plug/m.py` was recorded as written: from another folder the run would not open;
    compare did not import a run's modules, so their metrics had no direction."""
    import json
    (tmp_path / "plug").mkdir()
    (tmp_path / "plug" / "gapm.py").write_text(
        "from gankit import api\n@api.register_metric('gap_rel', lambda ds: True, 'x', "
        "{'gap_rel': api.Output('gap', 'lower')})\ndef gap_rel(ctx):\n    return {'gap_rel': 0.5}\n")
    monkeypatch.chdir(tmp_path)
    tiny_cli = [*tiny_cli, "--set", 'eval.metrics=["modes", "gap_rel"]']    # the plug-in's metric and one of gankit's
    assert main(["--import", "plug/gapm.py", "train", "ring-vanilla", "--out", "r1", *tiny_cli]) == 0
    assert main(["--import", "plug/gapm.py", "train", "ring-vanilla", "--out", "r2", *tiny_cli,
                 "--set", "seed=1"]) == 0
    assert str(tmp_path / "plug" / "gapm.py") in (tmp_path / "r1" / "config.toml").read_text()
    (tmp_path / "else").mkdir()
    monkeypatch.chdir(tmp_path / "else")
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "r1"), "--metrics", "gap_rel", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["gap_rel"] == 0.5
    from gankit.report import compare as CMP
    by = {m["key"]: m for m in CMP.compare_data([tmp_path / "r1", tmp_path / "r2"])["metrics"]}
    assert by["gap_rel"]["better"] == "lower"


@pytest.mark.parametrize("net, words", [
    ("from torch import nn\nfrom gankit import api\n@api.register_discriminator('d_two_logits', None, 'x')\n"
     "def d_two_logits(data):\n    return nn.Linear(2, 2)\n", ["'d_two_logits'", "returns (2, 2)", "one score a sample"]),
    ("from torch import nn\nfrom gankit import api\n@api.register_generator('g_flat3', None, 'x')\n"
     "def g_flat3(noise_dim, data):\n    return nn.Linear(noise_dim, 3)\n", ["'g_flat3'", "returns (2, 3)", "(2, 2)"]),
])
def test_a_plugin_net_of_the_wrong_shape_is_refused_before_training(tmp_path, capsys, net, words, tiny_cli):
    """Trained silently, then failed in the report (D with 2 logits) or in eval (G of 3 columns)."""
    key = "discriminator" if "d_two" in net else "generator"
    name = "d_two_logits" if key == "discriminator" else "g_flat3"
    (tmp_path / f"{name}_mod.py").write_text(net)
    out = tmp_path / "run"
    sets = [a for kv in tiny_cli[1::2] if not kv.startswith(key) for a in ("--set", kv)]   # its own options only
    assert_clear_error(*run_cli(["--import", str(tmp_path / f"{name}_mod.py"), "train", "ring-vanilla", "--out", str(out),
                                 *sets, "--set", f"{key}.name={name}"], capsys), 2, words)
    assert not list(out.glob("checkpoints/*.pt"))
