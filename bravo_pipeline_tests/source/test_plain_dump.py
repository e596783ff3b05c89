"""The plain-dump filter: psql restricted to SQL, ownership and privileges skipped, everything else kept."""

from bravo_pipeline.source.plain_dump import PlainDumpFilter

DUMP = b"".join(line + b"\n" for line in [
    b'--',
    b'-- PostgreSQL database dump',
    b'--',
    b'',
    b'\\restrict AbC123',
    b'',
    b'SET statement_timeout = 0;',
    b'CREATE SCHEMA media_tool;',
    b'ALTER SCHEMA media_tool OWNER TO app_owner;',
    b'CREATE FUNCTION media_tool.f() RETURNS text LANGUAGE sql AS $body$',
    b'GRANT SELECT ON x TO y;',
    b"SELECT 'ALTER TABLE t OWNER TO z;'",
    b'$body$;',
    b'ALTER FUNCTION media_tool.f() OWNER TO "Weird ""Owner""";',
    b'CREATE TABLE media_tool.t (',
    b'    id integer DEFAULT 0,',
    b"    note text DEFAULT 'a ; GRANT'",
    b');',
    b"ALTER TABLE media_tool.t ALTER COLUMN note SET DEFAULT 'OWNER TO x;';",
    b'COPY media_tool.t (id, note) FROM stdin;',
    b'1\tGRANT ALL ON t TO x;',
    b'2\t\\restrict xyz',
    b'\\.',
    b'GRANT SELECT ON TABLE media_tool.t TO reader;',
    b'REVOKE ALL ON SCHEMA public FROM PUBLIC;',
    b'ALTER DEFAULT PRIVILEGES FOR ROLE app IN SCHEMA media_tool GRANT SELECT ON TABLES TO reader;',
    b"SET SESSION AUTHORIZATION 'app';",
    b"COMMENT ON TABLE media_tool.t IS E'it\\'s; GRANT';",
    b'/* a comment; GRANT x */ SELECT 1;',
    b'',
    b'\\unrestrict AbC123',
    b'',
])


def test_client_commands_are_restricted_and_roles_skipped() -> None:
    dump_filter = PlainDumpFilter(key="k3y")
    out = b"".join(dump_filter.lines(DUMP.splitlines(keepends=True)))
    lines = out.splitlines()
    assert lines[0] == b"\\restrict k3y"
    assert b"\\restrict AbC123" not in out and b"\\unrestrict AbC123" not in out
    assert b"ALTER SCHEMA media_tool OWNER TO" not in out and b"OWNER TO \"Weird" not in out
    assert b"GRANT SELECT ON TABLE" not in out and b"REVOKE ALL" not in out
    assert b"ALTER DEFAULT PRIVILEGES" not in out and b"SET SESSION AUTHORIZATION" not in out
    assert dump_filter.skipped_statements == 6
    for kept in (b"GRANT SELECT ON x TO y;", b"SELECT 'ALTER TABLE t OWNER TO z;'", b"note text DEFAULT 'a ; GRANT'",
                 b"SET DEFAULT 'OWNER TO x;';", b"1\tGRANT ALL ON t TO x;", b"2\t\\restrict xyz", b"\\.",
                 b"COMMENT ON TABLE media_tool.t IS E'it\\'s; GRANT';", b"/* a comment; GRANT x */ SELECT 1;"):
        assert kept in out, kept


def test_each_filter_has_its_own_key() -> None:
    assert PlainDumpFilter().key != PlainDumpFilter().key
