"""A PostgreSQL database that appears complete or not at all: built under a temporary name, then renamed.

`media_tool_<ts>` (a restored dump, or a rebuild from raw files) is created as
`media_tool_<ts>__partial`, filled, and renamed in one statement once complete.
A build that fails is dropped; one that was killed leaves only the `__partial`
database, which the next build of that name (holding its claim) or cleanup
drops. The finished name is never overwritten.
"""

from __future__ import annotations

from collections.abc import Callable

from psycopg import sql

from bravo_pipeline.faults import checkpoint
from bravo_pipeline.source.connection import SourceError, connect, database_exists
from bravo_pipeline.uris import redact_uri, with_database

PARTIAL_SUFFIX = "__partial"


def partial_name(database: str) -> str:
    return f"{database}{PARTIAL_SUFFIX}"


def drop_database(admin_uri: str, database: str) -> None:
    with connect(admin_uri, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))


def build_database(admin_uri: str, database: str, build: Callable[[str], None], *,
                   template: str | None = None) -> None:
    """Create `database` on the server of `admin_uri` by running `build(uri of the new database)`."""
    partial = partial_name(database)
    with connect(admin_uri, autocommit=True) as admin:
        if database_exists(admin, database):
            raise SourceError(f"database {database} already exists on {redact_uri(admin_uri)}; "
                              "it is never overwritten")
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(partial)))
        create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(partial))
        if template:
            create = sql.SQL("{} TEMPLATE {} ENCODING 'UTF8'").format(create, sql.Identifier(template))
        admin.execute(create)
    try:
        build(with_database(admin_uri, partial))
        checkpoint("database:built")
        with connect(admin_uri, autocommit=True) as admin:
            admin.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                sql.Identifier(partial), sql.Identifier(database)))
    except BaseException:
        drop_database(admin_uri, partial)
        raise
