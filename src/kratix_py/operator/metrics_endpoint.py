"""The ``/metrics`` endpoint: Prometheus text format, written to the socket as it is produced.

prometheus_client's own server builds the whole page in memory three times over (lines, the
joined text, its bytes) before sending it. With one series per resource request that page grows
with the requests: 5000 of them made every scrape a 13 MiB peak, the largest the operator had.
Here the fixed metrics (a few hundred lines) still come from prometheus_client, and the
per-request counters follow in chunks of about 64 KiB, so a scrape costs the same at any scale.

The answer is always text format 0.0.4, as controller-runtime's endpoint answers by default;
Prometheus accepts it whatever it offered in ``Accept``. It is not gzipped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import REGISTRY, generate_latest

from kratix_py.operator.metrics import PER_REQUEST_COUNTERS

log = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""What every Prometheus version parses (prometheus_client's newer default, 1.0.0, is not)."""

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def exposition() -> Iterator[bytes]:
    """Every metric in text format, as chunks of about :data:`CHUNK_BYTES`."""
    yield generate_latest(REGISTRY)
    for counter in PER_REQUEST_COUNTERS:
        yield from _chunks(counter.lines())


def _chunks(lines: Iterable[str]) -> Iterator[bytes]:
    pending: list[str] = []
    size = 0
    for line in lines:
        pending.append(line)
        size += len(line)
        if size >= CHUNK_BYTES:
            yield "".join(pending).encode()
            pending, size = [], 0
    if pending:
        yield "".join(pending).encode()


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """The WSGI application: metrics on every path, as prometheus_client serves them."""
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        start_response("405 Method Not Allowed", [("Allow", "GET, HEAD")])
        return [b""]
    start_response("200 OK", [("Content-Type", CONTENT_TYPE)])
    return [b""] if environ["REQUEST_METHOD"] == "HEAD" else exposition()


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a scrape in progress must not hold the process up at shutdown


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """One line per scrape would be most of the log."""


def serve(port: int, address: str = "0.0.0.0") -> WSGIServer | None:
    """Serve the metrics on ``port`` from a background thread (0: no metrics endpoint)."""
    if not port:
        return None
    server = make_server(address, port, app, server_class=_Server, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    log.debug("serving metrics on %s:%d", address, server.server_port)
    return server
