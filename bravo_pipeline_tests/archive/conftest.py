"""A fault-injecting proxy in front of the S3 server, and a real raw export."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bravo_pipeline.layout import ExportsLayout
from bravo_pipeline.source.raw_export import export_raw
from bravo_pipeline_tests.conftest import AWS_ENV  # noqa: F401  (imported by the tests of this folder)

EXPORT_TS = "20250622-072114"


# ---------------------------------------------------------------------------
# A real export: raw from the demo database, a small transformed folder
# ---------------------------------------------------------------------------


def write_transformed(layout: ExportsLayout, ts: str, padding: int = 0) -> Path:
    """A small transformed folder with a real summary; `padding` bytes of filler make campaigns.json big."""
    staging = layout.begin_staging("transformed", ts)
    documents = [
        {"_id": f"24615040000000{n:05d}", "name": f"Campaign {n} – Café", "price": "12.50"} for n in range(3)
    ]
    if padding:
        documents[0]["notes"] = os.urandom(padding // 2).hex()
    body = ("[\n" + ",\n".join(json.dumps(d, ensure_ascii=False) for d in documents) + "\n]\n").encode()
    (staging / "campaigns.json").write_bytes(body)
    summary = {"exportTimestamp": ts, "totalCampaigns": len(documents), "outputFile": "campaigns.json",
               "sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}
    (staging / "transformation-summary.json").write_text(json.dumps(summary) + "\n", encoding="utf-8")
    return layout.publish(staging, "transformed", ts, replace=False)


@pytest.fixture(scope="session")
def source_exports(tmp_path_factory: pytest.TempPathFactory, demo_uri: str) -> ExportsLayout:
    """An exports root holding raw/<EXPORT_TS>/ (demo database) and transformed/<EXPORT_TS>/."""
    layout = ExportsLayout(tmp_path_factory.mktemp("archive-source") / "exports")
    staging = layout.begin_staging("raw", EXPORT_TS)
    export_raw(demo_uri, "media_tool", staging, EXPORT_TS, source={"kind": "demo", "dump": None})
    layout.publish(staging, "raw", EXPORT_TS, replace=False)
    write_transformed(layout, EXPORT_TS)
    return layout


# ---------------------------------------------------------------------------
# Fault-injecting HTTP proxy in front of moto
# ---------------------------------------------------------------------------

_ERROR_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<Error><Code>{code}</Code><Message>{message}</Message><RequestId>proxy</RequestId></Error>"
)
_HOP_HEADERS = {"connection", "transfer-encoding", "keep-alive", "expect", "proxy-connection"}


@dataclass
class FaultProxy:
    """Forwards every request to moto, except the ones it is told to fail."""

    upstream: tuple[str, int]
    url: str = ""
    fail_next: int = 0  # answer 500 to the next N requests
    deny_path: str | None = None  # answer 403 AccessDenied to requests whose path contains this
    failures_injected: int = 0
    denials: int = 0
    forwarded: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def verdict(self, path: str) -> tuple[int, str, str] | None:
        with self._lock:
            if self.deny_path is not None and self.deny_path in path:
                self.denials += 1
                return 403, "AccessDenied", "Access Denied (injected)"
            if self.fail_next > 0:
                self.fail_next -= 1
                self.failures_injected += 1
                return 500, "InternalError", "We encountered an internal error (injected)"
            self.forwarded += 1
            return None


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _reply(self, status: int, headers: list[tuple[str, str]], body: bytes, length: int) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _forward(self, body: bytes) -> None:
        host, port = self.server.proxy.upstream
        upstream = http.client.HTTPConnection(host, port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
        if "content-length" not in {k.lower() for k in headers} and body:
            headers["Content-Length"] = str(len(body))
        try:
            upstream.request(self.command, self.path, body=body or None, headers=headers)
            response = upstream.getresponse()
            data = response.read()
            passed = [
                (k, v)
                for k, v in response.getheaders()
                if k.lower() not in _HOP_HEADERS | {"content-length", "date", "server"}
            ]
            length = int(response.getheader("Content-Length") or len(data))
            self._reply(response.status, passed, data, length if self.command == "HEAD" else len(data))
        finally:
            upstream.close()

    def _handle(self) -> None:
        body = self._read_body()
        verdict = self.server.proxy.verdict(self.path)
        if verdict is None:
            self._forward(body)
            return
        status, code, message = verdict
        error = _ERROR_XML.format(code=code, message=message).encode()
        self._reply(status, [("Content-Type", "application/xml")], error, len(error))

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    proxy: FaultProxy


@pytest.fixture
def fault_proxy(s3_endpoint: str) -> Iterator[FaultProxy]:
    host, port = s3_endpoint.removeprefix("http://").split(":")
    proxy = FaultProxy((host, int(port)))
    server = _ProxyServer(("127.0.0.1", 0), _ProxyHandler)
    server.proxy = proxy
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
