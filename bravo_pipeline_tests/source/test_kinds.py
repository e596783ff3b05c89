"""Which source an export reads: the one rule the CLI and the raw asset both apply."""

from __future__ import annotations

import pytest

from bravo_pipeline.source.connection import SourceError
from bravo_pipeline.source.kinds import choose_kind

URI = "postgresql://app@db.example/media_tool"


@pytest.mark.parametrize(("requested", "dump", "uri", "kind"), [
    ("", "", None, "demo"), ("", "", URI, "live"), ("", "prod.dump", None, "dump"),
    ("", "s3://b/k.dump", URI, "dump"), ("dump", "", URI, "dump"), ("demo", "", URI, "demo"),
])
def test_the_kind_follows_what_is_given(requested: str, dump: str, uri: str | None, kind: str) -> None:
    assert choose_kind(requested, dump=dump, source_uri=uri) == kind


@pytest.mark.parametrize(("requested", "dump", "uri", "message"), [
    ("live", "", None, "a live export needs BRAVO_SOURCE_URI"),
    ("dump", "", None, "a dump export needs a dump file (--dump), or BRAVO_SOURCE_URI"),
    ("live", "prod.dump", URI, "a dump file goes with source dump, not live"),
    ("mysql", "", URI, "unknown source 'mysql': use demo, live or dump"),
])
def test_a_kind_without_what_it_needs_is_refused_in_one_line(requested: str, dump: str, uri: str | None,
                                                              message: str) -> None:
    with pytest.raises(SourceError) as refused:
        choose_kind(requested, dump=dump, source_uri=uri)
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)
