"""Connection URIs: parsed once, shown without credentials, handed to clients without putting secrets on argv.

A URI may hold a password (in the user part or as `?password=`). Nothing here
ever puts any part of a URI into an error message: a malformed URI is
described by what is wrong with its shape ("the port is not a number"), and a
well-formed one is shown as its host label and database only.

External PostgreSQL clients (pg_dump, pg_restore, psql) get every connection
parameter through libpq's environment variables and the password through a
password file (mode 0600, in a private folder, removed afterwards): their
argument lists hold no connection detail at all.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from psycopg.conninfo import conninfo_to_dict, make_conninfo

DEFAULT_PORT = "5432"
SECRET_ENV_VARIABLES = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "DAGSTER_PG_PASSWORD")
URI_ENV_VARIABLES = ("BRAVO_SOURCE_URI", "BRAVO_POSTGRES_URI", "BRAVO_MONGODB_URI", "BRAVO_CLAIMS_URI")
_MIN_SCRUBBED = 4  # shorter "secrets" would turn every message into asterisks

# libpq parameter → the environment variable libpq reads it from (see "Environment Variables" in libpq)
_LIBPQ_ENV = {
    "host": "PGHOST", "hostaddr": "PGHOSTADDR", "port": "PGPORT", "dbname": "PGDATABASE", "user": "PGUSER",
    "options": "PGOPTIONS", "application_name": "PGAPPNAME", "sslmode": "PGSSLMODE",
    "sslnegotiation": "PGSSLNEGOTIATION", "sslcompression": "PGSSLCOMPRESSION", "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY", "sslrootcert": "PGSSLROOTCERT", "sslcrl": "PGSSLCRL", "sslcrldir": "PGSSLCRLDIR",
    "sslsni": "PGSSLSNI", "requirepeer": "PGREQUIREPEER", "ssl_min_protocol_version": "PGSSLMINPROTOCOLVERSION",
    "ssl_max_protocol_version": "PGSSLMAXPROTOCOLVERSION", "gssencmode": "PGGSSENCMODE",
    "krbsrvname": "PGKRBSRVNAME", "gsslib": "PGGSSLIB", "connect_timeout": "PGCONNECT_TIMEOUT",
    "client_encoding": "PGCLIENTENCODING", "target_session_attrs": "PGTARGETSESSIONATTRS",
    "load_balance_hosts": "PGLOADBALANCEHOSTS", "channel_binding": "PGCHANNELBINDING",
    "service": "PGSERVICE", "passfile": "PGPASSFILE", "require_auth": "PGREQUIREAUTH",
}


# What a client inherits from this process: nothing else (no URIs, no cloud credentials).
_CLIENT_ENV = frozenset({"PATH", "HOME", "USER", "LANG", "LANGUAGE", "TZ", "TMPDIR", "SYSTEMROOT"})


class UriError(ValueError):
    """A connection URI that cannot be used, described without any of its text."""


def _shape_problem(uri: str) -> str:
    """What is wrong with a URI libpq refused, in words that quote none of it."""
    if not uri.startswith(("postgresql://", "postgres://")) and "=" not in uri:
        return "it does not start with postgresql://"
    if uri.count("[") != uri.count("]"):
        return "a [ of an IPv6 address is not closed"
    if "?" in uri:
        return "a query parameter is not one PostgreSQL knows, or a '?' in the password is not written %3F"
    return "special characters in the user or password must be percent-encoded"


def postgres_params(uri: str, variable: str = "the PostgreSQL URI") -> dict[str, str]:
    """The libpq parameters of `uri`; UriError naming `variable` (never the URI) when it is malformed."""
    try:
        params = conninfo_to_dict(uri)
    except Exception:
        raise UriError(
            f"{variable} is not a valid PostgreSQL URI ({_shape_problem(uri)}); "
            "expected postgresql://user:password@host:port/database"
        ) from None
    ports = str(params.get("port") or DEFAULT_PORT).split(",")
    if not all(port.strip().isdigit() for port in ports):
        raise UriError(
            f"{variable} is not a valid PostgreSQL URI (the port is not a number: is '@host' missing, "
            "or a ':' or '/' in the password not percent-encoded?)"
        )
    if "@" in str(params.get("dbname") or ""):
        raise UriError(
            f"{variable} is not a valid PostgreSQL URI (an '@' after the host: a '/' in the password "
            "must be written %2F)"
        )
    return {key: str(value) for key, value in params.items()}


def host_label(params: dict[str, str]) -> str:
    """`host:port` (several comma-separated for multi-host URIs; a socket folder for a Unix socket)."""
    hosts = (params.get("host") or params.get("hostaddr") or "localhost").split(",")
    ports = (params.get("port") or DEFAULT_PORT).split(",")
    if len(ports) == 1:
        ports = ports * len(hosts)
    return ",".join(f"{host.strip() or 'localhost'}:{port.strip()}" for host, port in zip(hosts, ports, strict=False))


def host_of(uri: str) -> str:
    """The host label of a PostgreSQL URI (see host_label), never credentials."""
    return host_label(postgres_params(uri))


def redact_uri(uri: str) -> str:
    """host:port/database of a connection URI, never the user or the password."""
    params = postgres_params(uri)
    database = params.get("dbname", "")
    label = host_label(params)
    return f"{label}/{database}" if database else label


def with_database(uri: str, database: str) -> str:
    """The same server and credentials, another database (a URI stays a URI)."""
    params = postgres_params(uri)
    if "://" not in uri:
        return make_conninfo(**{**params, "dbname": database})
    parts = urlsplit(uri)
    return urlunsplit(parts._replace(path="/" + quote(database, safe="")))


def mongodb_label(uri: str) -> str:
    """host:port of a MongoDB URI, never credentials."""
    rest = uri.split("://", 1)[1] if "://" in uri else ""
    hosts = rest.rsplit("@", 1)[-1]  # the last '@': a password with an unescaped '/' or '@' stays out
    hosts = hosts.split("/", 1)[0].split("?", 1)[0]
    return hosts or "localhost:27017"


def _passfile_line(password: str) -> str:
    escaped = password.replace("\\", "\\\\").replace(":", "\\:")
    return f"*:*:*:*:{escaped}\n"


@contextmanager
def client_environment(uri: str, variable: str = "the PostgreSQL URI") -> Iterator[dict[str, str]]:
    """An environment for pg_dump/pg_restore/psql that reaches `uri`: no connection detail on argv.

    Every parameter becomes its PG* variable; the password goes to a 0600 password
    file in a private temporary folder, deleted when the block ends.
    """
    params = postgres_params(uri, variable)
    password = params.pop("password", None)
    unknown = sorted(set(params) - set(_LIBPQ_ENV))
    if unknown:
        raise UriError(f"{variable}: connection parameter(s) {', '.join(unknown)} cannot be passed to the clients")
    env = {key: value for key, value in os.environ.items() if key in _CLIENT_ENV or key.startswith("LC_")}
    env.update({_LIBPQ_ENV[key]: value for key, value in params.items()})
    folder = Path(tempfile.mkdtemp(prefix="bravo-pgpass-"))
    try:
        if password is not None:
            passfile = folder / "pgpass"
            descriptor = os.open(passfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(_passfile_line(password))
            env["PGPASSFILE"] = str(passfile)
        yield env
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def known_secrets() -> set[str]:
    """Passwords of the configured URIs and secret variables of the environment, to scrub from messages."""
    found: set[str] = set()
    for name in URI_ENV_VARIABLES:
        uri = os.environ.get(name, "").strip()
        if not uri:
            continue
        try:
            password = urlsplit(uri).password
        except ValueError:
            password = None
        if password:
            found.add(password)
        try:
            password = conninfo_to_dict(uri).get("password")
        except Exception:
            password = None
        if password:
            found.add(str(password))
        if "@" in uri and "://" in uri:  # userinfo ends at the last '@', even when the password has a '/'
            userinfo = uri.split("://", 1)[1].rsplit("@", 1)[0]
            if ":" in userinfo:
                found.add(userinfo.split(":", 1)[1])
    found.update(os.environ[name] for name in SECRET_ENV_VARIABLES if os.environ.get(name))
    return {secret for secret in found if len(secret) >= _MIN_SCRUBBED}


def scrub(text: str, secrets: set[str] | None = None) -> str:
    """`text` with every known secret replaced by ***."""
    for secret in sorted(secrets if secrets is not None else known_secrets(), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
