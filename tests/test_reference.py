"""The real-data reference row and its cache across runs (gankit/metrics/reference.py)."""
import json

import pytest
import torch

from gankit import api
from gankit.io import read_jsonl
from gankit.metrics import reference as R

METRICS = ["modes", "jsd"]


def _run(tmp_path, name, tiny, *extra):
    return api.train("ring", out=tmp_path / name, overrides=tiny + list(extra), evaluate=False, report=False,
                     log=None)


def _row(rec):
    return {k: v for k, v in rec.items() if k != "step"}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "reference"


def test_a_second_run_reads_the_row_and_another_seed_measures_its_own(tmp_path, tiny, cache, monkeypatch):
    first = api.record_reference(_run(tmp_path, "a", tiny), METRICS)
    assert first["modes_covered"] == 8 and len(list(cache.glob("*.json"))) == 1

    def measured(*a, **k):
        raise AssertionError("measured again")
    monkeypatch.setattr(R, "evaluate_reference", measured)
    again = api.record_reference(_run(tmp_path, "b", tiny), METRICS)
    assert _row(again) == _row(first)
    with pytest.raises(AssertionError, match="measured again"):       # other seed: other draws
        api.record_reference(_run(tmp_path, "c", tiny, "seed=1"), METRICS)
    with pytest.raises(AssertionError, match="measured again"):       # other eval settings
        api.record_reference(_run(tmp_path, "d", tiny, "eval.n_samples=400"), METRICS)
    with pytest.raises(AssertionError, match="measured again"):       # other data
        api.record_reference(_run(tmp_path, "e", tiny, "data.std=0.05"), METRICS)


@pytest.mark.parametrize("content", ["{not json", '{"modes": {"__class__": "os.system"}}', "[1, 2]", "\udcff"])
def test_a_damaged_or_foreign_cache_file_is_measured_again(tmp_path, tiny, cache, content):
    first = api.record_reference(_run(tmp_path, "a", tiny), METRICS)
    (path,) = cache.glob("*.json")
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    with pytest.warns(UserWarning, match="reference cache"):
        again = api.record_reference(_run(tmp_path, "b", tiny), METRICS)
    assert _row(again) == _row(first)
    assert json.loads(path.read_text()) == {k: v for k, v in _row(first).items()
                                            if k not in ("kind", "settings", "metrics")}


def test_the_key_follows_the_datasets_content():
    class Data:
        pass
    d = Data()
    d.x, d.name = torch.zeros(4, 2), "folder"
    key = R.reference_key(d, {"name": "folder"}, {"n_samples": 10}, 0, None)
    assert R.reference_key(d, {"name": "folder"}, {"n_samples": 10}, 0, None) == key
    d.x[0, 0] = 1                               # an image of the folder changed
    assert R.reference_key(d, {"name": "folder"}, {"n_samples": 10}, 0, None) != key
    assert R.reference_key(d, {"name": "folder"}, {"n_samples": 10}, 0, ["modes"]) != key


def test_a_small_held_out_pool_is_drawn_once_each(digits):
    """digits8x8 holds out 180 images: asked for 500, the reference gets those 180, each once
    (repeats made the reference's recall and coverage read ~0)."""
    from gankit import config as C
    from gankit.data import build_dataset
    cfg = C.load("mnist-dcgan", digits)
    ctx, source = R.reference_context(build_dataset(cfg), cfg.eval, seed=0)
    x = ctx.generate(500)
    assert source == "held-out split" and len(x) == 180
    assert len(torch.unique(x.reshape(len(x), -1), dim=0)) == 180


def test_a_text_reference_is_not_scored_against_itself(tmp_path):
    """The real lines stood in for G's were drawn from the very lines BLEU scores against: 1.000."""
    import random
    from gankit import config as C
    from gankit.data import build_dataset
    rng = random.Random(0)
    words = "the cat dog sat on mat a big red blue ran tree far away".split()
    (tmp_path / "t.txt").write_text("\n".join(" ".join(rng.choices(words, k=rng.randint(2, 6)))
                                              for _ in range(4000)) + "\n")
    cfg = C.load("words", ["data.name=textfile", f'data.path="{tmp_path / "t.txt"}"', "data.level=word",
                           "data.max_len=8", "noise.dim=9", "eval.n_samples=50"])
    row = R.evaluate_reference(build_dataset(cfg), cfg.eval, 0, ["bleu"])
    assert "past its first 200" in row["source"] and row["bleu3"] < 0.99


def test_a_small_test_split_scores_each_real_line_without_itself():
    """A test split of <= 200 lines is BLEU's references and the reference's real lines at
    once: every line scored against references holding itself read BLEU = 1.000."""
    import itertools

    from gankit import config as C
    from gankit.builtins import load_builtins
    from gankit.data.text import lines_dataset
    from gankit.metrics.text import bleu_scores
    load_builtins()
    ds = lines_dataset(["".join(p) for p in itertools.permutations("abcdef", 4)][:150], "char", 5, 1, 0,
                       0.3, 0, "test")
    cfg = C.load("words", ["eval.n_samples=20"])
    assert len(ds.test) == 45
    row = R.evaluate_reference(ds, cfg.eval, 0, ["bleu"])
    assert row["bleu4"] < 0.9 and "each line against the other" in row["source"]
    # exactly: the 20 real lines drawn, each against the other 44
    ctx, _ = R.reference_context(ds, cfg.eval, 0)
    refs = ds.token_lists(ds.test)
    drawn = R._drawn(len(ds.test), 20, ctx.stream("samples")).tolist()
    want = sum(bleu_scores([refs[i]], refs[:i] + refs[i + 1:])[4] for i in drawn) / 20
    assert row["bleu4"] == pytest.approx(want)


@pytest.mark.parametrize("edit", ["wrong values", "empty", "key deleted", "value changed"])
def test_a_cached_row_with_wrong_keys_or_values_is_measured_again(tmp_path, tiny, cache, edit):
    """Valid JSON that is not the row as measured was trusted and written into the run's records."""
    first = api.record_reference(_run(tmp_path, "a", tiny), METRICS)
    (path,) = cache.glob("*.json")
    row = json.loads(path.read_text())
    if edit == "wrong values":
        row.update({"modes_covered": "<b>abc</b>", "jsd": "oops"})
    elif edit == "empty":
        row = {}
    elif edit == "key deleted":
        del row["reverse_kl"]
    else:
        row["jsd"] = 0.5
    path.write_text(json.dumps(row))
    with pytest.warns(UserWarning, match="reference cache"):
        again = api.record_reference(_run(tmp_path, "b", tiny), METRICS)
    assert _row(again) == _row(first)
    assert json.loads(path.read_text()) == {k: v for k, v in _row(first).items()
                                            if k not in ("kind", "settings", "metrics")}


def test_row_values_must_be_of_their_keys_kind():
    ok = {"source": "fresh draws", "modes_covered": 8, "reverse_kl": "inf", "jsd": None,
          "features": "random", "skipped": ["fid"], "my_metric_list": [1, 2]}
    assert R._row_fault(ok) is None
    for bad in ({"modes_covered": 8}, {"source": "x", "modes_covered": "<b>abc</b>"},
                {"source": "x", "jsd": "oops"}, {"source": "x", "skipped": "fid"}, {"source": 3},
                {"source": "x", "jsd": [0.1]}):
        assert R._row_fault(bad), bad


def test_a_users_metric_whose_code_changed_gets_a_new_reference_key(tmp_path):
    """A fixed user metric (a notebook cell re-run, a module edited) must not keep its old row."""
    from gankit.builtins import load_builtins
    from gankit.metrics.reference import _user_code_hash
    load_builtins()
    base = _user_code_hash()

    def define(version):
        scope = {"__name__": "user_notebook_cell"}
        exec("from gankit import api\n@api.register_metric('my_score', lambda ds: True, 'x')\n"
             f"def my_score(ctx):\n    return {{'my_score': {version}}}\n", scope)
        return _user_code_hash()
    one, again, two = define(1.0), define(1.0), define(2.0)
    assert base != one == again != two


def _no_cache_warnings(record):
    return [w for w in record if "GANKIT_CACHE" in str(w.message) and "HOME" in str(w.message)]


def test_without_a_home_folder_the_final_evaluation_and_report_are_written(tmp_path, tiny, monkeypatch, no_home):
    """Path.home() raised out of the reference cache: the run's final evaluation and report were lost."""
    monkeypatch.delenv("GANKIT_CACHE")
    monkeypatch.chdir(tmp_path)
    with pytest.warns(UserWarning) as record:
        api.train("ring", out=tmp_path / "run", overrides=tiny + ['eval.metrics=["modes", "jsd"]', "train.steps=10"],
                  log=None)
    assert len(_no_cache_warnings(record)) == 1
    assert (tmp_path / "run" / "report.html").is_file()
    kinds = [r.get("kind") for r in read_jsonl(tmp_path / "run" / "metrics.jsonl")]
    assert "eval" in kinds and "reference" in kinds
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]        # no cache in the current folder


def test_without_a_home_folder_the_feature_cache_computes_and_keeps_nothing(tmp_path, monkeypatch, no_home):
    from gankit.metrics import feature_nets as FN
    monkeypatch.delenv("GANKIT_CACHE")
    monkeypatch.chdir(tmp_path)
    calls = []

    def make():
        calls.append(1)
        return {"features": torch.ones(3, 2).numpy(), "probs": torch.zeros(3, 0).numpy()}
    with pytest.warns(UserWarning) as record:
        FN.feature_cache(["k"], make)
        out = FN.feature_cache(["k"], make)
    assert len(calls) == 2 and out["features"].shape == (3, 2)
    assert len(_no_cache_warnings(record)) == 1 and list(tmp_path.iterdir()) == []


def test_an_empty_gankit_cache_means_the_default_folder_for_every_cache(tmp_path, monkeypatch):
    """GANKIT_CACHE= put the oracle's samples in the current folder, the other caches in ~/.cache."""
    from gankit.io import cache_folder
    from gankit.metrics import feature_nets as FN
    monkeypatch.setenv("GANKIT_CACHE", "")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_folder() == tmp_path / "home" / ".cache" / "gankit"
    assert FN.cache_dir() == cache_folder("features") == cache_folder() / "features"
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "c"))
    assert FN.cache_dir() == tmp_path / "c" / "features"


def test_an_image_set_without_a_held_out_split_is_not_called_fresh_draws():
    """With data.holdout = 0 the reference scored training images against themselves (FRD 2.8 where
    held-out images read 39.6) and called them "fresh draws from the data distribution"."""
    import torch

    from gankit.data.images import ImageDataset
    from gankit.metrics.reference import _pool
    ds = ImageDataset(torch.randint(0, 256, (300, 1, 8, 8), dtype=torch.uint8), holdout=0)
    pool, said = _pool(ds)
    assert pool is None and "no held-out split (data.holdout = 0)" in said and "fresh" not in said
