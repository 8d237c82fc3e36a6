"""The kubelet's log endpoint for the kubelet stand-in, so ``kubectl logs`` works on a real control plane.

``kubectl logs`` (and the operator's failure messages, which quote a failed container's last log
lines) ask the API server for ``pods/log``; the API server proxies that to the kubelet of the
pod's Node at ``https://<InternalIP>:<daemonEndpoints.kubeletEndpoint.Port>/containerLogs/...``.
:class:`KubeletLogServer` answers that one path over TLS and, as a kubelet does, only to clients
whose certificate the cluster CA signed (the API server's ``--kubelet-client-certificate``).

What it serves comes from ``lookup(namespace, pod, container)``: the stand-in reads a running
container's log from podman and a finished one's from the file it kept. ``?previous=true`` (the
run before a restart, where a failed container's words are once it runs again) comes from
``previous_lookup``.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger(__name__)

LogLookup = Callable[[str, str, str], str | None]
"""(namespace, pod, container) -> the container's whole log, or None when there is none."""


def tail(text: str, lines: int | None, limit_bytes: int | None) -> str:
    """``tailLines`` then ``limitBytes`` as the kubelet applies them."""
    if lines is not None:
        kept = text.splitlines(keepends=True)
        text = "".join(kept[-lines:]) if lines > 0 else ""
    if limit_bytes is not None:
        text = text.encode()[:limit_bytes].decode(errors="ignore")
    return text


def _int(query: dict[str, list[str]], name: str) -> int | None:
    try:
        return int(query[name][0]) if name in query else None
    except ValueError:
        return None


class KubeletLogServer:
    """``/containerLogs/{namespace}/{pod}/{container}`` over mutual TLS on ``host``:``port`` (0: free)."""

    def __init__(
        self,
        lookup: LogLookup,
        *,
        previous_lookup: LogLookup | None = None,
        cert: Path,
        key: Path,
        client_ca: Path,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.lookup = lookup
        self.previous_lookup = previous_lookup
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        context.load_verify_locations(str(client_ca))
        context.verify_mode = ssl.CERT_REQUIRED
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server._answer(self)

            def log_message(self, format: str, *args: object) -> None:
                log.debug("kubelet log server: " + format, *args)

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> KubeletLogServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="kubelet-logs", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        address = urlsplit(handler.path)
        parts = [unquote(p) for p in address.path.strip("/").split("/")]
        if len(parts) != 4 or parts[0] != "containerLogs":
            self._send(handler, 404, "only /containerLogs/{namespace}/{pod}/{container} is served here\n")
            return
        _, namespace, pod, container = parts
        query = parse_qs(address.query)
        previous = (query.get("previous") or ["false"])[0] == "true"
        lookup = self.previous_lookup if previous else self.lookup
        try:
            text = lookup(namespace, pod, container) if lookup is not None else None
        except Exception as error:  # podman failing must not end the server thread
            log.warning("cannot read the log of %s/%s %s: %s", namespace, pod, container, error)
            self._send(handler, 500, f"cannot read the log: {error}\n")
            return
        if text is None and previous:
            # The kubelet's answer when the container has not been restarted.
            self._send(
                handler, 400, f'previous terminated container "{container}" in pod "{pod}" not found\n'
            )
            return
        if text is None:
            self._send(handler, 404, f'container "{container}" in pod "{pod}" has no log yet\n')
            return
        self._send(handler, 200, tail(text, _int(query, "tailLines"), _int(query, "limitBytes")))

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, code: int, text: str) -> None:
        body = text.encode()
        handler.send_response(code)
        handler.send_header("Content-Type", "text/plain; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
