"""Connection URIs: labels without credentials, malformed URIs refused without quoting them."""

import os
import stat

import pytest

from bravo_pipeline.uris import (
    UriError,
    client_environment,
    host_of,
    mongodb_label,
    postgres_params,
    redact_uri,
    scrub,
)

SECRET = "S3cretPw9"
MALFORMED = [
    f"postgresql://alice:{SECRET}/media_tool",  # '@host' forgotten: the password reads as a port
    f"postgresql://alice:{SECRET[:4]}/{SECRET[4:]}@127.0.0.1:5432/media_tool",  # '/' in the password
    "postgresql://alice:12345/678@127.0.0.1:5432/media_tool",  # a numeric password before a '/'
    f"postgresql://alice:{SECRET}@127.0.0.1:notaport/media_tool",
    f"postgresql://alice:{SECRET}@[::1/media_tool",
    f"postgresql://alice@127.0.0.1/media_tool?password={SECRET}&bogus=1",
    f"mysql://alice:{SECRET}@127.0.0.1/media_tool",
]


@pytest.mark.parametrize("uri", MALFORMED)
def test_malformed_uris_are_refused_without_quoting_them(uri: str) -> None:
    with pytest.raises(UriError) as caught:
        postgres_params(uri, "BRAVO_SOURCE_URI")
    message = str(caught.value)
    assert message.startswith("BRAVO_SOURCE_URI is not a valid PostgreSQL URI") and "\n" not in message
    assert SECRET not in message and "12345" not in message and "678" not in message and "alice" not in message


@pytest.mark.parametrize(
    ("uri", "label"),
    [
        (f"postgresql://u:{SECRET}@db.example:6432/media_tool", "db.example:6432/media_tool"),
        (f"postgresql://u@db.example/media_tool?password={SECRET}", "db.example:5432/media_tool"),
        ("postgresql:///media_tool?host=/var/run/postgresql", "/var/run/postgresql:5432/media_tool"),
        ("postgresql://h1:5432,h2:5433/media_tool", "h1:5432,h2:5433/media_tool"),
        (f"host=h port=7 user=u password={SECRET} dbname=d", "h:7/d"),
    ],
)
def test_labels_name_hosts_and_databases_only(uri: str, label: str) -> None:
    assert redact_uri(uri) == label and SECRET not in label
    assert host_of(uri) == label.rsplit("/", 1)[0]


def test_mongodb_labels_never_hold_credentials() -> None:
    assert mongodb_label(f"mongodb://u:{SECRET}@h:27017/db?x=1") == "h:27017"
    assert mongodb_label(f"mongodb://u:{SECRET[:3]}/{SECRET[3:]}@h") == "h"
    assert mongodb_label("mongodb://a:1,b:2") == "a:1,b:2"


def test_clients_get_the_password_from_a_private_file_that_is_removed() -> None:
    uri = f"postgresql://u:{SECRET}:x\\y@db.example:6432/media_tool?sslmode=require"
    with client_environment(uri) as env:
        passfile = env["PGPASSFILE"]
        assert stat.S_IMODE(os.stat(passfile).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(os.path.dirname(passfile)).st_mode) == 0o700
        with open(passfile) as handle:
            assert handle.read() == f"*:*:*:*:{SECRET}\\:x\\\\y\n"
        assert (env["PGHOST"], env["PGPORT"], env["PGUSER"], env["PGDATABASE"], env["PGSSLMODE"]) == (
            "db.example", "6432", "u", "media_tool", "require")
        assert not any(SECRET in value for key, value in env.items() if key != "PGPASSFILE")
    assert not os.path.exists(passfile)


def test_scrub_replaces_known_secrets() -> None:
    assert scrub(f"failed for {SECRET} at {SECRET}", {SECRET}) == "failed for *** at ***"
    assert scrub("nothing", set()) == "nothing"
