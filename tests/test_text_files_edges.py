"""A user's text file at its edges: gzip, bzip2 or xz text read decompressed (known by its bytes,
not its name) and identified as the plain file is, an archive refused in one line; the words
reader saying what its filters leave out of a user's list; and the control-character warning
said when a run is made, not by every sample, eval and report of it."""
import bz2
import gzip
import io
import itertools
import lzma
import re
import tarfile
import warnings
import zipfile
from pathlib import Path

import pytest
import torch

from gankit.cli import main
from gankit.config import ConfigError
from gankit.data.text import WORDS_PATH, LinesLeftOut, textfile, words
from test_text_split_guard import _args  # the tiny char-level run of a file

PERMS = ["".join(p) for p in itertools.permutations("abcd")]
COMPRESS = {"gzip": gzip.compress, "bzip2": bz2.compress, "xz": lzma.compress}


def _textfile(path, **kw):
    args = dict(level="char", max_len=12, min_count=1, max_vocab=0, lowercase=False, test_fraction=0.25,
                seed=0)
    args.update(kw)
    return textfile(str(path), **args)


# ------------------------------------------------------------------ compressed files

@pytest.mark.parametrize("name", sorted(COMPRESS))
@pytest.mark.parametrize("suffix", [".gz", ".txt"])     # recognised by its bytes, whatever its name
def test_compressed_text_reads_as_the_plain_file(tmp_path, name, suffix):
    # a byte-order mark and Windows line ends: read as a plain file's are
    raw = "\ufeff".encode() + "".join(f"{s}\r\n" for s in PERMS + ["été", "ça"]).encode()
    plain, packed = tmp_path / "plain.txt", tmp_path / f"words{suffix}"
    plain.write_bytes(raw)
    packed.write_bytes(COMPRESS[name](raw))
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # no warning: no bytes that are not UTF-8, no long lines
        a, b = _textfile(plain), _textfile(packed)
    assert torch.equal(a.train, b.train) and torch.equal(a.test, b.test) and a.vocab == b.vocab
    assert (a.cut, a.split_digest) == (b.cut, b.split_digest)
    assert "\ufeff" not in "".join(b.vocab) and "\r" not in "".join(b.vocab)


def test_a_compressed_file_in_another_encoding_is_advised_through_its_decompressor(tmp_path):
    f = tmp_path / "words.txt.gz"
    f.write_bytes(gzip.compress("".join(f"{s}\n" for s in PERMS + ["café"]).encode("latin-1")))
    with pytest.warns(UserWarning, match=r"the first on line 25.*`gzip -dc \S+words\.txt\.gz \| iconv -f "
                                         r"CP1252 -t UTF-8 > \S+words\.txt\.utf8\.txt`"):
        _textfile(f)
    f.write_bytes(lzma.compress("".join(f"{s}\n" for s in PERMS).encode("utf-16-le")))
    with pytest.raises(ConfigError, match=r"is UTF-16LE .*`xz -dc \S+words\.txt\.gz \| iconv -f UTF-16LE "):
        _textfile(f)


def _zip(path):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("words.txt", "\n".join(PERMS))


def _tar_gz(path):
    data = "\n".join(PERMS).encode()
    with tarfile.open(path, "w:gz") as t:
        info = tarfile.TarInfo("words.txt")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("make,said", [
    (_zip, "is a zip archive, not a text file; unzip it first and give the .txt"),
    (_tar_gz, "is a tar archive (inside the gzip compression), not a text file; unpack it first (tar -xf)"),
    (lambda p: p.write_bytes(b"\x28\xb5\x2f\xfd" + bytes(40)), "is zstd-compressed, not a text file; "
                                                               "decompress it first (zstd -d)"),
    (lambda p: p.write_bytes(gzip.compress("\n".join(PERMS).encode())[:30]),
     "is gzip-compressed but does not decompress"),
    (lambda p: p.write_bytes(bz2.compress("\n".join(PERMS).encode())[:30]),
     "is bzip2-compressed but does not decompress"),
])
def test_an_archive_or_damaged_compression_is_refused_in_one_line(tmp_path, make, said):
    f = tmp_path / "words.zip"
    make(f)
    with pytest.raises(ConfigError, match="^" + re.escape(f"data.path: '{f}' {said}")) as e:
        _textfile(f)
    assert "\n" not in str(e.value)


def test_a_text_that_begins_like_bzip2_is_text(tmp_path):
    f = tmp_path / "w.txt"
    f.write_text("BZh9 rated\n" + "\n".join(PERMS) + "\n")
    ds = _textfile(f, max_len=20)
    assert "BZh9 rated" in ds.decode(torch.cat([ds.train, ds.test]))


def test_a_text_reading_ustar_where_a_tar_keeps_its_magic_is_text(tmp_path):
    """tar's magic is "ustar\\0" + "00" (POSIX) or "ustar  \\0" (GNU) under a checksum: "gustar " at
    byte 256 of a Spanish text is neither."""
    head = "a mi hermana le gusta leer\n" * 3
    head += "x" * (256 - len(head) - 1) + "\n"
    f = tmp_path / "es.txt"
    f.write_text(head + "gustar es un verbo\n" + "\n".join(PERMS) + "\n")
    assert f.read_bytes()[257:263] == b"ustar "
    ds = _textfile(f, max_len=300)
    assert "gustar es un verbo" in ds.decode(torch.cat([ds.train, ds.test]))


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_a_plain_tar_is_refused_in_each_format(tmp_path, fmt):
    f = tmp_path / "words.tar"
    data = "\n".join(PERMS).encode()
    with tarfile.open(f, "w", format=fmt) as t:
        info = tarfile.TarInfo("words.txt")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    with pytest.raises(ConfigError, match=re.escape(f"'{f}' is a tar archive, not a text file")):
        _textfile(f)


def test_a_run_on_a_gz_file_resumes_and_notices_the_file_edited(tmp_path, capsys):
    f = tmp_path / "lines.txt.gz"
    f.write_bytes(gzip.compress("\n".join(PERMS).encode() + b"\n"))
    out = tmp_path / "run"
    assert main(["train", "words", "--out", str(out)] + _args(f)) == 0
    assert main(["train", "--resume", "--out", str(out), "--set", "train.steps=5"]) == 0
    assert main(["sample", str(out), "-n", "2"]) == 0
    f.write_bytes(gzip.compress("\n".join(sorted(PERMS, reverse=True)).encode() + b"\n"))   # reordered
    capsys.readouterr()
    for argv in (["sample", str(out), "-n", "2"],
                 ["train", "--resume", "--out", str(out), "--set", "train.steps=7"]):
        assert main(argv) == 2, argv
        assert "reordered or edited" in capsys.readouterr().err


# ------------------------------------------------------------------ words: what the filters leave out

def test_lowercase_only_says_how_many_lines_of_a_users_list_it_leaves_out(tmp_path):
    f = tmp_path / "names.txt"
    f.write_text("\n".join([w.capitalize() for w in PERMS] + PERMS[:4]) + "\n")
    with pytest.warns(LinesLeftOut, match=r"data.lowercase_only leaves out 24 of the 28 lines of .*names.txt "
                                          r"\(only lowercase a-z words pass; e.g. 'Abcd'\); --set "
                                          r"data.lowercase_only=false keeps them"):
        ds = words(str(f), 12, True, 0.25, 0)
    assert ds.cut[0] == 4
    # one name among many words is no sizeable share: nothing said
    f.write_text("\n".join(PERMS + ["Paris"]) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        words(str(f), 12, True, 0.25, 0)


def test_the_default_word_list_is_not_warned_of_its_documented_filter():
    if not Path(WORDS_PATH).is_file():
        pytest.skip(f"{WORDS_PATH} is not installed")
    with warnings.catch_warnings():       # wamerican's names and possessives: left out as documented
        warnings.simplefilter("error")
        words(WORDS_PATH, 12, True, 0.1, 0)


# ------------------------------------------------------------------ said once, when the run is made

def test_control_characters_are_said_when_the_run_is_made_only(tmp_path, capsys):
    f = tmp_path / "ctrl.txt"
    f.write_text("\n".join(PERMS + ["ab\x07c"]) + "\n")
    out = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert main(["train", "words", "--out", str(out)] + _args(f)) == 0
        assert "hold control characters" in capsys.readouterr().err
        for argv in (["sample", str(out), "-n", "2"], ["eval", str(out), "--no-record"],
                     ["report", str(out)]):
            assert main(argv) == 0, argv
            assert "control characters" not in capsys.readouterr().err, argv
