"""Sequence GANs on the inputs users bring: odd temperatures, tiny evaluations, text files
that change after training, and metrics on data with <unk>."""
import math
from types import SimpleNamespace

import pytest
import torch

from gankit.cli import main
from gankit.data.text import lines_dataset
from gankit.metrics.text import model_nll, self_bleu_scores
from gankit.nets.sequence import SeqGenerator

LINES = ["the cat sat", "a dog ran", "the dog sat", "a cat ran", "the cat ran far", "a dog sat on",
         "on the mat", "the mat sat", "far away", "a cat", "the dog ran away", "dog sat"]


def _args(tmp_path, data, steps=3):
    return ["--set", "data.name='textfile'", "--set", f"data.path='{data}'", "--set", "data.max_len=5",
            "--set", "data.test_fraction=0.25", "--set", "noise.dim=6", "--set", "generator.hidden=8",
            "--set", "generator.embed_dim=8", "--set", "discriminator.hidden=8",
            "--set", "discriminator.embed_dim=8", "--set", "objective.pretrain_steps=1",
            "--set", "objective.d_pretrain_steps=1", "--set", f"train.steps={steps}",
            "--set", "train.batch_size=4", "--set", "train.log_every=1", "--set", "train.sample_every=100",
            "--set", "train.checkpoint_every=100", "--set", "train.n_fixed=4", "--set", "train.progress=false",
            "--set", "train.live_report=false", "--set", "eval.n_samples=8"]


def test_a_tiny_temperature_samples_the_argmax():
    torch.manual_seed(0)
    G = SeqGenerator(6, 5, 1, 0, "lstm", 8, 16, 0.0, 1.0).eval()
    u = torch.rand(16, 5, generator=torch.Generator().manual_seed(1))
    greedy = G.sample(u, temperature=1e-6)
    with torch.no_grad():
        assert torch.equal(greedy[:, 0], G(greedy)[:, 0].argmax(-1).expand(16))
    for T in (1e-40, 1e-45):     # 1 / T overflows float32: logits / T would be +-inf, softmax NaN
        assert torch.equal(G.sample(u, temperature=T), greedy), T
        G.temperature = T
        nll = model_nll(G, greedy, 1)
        assert not math.isnan(nll) and nll == pytest.approx(0.0, abs=1e-6), T
    G.temperature = 1e30                 # huge: uniform over the vocabulary
    assert model_nll(G, greedy, 1) == pytest.approx(math.log(6), rel=1e-4)


def test_below_float32s_smallest_temperature_samples_stay_greedy_and_nll_is_never_nan():
    """T under 1.4e-45 rounds to 0 in float32 (the largest logit was 0 / 0); at a tiny T a
    masked position's log p is -inf, which times its mask 0 was NaN."""
    torch.manual_seed(0)
    G = SeqGenerator(6, 5, 1, 0, "lstm", 8, 16, 0.0, 1.0).eval()
    u = torch.rand(16, 5, generator=torch.Generator().manual_seed(1))
    greedy = G.sample(u, temperature=1e-6)
    for T in (1e-46, 1e-300, 5e-324):
        assert torch.equal(G.sample(u, temperature=T), greedy), T
    with torch.no_grad():
        G.out.bias[1] += 100.0           # <end> is the argmax at every step: greedy is <end> <pad>...
    G.temperature = 1e-38
    ends = G.sample(u)
    assert ends[:, 0].eq(1).all() and ends[:, 1:].eq(0).all()
    assert model_nll(G, ends, 1) == 0.0     # the <pad>s after <end> (log p -inf) are not counted
    ends[:, 0] = 2                           # a token G at T -> 0 never draws: log p = -inf
    assert model_nll(G, ends, 1) == math.inf


def test_self_bleu_with_one_sample_is_skipped_not_a_traceback(tmp_path, capsys):
    with pytest.raises(ValueError, match="2 or more"):
        self_bleu_scores([["a", "b"]])
    f = tmp_path / "lines.txt"
    f.write_text("\n".join(LINES) + "\n")
    out = tmp_path / "run"
    assert main(["train", "words", "--out", str(out)] + _args(tmp_path, f)) == 0
    capsys.readouterr()
    assert main(["eval", str(out), "--no-record", "--set", "eval.n_samples=1"]) == 0
    got = capsys.readouterr()
    # this run's one sample is empty: BLEU says it skips rather than scoring 0
    assert "self_bleu2" not in got.out and ("bleu2" in got.out or "'bleu' skipped" in got.err)
    assert "'self_bleu' skipped" in got.err and "eval.n_samples >= 2" in got.err and "Traceback" not in got.err


def test_a_text_file_changed_after_training_is_refused_not_misdecoded(tmp_path, capsys):
    f = tmp_path / "lines.txt"
    f.write_text("\n".join(LINES) + "\n")
    out = tmp_path / "run"
    assert main(["train", "words", "--out", str(out)] + _args(tmp_path, f)) == 0
    capsys.readouterr()
    assert main(["sample", str(out), "-n", "4"]) == 0
    before = capsys.readouterr().out
    # the same number of distinct words, one renamed: the ids now mean other words
    f.write_text("\n".join(s.replace("cat", "kitten") for s in LINES) + "\n")
    assert main(["sample", str(out), "-n", "4"]) == 2
    err = capsys.readouterr().err
    assert "vocabulary differs" in err and "'cat' then, 'kitten' now" in err and "Traceback" not in err
    assert main(["train", "--resume", "--out", str(out), "--set", "train.steps=4"]) == 2
    assert "vocabulary differs" in capsys.readouterr().err
    assert main(["report", str(out)]) == 2       # its snapshots would decode as other words too
    assert "vocabulary differs" in capsys.readouterr().err
    # more lines of the same words: the test split, cut by the number of distinct lines, would move
    f.write_text("\n".join(LINES + [" ".join(reversed(LINES[0].split()))]) + "\n")
    assert main(["sample", str(out), "-n", "4"]) == 2
    assert f"holds {len(set(LINES)) + 1} distinct lines now, {len(set(LINES))} when" in capsys.readouterr().err
    # more words: another vocabulary size
    f.write_text("\n".join(LINES + ["zebra quux zebra", "quux zebra"]) + "\n")
    assert main(["sample", str(out), "-n", "4"]) == 2
    err = capsys.readouterr().err
    assert "the data file changed since training" in err and "another config" not in err
    f.write_text("\n".join(LINES) + "\n")      # restored: samples as before
    assert main(["sample", str(out), "-n", "4"]) == 0
    assert capsys.readouterr().out == before
    # a plot is no format for text samples
    assert main(["sample", str(out), "-n", "4", "--out", str(tmp_path / "s.png")]) == 2
    assert ".txt" in capsys.readouterr().err and not (tmp_path / "s.png").exists()


def test_bleu_reads_a_character_unk_as_one_token():
    from gankit.metrics.text import _bleu
    # the text itself holds the five characters "<unk>"; "Z" is not in the vocabulary
    ds = lines_dataset(["<unk>", "<kn>", "unk", "<nu>", "ku<"], "char", 12, 1, 0, 0.2, 0, "test")
    ds.test = ds.encode(["<unk><unk>"])
    hyp = ds.encode(["ZZ"] * 3)                         # two unknown characters each (BLEU-2 needs 2 tokens)
    assert ds.decode(hyp) == ["<unk><unk>"] * 3 and ds.decode(ds.test) == ["<unk><unk>"]
    ctx = SimpleNamespace(dataset=ds, settings=SimpleNamespace(n_samples=3), generate=lambda n, s: hyp[:n])
    scores = _bleu(ctx)
    assert scores["bleu2"] < 0.5, scores               # 1.0 if "<unk>" were re-split into characters


def test_the_sampling_temperature_changes_without_a_new_run(tmp_path, capsys):
    """generator.temperature was part of the model identity: sample refused --set for it and
    --resume called the run's own checkpoint another run's."""
    import torch as T
    from gankit.identity import json_hash, model_part
    from gankit.runfolder import RunFolder
    f = tmp_path / "lines.txt"
    f.write_text("\n".join(LINES) + "\n")
    out = tmp_path / "run"
    assert main(["train", "words", "--out", str(out)] + _args(tmp_path, f)) == 0
    capsys.readouterr()
    cold = ["sample", str(out), "-n", "6", "--seed", "3", "--set", "generator.temperature=1e-6"]
    assert main(cold) == 0
    first = capsys.readouterr().out
    assert main(cold) == 0 and capsys.readouterr().out == first
    assert len(set(first.splitlines())) == 1          # near 0: the argmax, whatever the noise
    # a checkpoint hashed before (temperature in the identity) still opens, at another temperature
    path = RunFolder(out).checkpoints()[-1][1]
    state = T.load(path, weights_only=True)
    state["identity"] = json_hash(model_part(state["config"], sampling=True))
    T.save(state, path)
    assert main(["train", "--resume", "--out", str(out), "--set", "train.steps=5",
                 "--set", "generator.temperature=0.7"]) == 0


def test_nll_oracle_scores_the_samples_by_chunks_that_fit_the_logit_budget(monkeypatch):
    import gankit.nets.sequence as seq
    from gankit.data.oracle import OracleDataset, OracleLSTM
    from gankit.metrics.text import _nll_oracle
    oracle = OracleLSTM(7, 4, torch.Generator().manual_seed(0))
    x = torch.randint(0, 7, (9, 5), generator=torch.Generator().manual_seed(1))
    ds = OracleDataset(oracle, x, x)
    want = float(ds.oracle_nll(x).mean())
    sizes = []
    oracle_nll = ds.oracle_nll
    ds.oracle_nll = lambda xb: sizes.append(len(xb)) or oracle_nll(xb)
    ctx = SimpleNamespace(settings=SimpleNamespace(n_samples=9), dataset=ds, generate=lambda n, stream: x[:n])
    monkeypatch.setattr(seq, "LOGIT_BUDGET", 4 * 5 * 7 * 4)   # 4 rows of (L=5, V=7) logits
    assert _nll_oracle(ctx)["nll_oracle"] == pytest.approx(want, rel=1e-6)
    assert sizes == [4, 4, 1]


def test_bleu_needs_no_home_folder():
    """NLTK's import raised ValueError ("Could not find a default download directory") where
    there is no home folder (HOME unset, a user id with no passwd entry): seqgan-oracle's
    evaluation ended in a traceback."""
    import os
    import subprocess
    import sys
    code = ("import pwd\n"
            "def _none(uid): raise KeyError(uid)\n"
            "pwd.getpwuid = _none\n"
            "from gankit.metrics.text import bleu_scores, self_bleu_scores\n"
            "print(bleu_scores([['a', 'b']], [['a', 'b'], ['a', 'c']])[2], "
            "self_bleu_scores([['a', 'b'], ['a', 'b']])[2])\n")
    env = {k: v for k, v in os.environ.items() if k != "HOME"}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["1.0", "1.0"]


def test_text_metrics_measured_before_their_definition_changed_are_not_ranked_or_reused(tmp_path, capsys):
    """BLEU stopped matching <unk> (TEXT_PROTOCOL 2): an old run's BLEU was ranked against a new
    one's, and its old reference row (2.5x the new one) was shown beside new numbers."""
    import json
    import shutil

    from gankit.metrics.text import TEXT_PROTOCOL
    from gankit.runfolder import RunFolder
    f = tmp_path / "lines.txt"
    f.write_text("\n".join(LINES) + "\n")
    new = tmp_path / "new"
    assert main(["train", "words", "--out", str(new)] + _args(tmp_path, f)) == 0
    recs = RunFolder(new).records()
    assert all(r["settings"]["text_protocol"] == TEXT_PROTOCOL for r in recs if r["kind"] in ("eval", "reference"))
    old = tmp_path / "old"                          # as a gankit before the change wrote it
    shutil.copytree(new, old)
    lines = [json.loads(line) for line in (old / "metrics.jsonl").read_text().splitlines()]
    for r in lines:
        (r.get("settings") or {}).pop("text_protocol", None)
    (old / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    capsys.readouterr()
    assert main(["compare", str(old), str(new), "--json"]) == 0
    bleu = [m for m in json.loads(capsys.readouterr().out)["metrics"] if m["key"] == "bleu2"][0]
    assert bleu["settings_differ"] and "text_protocol" in json.dumps(bleu["settings_differ"])
    refs = len(RunFolder(old).records("reference"))
    assert main(["eval", str(old), "--metrics", "bleu"]) == 0                 # the old reference is not reused
    assert len(RunFolder(old).records("reference")) == refs + 1


def test_lines_left_out_are_said_when_the_run_is_made_not_each_time_it_is_opened(tmp_path, capsys):
    f = tmp_path / "lines.txt"
    f.write_text("\n".join(LINES + ["one two three four five six seven eight"]) + "\n")
    out = tmp_path / "run"
    assert main(["train", "words", "--out", str(out)] + _args(tmp_path, f)) == 0
    assert "1 of the 13 lines" in capsys.readouterr().err
    assert main(["sample", str(out), "-n", "2"]) == 0
    assert "are left out" not in capsys.readouterr().err      # its advice (--set data.max_len) cannot apply now


def test_a_word_level_run_counted_the_old_way_is_told_the_rule_changed(tmp_path, capsys):
    """Lines differing only in whitespace were distinct before 2026-12-05: such a run's recorded
    count differs with the file untouched, and "restore the data" alone would mislead."""
    from gankit.runfolder import RunFolder
    f = tmp_path / "lines.txt"
    f.write_text("\n".join(LINES) + "\n")
    out = tmp_path / "run"
    assert main(["train", "words", "--out", str(out)] + _args(tmp_path, f)) == 0
    _, path = RunFolder(out).load_checkpoint()
    state = torch.load(path, weights_only=True)
    state["data_cut"] = [state["data_cut"][0] + 1, state["data_cut"][1]]     # as the old rule counted
    torch.save(state, path)
    capsys.readouterr()
    assert main(["sample", str(out), "-n", "2"]) == 2
    assert "differ only in whitespace are one line" in capsys.readouterr().err
