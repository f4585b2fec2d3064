"""A points file replaced at the run's data.path: each checkpoint records a digest of the points
it trained on ("data_digest"), so eval, sample and --resume refuse other points, compare ranks
nothing across them, and a report (which only draws) says so instead of failing a training
check.  The built-in mixtures are drawn by their code, not read: they record nothing."""
import numpy as np
import pytest
import torch

from gankit import config as C
from gankit.cli import main
from gankit.report import compare as CMP
from gankit.runfolder import RunFolder


def _points(path, rows: int, seed: int = 0):
    np.save(path, np.random.default_rng(seed).normal(size=(rows, 2)).astype(np.float32))


def _train(out, data, tiny, *extra) -> None:
    sets = [a for kv in tiny + ["data.name='points'", f"data.path='{data}'", "train.steps=10", *extra]
            for a in ("--set", kv)]
    assert main(["train", "ring-vanilla", "--out", str(out), *sets]) == 0


@pytest.fixture
def points_run(tmp_path, tiny):
    data = tmp_path / "p.npy"
    _points(data, 300)
    _train(tmp_path / "run", data, tiny)
    return tmp_path / "run", data


def _newest_state(run):
    return torch.load(RunFolder(run).checkpoints()[-1][1], weights_only=True)


def test_the_digest_is_of_the_points_whatever_their_order_and_counts_copies():
    from gankit.data.digest import points_digest
    x = torch.randn(50, 3)
    same = points_digest(x)
    assert same == {"rows": 50, "sha256": same["sha256"]}
    assert points_digest(x[torch.randperm(50)]) == same
    assert points_digest(torch.cat([x, x[:1]]))["sha256"] != same["sha256"]
    assert points_digest(x + 1e-3)["sha256"] != same["sha256"]


def test_a_points_file_replaced_since_training_is_refused_by_sample_eval_and_resume(points_run, tmp_path, capsys):
    run, data = points_run
    assert _newest_state(run)["data_digest"]["rows"] == 300
    kept = tmp_path / "kept.npy"
    data.rename(kept)
    _points(data, 300, seed=5)          # as many rows, other values
    out = str(tmp_path / "s.npy")
    for command in (["sample", str(run), "-n", "5", "--out", out],
                    ["eval", str(run), "--no-record", "--metrics", "mmd", "--set", "eval.n_samples=100"],
                    ["train", "--resume", "--out", str(run), "--set", "train.steps=12"]):
        assert main(command) == 2, command
        err = capsys.readouterr().err
        assert f"data.path = '{data}' holds other points than this run trained on (300 rows then and now, " \
               "other values)" in err, err
        assert "restore the file as it was (or give a copy of it with --set data.path=...)" in err
    # a copy of the points it trained on opens it, in another order too
    np.save(kept, np.load(kept)[::-1].copy())
    assert main(["sample", str(run), "-n", "5", "--out", out, "--set", f"data.path={kept}"]) == 0


def test_fewer_rows_than_the_batch_say_the_file_changed_not_the_batch(points_run, tmp_path, capsys):
    """A file replaced by 10 points (batch 32): 'train.batch_size: 32 is larger than the data'
    blamed the batch, for the report too, which trains nothing."""
    run, data = points_run
    _points(data, 10, seed=5)
    assert main(["sample", str(run), "-n", "5", "--out", str(tmp_path / "s.npy")]) == 2
    err = capsys.readouterr().err
    assert "(300 rows then, 10 now)" in err and "larger than the data" not in err
    main(["report", str(run)])
    assert "larger than the data" not in capsys.readouterr().err
    # drawing only (the report's build): no batch check, and the change said in a warning
    from gankit.data import DataChanged, build_run_dataset
    cfg = C.load(RunFolder(run).read_config())
    with pytest.warns(DataChanged, match=r"\(300 rows then, 10 now\)"):
        ds = build_run_dataset(cfg, run, training=False)
    assert ds.size == 10


def test_the_same_points_open_without_a_word_and_older_checkpoints_open_as_before(points_run, tmp_path, recwarn):
    from gankit.data import DataChanged, build_run_dataset
    run, data = points_run
    cfg = C.load(RunFolder(run).read_config())
    assert build_run_dataset(cfg, run, training=False).size == 300
    assert not [w for w in recwarn if issubclass(w.category, DataChanged)]
    for _, path in RunFolder(run).checkpoints():       # written before the record
        state = torch.load(path, weights_only=True)
        del state["data_digest"]
        torch.save(state, path)
    _points(data, 300, seed=5)
    assert main(["sample", str(run), "-n", "5", "--out", str(tmp_path / "s.npy")]) == 0


def test_built_in_mixtures_record_no_digest(tmp_path, tiny):
    sets = [a for kv in tiny + ["train.steps=10"] for a in ("--set", kv)]
    assert main(["train", "ring-vanilla", "--out", str(tmp_path / "ring"), *sets]) == 0
    assert "data_digest" not in _newest_state(tmp_path / "ring")


def test_compare_ranks_nothing_across_two_contents_of_one_file(tmp_path, tiny):
    data = tmp_path / "p.npy"
    _points(data, 300)
    _train(tmp_path / "a", data, tiny, "eval.metrics=['mmd']", "eval.n_samples=100")
    _points(data, 300, seed=5)
    _train(tmp_path / "b", data, tiny, "eval.metrics=['mmd']", "eval.n_samples=100")
    out = CMP.compare_data([tmp_path / "a", tmp_path / "b"])
    assert out["config_diff"] == []
    assert out["note"].startswith("no value is marked better: the runs differ in the points in the file (a: 300 rows")
    assert all(m["best"] == [] for m in out["metrics"])


@pytest.mark.parametrize("rows", [300, 20])
def test_a_report_of_a_run_whose_points_changed_is_drawn_and_says_so(points_run, tmp_path, rows):
    """The report only draws: no batch check (20 rows < the batch), and the page says the real
    points drawn are the file's now."""
    from gankit.data import DataChanged
    from gankit.report import write_report
    run, data = points_run
    _points(data, rows, seed=5)
    with pytest.warns(DataChanged, match="holds other points than this run trained on"):
        page = write_report(run).read_text()
    assert "holds other points than this run trained on" in page
    assert "the real data drawn here are the file&#39;s points now" in page
