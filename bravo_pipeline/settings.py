"""Environment → typed settings, in one place.

Every knob of the project is an environment variable (a `.env` file in the
working directory is read too, without overriding the real environment).
Secrets never leave this module in printable form: use `redact_uri`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

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

    @classmethod
    def from_env(cls) -> Settings:
        load_dotenv()
        return cls(
            exports_dir=Path(_env("BRAVO_EXPORTS_DIR") or "exports").resolve(),
            state_dir=Path(_env("BRAVO_STATE_DIR") or ".bravo").resolve(),
            source_uri=_env("BRAVO_SOURCE_URI"),
            source_schema=_env("BRAVO_SOURCE_SCHEMA") or DEFAULT_SCHEMA,
            postgres_uri=_env("BRAVO_POSTGRES_URI"),
            mongodb_uri=_env("BRAVO_MONGODB_URI"),
            mongodb_database=_env("BRAVO_MONGODB_DATABASE") or DEFAULT_MONGODB_DATABASE,
            s3_bucket=_env("BRAVO_S3_BUCKET"),
            s3_prefix=(_env("BRAVO_S3_PREFIX") or DEFAULT_S3_PREFIX).strip("/"),
            s3_endpoint_url=_env("BRAVO_S3_ENDPOINT_URL"),
            export_workers=int(_env("BRAVO_EXPORT_WORKERS") or "2"),
            shared_root=_env("BRAVO_SHARED_ROOT"),
        )


def redact_uri(uri: str) -> str:
    """host:port/database of a connection URI, never the user or the password."""
    parts = urlsplit(uri)
    host = parts.hostname or "localhost"
    port = parts.port or 5432
    database = parts.path.lstrip("/")
    return f"{host}:{port}/{database}" if database else f"{host}:{port}"
