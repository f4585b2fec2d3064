"""A user's component modules: options left at None, a module that moved, a syntax error."""
import textwrap

import pytest

from gankit.builtins import import_modules
from gankit.cli import main
from gankit.config import ConfigError

NONE_DEFAULT = '''
from dataclasses import dataclass
from typing import Optional
from torch import nn
from gankit import api

@dataclass
class P:
    hidden: tuple[int, ...] = (16,)
    scale: Optional[float] = None
    gain: Optional[float] = 2.0

@api.register_generator("none_default_g", P, "a generator with an option left at None")
def none_default_g(noise_dim, data, hidden, scale, gain):
    return nn.Sequential(nn.Linear(noise_dim, hidden[0]), nn.ReLU(), nn.Linear(hidden[0], 2),
                         *([] if scale is None else [nn.Tanh()]))
'''


def test_an_option_left_at_none_trains_evaluates_and_resumes(tmp_path, tiny_cli, capsys):
    """TOML has no null: writing config.toml crashed (TypeError: NoneType is not TOML serializable)."""
    mod = tmp_path / "none_default_parts.py"
    mod.write_text(NONE_DEFAULT)
    run = tmp_path / "r"
    # one metric at the end of training: what config.toml holds is tested, not the numbers
    assert main(["--import", str(mod), "train", "ring", "--out", str(run), *tiny_cli,
                 "--set", "generator.name=none_default_g", "--set", 'eval.metrics=["modes"]']) == 0
    text = (run / "config.toml").read_text()
    assert 'name = "none_default_g"' in text and "scale" not in text
    assert main(["eval", str(run), "--metrics", "modes"]) == 0
    assert main(["train", "--resume", "--out", str(run), "--set", "train.steps=16"]) == 0
    from gankit import config as C
    from gankit.train.run import Run
    Run.create(C.load("ring", ["generator.name=none_default_g", "generator.scale=0.5", "generator.hidden=[16]"]),
               tmp_path / "s").close()           # config.toml is written when the run is made
    assert "scale = 0.5" in (tmp_path / "s" / "config.toml").read_text()


def test_none_for_an_option_whose_default_is_not_none_is_refused_before_training(tmp_path, tiny):
    """Left out of config.toml, it came back as its default 2.0: the resumed steps, eval and sample
    ran another config than the one trained (or the checkpoint 'belonged to another run')."""
    from gankit import api
    mod = tmp_path / "none_default_parts2.py"
    mod.write_text(NONE_DEFAULT.replace("none_default_g", "none_default_g2"))
    with pytest.raises(ConfigError, match=r"generator.gain = None cannot be recorded in config.toml .* default 2.0"):
        api.train({"data": {"name": "ring"}, "generator": {"name": "none_default_g2", "gain": None}},
                  out=tmp_path / "r", overrides=tiny, imports=[str(mod)], log=None)
    assert not (tmp_path / "r" / "checkpoints").exists() or not list((tmp_path / "r" / "checkpoints").iterdir())


def test_a_moved_or_renamed_module_says_where_the_run_records_it(tmp_path):
    with pytest.raises(ConfigError, match=r"is not a file \(where a run's config.toml names it"):
        import_modules([str(tmp_path / "gone.py")])
    with pytest.raises(ConfigError, match=r"PYTHONPATH \(where a run's config.toml names it"):
        import_modules(["no_such_module_for_gankit_tests"])


def test_a_syntax_error_names_the_users_file_and_line(tmp_path):
    bad = tmp_path / "bad_syntax_parts.py"
    bad.write_text(textwrap.dedent("""
        x = 1
        def broken(:
            pass
    """))
    with pytest.raises(ConfigError) as e:
        import_modules([str(bad)])
    assert f"at {bad}:3: SyntaxError" in str(e.value) and "frozen" not in str(e.value)


def test_a_script_registering_a_built_in_name_is_refused_at_once_and_the_process_stays_usable(tmp_path, tiny):
    """Registered before gankit loaded its own components, the clash surfaced when they loaded:
    every later api.train failed, also after the user renamed theirs, until the kernel restarted."""
    import subprocess
    import sys
    code = f"""
from gankit import api
from gankit.config import ConfigError
try:
    @api.register_dataset("grid", None, "mine")
    def mine():
        from gankit.data.toy import GaussianMixture
        return GaussianMixture([[0.0, 0.0]], 0.1)
    print("accepted")
except ConfigError as e:
    print("refused:", e)
run = api.train("ring", out={str(tmp_path / 'r')!r}, overrides={tiny!r}, evaluate=False, report=False, log=None)
print("trained", run.step)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-2000:]
    assert "refused: dataset 'grid' is registered twice" in r.stdout and "another name" in r.stdout
    assert "give the one in __main__ another name" in r.stdout and "trained 30" in r.stdout


def test_a_net_registered_again_under_its_name_is_named_when_the_checkpoint_no_longer_fits(tmp_path, tiny):
    """A notebook cell edited (one more layer) and run again: every earlier run failed to open with
    "the data changed ... or the file is damaged", never naming the user's own generator."""
    from dataclasses import dataclass

    from torch import nn

    from gankit import api
    from gankit import config as C
    from gankit.config import opt
    from gankit.train.run import Run
    from gankit.train.run_state import RunError

    @dataclass
    class W:
        width: int = opt(16, "width", ge=1)

    def register(layers):
        @api.register_generator("cell_g", W, "a notebook's generator")
        def cell_g(noise_dim, data, width):
            inner = [m for _ in range(layers) for m in (nn.Linear(width, width), nn.ReLU())]
            return nn.Sequential(nn.Linear(noise_dim, width), nn.ReLU(), *inner, nn.Linear(width, 2))
    register(0)
    sets = [s for s in tiny if not s.startswith("generator.")] + ["generator.name=cell_g", "train.steps=10"]
    run = Run.create(C.load("ring", sets), tmp_path / "r")
    run.train()
    run.close()
    register(1)
    with pytest.raises(RunError, match=r"or the code of generator 'cell_g' \(test_user_modules\) changed since "
                                       r"the run was trained \(register it as it was\)"):
        Run.open(tmp_path / "r")
