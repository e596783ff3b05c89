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

import bson

from bravo_pipeline.mongo.documents import to_bson

MAX_BSON_DOCUMENT_BYTES = 16 * 1024 * 1024
# A document's BSON is at most about 6.5× its JSON text (short array elements get index keys and
# type bytes); below this JSON length it is certainly under the limit, so only longer lines are encoded.
SURELY_SMALL_JSON_BYTES = MAX_BSON_DOCUMENT_BYTES // 8
# A JSON key (a string right after `{` or `,` and followed by `:`) that starts with $, or holds . or \u0000.
# Inside a JSON string a quote is always escaped, so `{"` and `,"` only occur where a string starts.
# A cheaper search that every refused key also matches (and some values): the exact one runs only after it.
_MAYBE_REFUSED = re.compile(rb'"\$|\\u0000|\.[^"\\]*(?:\\.[^"\\]*)*":')
_REFUSED_KEY_TEXT = re.compile(rb'[{,]"(\$(?:[^"\\]|\\.)*|(?:[^"\\]|\\.)*?(?:\.|\\u0000)(?:[^"\\]|\\.)*)":')


def too_large(size: int) -> str:
    """Why a server refuses a document of `size` BSON bytes."""
    return f"{size} bytes is over the 16 MB limit"


def oversized_bytes(line: bytes) -> int | None:
    """The BSON size of the campaign document on this JSON line when it is over the limit, else None."""
    if len(line) < SURELY_SMALL_JSON_BYTES:
        return None
    size = len(bson.encode(to_bson(json.loads(line))))
    return size if size > MAX_BSON_DOCUMENT_BYTES else None


def refused_keys(text: bytes) -> list[str]:
    """The keys of JSON document text that MongoDB refuses or cannot address."""
    if not _MAYBE_REFUSED.search(text):
        return []
    return [json.loads(b'"' + key + b'"') for key in _REFUSED_KEY_TEXT.findall(text)]
