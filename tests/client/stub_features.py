"""A scripted stand-in for the features function's HTTP answers, for the features client's and
its transport's tests (``test_features.py``, ``test_deadline_http.py``).

It speaks raw HTTP/1.1 so that it can stall, trickle bytes or close connections; only the
answers are scripted.
"""

import json
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from event_capture.schemas.features import DeviceFeatures, ProductSimilar, UserFeatures

# A slow CI box may schedule the client's thread late; the bound is still far below a stall.
MARGIN_SECONDS = 0.5
# Slower than any timeout here in total, faster than it per byte: per-operation socket
# timeouts never fire, only a total bound stops it.
TRICKLE_INTERVAL_SECONDS = 0.03


@dataclass
class Reply:
    status: int = 200
    # None: a minimal answer for the id in the path, as the function would give.
    body: bytes | dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    stall: bool = False  # read the request, never answer
    trickle: Literal["all", "body"] | None = None  # one byte per TRICKLE_INTERVAL_SECONDS


@dataclass
class StubFeatures:
    url: str
    script: list[Reply]
    # Each request's target and headers, as received.
    targets: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    connections: int = 0
    release: threading.Event = field(default_factory=threading.Event)
    open_sockets: list[socket.socket] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def paths(self) -> list[str]:
        return [urlsplit(target).path for target in self.targets]

    def drop_idle_connections(self) -> None:
        """Close the server side of every connection, as a keep-alive timeout would."""
        with self.lock:
            for sock in self.open_sockets:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def default_answer(path: str) -> bytes:
    users = re.search(r"/v1/users/([^/]+)/features$", path)
    if users:
        return UserFeatures(user_id=unquote(users[1]), known=True).model_dump_json().encode()
    devices = re.search(r"/v1/devices/([^/]+)/features$", path)
    if devices:
        answer = DeviceFeatures(anonymous_id=unquote(devices[1]), known=True)
        return answer.model_dump_json().encode()
    products = re.search(r"/v1/products/([^/]+)/similar$", path)
    if products:
        return (
            ProductSimilar(product_id=unquote(products[1]), known=True).model_dump_json().encode()
        )
    return b'{"error": "no such route"}'


@contextmanager
def stub_features(*script: Reply, tls: ssl.SSLContext | None = None) -> Iterator[StubFeatures]:
    """Answers with ``script`` in order, then with the minimal answer for ever."""
    stub = StubFeatures("", list(script))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def setup(self) -> None:
            super().setup()
            with stub.lock:
                stub.connections += 1
                stub.open_sockets.append(self.connection)

        def do_GET(self) -> None:
            with stub.lock:
                stub.targets.append(self.path)
                stub.headers.append(dict(self.headers.items()))
                reply = stub.script.pop(0) if stub.script else Reply()
            if reply.stall:
                stub.release.wait(60)
                self.close_connection = True
                return
            if isinstance(reply.body, bytes):
                body = reply.body
            elif reply.body is None:
                body = default_answer(urlsplit(self.path).path)
            else:
                body = json.dumps(reply.body).encode()
            head = {"Content-Type": "application/json", **reply.headers}
            head["Content-Length"] = str(len(body))
            lines = [f"HTTP/1.1 {reply.status} {HTTPStatus(reply.status).phrase}"]
            lines += [f"{name}: {value}" for name, value in head.items()]
            header_bytes = ("\r\n".join(lines) + "\r\n\r\n").encode()
            try:
                if reply.trickle is None:
                    self.wfile.write(header_bytes + body)
                elif reply.trickle == "body":
                    self.wfile.write(header_bytes)
                    self._trickle(body)
                else:
                    self._trickle(header_bytes + body)
            except OSError:
                self.close_connection = True  # the client gave up; that is the point

        def _trickle(self, data: bytes) -> None:
            for i in range(len(data)):
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
                if stub.release.wait(TRICKLE_INTERVAL_SECONDS):
                    raise OSError("stand-in stopping")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    scheme = "https" if tls is not None else "http"
    stub.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        stub.release.set()
        server.shutdown()
        server.server_close()
