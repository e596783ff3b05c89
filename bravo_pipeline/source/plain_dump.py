"""A plain SQL dump made fit to feed to psql: no client commands, no ownership or privileges.

A plain dump is text that psql executes, and psql also runs its own
backslash commands (`\\! shell`, `\\copy ... to file`, `\\o`), so a crafted dump
could run programs on this machine. The stream handed to psql therefore starts
with `\\restrict <random key>`: psql then refuses every backslash command but
`\\unrestrict <that key>`, which the dump cannot know. The dump's own
`\\restrict`/`\\unrestrict` lines (pg_dump writes them since PostgreSQL 17.6)
are dropped.

Statements that need the dump's roles (`ALTER ... OWNER TO`, `GRANT`, `REVOKE`,
`ALTER DEFAULT PRIVILEGES`, `SET SESSION AUTHORIZATION`) are skipped, as
`pg_restore --no-owner --no-privileges` skips them for the other formats. The
dump is read statement by statement with a small lexer (quotes, dollar quotes,
comments, COPY data blocks), so a function body that merely contains such a
line is kept intact.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

_COPY_FROM_STDIN = re.compile(rb"^COPY\s.*\sFROM\s+stdin\b.*;\s*$", re.IGNORECASE | re.DOTALL)
_DUMP_RESTRICT = re.compile(rb"^\\(un)?restrict\s+[A-Za-z0-9]+\s*$")
_SKIPPED = re.compile(
    rb"^\s*(GRANT\s|REVOKE\s|ALTER\s+DEFAULT\s+PRIVILEGES\s|SET\s+SESSION\s+AUTHORIZATION\s"
    rb"|RESET\s+SESSION\s+AUTHORIZATION\b"
    rb'|ALTER\s.*\sOWNER\s+TO\s+(?:"(?:[^"]|"")+"|[A-Za-z0-9_$]+|CURRENT_USER|SESSION_USER)\s*;\s*$)',
    re.IGNORECASE | re.DOTALL,
)
_DOLLAR_TAG = re.compile(rb"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


@dataclass
class _Lexer:
    """Where a position in the SQL text stands: inside a quote, a comment, or at the top level."""

    quote: bytes | None = None  # b"'", b'"', or a dollar tag like b"$body$"
    escapes: bool = False  # inside E'...'
    block_comments: int = 0

    def ends_statement(self, line: bytes) -> bool:
        """Advance over one line; True when a top-level `;` ends a statement on it."""
        ended = False
        i, n = 0, len(line)
        while i < n:
            c = line[i : i + 1]
            if self.block_comments:
                if line.startswith(b"*/", i):
                    self.block_comments -= 1
                    i += 2
                elif line.startswith(b"/*", i):
                    self.block_comments += 1
                    i += 2
                else:
                    i += 1
            elif self.quote in (b"'", b'"'):
                if self.escapes and c == b"\\":
                    i += 2
                elif c == self.quote:
                    if line[i + 1 : i + 2] == self.quote:
                        i += 2
                    else:
                        self.quote, self.escapes = None, False
                        i += 1
                else:
                    i += 1
            elif self.quote is not None:  # dollar quote
                end = line.find(self.quote, i)
                if end < 0:
                    return ended
                i = end + len(self.quote)
                self.quote = None
            elif line.startswith(b"--", i):
                return ended
            elif line.startswith(b"/*", i):
                self.block_comments = 1
                i += 2
            elif c in (b"'", b'"'):
                self.escapes = c == b"'" and i > 0 and line[i - 1 : i] in (b"E", b"e")
                self.quote = c
                i += 1
            elif c == b"$" and (tag := _DOLLAR_TAG.match(line, i)) and not line[i - 1 : i].isalnum():
                self.quote = tag.group(0)
                i = tag.end()
            else:
                if c == b";":
                    ended = True
                i += 1
        return ended

    @property
    def at_top(self) -> bool:
        return self.quote is None and not self.block_comments


@dataclass
class PlainDumpFilter:
    """Turns the lines of a plain dump into psql's input; counts what it skipped."""

    key: str = field(default_factory=lambda: secrets.token_hex(16))
    skipped_statements: int = 0

    def lines(self, dump: Iterable[bytes]) -> Iterator[bytes]:
        yield f"\\restrict {self.key}\n".encode()
        lexer = _Lexer()
        statement: list[bytes] = []
        in_copy = False
        for line in dump:
            if in_copy:
                yield line
                in_copy = line.rstrip(b"\r\n") != b"\\."
                continue
            if not statement and lexer.at_top:
                if _DUMP_RESTRICT.match(line):
                    continue
                if not line.strip() or line.lstrip().startswith(b"--"):
                    yield line
                    continue
            statement.append(line)
            if not lexer.ends_statement(line):
                continue
            text = b"".join(statement)
            statement = []
            if _SKIPPED.match(text):
                self.skipped_statements += 1
                continue
            in_copy = bool(_COPY_FROM_STDIN.match(text.strip()))
            yield text
        if statement:
            yield b"".join(statement)
