"""The one mapping from a source table name to a file name (bravo_pipeline.names)."""

import pytest

from bravo_pipeline.names import UnsafeNameError, printable, table_filename, table_name_of

HOSTILE = [
    "../../mongodb-versions", "../outside", "x/y", "/etc/passwd", ".hidden", "..", ".", "export-summary",
    "schema", "transformation-summary", "Campaigns", "CAMPAIGNS", "tab\tname", "new\nline", "\x01\x1f",
    "%41", "A", " lead", "trail ", "a.json", "ü" * 31, "語" * 21, "x" * 63, "🙂" * 15, "\\back",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_every_identifier_maps_to_a_plain_file_name_and_back(name: str) -> None:
    filename = table_filename(name)
    assert filename.endswith(".json") and "/" not in filename and "\\" not in filename
    assert not filename.startswith(".") and ".." not in filename.removesuffix(".json")
    assert filename not in ("export-summary.json", "schema.json", "transformation-summary.json")
    assert len(filename.encode()) <= 255 and filename.isascii() and filename.isprintable()
    assert table_name_of(filename) == name


def test_known_tables_keep_their_plain_names_and_no_two_names_share_a_file() -> None:
    assert table_filename("campaigns") == "campaigns.json"
    assert table_filename("line_item_media_buys_history") == "line_item_media_buys_history.json"
    names = [*HOSTILE, "campaigns", "Campaigns", "%43ampaigns", "schema", "%73chema"]
    files = [table_filename(name) for name in names]
    assert len(set(files)) == len(set(names))
    assert len({f.lower() for f in files}) == len(set(names))  # case-insensitive disks too


@pytest.mark.parametrize("name", ["", "x" * 64, "é" * 32, "a\x00b"])
def test_names_postgresql_cannot_hold_are_refused(name: str) -> None:
    with pytest.raises(UnsafeNameError) as caught:
        table_filename(name)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "filename", ["schema.json", "export-summary.json", "%61.json", "x%2.json", "a.b.json", "x.JSON", "%2f.json", "x"]
)
def test_only_canonical_file_names_decode(filename: str) -> None:
    with pytest.raises(UnsafeNameError):
        table_name_of(filename)


def test_printable_keeps_messages_on_one_line() -> None:
    assert printable("campaigns") == "campaigns"
    assert printable("new\nline") == "'new\\nline'"
    assert "\n" not in printable("a\r\nb") and "\t" not in printable("a\tb")
