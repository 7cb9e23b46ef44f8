"""Calls to the features function that answer within a short total timeout, or with defaults.

from event_capture.client import FeaturesClient

features = FeaturesClient("http://127.0.0.1:8081")   # or FeaturesClient.for_google_cloud(url)
answer = features.user_features("u_42", include=["profile", "reorder_due"], limit=5)

Features decorate a page; they must never hold it up or break it. So every call either returns
the function's answer or, when the function is slow, down or answers something else, the
defaults of ``event_capture.schemas.features`` (what the app renders without features), logged
and counted. Only arguments the function would refuse raise, at once, with no request.

| the function | the call returns | counted as |
| --- | --- | --- |
| 200 with the model for the id asked about | that answer | ``answered`` (and ``degraded``) |
| 503 with the model (Redis down: ``degraded`` says so) | that answer | ``answered``, ``degraded`` |
| 401 | one new token (``invalidate()``), one more try | |
| a 200 whose body is not the model for the id asked about | defaults | ``fallback_body`` |
| any other answer (a 503 without the model too) | defaults | ``fallback_status`` |
| no complete answer within ``timeout_seconds`` | defaults | ``fallback_timeout`` |
| refused, reset, DNS, TLS or proxy failure | defaults | ``fallback_connection`` |
| the token provider raised | defaults, nothing sent | ``fallback_token`` |

**The total bound.** http.client's timeout is per socket operation: a server that sends a byte
every 0.1 s never trips a 0.15 s timeout. Here every connection's sockets belong to this module
(``_DeadlineSocket``, and ``_DeadlineTlsSocket`` through ``SSLContext.sslsocket_class``) and
set their timeout to what is left of the call before each connect, send and receive; one that
starts with nothing left raises TimeoutError. The TLS handshake gets what is left as its whole
bound (a socket timeout bounds the whole handshake since Python 3.5). So a call lasts at most
``timeout_seconds`` plus one scheduling slice, with two exceptions that no socket timeout
reaches: the host name's DNS lookup (getaddrinfo) and the token provider (a Google ID token is
fetched, from the metadata server or the IAM credentials API, on the first call and about every
55 minutes after). Both count against the deadline, so a slow one leaves less or no time for
the request; neither can be cut short.

Connections are kept alive and shared through a small pool (one per concurrent caller, at most
``max_idle_connections`` kept idle). A GET that fails on a reused connection because the
function closed it while idle is sent once more, on a new connection, within the same deadline.
"""

import http.client
import json
import logging
import os
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from enum import StrEnum
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlencode, urlsplit

from pydantic import BaseModel, TypeAdapter, ValidationError

from event_capture.client.auth import GoogleIdTokens, TokenProvider, no_token
from event_capture.client.proxy import Proxy, proxy_for
from event_capture.client.version import USER_AGENT
from event_capture.schemas.envelope import Identifier
from event_capture.schemas.features import (
    MAX_LIMIT,
    PARTS,
    SIMILAR_PRODUCTS_PATH,
    USER_FEATURES_PATH,
    Part,
    ProductSimilar,
    UserFeatures,
)

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

log = logging.getLogger("event_capture.client")

DEFAULT_TIMEOUT_SECONDS = 0.15
# The largest answer read: 50 of every part is a few tens of KB. A bigger body is not an answer.
MAX_ANSWER_BYTES = 1024 * 1024
# What a reused keep-alive connection raises when the function closed it while it was idle.
_STALE_CONNECTION = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)

_IDENTIFIER: TypeAdapter[str] = TypeAdapter(Identifier)
_Answer = TypeVar("_Answer", bound=BaseModel)


class FallbackReason(StrEnum):
    TIMEOUT = "timeout"  # no complete answer within timeout_seconds
    CONNECTION = "connection"  # refused, reset, DNS, TLS or proxy failure: no answer at all
    STATUS = "status"  # an answer other than 200 (or than a 503 carrying the model)
    BODY = "body"  # a 200 whose body is not the model for the id asked about
    TOKEN = "token"  # noqa: S105 (a reason, not a secret): the token provider raised; not sent


@dataclass(frozen=True, kw_only=True)
class FeaturesStats:
    """A snapshot. Every call that passed its argument checks is in exactly one of
    ``answered`` or the ``fallback_`` counts."""

    answered: int = 0  # the function's answer was returned (200, or 503 with the model)
    degraded: int = 0  # of those, answers naming a degraded reason
    fallback_timeout: int = 0
    fallback_connection: int = 0
    fallback_status: int = 0
    fallback_body: int = 0
    fallback_token: int = 0
    connections_opened: int = 0  # far fewer than calls while keep-alive works

    @property
    def fallbacks(self) -> int:
        return sum(getattr(self, f"fallback_{reason}") for reason in FallbackReason)


class FeaturesClient:
    """Thread-safe; one per process (or per function URL) is enough."""

    _lock: threading.Lock
    _idle: "list[_Connection]"  # the pool, newest last
    _counts: dict[str, int]

    def __init__(
        self,
        base_url: str,
        *,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        token: TokenProvider = no_token,
        max_idle_connections: int = 8,
    ) -> None:
        """``base_url``: the features function's URL, e.g. ``http://127.0.0.1:8081`` (a path
        in it prefixes the routes). ``timeout_seconds``: the whole call's bound (connect, send,
        read). ``token``: a provider of the bearer token; ``GoogleIdTokens(url)`` for a
        deployed function, ``no_token`` for the local cloud."""
        if not 0 < timeout_seconds < float("inf"):
            raise ValueError(f"timeout_seconds: must be above 0, got {timeout_seconds!r}")
        if max_idle_connections < 1:
            raise ValueError("max_idle_connections: must be at least 1")
        self._endpoint = _Endpoint.parse(base_url)
        self._timeout = timeout_seconds
        self._token = token
        self._max_idle = max_idle_connections
        self._init_state()
        weak_self = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _reset_in_child(weak_self))

    @classmethod
    def for_google_cloud(
        cls, base_url: str, *, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    ) -> "FeaturesClient":
        """A client that sends a Google ID token for ``base_url``, as a deployed function needs
        (the ``gcp`` extra)."""
        return cls(base_url, timeout_seconds=timeout_seconds, token=GoogleIdTokens(base_url))

    def user_features(
        self, user_id: str, *, include: Iterable[Part] | None = None, limit: int | None = None
    ) -> UserFeatures:
        """The user's features, or the defaults marked ``client_fallback``; never raises for the
        function's trouble. ``include``: some of ``PARTS`` (all when None). ``limit``: items
        per list, 1 to ``MAX_LIMIT`` (the function's ``DEFAULT_LIMIT`` when None).

        Raises ValueError, naming the argument, for what the function would refuse."""
        path = USER_FEATURES_PATH.format(user_id=_segment(_identifier("user_id", user_id)))
        query = {"include": _include(include), "limit": _limit(limit)}
        answer = self._call(
            USER_FEATURES_PATH, path, query, UserFeatures, lambda a: a.user_id == user_id
        )
        return answer if answer is not None else UserFeatures.defaults(user_id, "client_fallback")

    def similar_products(self, product_id: str, *, limit: int | None = None) -> ProductSimilar:
        """Products bought or viewed with this one, or the defaults marked ``client_fallback``.

        Raises ValueError, naming the argument, for what the function would refuse."""
        path = SIMILAR_PRODUCTS_PATH.format(
            product_id=_segment(_identifier("product_id", product_id))
        )
        answer = self._call(
            SIMILAR_PRODUCTS_PATH,
            path,
            {"limit": _limit(limit)},
            ProductSimilar,
            lambda a: a.product_id == product_id,
        )
        return (
            answer if answer is not None else ProductSimilar.defaults(product_id, "client_fallback")
        )

    def stats(self) -> FeaturesStats:
        with self._lock:
            return FeaturesStats(**self._counts)

    def close(self) -> None:
        """Close the idle connections. The client stays usable; a later call opens anew."""
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def __enter__(self) -> "FeaturesClient":
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- one call ---------------------------------------------------------------------------

    def _call(
        self,
        route: str,
        path: str,
        query: dict[str, str | int | None],
        model: type[_Answer],
        belongs: Callable[[_Answer], bool],
    ) -> _Answer | None:
        """The function's answer, or None (logged and counted) when defaults must do."""
        deadline = time.monotonic() + self._timeout
        sent = {name: value for name, value in query.items() if value is not None}
        target = self._endpoint.target(path + (f"?{urlencode(sent, safe=',')}" if sent else ""))
        invalidate = getattr(self._token, "invalidate", None)
        refreshed = False
        while True:
            try:
                token = self._token()
            # google-auth raises its own types; features are optional, the page is not.
            except Exception as error:  # noqa: BLE001
                self._fall_back(FallbackReason.TOKEN, route, _describe(error))
                return None
            try:
                status, body = self._exchange(target, token, deadline)
            except TimeoutError:
                detail = f"no complete answer within {self._timeout:g} s"
                self._fall_back(FallbackReason.TIMEOUT, route, detail)
                return None
            # OSError and http.client's errors, and whatever else: never the app's problem.
            except Exception as error:  # noqa: BLE001
                self._fall_back(FallbackReason.CONNECTION, route, _describe(error))
                return None
            # An ID token can expire on the way; a provider that can renew it gets one try.
            if status == 401 and invalidate is not None and not refreshed:
                refreshed = True
                invalidate()
                continue
            break
        if status in (200, 503):
            answer = _parse(model, body, belongs)
            if answer is not None:
                self._count("answered")
                if getattr(answer, "degraded", None):
                    self._count("degraded")
                return answer
            if status == 200:
                detail = f"200 with a body that is not a {model.__name__} for the id asked"
                self._fall_back(FallbackReason.BODY, route, detail)
                return None
        self._fall_back(FallbackReason.STATUS, route, _status_detail(status, body))
        return None

    def _exchange(self, target: str, token: str | None, deadline: float) -> tuple[int, bytes]:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        headers.update(self._endpoint.proxy_headers())
        connection = self._take()
        while True:
            reused = connection.sock is not None
            connection.deadline.at = deadline
            try:
                if not reused:
                    self._count("connections_opened")
                    connection.connect()
                connection.request("GET", target, headers=headers)
                response = connection.getresponse()
                body = response.read(MAX_ANSWER_BYTES + 1)
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
        if len(body) > MAX_ANSWER_BYTES:
            return response.status, b""  # not an answer, whatever it starts with
        return response.status, body

    # -- the connection pool ----------------------------------------------------------------

    def _init_state(self) -> None:
        self._lock = threading.Lock()
        self._idle = []
        self._counts = {f.name: 0 for f in fields(FeaturesStats)}

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

    def _count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def _fall_back(self, reason: FallbackReason, route: str, detail: str) -> None:
        # The route's template, never the id: user ids stay out of logs.
        log.warning(
            "features call GET %s fell back to defaults (%s): %s",
            route,
            reason.value,
            detail,
            extra={"features_fallback": reason.value},
        )
        self._count(f"fallback_{reason.value}")


# -- arguments ----------------------------------------------------------------------------------


def _identifier(name: str, value: object) -> str:
    """The events' identifier rule (envelope.Identifier), so any id an event carried works."""
    try:
        return _IDENTIFIER.validate_python(value, strict=True)
    except ValidationError as error:
        # pydantic's message names the rule, not the value: ids stay out of messages too.
        raise ValueError(f"{name}: {error.errors()[0]['msg']}") from None


def _include(include: Iterable[Part] | None) -> str | None:
    if include is None:
        return None
    if isinstance(include, str):
        raise ValueError(f"include: a collection of parts, such as [{include!r}], not a string")
    named = list(include)
    for part in named:
        if part not in PARTS:
            raise ValueError(f"include: unknown part {part!r}; the parts are {', '.join(PARTS)}")
    if not named:
        raise ValueError("include: name at least one part, or pass None for all of them")
    # Each part once, in PARTS order: equal requests are equal URLs (caches, logs).
    return ",".join(part for part in PARTS if part in named)


def _limit(limit: int | None) -> int | None:
    if limit is None:
        return None
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise ValueError(f"limit: must be an int, got {type(limit).__name__}")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit: must be 1 to {MAX_LIMIT}, got {limit}")
    return limit


def _segment(identifier: str) -> str:
    """One path segment. ``quote`` keeps dots; a segment of dots only would be a dot-segment,
    which URL normalizers (proxies, HTTP libraries) remove: "/v1/users/../features" would
    become another route. Its dots are sent as %2E, which the function decodes back."""
    encoded = quote(identifier, safe="")
    return encoded.replace(".", "%2E") if identifier.strip(".") == "" else encoded


def _parse(model: type[_Answer], body: bytes, belongs: Callable[[_Answer], bool]) -> _Answer | None:
    try:
        answer = model.model_validate_json(body)
    except ValidationError:
        return None
    # An answer about another id (a mixed-up cache on the way) is no answer.
    return answer if belongs(answer) else None


def _status_detail(status: int, body: bytes) -> str:
    """The status, and for the function's JSON refusals the parameter, rule and message it
    names (``features.http_api``: never the value sent, so no id reaches this log either)."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return f"{status}"
    if not isinstance(parsed, dict):
        return f"{status}"
    described = [
        f"{key} {str(parsed[key])[:200]!r}"
        for key in ("parameter", "rule", "error")
        if isinstance(parsed.get(key), str)
    ]
    return f"{status} " + ", ".join(described) if described else f"{status}"


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


# -- connections bounded by the call's deadline -------------------------------------------------


class _Deadline:
    """When the call using a connection must be over; its sockets read it before each step."""

    __slots__ = ("at",)

    def __init__(self) -> None:
        self.at = float("inf")

    def remaining(self) -> float | None:
        if self.at == float("inf"):
            return None
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError("the features call's deadline passed")
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
        # The handshake's whole bound: what is left of the call.
        self.sock.settimeout(self.deadline.remaining())
        tls = self._tls.wrap_socket(self.sock, server_hostname=self._server_hostname)
        if isinstance(tls, _DeadlineTlsSocket):
            tls.deadline = self.deadline
        self.sock = tls


@dataclass(frozen=True, kw_only=True)
class _Endpoint:
    """Where the function is and how to reach it: directly, or through the environment's
    proxy (the capture client's rules, ``delivery.proxy_for``)."""

    https: bool
    host: str
    port: int | None
    netloc: str
    prefix: str
    proxy: Proxy | None
    context: ssl.SSLContext | None

    @classmethod
    def parse(cls, base_url: str) -> "_Endpoint":
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url: must be http:// or https:// with a host, got {base_url!r}")
        if parts.query or parts.fragment:
            raise ValueError("base_url: must have no query or fragment")
        try:
            port = parts.port
        except ValueError:
            raise ValueError("base_url: the port must be a number") from None
        context = None
        if parts.scheme == "https":
            context = ssl.create_default_context()
            context.sslsocket_class = _DeadlineTlsSocket
            context.set_alpn_protocols(["http/1.1"])
        return cls(
            https=parts.scheme == "https",
            host=parts.hostname,
            port=port,
            netloc=parts.netloc.rpartition("@")[2],
            prefix=parts.path.rstrip("/"),
            proxy=proxy_for(base_url),
            context=context,
        )

    def target(self, path: str) -> str:
        # Plain http through a proxy names the whole URL: the proxy forwards it.
        if self.proxy is not None and not self.https:
            return f"http://{self.netloc}{self.prefix}{path}"
        return f"{self.prefix}{path}"

    def proxy_headers(self) -> dict[str, str]:
        if self.proxy is None or self.https:
            return {}
        return self.proxy.headers()

    def connection(self) -> _Connection:
        proxy = self.proxy
        if self.context is None:
            if proxy is None:
                return _Connection(self.host, self.port)
            return _Connection(proxy.host, proxy.port)
        if proxy is None:
            return _TlsConnection(
                self.host, self.port, context=self.context, server_hostname=self.host
            )
        # TCP to the proxy, CONNECT, then TLS with the function's name, end to end.
        connection = _TlsConnection(
            proxy.host, proxy.port, context=self.context, server_hostname=self.host
        )
        connection.set_tunnel(
            self.host,
            self.port or http.client.HTTPS_PORT,
            {"User-Agent": USER_AGENT, **proxy.headers()},
        )
        return connection


def _reset_in_child(client: "weakref.ref[FeaturesClient]") -> None:
    # The parent's connections are its own: a child writing on them would interleave requests.
    instance = client()
    if instance is not None:
        instance._init_state()
