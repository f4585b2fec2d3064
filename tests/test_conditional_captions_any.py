"""Caption conditioning on labelled data without class-folder names (digits8x8, MNIST's IDX files,
mnist5k, stacked-mnist): captions name the digits, word ids sort as plain words (as runs made
before the names-as-spelt-on-disk order kept them), and such runs train, sample and reopen."""
import torch

from gankit import config as C
from gankit.cli import main
from gankit.data.conditional import DIGIT_NAMES, ConditionalData
from gankit.data.class_names import class_names_record
from gankit.data.images import ImageDataset
from gankit.train.run import Run

FAST = ["train.steps=2", "train.batch_size=8", "train.log_every=1", "train.sample_every=2",
        "train.checkpoint_every=2", "train.n_fixed=10", "train.progress=false", "train.live_report=false",
        "eval.n_samples=20", "eval.metrics=[\"image_stats\"]", "noise.dim=4",
        "generator.width=4", "discriminator.width=4", "condition.embed_dim=4"]


def test_captions_of_labelled_images_without_names_use_digit_words_in_plain_order():
    x = torch.randint(0, 255, (40, 1, 16, 16), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    ds = ConditionalData(ImageDataset(x, torch.tensor([3, 7] * 20), holdout=0), "text")
    assert ds.class_names == DIGIT_NAMES[:8]                          # classes 0 .. 7, two with data
    assert ds.vocab.words[2:] == sorted(ds.vocab.words[2:])          # the ids runs made before kept
    assert ds.parse("a thick seven")[0] == 7
    assert "class_names" not in class_names_record(ds)               # no folder names to record


def test_a_caption_run_on_digits8x8_trains_samples_by_text_and_reopens(tmp_path, capsys):
    run = tmp_path / "run"
    sets = FAST + ["data.name=digits8x8", "data.resolution=16"]
    Run.create(C.load("fashion-text", sets), run).train().close()
    out = tmp_path / "s.npy"
    assert main(["sample", str(run), "-n", "3", "--text", "a thick small faint seven", "--out", str(out)]) == 0
    assert "wrote 3 samples" in capsys.readouterr().out and out.exists()
    again = Run.open(run)
    try:
        assert again.step == 2 and again.dataset.class_names == DIGIT_NAMES
    finally:
        again.close()
    state = again.folder.load_checkpoint()[0]
    assert state.get("caption_words") == again.dataset.vocab.words    # recorded: a later reorder is refused
