"""A scripted stand-in for the capture function's HTTP answers, for the client's unit tests.

It is a real HTTP server on loopback, so the client's transport, keep-alive and error paths run
for real; only the answers are scripted.
"""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class StubFunction:
    url: str
    script: list[Reply]
    requests: list[list[dict[str, Any]]] = field(default_factory=list)
    tokens: list[str | None] = field(default_factory=list)
    # Each request's first line and headers, as received.
    request_lines: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    hold: threading.Event = field(default_factory=threading.Event)

    @property
    def event_ids(self) -> list[str]:
        return [event["event_id"] for batch in self.requests for event in batch]


@contextmanager
def stub_function(*script: Reply, held: bool = False, port: int = 0) -> Iterator[StubFunction]:
    """Answers with ``script`` in order, then 200 for ever. ``held``: wait for ``hold``.
    ``port``: listen there (to bring a stopped stand-in back at the same address)."""
    stub = StubFunction("", list(script))
    if not held:
        stub.hold.set()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; without this, Nagle's algorithm and delayed
        # ACKs add 40 ms to every answer.
        disable_nagle_algorithm = True

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            stub.hold.wait(300)  # released by the test, or when the stand-in stops
            events = json.loads(body)["events"]
            stub.requests.append(events)
            stub.tokens.append(self.headers.get("Authorization"))
            stub.request_lines.append(self.requestline)
            stub.headers.append(dict(self.headers.items()))
            reply = stub.script.pop(0) if stub.script else Reply()
            payload = reply.body
            if payload is None:
                accepted = len(events) if reply.status < 300 else 0
                payload = {"accepted": accepted, "rejected": 0, "rejections": []}
            data = json.dumps(payload).encode()
            self.send_response(reply.status)
            for name, value in {"Content-Type": "application/json", **reply.headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    stub.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        stub.hold.set()
        server.shutdown()
        server.server_close()
