"""Names shown inside pages and figures: bidirectional controls cannot reorder the text around them."""
from gankit.io import shown_name


def test_bidirectional_controls_are_written_out():
    assert shown_name("run\u202eabc") == "run\\u202eabc"
    assert shown_name("z\u2067evil\u2069") == "z\\u2067evil\\u2069"
    assert shown_name("a\u200fb") == "a\\u200fb"


def test_other_names_are_kept():
    for name in ("שלום", "données", "a&b <img>", "my run #1 %20"):
        assert shown_name(name) == name          # escaping for HTML is the template engine's
    assert shown_name("a\udc80b") == "a\ufffdb"   # an undecodable byte of a file name, as displayable


def test_the_provenance_rows_show_commands_with_bidi_controls_written_out():
    from gankit.report.provenance import sessions
    rows = sessions([{"step": 0, "kind": "session", "command": "gankit train ring --out run\u202eabc"}])
    # quoted as the page's other commands are: pasted into a shell it names the same folder
    assert rows[0]["command"] == "gankit train ring --out $'run\\xe2\\x80\\xaeabc'"
