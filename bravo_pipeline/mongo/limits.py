"""What a MongoDB server refuses in a document, so it is found before the load, not during it.

- A document over 16 MiB of BSON (the server's maxBsonObjectSize).
- A key holding a NUL character (BSON cannot store it), starting with `$` or
  holding a `.`: servers before 5.0 refuse both, and from 5.0 on they are stored
  but no query or index can name them, so the app could not read the field.
- For the unique index on campaignNumber: a number on two documents, or a
  document without one (two of those already collide as null).
"""

from __future__ import annotations

import json
import re
from typing import Any

import bson

from bravo_pipeline.mongo.documents import to_bson

MAX_BSON_DOCUMENT_BYTES = 16 * 1024 * 1024
# A document's BSON is at most about 6.5× its JSON text (short array elements get index keys and
# type bytes); below this JSON length it is certainly under the limit, so only longer lines are encoded.
SURELY_SMALL_JSON_BYTES = MAX_BSON_DOCUMENT_BYTES // 8
# A key MongoDB refuses starts with $ or holds a . or a NUL. Every one matches one of these cheap
# searches (and so do some values): two plain substrings (memchr-fast), and a regex that starts with a
# literal, which re scans for quickly (apart, the three take half the time of one regex of their
# alternatives: 0.08 s for 20 MB). Only a document that matches is parsed for its keys.
_MAYBE_REFUSED_DOT = re.compile(rb'\.[^"\\]*(?:\\.[^"\\]*)*":')


def too_large(size: int) -> str:
    """Why a server refuses a document of `size` BSON bytes."""
    return f"{size} bytes is over the 16 MB limit"


def oversized_bytes(line: bytes) -> int | None:
    """The BSON size of the campaign document on this JSON line when it is over the limit, else None."""
    if len(line) < SURELY_SMALL_JSON_BYTES:
        return None
    size = len(bson.encode(to_bson(json.loads(line))))
    return size if size > MAX_BSON_DOCUMENT_BYTES else None


def may_hold_refused_keys(text: bytes) -> bool:
    """Whether JSON text (of one document or many) may hold a key MongoDB refuses: true for every such key."""
    return b'"$' in text or b"\\u0000" in text or _MAYBE_REFUSED_DOT.search(text) is not None


def _refused(key: str) -> bool:
    return key.startswith("$") or "." in key or "\0" in key


def refused_keys(document: bytes) -> list[str]:
    """The keys of one JSON document's text that MongoDB refuses or cannot address, as the parser reads them."""
    if not may_hold_refused_keys(document):
        return []
    found: list[str] = []

    def collect(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        found.extend(key for key, _ in pairs if _refused(key))
        return dict(pairs)

    json.loads(document, object_pairs_hook=collect)
    return found
