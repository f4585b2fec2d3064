"""The metrics code stamp (metrics_code, a reference row's key) follows the code, not its words:
rewording a warning, an error, a docstring or a comment under gankit/metrics or gankit/data kept
`gankit compare` from ranking every earlier run (audit a169), while a change to what is computed
must still make a new stamp."""
import re
import shutil
from pathlib import Path

import pytest

import gankit
from gankit.metrics.reference import _code_hash

# a function of the kind the covered files hold, appended to a copy of one of them: every edit
# below changes its text, so no case passes because an edit missed
PROBE = '''

def _probe_a169(x, n):
    """Count the points (docstring one)."""
    # comment one
    share = f"{x / n:.1%}"
    label = f"{x:.1f}"
    if x > n:
        warnings.warn(f"too many: {share} of them", RuntimeWarning, stacklevel=2)
    if x < 0:
        raise ValueError(f"negative x = {x}; pass a positive one")
    return {"count": x + 1, "label": label}
'''

SAME = {   # words only: the stamp stays
    "docstring": ("(docstring one)", "(docstring two, longer)"),
    "comment": ("# comment one", "# comment two"),
    "warning message": ("too many: ", "more than n: "),
    "a local only the warning reads": ("{x / n:.1%}", "{x / n:.2%}"),
    "raise message": ("; pass a positive one", "; give x >= 0"),
}
DIFFERENT = {   # what is computed: a new stamp
    "arithmetic": ("x + 1", "x + 2"),
    "a dict key": ('"count"', '"total"'),
    "a local string that is returned": ("{x:.1f}", "{x:.2f}"),
    "the warning's category": ("RuntimeWarning", "UserWarning"),
    "the exception's class": ("raise ValueError", "raise TypeError"),
    "a file that no longer parses": ("return {", "return {{"),
}


@pytest.fixture()
def tree(tmp_path):
    """A copy of the files the stamp covers, with PROBE appended to metrics/base.py."""
    src, dst = Path(gankit.__file__).parent, tmp_path / "gankit"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for d in ("metrics", "data"):
        shutil.copytree(src / d, dst / d, ignore=skip)
    (dst / "train").mkdir()
    for f in ["ops.py", "seeds.py", "train/inversion.py", *(p.name for p in src.glob("*_numba.py"))]:
        shutil.copy(src / f, dst / f)
    base = dst / "metrics" / "base.py"
    base.write_text(base.read_text() + PROBE)
    return dst


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize("case", list(SAME))
def test_rewording_keeps_the_stamp(tree, case):
    before = _code_hash(tree)
    _edit(tree / "metrics" / "base.py", *SAME[case])
    assert _code_hash(tree) == before, case


@pytest.mark.parametrize("case", list(DIFFERENT))
def test_a_change_to_the_code_makes_a_new_stamp(tree, case):
    before = _code_hash(tree)
    _edit(tree / "metrics" / "base.py", *DIFFERENT[case])
    assert _code_hash(tree) != before, case


def test_rewording_real_messages_of_the_data_and_metrics_code_keeps_the_stamp(tree):
    """The same on the package's own text: the first warning, raise message and docstring of
    data/text.py and metrics/base.py, and a comment at the top of ops.py."""
    before = _code_hash(tree)
    for path in (tree / "data" / "text.py", tree / "metrics" / "base.py"):
        text = path.read_text()
        warn = re.search(r'warnings\.warn\(f?"', text)
        raise_ = re.search(r'raise \w+\(f?"', text)
        doc = text.find('"""')
        assert warn and raise_ and doc >= 0, f"{path.name} has no warning, raised message or docstring to edit"
        # insert from the back so the earlier offsets stay valid
        for at in sorted((warn.end(), raise_.end(), doc + 3), reverse=True):
            text = text[:at] + "reworded " + text[at:]
        path.write_text(text)
    _edit(tree / "ops.py", "", "# a comment\n")
    assert _code_hash(tree) == before
    _edit(tree / "data" / "text.py", "import warnings", "import warnings as w")   # and the edited tree is what is read
    assert _code_hash(tree) != before


def test_the_stamp_of_this_gankit_is_its_own_tree():
    assert _code_hash() == _code_hash(Path(gankit.__file__).parent)


def test_the_stamp_is_kept_on_disk_by_the_sources_bytes_and_a_damaged_one_measured_again(tmp_path, monkeypatch):
    """Parsing the sources cost 0.2-0.5 s in every process that evaluates: kept in the cache."""
    from gankit.metrics import code_stamp
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    stamp = code_stamp.code_hash()
    kept = list((tmp_path / "cache" / "code_stamp").glob("*.txt"))
    assert len(kept) == 1 and kept[0].read_text().strip() == stamp
    monkeypatch.setattr(code_stamp, "_code_of", lambda b: pytest.fail("parsed again, though kept"))
    assert code_stamp.code_hash() == stamp
    kept[0].write_text("0" * 39 + "<")          # damaged: parsed again, not trusted
    monkeypatch.undo()
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    assert code_stamp.code_hash() == stamp and kept[0].read_text().strip() == stamp
