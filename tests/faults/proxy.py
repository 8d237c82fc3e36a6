"""An HTTP fault proxy between the operator and the API emulator.

Every request is forwarded as it came (watches stream through); a request that matches a
:class:`Fault` is answered by the proxy itself with a Kubernetes ``Status`` error instead, so the
operator sees exactly what an overloaded or racing API server would answer (409 Conflict, 500,
503) on that write, and the emulator never sees the request.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_REASONS = {409: "Conflict", 500: "InternalError", 503: "ServiceUnavailable", 429: "TooManyRequests"}
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection"}


@dataclass
class Fault:
    """Answer the next ``count`` requests of ``method`` whose path matches ``path`` with ``status``."""

    method: str
    path: str
    status: int
    count: int = 1
    injected: int = 0
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        self.pattern = re.compile(self.path)

    def matches(self, method: str, path: str) -> bool:
        return self.injected < self.count and method == self.method and bool(self.pattern.search(path))


class FaultProxy:
    """``FaultProxy(upstream_port)``; point a kubeconfig at ``url``; add faults with :meth:`inject`."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.faults: list[Fault] = []
        self.injected: Counter[tuple[str, int]] = Counter()
        self.forwarded: Counter[str] = Counter()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                fault = proxy._take(self.command, self.path)
                if fault is not None:
                    self._answer_fault(fault.status)
                    return
                with proxy._lock:
                    proxy.forwarded[self.command] += 1
                upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=600)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    self.send_response(response.status, response.reason)
                    for key, value in response.getheaders():
                        if key.lower() not in _HOP_BY_HOP:
                            self.send_header(key, value)
                    # No length: the body (a watch stream included) ends when the connection does.
                    self.send_header("Connection", "close")
                    self.end_headers()
                    while chunk := response.read1(65536):
                        self.wfile.write(chunk)
                        self.wfile.flush()
                except OSError:
                    pass  # either side went away; the client sees a closed connection
                finally:
                    upstream.close()
                    self.close_connection = True

            def _answer_fault(self, status: int) -> None:
                reason = _REASONS.get(status, "InternalError")
                payload = json.dumps(
                    {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "status": "Failure",
                        "message": f"injected by the fault proxy: {reason}",
                        "reason": reason,
                        "code": status,
                    }
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(payload)
                self.close_connection = True

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def inject(self, method: str, path: str, status: int, count: int = 1) -> Fault:
        fault = Fault(method, path, status, count)
        with self._lock:
            self.faults.append(fault)
        return fault

    def _take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.injected += 1
                    self.injected[(method, fault.status)] += 1
                    return fault
        return None

    @property
    def total_injected(self) -> int:
        with self._lock:
            return sum(self.injected.values())

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
