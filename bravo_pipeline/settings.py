"""Environment → typed settings, in one place.

Every knob of the project is an environment variable (a `.env` file in the
working directory is read too, without overriding the real environment).
Connection URIs are checked here, once, so that a malformed one is refused
with a line naming the variable and none of its text (see bravo_pipeline.uris).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bravo_pipeline.uris import UriError, postgres_params

DEFAULT_SCHEMA = "media_tool"
DEFAULT_DATABASE = "media_tool"
DEFAULT_MONGODB_DATABASE = "mediatool_v2"
DEFAULT_S3_PREFIX = "postgres-exports"


def load_dotenv(path: Path = Path(".env")) -> None:
    """Read KEY=VALUE lines into os.environ, never overriding what is already set."""
    if not path.is_file():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.removeprefix("export ").strip()
        value = value.strip().strip('"').strip("'")
        os.environ.setdefault(key, value)


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _postgres_uri(name: str) -> str | None:
    uri = _env(name)
    if uri is not None:
        postgres_params(uri, name)
    return uri


def _mongodb_uri(name: str) -> str | None:
    uri = _env(name)
    if uri is None:
        return None
    problem = "expected mongodb://user:password@host:port"
    if not uri.startswith(("mongodb://", "mongodb+srv://")):
        raise UriError(f"{name} is not a MongoDB URI ({problem})")
    if uri.startswith("mongodb://"):  # mongodb+srv:// would need a DNS lookup to check
        from pymongo.uri_parser import parse_uri

        try:
            parse_uri(uri, warn=True)
        except Exception:  # pymongo's messages may quote the URI, password included
            raise UriError(
                f"{name} is not a valid MongoDB URI (special characters in the user or password must be "
                f"percent-encoded; {problem})"
            ) from None
    return uri


def _instance_postgres_uri() -> str | None:
    """The database of a Dagster instance on PostgreSQL storage (deploy/dagster.yaml's DAGSTER_PG_*)."""
    host = _env("DAGSTER_PG_HOST")
    if host is None:
        return None
    from psycopg.conninfo import make_conninfo

    return make_conninfo(host=host, port=_env("DAGSTER_PG_PORT") or "5432", dbname=_env("DAGSTER_PG_DB") or "dagster",
                         user=_env("DAGSTER_PG_USERNAME") or "dagster", password=_env("DAGSTER_PG_PASSWORD") or "")


def _executor() -> str:
    name = _env("BRAVO_EXECUTOR") or "in_process"
    if name not in ("in_process", "multiprocess"):
        raise ValueError(f"BRAVO_EXECUTOR must be in_process or multiprocess, not {name!r}")
    return name


def _workers(name: str) -> int:
    text = _env(name) or "2"
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise ValueError(f"{name} must be a whole number from 1 to 64, not {text!r}")
    return int(text)


@dataclass(frozen=True)
class Settings:
    exports_dir: Path
    state_dir: Path
    source_uri: str | None
    source_schema: str
    postgres_uri: str | None
    mongodb_uri: str | None
    mongodb_database: str
    s3_bucket: str | None
    s3_prefix: str
    s3_endpoint_url: str | None
    export_workers: int
    shared_root: str | None
    claims_uri: str | None  # None: claims are file locks under the exports root (one host)
    executor: str  # in_process | multiprocess (BRAVO_EXECUTOR)

    @property
    def mongodb_embedded_path(self) -> Path:
        """The embedded MongoDB-compatible store, used when BRAVO_MONGODB_URI is unset."""
        return self.state_dir / "mongodb"

    @classmethod
    def from_env(cls) -> Settings:
        load_dotenv()
        return cls(
            exports_dir=Path(_env("BRAVO_EXPORTS_DIR") or "exports").resolve(),
            state_dir=Path(_env("BRAVO_STATE_DIR") or ".bravo").resolve(),
            source_uri=_postgres_uri("BRAVO_SOURCE_URI"),
            source_schema=_env("BRAVO_SOURCE_SCHEMA") or DEFAULT_SCHEMA,
            postgres_uri=_postgres_uri("BRAVO_POSTGRES_URI"),
            mongodb_uri=_mongodb_uri("BRAVO_MONGODB_URI"),
            mongodb_database=_env("BRAVO_MONGODB_DATABASE") or DEFAULT_MONGODB_DATABASE,
            s3_bucket=_env("BRAVO_S3_BUCKET"),
            s3_prefix=(_env("BRAVO_S3_PREFIX") or DEFAULT_S3_PREFIX).strip("/"),
            s3_endpoint_url=_env("BRAVO_S3_ENDPOINT_URL"),
            export_workers=_workers("BRAVO_EXPORT_WORKERS"),
            shared_root=_env("BRAVO_SHARED_ROOT"),
            claims_uri=_postgres_uri("BRAVO_CLAIMS_URI") or _instance_postgres_uri(),
            executor=_executor(),
        )
