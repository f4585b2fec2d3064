"""Image folders (audit F129): a class folder that is a link into another class's tree leaves that
tree whole (the real folder keeps its class, the link is skipped and named, not the real folder);
the colour key (tRNS) of a 2- or 4-bit grey PNG is scaled with its pixels and composited over black."""
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from gankit.data.image_decode import read_image
from gankit.data.image_files import list_image_folder, load_image_folder
from tests.test_image_files_user import caught, grey


# ------------------------------------------------------------------ a class link into another class

def listed(root: Path):
    (r, files, names), said = caught(list_image_folder, root)
    return [(str(p.relative_to(r)), label) for p, label in files], names, said


def test_class_link_to_another_class_subfolder_is_skipped_not_the_real_folder(tmp_path):
    root = tmp_path / "lk"
    for p in ("A/a1.png", "A/sub/s1.png", "B/b1.png"):
        grey(root / p)
    os.symlink(root / "A" / "sub", root / "C")
    files, names, said = listed(root)
    assert names == ["A", "B"]                                   # C adds nothing: not a class
    assert files == [("A/a1.png", 0), ("A/sub/s1.png", 0), ("B/b1.png", 1)]
    line = [m for m in said if "read already" in m]
    assert len(line) == 1 and "skipped 1 linked folder(s)" in line[0], said
    assert "'C' (read as 'A/sub')" in line[0], line                # the link named, the real folder kept
    assert "'A/sub' (" not in line[0], line


def test_folder_met_again_below_a_link_is_not_offered_for_removal_as_a_link(tmp_path):
    root, ext = tmp_path / "root", tmp_path / "ext"
    grey(root / "A" / "a.png")
    grey(ext / "e.png", value=7)
    grey(ext / "sub" / "s.png", value=9)
    os.symlink(ext / "sub", root / "C")        # C claims ext/sub first (sorted before D)
    os.symlink(ext, root / "D")                # D's walk then meets ext/sub, a real folder, again
    files, names, said = listed(root)
    assert names == ["A", "C", "D"]
    assert files == [("A/a.png", 0), ("C/s.png", 1), ("D/e.png", 2)]    # s.png once
    assert not any("linked folder(s)" in m for m in said), said         # D/sub is no link to remove
    line = [m for m in said if "reached a second way" in m]
    assert len(line) == 1 and "'D/sub' (read as 'C')" in line[0] and "remove" not in line[0], said


def test_folder_tree_without_links_reads_as_before(tmp_path):
    root = tmp_path / "tree"
    for p in ("b/x/2.png", "b/1.png", "b/x/y/3.png", "b/.hid/h.png", "b/x/.h2/z/h.png", "a/z.png",
              "a/m/n.png", ".hidden/q.png", "c/.only/h.png"):
        grey(root / p)
    (root / "a" / "notes.txt").write_text("x")
    files, names, said = listed(root)
    assert names == ["a", "b"]
    assert files == [("a/m/n.png", 0), ("a/z.png", 0), ("b/1.png", 1), ("b/x/2.png", 1), ("b/x/y/3.png", 1)]
    assert not any("read already" in m or "second way" in m for m in said), said
    assert any("['c'] hold no images" in m for m in said), said


# ------------------------------------------------------------------ colour keys of low-bit grey PNGs

def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def grey_png(path: Path, pixels: list[list[int]], bits: int, key: int):
    """A grey PNG (colour type 0) of ``bits`` per pixel with the colour key ``key`` (tRNS): written
    by hand, since Pillow does not save low-bit grey with a key."""
    rows = b""
    for row in pixels:
        acc = "".join(format(v, f"0{bits}b") for v in row)
        acc += "0" * (-len(acc) % 8)
        rows += b"\0" + int(acc, 2).to_bytes(len(acc) // 8, "big")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", len(pixels[0]), len(pixels),
                                                                       bits, 0, 0, 0, 0))
                     + chunk(b"tRNS", struct.pack(">H", key)) + chunk(b"IDAT", zlib.compress(rows))
                     + chunk(b"IEND", b""))


# (bits, pixels, key, what a viewer shows: the keyed pixels black, the others scaled to 8 bits)
CASES = [(2, [[1, 2], [3, 1]], 1, [[0, 170], [255, 0]]),
         (4, [[3, 2], [15, 3]], 3, [[0, 34], [255, 0]]),
         (1, [[1, 0], [0, 1]], 1, [[0, 0], [0, 0]]),
         (1, [[1, 0], [0, 1]], 0, [[255, 0], [0, 255]]),
         (8, [[3, 2], [15, 3]], 3, [[0, 2], [15, 0]])]


def test_low_bit_grey_colour_keys_are_composited_over_black(tmp_path):
    for bits, pixels, key, want in CASES:
        p = tmp_path / f"k{bits}_{key}.png"
        grey_png(p, pixels, bits, key)
        with Image.open(p) as im:     # what is tested: Pillow scales 2-, 4-bit pixels, not their key
            assert im.size == (2, 2) and im.info["transparency"] == (key if bits in (2, 4, 8) else 255 * key)
        notes = {}
        assert np.asarray(read_image(p, 1, notes)).tolist() == want, (bits, key)
        assert notes.get("transparent") == 1, (bits, key)
        assert np.asarray(read_image(p, 3, {}))[..., 1].tolist() == want, (bits, key)


def test_low_bit_grey_colour_key_in_a_folder(tmp_path):
    grey_png(tmp_path / "k2.png", [[1, 2], [3, 1]], 2, 1)
    grey_png(tmp_path / "k4.png", [[3, 2], [15, 3]], 4, 3)
    (x, y, names), said = caught(load_image_folder, tmp_path)
    assert x[:, 0].tolist() == [[[0, 170], [255, 0]], [[0, 34], [255, 0]]]
    assert any("2 image(s) have transparent pixels" in m for m in said), said
