"""A file that is no text given as data.path (gankit/data/text_encoding.py): an executable, an
image, a saved array or a v7 tar was read as lines of bytes and trained on, advised with an iconv
command from CP1252; now refused in one line saying what it is and what data.path takes."""
import gzip
import io
import random
import re
import tarfile
import warnings

import numpy as np
import pytest
import torch

from gankit.config import ConfigError
from gankit.data.text import textfile
from gankit.data.text_encoding import read_lines

PERMS = ["abcd", "abdc", "acbd", "acdb", "adbc", "adcb", "bacd", "badc"]


def _textfile(path, max_len=12):
    return textfile(str(path), level="char", max_len=max_len, min_count=1, max_vocab=0, lowercase=False,
                    test_fraction=0.25, seed=0)


def _torch(path):
    torch.save({"w": torch.zeros(3)}, path)


def _npz(path):
    with open(path, "wb") as f:
        np.savez(f, x=np.zeros(3))


def _npy(path):
    with open(path, "wb") as f:
        np.save(f, np.zeros(4))


def _elf(path):     # an ELF header, then code: bytes of every value
    path.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(9) + random.Random(0).randbytes(4000))


def _png(path):     # the signature, then an IHDR chunk
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00"
                     + random.Random(0).randbytes(2000))


@pytest.mark.parametrize("make,said", [
    (_elf, "an executable (ELF)"), (_png, "a PNG image"),
    (lambda p: p.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(200)), "a JPEG image"),
    (lambda p: p.write_bytes(b"GIF89a\x10\x00" + bytes(100)), "a GIF image"),
    (lambda p: p.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"), "a PDF document"),
    (_npy, "a NumPy array (.npy)"), (_npz, "a NumPy archive (.npz)"), (_torch, "a PyTorch file (torch.save)"),
    (lambda p: p.write_bytes(gzip.compress(b"\x7fELF\x02\x01\x01" + bytes(200))),
     "an executable (ELF) (inside the gzip compression)"),
])
def test_a_binary_file_is_refused_saying_what_it_is(tmp_path, make, said):
    f = tmp_path / "data.bin"
    make(f)
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # refused before any warning about bytes or controls
        with pytest.raises(ConfigError) as e:
            _textfile(f)
    assert str(e.value) == (f"data.path: '{f}' is {said}, not a text file; give data.path = a text file "
                            f"with one sample per line"), str(e.value)


@pytest.mark.parametrize("data", [random.Random(1).randbytes(5000),          # compressed or random bytes
                                  (np.arange(2000, dtype=np.int32) % 128).tobytes()])  # valid UTF-8
def test_a_file_of_control_bytes_without_a_known_header_is_refused(tmp_path, data):
    f = tmp_path / "data.bin"
    f.write_bytes(b"\n".join([data] * 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ConfigError, match=r"is not a text file: \d+% of its \d+ bytes are control bytes "
                                              r"\(NUL .*give data.path = a text file with one sample per line"):
            _textfile(f)


@pytest.mark.parametrize("text", [
    "café crème\nnaïve idea\n" * 2,  # latin-1: not UTF-8, no control byte
    "".join(f"\x1b[1m{w}\x1b[0m words\n" for w in PERMS),  # a UTF-8 log with terminal escapes: the control warning
    "".join(f"{w}\x00\n" for w in PERMS * 3),  # a C program's NUL after each word: the control warning
])
def test_a_text_with_few_control_bytes_or_in_latin1_is_still_read(tmp_path, text):
    f = tmp_path / "t.txt"
    f.write_bytes(text.encode("latin-1"))
    with pytest.warns(UserWarning, match="not UTF-8|control characters"):
        ds = _textfile(f, max_len=30)
    assert len(ds.train) + len(ds.test) == text.count("\n")


def _v7_tar(path, name="words.txt"):
    """A pre-POSIX tar: a ustar header without its magic, version and ustar fields, checksum again."""
    data = "\n".join(PERMS).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    raw = bytearray(buf.getvalue())
    raw[257:512] = bytes(255)
    raw[148:156] = b" " * 8
    raw[148:156] = b"%06o\x00 " % sum(raw[:512])
    path.write_bytes(bytes(raw))
    return bytes(raw)


def test_a_v7_tar_is_refused_as_a_tar(tmp_path):
    """Only a tar with the ustar magic was known: a v7 one read as text, its header a line."""
    f = tmp_path / "t_v7.tar"
    raw = _v7_tar(f)
    assert b"ustar" not in raw and tarfile.open(f).getnames() == ["words.txt"]
    with pytest.raises(ConfigError, match=re.escape(f"'{f}' is a tar archive, not a text file; unpack it first")):
        _textfile(f)


def test_a_text_with_a_checksum_where_a_tar_keeps_one_is_still_text(tmp_path):
    """A v7 header is known by its checksum and its NUL-padded name: a text holds no NUL."""
    f = tmp_path / "t.txt"
    head = bytearray(("x" * 99 + "\n") * 6, "ascii")[:512]
    head[148:156] = b" " * 8
    head[148:156] = b"%06o\n " % sum(head)      # the right checksum, the name unpadded
    f.write_bytes(bytes(head) + "\n".join(PERMS).encode() + b"\n")
    assert len(read_lines(str(f), False, "", "")) == 6 + len(PERMS)
