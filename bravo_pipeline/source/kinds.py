"""Which source an export reads, and what each kind needs: one rule for the CLI and the raw asset."""

from __future__ import annotations

from bravo_pipeline.source.connection import SourceError

KINDS = ("demo", "live", "dump")


def choose_kind(requested: str, *, dump: str, source_uri: str | None) -> str:
    """The kind of source of an export: `requested`, or when empty `dump` with a dump file, `live` with
    BRAVO_SOURCE_URI, else `demo`. A kind whose needs are not met is refused with one line."""
    kind = requested or ("dump" if dump else ("live" if source_uri else "demo"))
    if kind not in KINDS:
        raise SourceError(f"unknown source {kind!r}: use demo, live or dump")
    if dump and kind != "dump":
        raise SourceError(f"a dump file goes with source dump, not {kind}")
    if kind == "live" and not source_uri:
        raise SourceError("a live export needs BRAVO_SOURCE_URI (the server to export from)")
    if kind == "dump" and not dump and not source_uri:
        raise SourceError("a dump export needs a dump file (--dump), or BRAVO_SOURCE_URI to run pg_dump on")
    return kind
