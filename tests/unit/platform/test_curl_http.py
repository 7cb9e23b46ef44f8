"""libcurl calls: what reaches the server, what a failure becomes, and the token's refresh.

The peers here are real HTTP servers on loopback (a scripted ``http.server``, a socket that
accepts and never answers, a port nobody listens on); the insertAll and upload calls go to the
BigQuery emulator and fake-gcs-server in every integration test that captures an event.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from event_capture.ingest.retry import is_transient, is_transient_storage
from event_capture.platform.curl_http import (
    CurlConnectionError,
    CurlHttp,
    CurlSetupError,
    CurlTimeoutError,
    SSLError,
)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Script:
    """The statuses to answer, in order (then 200), and what was received."""

    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    barrier: threading.Barrier | None = None


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            script.received.append(Received(self.path, dict(self.headers.items()), body))
            status = script.statuses.pop(0) if script.statuses else 200
            if script.barrier is not None:
                try:
                    script.barrier.wait()
                except threading.BrokenBarrierError:
                    status = 500
            answer = json.dumps({"status": status, "path": self.path}).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    httpd.shutdown()
    httpd.server_close()


class Credentials:
    """google-auth's credentials interface: a bearer token, renewed by ``refresh``."""

    def __init__(self) -> None:
        self.token = "token-1"
        self.refreshed = 0

    def before_request(self, request: Any, method: str, url: str, headers: dict[str, str]) -> None:
        headers["authorization"] = f"Bearer {self.token}"

    def refresh(self, request: Any) -> None:
        self.refreshed += 1
        self.token = f"token-{self.refreshed + 1}"


def test_a_post_sends_the_body_and_headers_with_the_token_and_returns_the_answer(
    server: tuple[str, Script],
) -> None:
    url, script = server
    http = CurlHttp(url, Credentials(), token_request=None)

    answer = http.post(
        "/a/path?x=1", b'{"rows":[]}', {"Content-Type": "application/json"}, timeout=5
    )

    assert answer.status == 200
    assert json.loads(answer.data)["status"] == 200
    [received] = script.received
    assert (received.path, received.body) == ("/a/path?x=1", b'{"rows":[]}')
    assert received.headers["Content-Type"] == "application/json"
    assert received.headers["authorization"] == "Bearer token-1"


def test_a_large_body_goes_at_once_without_waiting_for_100_continue(
    server: tuple[str, Script],
) -> None:
    url, script = server
    body = b"x" * 3_000_000

    http = CurlHttp(url, Credentials(), token_request=None)
    answer = http.post("/big", body, {}, timeout=5)

    assert answer.status == 200
    assert script.received[0].body == body
    assert "Expect" not in script.received[0].headers


def test_a_refused_token_is_refreshed_once_and_the_call_sent_again(
    server: tuple[str, Script],
) -> None:
    url, script = server
    credentials = Credentials()
    script.statuses = [401]

    answer = CurlHttp(url, credentials, token_request=None).post("/p", b"{}", {}, timeout=5)

    assert answer.status == 200
    assert credentials.refreshed == 1
    tokens = [received.headers["authorization"] for received in script.received]
    assert tokens == ["Bearer token-1", "Bearer token-2"]


def test_a_second_401_is_the_answer_not_a_loop(server: tuple[str, Script]) -> None:
    url, script = server
    credentials = Credentials()
    script.statuses = [401, 401, 401]

    answer = CurlHttp(url, credentials, token_request=None).post("/p", b"{}", {}, timeout=5)

    assert answer.status == 401
    assert (credentials.refreshed, len(script.received)) == (1, 2)


def test_other_statuses_are_answers_for_the_caller_to_read(server: tuple[str, Script]) -> None:
    url, script = server
    script.statuses = [503]

    answer = CurlHttp(url, Credentials(), token_request=None).post("/p", b"{}", {}, timeout=5)

    assert answer.status == 503
    assert len(script.received) == 1


def test_proxy_variables_do_not_route_the_calls(
    server: tuple[str, Script], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, script = server
    for name in ("http_proxy", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # the discard port: nothing there

    answer = CurlHttp(url, Credentials(), token_request=None).post("/p", b"{}", {}, timeout=5)

    assert answer.status == 200
    assert len(script.received) == 1


def test_calls_from_several_threads_are_in_flight_at_once_each_with_its_own_answer(
    server: tuple[str, Script],
) -> None:
    url, script = server
    # The server answers none of them until all four have arrived: calls serialized on one
    # shared handle would break the barrier and get a 500.
    script.barrier = threading.Barrier(4, timeout=5)
    http = CurlHttp(url, Credentials(), token_request=None)
    answers: dict[int, int] = {}

    def call(index: int) -> None:
        answer = http.post(f"/t/{index}", str(index).encode(), {}, timeout=10)
        answers[index] = answer.status
        assert json.loads(answer.data)["path"] == f"/t/{index}"

    threads = [threading.Thread(target=call, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers == dict.fromkeys(range(4), 200)
    assert sorted(r.body for r in script.received) == [str(i).encode() for i in range(4)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_a_refused_connection_is_a_transient_connection_error() -> None:
    http = CurlHttp(f"http://127.0.0.1:{free_port()}", Credentials(), token_request=None)

    with pytest.raises(CurlConnectionError) as raised:
        http.post("/p", b"{}", {}, timeout=2)

    assert isinstance(raised.value, ConnectionError)
    assert is_transient(raised.value) and is_transient_storage(raised.value)


def test_a_server_that_never_answers_is_a_transient_timeout_at_the_calls_timeout() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        http = CurlHttp(
            f"http://127.0.0.1:{listener.getsockname()[1]}", Credentials(), token_request=None
        )
        started = time.monotonic()

        with pytest.raises(CurlTimeoutError) as raised:
            http.post("/p", b"{}", {}, timeout=0.3)

        waited = time.monotonic() - started
    assert 0.25 <= waited < 2.0
    assert isinstance(raised.value, TimeoutError)
    assert is_transient(raised.value) and is_transient_storage(raised.value)


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no CA in certifi's bundle signed."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_a_certificate_no_trusted_ca_signed_is_an_ssl_error_bigquery_does_not_retry(
    tmp_path: Path,
) -> None:
    cert_path, key_path = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def handshake() -> None:
            connection, _ = listener.accept()
            with contextlib.suppress(OSError), context.wrap_socket(connection, server_side=True):
                pass

        thread = threading.Thread(target=handshake, daemon=True)
        thread.start()
        http = CurlHttp(
            f"https://127.0.0.1:{listener.getsockname()[1]}", Credentials(), token_request=None
        )

        with pytest.raises(SSLError) as raised:
            http.post("/p", b"{}", {}, timeout=5)
        thread.join(5)

    assert not is_transient(raised.value)


def test_a_connection_reset_during_the_tls_handshake_is_a_transient_connection_error() -> None:
    # curl reports it as 35 (E_SSL_CONNECT_ERROR), as it does a TLS failure; the libraries'
    # transports raise a reset as a connection error, which both retry rules retry.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def reset() -> None:
            connection, _ = listener.accept()
            connection.recv(1)  # the ClientHello has begun
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            connection.close()

        thread = threading.Thread(target=reset, daemon=True)
        thread.start()
        http = CurlHttp(
            f"https://127.0.0.1:{listener.getsockname()[1]}", Credentials(), token_request=None
        )

        with pytest.raises(CurlConnectionError, match=r"curl 35") as raised:
            http.post("/p", b"{}", {}, timeout=5)
        thread.join(5)

    assert is_transient(raised.value) and is_transient_storage(raised.value)


def test_a_url_curl_cannot_use_is_a_setup_error_neither_rule_retries() -> None:
    http = CurlHttp("htp://127.0.0.1:9", Credentials(), token_request=None)

    with pytest.raises(CurlSetupError, match=r"curl 1") as raised:
        http.post("/p", b"{}", {}, timeout=2)

    assert not is_transient(raised.value) and not is_transient_storage(raised.value)
