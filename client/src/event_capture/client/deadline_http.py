"""GET requests to one function, each bounded as a whole by a deadline, over a small pool of
keep-alive connections.

http.client's timeout is per socket operation: a server that sends a byte every 0.1 s never
trips a 0.15 s timeout. Here every connection's sockets belong to this module
(``_DeadlineSocket``, and ``_DeadlineTlsSocket`` through ``SSLContext.sslsocket_class``) and set
their timeout to what is left before each connect, send and receive; one that starts with
nothing left raises TimeoutError. The TLS handshake gets what is left as its whole bound (a
socket timeout bounds the whole handshake since Python 3.5). So a request ends by its deadline
plus one scheduling slice, except for the host name's DNS lookup (getaddrinfo), which no socket
timeout reaches: a slow one leaves less or no time for the rest, and cannot be cut short.

Connections are kept alive and shared (one per concurrent caller, at most
``max_idle_connections`` kept idle). A GET that fails on a reused connection because the
function closed it while idle is sent once more, on a new connection, within the same deadline.
The way to the function, directly or through the environment's proxy, is ``proxy.Route``'s.
"""

import http.client
import os
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from event_capture.client.proxy import Route

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

# What a reused keep-alive connection raises when the function closed it while it was idle.
_STALE_CONNECTION = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)


@dataclass(frozen=True, kw_only=True)
class Response:
    status: int
    # None: the body was longer than the request's max_bytes, so it was not read to its end.
    body: bytes | None


class DeadlineHttp:
    """Thread-safe GETs to the function at ``base_url``, each over by its deadline."""

    _lock: threading.Lock
    _idle: "list[_Connection]"  # the pool, newest last
    _opened: int

    def __init__(self, base_url: str, *, max_idle_connections: int = 8) -> None:
        """``base_url``: http:// or https:// with a host, and a path that prefixes every
        request's (no query or fragment). Raises ValueError naming what is wrong."""
        if max_idle_connections < 1:
            raise ValueError("max_idle_connections: must be at least 1")
        self._endpoint = _Endpoint.parse(base_url)
        self._max_idle = max_idle_connections
        self._init_state()
        weak_self = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _reset_in_child(weak_self))

    @property
    def connections_opened(self) -> int:
        """Connections opened so far: far fewer than requests while keep-alive works."""
        with self._lock:
            return self._opened

    def get(
        self, path: str, headers: Mapping[str, str], *, deadline: float, max_bytes: int
    ) -> Response:
        """GET ``path`` (with its query) under the base URL's path, by ``deadline`` (a
        ``time.monotonic()`` value). Raises TimeoutError when the deadline passes, OSError or
        http.client's errors when there is no answer."""
        target = self._endpoint.route.target(self._endpoint.prefix + path)
        sent = {**headers, **self._endpoint.route.request_headers()}
        connection = self._take()
        while True:
            reused = connection.sock is not None
            connection.deadline.at = deadline
            try:
                if not reused:
                    self._count_opened()
                    connection.connect()
                connection.request("GET", target, headers=sent)
                response = connection.getresponse()
                body = response.read(max_bytes + 1)
            except _STALE_CONNECTION:
                connection.close()
                # Closed by the function while idle: a GET may go again, once, on a new
                # connection (not another idle one: it has likely been closed as well).
                if reused and time.monotonic() < deadline:
                    connection = self._endpoint.connection()
                    continue
                raise
            except BaseException:
                connection.close()
                raise
            break
        self._give_back(connection, reusable=response.isclosed())
        if len(body) > max_bytes:
            return Response(status=response.status, body=None)
        return Response(status=response.status, body=body)

    def close(self) -> None:
        """Close the idle connections. The transport stays usable; a later GET opens anew."""
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    # -- the pool ---------------------------------------------------------------------------

    def _init_state(self) -> None:
        self._lock = threading.Lock()
        self._idle = []
        self._opened = 0

    def _take(self) -> "_Connection":
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self._endpoint.connection()

    def _give_back(self, connection: "_Connection", *, reusable: bool) -> None:
        # Not reusable: the answer was not read to its end (too big), or it said
        # Connection: close (http.client then already dropped the socket).
        if reusable and connection.sock is not None:
            with self._lock:
                if len(self._idle) < self._max_idle:
                    self._idle.append(connection)
                    return
        connection.close()

    def _count_opened(self) -> None:
        with self._lock:
            self._opened += 1


def _reset_in_child(transport: "weakref.ref[DeadlineHttp]") -> None:
    # The parent's connections are its own: a child writing on them would interleave requests.
    instance = transport()
    if instance is not None:
        instance._init_state()


# -- connections bounded by the request's deadline ----------------------------------------------


class _Deadline:
    """When the request using a connection must be over; its sockets read it before each step."""

    __slots__ = ("at",)

    def __init__(self) -> None:
        self.at = float("inf")

    def remaining(self) -> float | None:
        if self.at == float("inf"):
            return None
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request's deadline passed")
        return left


class _DeadlineSocket(socket.socket):
    deadline: _Deadline

    def connect(self, address: Any, /) -> None:
        self.settimeout(self.deadline.remaining())
        super().connect(address)

    def recv(self, bufsize: int, flags: int = 0, /) -> bytes:
        self.settimeout(self.deadline.remaining())
        return super().recv(bufsize, flags)

    def recv_into(self, buffer: "WriteableBuffer", nbytes: int = 0, flags: int = 0) -> int:
        self.settimeout(self.deadline.remaining())
        return super().recv_into(buffer, nbytes, flags)

    def send(self, data: "ReadableBuffer", flags: int = 0, /) -> int:
        self.settimeout(self.deadline.remaining())
        return super().send(data, flags)

    def sendall(self, data: "ReadableBuffer", flags: int = 0, /) -> None:
        # A socket's timeout bounds all of sendall, not each send in it (Python 3.5+).
        self.settimeout(self.deadline.remaining())
        super().sendall(data, flags)


class _DeadlineTlsSocket(ssl.SSLSocket):
    # Made by SSLContext.wrap_socket (no __init__ of its own); the connection sets it next.
    deadline: _Deadline = _Deadline()

    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
        self.settimeout(self.deadline.remaining())
        return super().recv(buflen, flags)

    def recv_into(
        self, buffer: "WriteableBuffer", nbytes: int | None = None, flags: int = 0
    ) -> int:
        self.settimeout(self.deadline.remaining())
        return super().recv_into(buffer, nbytes, flags)

    def send(self, data: "ReadableBuffer", flags: int = 0) -> int:
        self.settimeout(self.deadline.remaining())
        return super().send(data, flags)

    def sendall(self, data: "ReadableBuffer", flags: int = 0) -> None:
        self.settimeout(self.deadline.remaining())
        super().sendall(data, flags)


def _open_socket(host: str, port: int, deadline: _Deadline) -> socket.socket:
    """socket.create_connection, with every address tried within the one deadline."""
    last: OSError | None = None
    for family, kind, proto, _, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        sock = _DeadlineSocket(family, kind, proto)
        sock.deadline = deadline
        try:
            sock.connect(address)
        except TimeoutError:
            sock.close()
            raise  # the deadline is spent: no time for another address
        except OSError as error:
            sock.close()
            last = error
            continue
        return sock
    raise last if last is not None else OSError(f"no address for {host}")


class _Connection(http.client.HTTPConnection):
    """http.client's connection over a socket of ours; ``connect()`` is http.client's own
    (TCP_NODELAY, and the proxy's CONNECT tunnel when there is one)."""

    def __init__(self, host: str, port: int | None) -> None:
        super().__init__(host, port)
        self.deadline = _Deadline()
        # http.client makes its socket through this attribute.
        self._create_connection = self._open

    def _open(self, address: tuple[str, int], *_: object) -> socket.socket:
        return _open_socket(address[0], address[1], self.deadline)


class _TlsConnection(_Connection):
    default_port = http.client.HTTPS_PORT

    def __init__(
        self, host: str, port: int | None, *, context: ssl.SSLContext, server_hostname: str
    ) -> None:
        super().__init__(host, port)
        self._tls = context
        self._server_hostname = server_hostname

    def connect(self) -> None:
        super().connect()
        # The handshake's whole bound: what is left of the request.
        self.sock.settimeout(self.deadline.remaining())
        tls = self._tls.wrap_socket(self.sock, server_hostname=self._server_hostname)
        if isinstance(tls, _DeadlineTlsSocket):
            tls.deadline = self.deadline
        self.sock = tls


@dataclass(frozen=True, kw_only=True)
class _Endpoint:
    """Where the function is, the way there, and the TLS context for https."""

    route: Route
    prefix: str  # the base URL's path, without a trailing slash
    context: ssl.SSLContext | None

    @classmethod
    def parse(cls, base_url: str) -> "_Endpoint":
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url: must be http:// or https:// with a host, got {base_url!r}")
        if parts.query or parts.fragment:
            raise ValueError("base_url: must have no query or fragment")
        try:
            parts.port  # noqa: B018 (read for its ValueError)
        except ValueError:
            raise ValueError("base_url: the port must be a number") from None
        context = None
        if parts.scheme == "https":
            context = ssl.create_default_context()
            context.sslsocket_class = _DeadlineTlsSocket
            context.set_alpn_protocols(["http/1.1"])
        return cls(route=Route.to(base_url), prefix=parts.path.rstrip("/"), context=context)

    def connection(self) -> _Connection:
        host, port = self.route.first_hop
        if self.context is None:
            return _Connection(host, port)
        # Through a proxy: TCP to it, CONNECT, then TLS with the function's name, end to end.
        connection = _TlsConnection(
            host, port, context=self.context, server_hostname=self.route.host
        )
        self.route.tunnel(connection)
        return connection
