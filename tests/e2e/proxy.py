"""An HTTP proxy in front of the system controller's API, for the agent tests.

It forwards ``GET`` requests, counts the body bytes it serves per path (the proof that
a transfer resumed, or moved nothing), and injects the faults a network can cause and
a test cannot otherwise: a blob whose bytes arrive corrupted, or a connection cut in
the middle of a blob.
"""

import collections
import contextlib
import http.server
import socket
import threading

import requests

CHUNK = 64 * 1024
_COPIED_HEADERS = (
    "Content-Type",
    "Content-Length",
    "Content-Range",
    "ETag",
    "Accept-Ranges",
    "Docker-Content-Digest",
)


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        """Forward to ``upstream``, listening on a free port (:meth:`stop` and
        :meth:`start` again keep it)."""
        self.upstream = upstream.rstrip("/")
        self.lock = threading.Lock()
        self.served: collections.Counter[str] = collections.Counter()
        """Body bytes sent, by path."""
        self.requests: list[tuple[str, str | None]] = []
        """(path, Range header) of every request."""
        self.sent: list[int] = []
        """Body bytes sent for each of :attr:`requests`."""
        self.faults: dict[str, list[str]] = collections.defaultdict(list)
        """Path -> faults for its next responses, in order: ``corrupt`` or ``truncate``."""
        self.connections: set[socket.socket] = set()
        self.port = 0
        self.server: http.server.ThreadingHTTPServer | None = None
        self.start()
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):  # noqa: A002 - the base's signature
                pass

            def setup(self):
                super().setup()
                with proxy.lock:
                    proxy.connections.add(self.connection)

            def finish(self):
                with proxy.lock:
                    proxy.connections.discard(self.connection)
                super().finish()

            def do_GET(self):  # noqa: N802 - the base's naming
                proxy._forward(self)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        # A client killed mid-response (on purpose) is not worth a traceback on stderr.
        self.server.handle_error = lambda request, client_address: None
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def blob_bytes(self) -> int:
        """Body bytes served from ``/v1.0/blobs``."""
        with self.lock:
            return sum(n for path, n in self.served.items() if path.startswith("/v1.0/blobs/"))

    def reset(self) -> None:
        with self.lock:
            self.served.clear()
            self.requests.clear()
            self.sent.clear()

    def stop(self) -> None:
        """Stop listening: callers get connection refused until :meth:`start`."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        with self.lock:
            for connection in self.connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def _forward(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        path = handler.path
        headers = {
            k: v for k, v in handler.headers.items() if k.lower() not in ("host", "connection")
        }
        with self.lock:
            self.requests.append((path, handler.headers.get("Range")))
            self.sent.append(0)
            index = len(self.sent) - 1
            fault = self.faults[path].pop(0) if self.faults.get(path) else None
        try:
            upstream = requests.get(self.upstream + path, headers=headers, stream=True, timeout=30)
        except requests.ConnectionError:
            handler.send_error(502)
            return
        with upstream:
            handler.send_response(upstream.status_code)
            for name in _COPIED_HEADERS:
                if name in upstream.headers:
                    handler.send_header(name, upstream.headers[name])
            handler.end_headers()
            length = int(upstream.headers.get("Content-Length", 0))
            sent = 0
            for chunk in upstream.raw.stream(CHUNK, decode_content=False):
                if fault == "corrupt" and sent <= length // 2 < sent + len(chunk):
                    at = length // 2 - sent
                    chunk = chunk[:at] + bytes([chunk[at] ^ 0xFF]) + chunk[at + 1 :]
                if fault == "truncate" and sent + len(chunk) > length // 2:
                    chunk = chunk[: length // 2 - sent]
                    handler.wfile.write(chunk)
                    self._count(path, index, len(chunk))
                    handler.close_connection = True
                    return
                handler.wfile.write(chunk)
                sent += len(chunk)
                self._count(path, index, len(chunk))

    def _count(self, path: str, index: int, size: int) -> None:
        with self.lock:
            self.served[path] += size
            self.sent[index] += size
