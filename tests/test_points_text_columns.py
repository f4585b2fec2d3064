"""A points .csv whose column holds text in every row (labels) is told to drop that column, not
to fix or remove a row; one bad cell in a column of numbers keeps the row's message."""
import pytest

from gankit.config import ConfigError
from gankit.data.points import PointsFile


def _refused(path) -> str:
    with pytest.raises(ConfigError) as e:
        PointsFile(path)
    return str(e.value)


def test_a_column_of_text_labels_is_named_as_a_column_to_drop(tmp_path):
    (tmp_path / "lab.csv").write_text("x,y,label\n0.1,0.2,dog\n0.3,0.4,cat\n0.5,0.1,dog\n")
    msg = _refused(tmp_path / "lab.csv")
    assert "column 3 ('label') holds text ('dog', 'cat')" in msg, msg
    assert "docs/conditional.md" in msg and msg.endswith("drop that column"), msg
    assert "fix or remove that row" not in msg and "line 2" not in msg, msg


def test_a_text_column_without_a_header_or_named_like_labels_is_a_column_too(tmp_path):
    # no header: every row holds text there
    (tmp_path / "bare.csv").write_text("0.1,0.2,dog\n0.3,0.4,cat\n")
    msg = _refused(tmp_path / "bare.csv")
    assert "column 3 holds text ('dog', 'cat')" in msg and "fix or remove" not in msg, msg
    # a header naming it like labels: a column, though some labels read as numbers
    (tmp_path / "mixed.csv").write_text("x,y,class\n0.1,0.2,1\n0.3,0.4,cat\n")
    msg = _refused(tmp_path / "mixed.csv")
    assert "column 3 ('class') holds text ('cat')" in msg and "fix or remove" not in msg, msg


def test_one_bad_cell_in_a_column_of_numbers_keeps_the_row_message(tmp_path):
    (tmp_path / "one.csv").write_text("x,y\n0.1,0.2\n0.3,oops\n0.5,0.1\n")
    msg = _refused(tmp_path / "one.csv")
    assert "line 3, column 2: 'oops' is not a number; fix or remove that row" in msg, msg
    assert "holds text" not in msg, msg
