"""Image folders (audit F118): links to folders inside a class folder are followed, each real folder
read once (loops and second ways to a folder skipped with a warning); PNG colour keys (tRNS of an L,
RGB or 16-bit grey image) are composited over black like an alpha channel."""
import os
from pathlib import Path

import numpy as np
from PIL import Image

from gankit.data.image_decode import read_image
from gankit.data.image_files import load_image_folder
from gankit.data.images import folder_extent
from tests.test_image_files_user import caught, grey


def two_classes(tmp_path: Path) -> Path:
    """root/dogs: three images of 50; root/cats holds only a link to a folder of three images of 200."""
    root, ext = tmp_path / "root", tmp_path / "ext"
    for i in range(3):
        grey(root / "dogs" / f"d{i}.png", value=50)
        grey(ext / f"e{i}.png", value=200)
    (root / "cats").mkdir()
    os.symlink(ext, root / "cats" / "batch1")
    return root


# ------------------------------------------------------------------ links to folders

def test_class_held_only_through_a_linked_folder_is_read(tmp_path):
    root = two_classes(tmp_path)
    (x, y, names), said = caught(load_image_folder, root)
    assert names == ["cats", "dogs"]
    assert y.tolist() == [0, 0, 0, 1, 1, 1]
    assert x[y == 0].min() == 200 and x[y == 1].max() == 50      # cats are the linked images
    assert not any("hold no images" in m for m in said), said


def test_linked_folder_beside_real_files_is_read_with_them(tmp_path):
    root = two_classes(tmp_path)
    grey(root / "cats" / "own.png", value=201)
    read = []
    (x, y, names), _ = caught(load_image_folder, root, files_read=read)
    assert sorted(x[y == 0, 0, 0, 0].tolist()) == [200, 200, 200, 201]
    assert sum(p.parent.name == "batch1" for p in read) == 3
    # the memory check counts the files the loader reads
    assert caught(folder_extent, str(root), 8, "error")[0] == (7, 8)


def test_link_back_to_the_root_is_skipped_not_a_class(tmp_path):
    root = tmp_path / "loopA"
    for i in range(3):
        grey(root / f"a{i}.png", value=90)
    os.symlink(root, root / "self")
    (x, y, names), said = caught(load_image_folder, root)
    assert len(x) == 3 and y is None and names is None      # a flat folder, not the class "self"
    assert sum("'self'" in m and "read already" in m for m in said) == 1, said


def test_loops_under_a_linked_folder_are_skipped_each_image_read_once(tmp_path):
    root = two_classes(tmp_path)
    ext = tmp_path / "ext"
    os.symlink(tmp_path, ext / "up")          # above the root: the whole tree again
    os.symlink(ext, ext / "again")            # itself
    os.symlink(root / "dogs", root / "cats" / "dogs_too")   # another class's folder
    read = []
    (x, y, names), said = caught(load_image_folder, root, files_read=read)
    assert y.tolist() == [0, 0, 0, 1, 1, 1]                 # dogs keep their label, nothing twice
    assert len(set(read)) == len(read) == 6
    line = [m for m in said if "read already" in m]
    assert len(line) == 1 and "3 linked folder(s)" in line[0] and "cats/batch1/again" in line[0], said


# ------------------------------------------------------------------ colour keys (tRNS)

def disc() -> np.ndarray:
    """16x16 RGBA: a grey disc (128) on white that is fully transparent."""
    a = np.full((16, 16, 4), 255, np.uint8)
    a[..., 3] = 0
    yy, xx = np.mgrid[:16, :16]
    a[(yy - 8) ** 2 + (xx - 8) ** 2 < 25] = (128, 128, 128, 255)
    return a


def test_rgb_and_grey_colour_keys_are_composited_over_black(tmp_path):
    a = disc()
    Image.fromarray(a, "RGBA").save(tmp_path / "1_rgba.png")
    Image.fromarray(a[..., :3]).save(tmp_path / "2_rgb_key.png", transparency=(255, 255, 255))
    Image.fromarray(a[..., 0]).save(tmp_path / "3_grey_key.png", transparency=255)
    for channels in (1, 3):
        (x, _, _), said = caught(load_image_folder, tmp_path, channels=channels)
        assert x[:, :, 0, 0].tolist() == [[0] * channels] * 3          # the background: black, not white
        assert x[:, :, 8, 8].tolist() == [[128] * channels] * 3        # the disc as stored
        assert any("3 image(s) have transparent pixels" in m for m in said), said


def test_16_bit_colour_key_matches_before_the_scaling_to_8_bits(tmp_path):
    b = np.full((16, 16), 65535, np.uint16)     # the key: clear
    b[8, :] = 65534                             # not the key: white (65534 / 257 -> 255), opaque
    b[4, 4] = 30000                             # 30000 / 257 -> 117
    Image.fromarray(b).save(tmp_path / "k16.png", transparency=65535)
    with Image.open(tmp_path / "k16.png") as im:
        assert im.mode.startswith("I") and im.info.get("transparency") == 65535     # what is tested
    notes = {}
    a = np.asarray(read_image(tmp_path / "k16.png", 1, notes))
    assert a[0, 0] == 0 and a[8, 0] == 255 and a[4, 4] == 117
    assert notes.get("transparent") == 1
