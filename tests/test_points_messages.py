"""What a user's data files are told and keep: NaN or inf named by count, row (a .csv's own line)
and column; a .csv header carried to the samples' .csv; a batch larger than the data names the
images held out."""
import numpy as np
import pytest

from gankit import config as C
from gankit.cli import main
from gankit.config import ConfigError
from gankit.data import _batch_advice, build_dataset
from gankit.data.points import PointsFile


def test_a_whole_column_of_nan_says_to_drop_that_column_not_every_row(tmp_path):
    x = np.random.default_rng(0).normal(size=(600, 3))
    x[:, 2] = np.nan
    np.save(tmp_path / "nan.npy", x)
    with pytest.raises(ConfigError) as e:
        PointsFile(tmp_path / "nan.npy")
    msg = str(e.value)
    assert "column 3 is NaN in every row; drop that column" in msg and "remove" not in msg, msg
    # beside rows with a bad value elsewhere: both, each with its fix
    x[7, 0] = np.inf
    np.savetxt(tmp_path / "h.csv", x, delimiter=",", header="a,b,c", comments="")
    with pytest.raises(ConfigError) as e:
        PointsFile(tmp_path / "h.csv")
    assert ("column 3 ('c') is NaN in every row; drop that column and save the points again; also 1 of its "
            "600 rows holds inf in column 1 ('a') (the first: line 9); remove or fix those rows") in str(e.value)


def test_an_inf_in_a_csv_is_named_by_its_line_the_count_and_the_column(tmp_path):
    """The audit's file: one inf at row 5 of a .csv got "holds NaN or infinite values; remove those
    rows" without its line or column."""
    x = np.random.default_rng(0).normal(size=(600, 3))
    x[5, 2] = np.inf
    x[40, 2] = -np.inf
    np.savetxt(tmp_path / "inf.csv", x, delimiter=",")
    with pytest.raises(ConfigError) as e:
        PointsFile(tmp_path / "inf.csv")
    assert "holds NaN or infinite values: 2 of its 600 rows hold inf in column 3 (the first: line 6)" in str(e.value)
    # a header, a comment and a blank line come before the data: the line is the file's own
    lines = ["x,y,z", "# made by hand", ""] + [",".join(map(str, r)) for r in x[:10]]
    (tmp_path / "c.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match=r"1 of its 10 rows holds inf in column 3 \('z'\) \(the first: line 9\)"):
        PointsFile(tmp_path / "c.csv")
    # a .npy has no lines: its index, counted from 0
    np.save(tmp_path / "inf.npy", x)
    with pytest.raises(ConfigError, match=r"2 of its 600 rows hold inf in column 3 \(the first: row 5, counting from 0\)"):
        PointsFile(tmp_path / "inf.npy")


def test_samples_written_as_csv_keep_the_datas_header(tmp_path, tiny):
    x = np.random.default_rng(0).normal(size=(200, 3))
    np.savetxt(tmp_path / "h.csv", x, delimiter=",", header="a,b,c", comments="")
    np.savetxt(tmp_path / "n.csv", x, delimiter=",")
    for name in ("h", "n"):
        sets = [a for kv in tiny + ["train.steps=2", "train.checkpoint_every=2", 'eval.metrics=["energy"]',
                                    "data.name=points", f"data.path='{tmp_path / (name + '.csv')}'"]
                for a in ("--set", kv)]
        assert main(["train", "ring-vanilla", "--out", str(tmp_path / name), *sets]) == 0
        assert main(["sample", str(tmp_path / name), "-n", "3", "--out", str(tmp_path / f"s{name}.csv")]) == 0
    lines = (tmp_path / "sh.csv").read_text().splitlines()
    assert lines[0] == "a,b,c" and len(lines) == 4
    back = PointsFile(tmp_path / "sh.csv")        # read back as the data are
    assert back.column_names == ["a", "b", "c"] and tuple(back.x.shape) == (3, 3)
    lines = (tmp_path / "sn.csv").read_text().splitlines()
    assert len(lines) == 3 and PointsFile(tmp_path / "sn.csv").column_names is None     # none made up


@pytest.fixture
def forty_images(tmp_path):
    from PIL import Image
    folder = tmp_path / "imgs"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(40):
        Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8)).save(folder / f"{i:03d}.png")
    return folder


def test_a_batch_larger_than_the_data_names_the_held_out_images_and_the_option(forty_images):
    """40 images, batch 40: "larger than the data (36 samples)" without a word of the 4 held out."""
    sets = ["data.name=image-folder", f"data.path='{forty_images}'"]
    with pytest.raises(ConfigError) as e:
        build_dataset(C.load("mnist-dcgan", sets + ["train.batch_size=40"]))
    msg = str(e.value)
    assert ("larger than the data (36 samples: 4 of the 40 are held out of training by data.holdout = 0.1); "
            "use --set train.batch_size=36 or less, or --set data.holdout=0 to train on all 40") in msg, msg
    assert build_dataset(C.load("mnist-dcgan", sets + ["train.batch_size=40", "data.holdout=0"])).size == 40
    # larger than all the images: no holdout makes it fit, so none is offered
    with pytest.raises(ConfigError) as e:
        build_dataset(C.load("mnist-dcgan", sets + ["train.batch_size=41"]))
    assert "4 of the 40 are held out" in str(e.value) and "data.holdout=0" not in str(e.value)
    # on several processes too, after the batch they can split
    said = _batch_advice(40, 36, 2, "samples", (40, 4, 0.1))
    assert "use --set train.batch_size=36, or a smaller multiple of 2" in said and "data.holdout=0" in said
    assert _batch_advice(40, 36, 1, "samples") == ("train.batch_size: 40 is larger than the data (36 samples); "
                                                   "use --set train.batch_size=36 or less")
