"""Text and word files in encodings other than UTF-8: UTF-16/UTF-32 refused naming the encoding
and a working iconv command; a single-byte file read with a warning that says what becomes of
its other bytes and how to convert it."""
import shlex
import shutil
import subprocess
import warnings

import pytest

from gankit.registry import DATASETS
from gankit.config import ConfigError
from gankit.data.text_encoding import read_lines

LINES = ["café crème", "naïve idea", "the cat", "a dog ran", "été", "über alles", "hello world",
         "дом", "日本語"]
WORDS = ["cat", "dog", "bird", "fish", "café", "été", "naïve", "house", "tree", "lamp"] * 3
HAS_ICONV = shutil.which("iconv") is not None


def _load(kind, path, **kw):
    if kind == "textfile":
        return DATASETS.build("textfile", {"path": str(path), "level": "char", "max_len": 12,
                                           "test_fraction": 0.2, **kw})
    return DATASETS.build("words", {"path": str(path), "lowercase_only": False, **kw})


def _paste(cmd: str, cwd) -> None:
    """Runs the command a message gives (between backquotes), as a user pasting it would."""
    subprocess.run(["sh", "-c", cmd.split("`")[1]], cwd=cwd, check=True)


@pytest.mark.parametrize("codec, bom, name", [
    ("utf-16-le", b"\xff\xfe", "UTF-16"), ("utf-16-be", b"\xfe\xff", "UTF-16"),
    ("utf-16-le", b"", "UTF-16LE"), ("utf-16-be", b"", "UTF-16BE"),
    ("utf-32-le", b"\xff\xfe\x00\x00", "UTF-32"), ("utf-32-be", b"", "UTF-32BE")])
@pytest.mark.parametrize("kind", ["textfile", "words"])
def test_utf16_and_utf32_files_are_refused_with_the_iconv_command(tmp_path, codec, bom, name, kind):
    """Read as UTF-8 they were NUL bytes between letters, trained on as tokens (exit 0)."""
    f = tmp_path / "my data" / "it's.txt"
    f.parent.mkdir()
    text = "\n".join(WORDS if kind == "words" else LINES) + "\n"
    f.write_bytes(bom + text.encode(codec))
    with warnings.catch_warnings():
        warnings.simplefilter("error")        # refused before any warning about NULs or bytes
        with pytest.raises(ConfigError) as e:
            _load(kind, f)
    msg = str(e.value)
    out = f"{f}.utf8.txt"
    assert f"is {name} (" in msg and "\n" not in msg, msg
    assert f"`iconv -f {name} -t UTF-8 {shlex.quote(str(f))} > {shlex.quote(out)}`" in msg, msg
    assert f"--set data.path={shlex.quote(out)}" in msg, msg
    if HAS_ICONV:       # the command works as given: its output is the text, in UTF-8
        _paste(msg, tmp_path)
        assert (tmp_path / out).read_bytes() == text.encode("utf-8")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            _load(kind, out)


def test_stray_nul_bytes_in_a_utf8_file_are_not_taken_for_utf16(tmp_path):
    """A UTF-8 file with a NUL or two (even one after a line end) is still read as UTF-8, its NULs
    tokens with the control-character warning."""
    f = tmp_path / "nul.txt"
    c_strings = "".join(f"{w}\x00\n" for w in WORDS)     # a C program that wrote each word's NUL
    for data in ["ab\x00c\nxy\nzw\n", "abc\n\x00de\nfg\nhi\n", "café\x00\x00\nété\nnaïve\n", c_strings]:
        f.write_bytes(data.encode("utf-8"))
        with pytest.warns(UserWarning, match="control characters"):
            ds = _load("textfile", f, test_fraction=0.3)
        assert "\x00" in ds.vocab


def test_utf16_of_another_script_without_a_mark_is_recognised(tmp_path):
    f = tmp_path / "ru.txt"
    f.write_bytes("дом и сад\nкошка, собака.\nмама мыла раму\n".encode("utf-16-le"))
    with pytest.raises(ConfigError, match=r"is UTF-16LE .*iconv -f UTF-16LE"):
        _load("textfile", f)


def test_a_utf16_name_starting_with_a_dash_is_no_iconv_option(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "-w.txt").write_bytes("\n".join(WORDS).encode("utf-16"))
    with pytest.raises(ConfigError, match=r"`iconv -f UTF-16 -t UTF-8 \./-w\.txt > "
                                          r"\./-w\.txt\.utf8\.txt`"):
        _load("words", "-w.txt")


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_single_byte_advice_is_quoted_and_does_not_claim_latin1(tmp_path, encoding):
    f = tmp_path / "dir with space" / "l'été.txt"
    f.parent.mkdir()
    text = "\n".join(LINES[:7]) + "\n"
    extra = ["“q” – d"] if encoding == "cp1252" else []    # its quotes and dash are no latin-1
    text += "".join(s + "\n" for s in extra)
    f.write_bytes(text.encode(encoding))
    with pytest.warns(UserWarning) as record:
        ds = _load("textfile", f)
    msg = next(str(w.message) for w in record if "not UTF-8" in str(w.message))
    assert "they read as <unk>" in msg and "if the file is latin-1/cp1252" in msg, msg
    out = f"{f}.utf8.txt"
    assert f"`iconv -f CP1252 -t UTF-8 {shlex.quote(str(f))} > {shlex.quote(out)}`" in msg, msg
    assert "<unk>" in " ".join(ds.decode(ds.train)) + " ".join(ds.decode(ds.test))
    if HAS_ICONV:
        _paste(msg, tmp_path)
        assert (tmp_path / out).read_bytes() == text.encode("utf-8")


def test_words_with_lowercase_only_say_non_utf8_words_are_left_out(tmp_path):
    f = tmp_path / "latin.txt"
    f.write_bytes(("\n".join(WORDS) + "\n").encode("latin-1"))
    with pytest.warns(UserWarning, match=r"not UTF-8 \(the first on line 5\): the words holding them "
                                         r"are left out \(data.lowercase_only") as record:
        ds = DATASETS.build("words", {"path": str(f)})
    assert not any("<unk>" in str(w.message) for w in record)
    # what the warning says: those words are gone (7 a-z words, 3 times each), not read with <unk>
    assert len(ds.train) + len(ds.test) == 21 and not any("<unk>" in w for w in ds.train_lines)
    with pytest.warns(UserWarning, match=r"not UTF-8 \(the first on line 5\): they read as <unk>"):
        ds = DATASETS.build("words", {"path": str(f), "lowercase_only": False})
    assert "caf<unk>" in ds.train_lines | set(ds.decode(ds.test))


def test_lowercase_only_keeping_no_word_of_a_non_utf8_file_says_to_convert_it(tmp_path):
    f = tmp_path / "latin.txt"
    f.write_bytes(("\n".join(["café", "été", "naïve", "crème"] * 5) + "\n").encode("latin-1"))
    with pytest.warns(UserWarning, match="left out"), \
            pytest.raises(ConfigError, match=r"keeps 0 of the 20 lines .*20 of them hold bytes that are "
                                             r"not UTF-8: convert the file to UTF-8.*lowercase_only=false"):
        DATASETS.build("words", {"path": str(f)})


CJK = ["日本語のテキストです", "中文文本示例句子", "한국어 문장 예시", "東京は大きな都市", "今日は良い天気ですね",
       "我喜欢学习新语言"] * 3


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
@pytest.mark.parametrize("end", ["\n", "\r\n"])
def test_cjk_in_utf16_or_utf32_without_a_mark_is_refused_naming_it(tmp_path, codec, end):
    """Its characters spread over many blocks of 256: it was trained on as garbage, advised as CP1252."""
    f = tmp_path / "cjk.txt"
    f.write_bytes((end.join(CJK) + end).encode(codec))
    name = codec.upper().replace("-LE", "LE").replace("-BE", "BE")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ConfigError, match=rf"is {name} \(NUL bytes .*`iconv -f {name} -t UTF-8 "):
            _load("textfile", f)


MANY_SCRIPTS = ["café crème déjà vu", "日本語のテキスト", "emoji 😀🎉 here", "مرحبا بالعالم", "שלום עולם",
                "한국어 문장", "дом и сад", "naïve façade"] * 3


def test_utf8_text_of_many_scripts_is_read_without_a_word(tmp_path):
    f = tmp_path / "many.txt"
    f.write_text("\n".join(MANY_SCRIPTS) + "\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _load("textfile", f, max_len=30)
    assert read_lines(str(f), False, "", "") == MANY_SCRIPTS


def test_latin1_text_is_warned_not_refused(tmp_path):
    f = tmp_path / "l1.txt"
    f.write_bytes(("\n".join(LINES[:7]) * 3 + "\n").encode("latin-1"))
    with pytest.warns(UserWarning, match="iconv -f CP1252"):
        _load("textfile", f, max_len=30)


@pytest.mark.parametrize("kind", ["textfile", "words"])
def test_a_non_utf8_file_of_which_no_token_is_readable_says_to_convert_it_not_to_lower_min_count(tmp_path, kind):
    """data.min_count = 1 already keeps every readable token: "lower data.min_count" was no fix."""
    f = tmp_path / "latin1b.txt"
    if kind == "textfile":     # every word holds an accent
        f.write_bytes("café crème\nnaïve façade\nrésumé déjà\n".encode("latin-1"))
        params = {"level": "word"}
    else:                      # words reads characters: lines of accents only
        f.write_bytes("é\nè\nàà\n".encode("latin-1"))
        params = {"lowercase_only": False}
    with pytest.warns(UserWarning, match="iconv -f CP1252"), pytest.raises(ConfigError) as e:
        _load(kind, f, **params)
    msg = str(e.value)
    assert "min_count" not in msg, msg
    assert "holds bytes that are not UTF-8" in msg and "convert the file to UTF-8 (the warning above" in msg, msg


def test_a_file_of_only_special_tokens_is_said_to_be_so(tmp_path):
    f = tmp_path / "specials.txt"
    f.write_text("<unk> <pad>\n<end>\n<unk>\n<pad> <pad>\n")
    with pytest.raises(ConfigError, match=r"they are the special tokens <pad>, <end>, <unk> written out\), "
                                          r"so every token would be <unk>; give a file of other text"):
        _load("textfile", f, level="word")


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("line", ["\u200f\u05e9\u05dc\u05d5\u05dd %d", "\u200e\u202bpage %d\u202c", "Chapter %d\x0c",
                                  "line %d of the long log of a program that resets its colour: \x1b[0m"])
def test_utf16_with_bidi_marks_or_form_feeds_without_a_mark_is_named(tmp_path, codec, line):
    """Hebrew with its right-to-left marks, a text with page breaks or a rare escape: any control
    character made it "not a text file: 50% ... control bytes", convert with iconv, no -f (audit a156)."""
    f = tmp_path / "marks.txt"
    text = "\n".join(line % i for i in range(200)) + "\n"
    f.write_bytes(text.encode(codec))
    name = codec.upper().replace("-LE", "LE").replace("-BE", "BE")
    with pytest.raises(ConfigError, match=rf"is {name} \(NUL bytes .*`iconv -f {name} -t UTF-8 "):
        read_lines(str(f), False, "", "")


def test_utf16_with_many_terminal_escapes_is_refused_naming_the_encoding_its_nuls_have(tmp_path):
    """Too many controls to be taken for text, it is still refused with the iconv command that
    converts it; an array of small integers (it decodes as UTF-32 too) is not advised so."""
    f = tmp_path / "log.txt"
    text = "".join(f"\x1b[1mword{i}\x1b[0m and more\n" for i in range(200))
    f.write_bytes(text.encode("utf-16-le"))
    with pytest.raises(ConfigError) as e:
        read_lines(str(f), False, "", "")
    msg = str(e.value)
    assert "is not a text file: " in msg and "\n" not in msg, msg
    assert f"if it is, convert it with `iconv -f UTF-16LE -t UTF-8 {f} > {f}.utf8.txt`" in msg, msg
    if HAS_ICONV:
        _paste(msg, tmp_path)
        assert read_lines(f"{f}.utf8.txt", False, "", "")[:2] == ["\x1b[1mword0\x1b[0m and more",
                                                                   "\x1b[1mword1\x1b[0m and more"]
    ints = tmp_path / "ints.bin"
    ints.write_bytes(b"".join(i.to_bytes(4, "little") for i in range(128)) * 30)   # int32 0..127
    with pytest.raises(ConfigError, match=r"not a text file: .*encoding gankit does not recognise"):
        read_lines(str(ints), False, "", "")
