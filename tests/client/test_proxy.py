"""event_capture.client.proxy: the proxies the client's transport takes from the environment, by
the standard library's rules, against a scripted function stand-in and a tiny recording proxy on
loopback."""

import base64
import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from event_capture.client import CaptureClient, ClientSettings, EventContext
from event_capture.client.delivery import HttpTransport
from event_capture.client.proxy import proxy_for
from event_capture.client.version import USER_AGENT
from tests.client.stub_function import stub_function

EVENTS = EventContext(user_id="u_proxy", session_id="s_1", source="web")
FAST = ClientSettings(linger_seconds=0.05, shutdown_timeout_seconds=10)
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authorization", "proxy-connection"}
# Each test starts from an environment without proxies and sets the ones it is about.
pytestmark = pytest.mark.usefixtures("no_proxy_variables")


@dataclass
class Seen:
    request_line: str
    headers: dict[str, str]


@dataclass
class RecordingProxy:
    url: str = ""
    seen: list[Seen] = field(default_factory=list)

    @property
    def request_lines(self) -> list[str]:
        return [s.request_line for s in self.seen]


@contextmanager
def recording_proxy() -> Iterator[RecordingProxy]:
    """Forwards absolute-URI requests to their host; refuses every CONNECT with 403 (the test
    needs to see the tunnel asked for, not TLS through it). Records what it received."""
    proxy = RecordingProxy()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_CONNECT(self) -> None:
            proxy.seen.append(Seen(self.requestline, dict(self.headers.items())))
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True

        def do_POST(self) -> None:
            proxy.seen.append(Seen(self.requestline, dict(self.headers.items())))
            body = self.rfile.read(int(self.headers["Content-Length"]))
            target = urlsplit(self.path)
            upstream = http.client.HTTPConnection(target.hostname or "", target.port, timeout=10)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                upstream.request("POST", target.path or "/", body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
            finally:
                upstream.close()
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in HOP_BY_HOP | {"content-length", "server", "date"}:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()


def send_one(url: str) -> CaptureClient:
    client = CaptureClient(url, FAST, sleep=lambda _: None)
    assert client.track(
        EVENTS.search("oat milk", intent="product_lookup", intent_confidence=0.9, result_count=1)
    )
    assert client.flush(10)
    client.close(5)
    return client


def basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode("ascii")


def test_without_proxy_variables_the_client_connects_directly() -> None:
    with stub_function() as stub:
        assert proxy_for(stub.url) is None
        client = send_one(stub.url)

    assert client.stats().delivered == 1
    assert stub.request_lines == ["POST / HTTP/1.1"]  # a path, not an absolute URI


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy"])
def test_plain_http_goes_through_the_http_proxy_as_an_absolute_uri_request(
    variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with stub_function() as stub, recording_proxy() as proxy:
        monkeypatch.setenv(variable, proxy.url)
        client = send_one(stub.url)

    assert proxy.request_lines == [f"POST {stub.url} HTTP/1.1"]
    assert "Proxy-Authorization" not in proxy.seen[0].headers
    assert client.stats().delivered == 1 and len(stub.requests) == 1  # forwarded, answered


def test_credentials_in_the_proxy_url_are_sent_as_basic_proxy_authorization(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with stub_function() as stub, recording_proxy() as proxy:
        # Percent-encoded in the URL, sent decoded, as urllib does.
        monkeypatch.setenv("HTTP_PROXY", proxy.url.replace("://", "://capture:p%40ss@"))
        send_one(stub.url)

    assert proxy.seen[0].headers["Proxy-Authorization"] == basic("capture:p@ss")


@pytest.mark.parametrize(
    ("variable", "value"), [("NO_PROXY", "127.0.0.1"), ("no_proxy", "localhost,127.0.0.1")]
)
def test_no_proxy_hosts_are_reached_directly(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with stub_function() as stub, recording_proxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv(variable, value)
        client = send_one(stub.url)

    assert proxy.seen == []
    assert stub.request_lines == ["POST / HTTP/1.1"]
    assert client.stats().delivered == 1


@pytest.mark.parametrize(
    ("url", "tunnel"),
    [
        ("https://capture.example.com:8443/capture", "capture.example.com:8443"),
        ("https://capture.example.com/", "capture.example.com:443"),
    ],
)
def test_https_goes_through_the_https_proxy_in_a_connect_tunnel(
    url: str, tunnel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with recording_proxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url.replace("://", "://capture:secret@"))
        # An http proxy for http only: the https URL must not use it.
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
        transport = HttpTransport(url, 10)
        with pytest.raises(OSError, match="Tunnel connection failed: 403"):
            transport.post(b'{"events":[]}', "a-token")

    [connect] = proxy.seen
    assert connect.request_line.split()[:2] == ["CONNECT", tunnel]
    assert connect.headers["Proxy-Authorization"] == basic("capture:secret")
    assert connect.headers["User-Agent"] == USER_AGENT
    # The POST, its token and its body never reached the proxy in the clear.
    assert "Authorization" not in connect.headers


def test_with_only_http_proxy_set_https_connects_directly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    assert proxy_for("https://capture.example.com/") is None
    assert proxy_for("http://capture.example.com/") is not None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("socks5://capture:secret@127.0.0.1:1080", "must be an http:// proxy URL"),
        ("https://capture:secret@127.0.0.1:3128", "must be an http:// proxy URL"),
        ("http://capture:secret@127.0.0.1:port", "the proxy port must be a number"),
    ],
)
def test_a_proxy_the_transport_cannot_use_fails_at_setup_without_echoing_the_url(
    value: str, problem: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", value)
    with pytest.raises(ValueError, match=f"^HTTPS_PROXY: {problem}") as raised:
        CaptureClient("https://capture.example.com/")
    assert "secret" not in str(raised.value)
