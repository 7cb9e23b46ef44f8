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

**The total bound.** A call has one deadline, ``timeout_seconds`` from its start, for all of
it: the token, then the request, which ``deadline_http`` bounds as a whole rather than per
socket operation. So a call lasts at most ``timeout_seconds`` plus one scheduling slice, with
two exceptions that nothing can cut short: the host name's DNS lookup (``deadline_http``) and
the token provider (a Google ID token is fetched, from the metadata server or the IAM
credentials API, on the first call and about every 55 minutes after). Both count against the
deadline, so a slow one leaves less or no time for the request.

Connections are kept alive and shared through ``deadline_http``'s pool (at most
``max_idle_connections`` of them idle).
"""

import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from enum import StrEnum
from types import TracebackType
from typing import TypeVar
from urllib.parse import quote, urlencode

from pydantic import BaseModel, TypeAdapter, ValidationError

from event_capture.client.auth import GoogleIdTokens, TokenProvider, no_token
from event_capture.client.deadline_http import DeadlineHttp
from event_capture.client.version import USER_AGENT
from event_capture.schemas.envelope import Identifier
from event_capture.schemas.features import (
    DEVICE_FEATURES_PATH,
    MAX_LIMIT,
    PARTS,
    SIMILAR_PRODUCTS_PATH,
    USER_FEATURES_PATH,
    Degraded,
    DeviceFeatures,
    Part,
    ProductSimilar,
    UserFeatures,
)

log = logging.getLogger("event_capture.client")

DEFAULT_TIMEOUT_SECONDS = 0.15
# The largest answer read: 50 of every part is a few tens of KB. A bigger body is not an answer.
MAX_ANSWER_BYTES = 1024 * 1024

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
        self._http = DeadlineHttp(base_url, max_idle_connections=max_idle_connections)
        self._timeout = timeout_seconds
        self._token = token
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
        query = {"include": _include(include), "limit": _limit(limit)}
        return self._answer(
            USER_FEATURES_PATH, "user_id", user_id, query, UserFeatures, UserFeatures.defaults
        )

    def device_features(self, anonymous_id: str, *, limit: int | None = None) -> DeviceFeatures:
        """A device's own live parts (before or without a login), or the defaults marked
        ``client_fallback``; never raises for the function's trouble.

        Raises ValueError, naming the argument, for what the function would refuse."""
        return self._answer(
            DEVICE_FEATURES_PATH,
            "anonymous_id",
            anonymous_id,
            {"limit": _limit(limit)},
            DeviceFeatures,
            DeviceFeatures.defaults,
        )

    def similar_products(self, product_id: str, *, limit: int | None = None) -> ProductSimilar:
        """Products bought or viewed with this one, or the defaults marked ``client_fallback``.

        Raises ValueError, naming the argument, for what the function would refuse."""
        return self._answer(
            SIMILAR_PRODUCTS_PATH,
            "product_id",
            product_id,
            {"limit": _limit(limit)},
            ProductSimilar,
            ProductSimilar.defaults,
        )

    def _answer(
        self,
        template: str,
        name: str,
        identifier: str,
        query: dict[str, str | int | None],
        model: type[_Answer],
        defaults: Callable[[str, Degraded], _Answer],
    ) -> _Answer:
        """The answer about ``identifier`` (the path's ``name``), or the defaults marked
        ``client_fallback``; an answer about another id is no answer."""
        path = template.format(**{name: _segment(_identifier(name, identifier))})
        answer = self._call(
            template, path, query, model, lambda a: getattr(a, name, None) == identifier
        )
        return answer if answer is not None else defaults(identifier, "client_fallback")

    def stats(self) -> FeaturesStats:
        with self._lock:
            counts = dict(self._counts)
        return FeaturesStats(**counts, connections_opened=self._http.connections_opened)

    def close(self) -> None:
        """Close the idle connections. The client stays usable; a later call opens anew."""
        self._http.close()

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
        target = path + (f"?{urlencode(sent, safe=',')}" if sent else "")
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
        response = self._http.get(target, headers, deadline=deadline, max_bytes=MAX_ANSWER_BYTES)
        # A body too big was not read: not an answer, whatever it starts with.
        return response.status, response.body if response.body is not None else b""

    def _init_state(self) -> None:
        self._lock = threading.Lock()
        # The transport counts the connections it opens; these are the calls' own counts.
        self._counts = {f.name: 0 for f in fields(FeaturesStats) if f.name != "connections_opened"}

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


def _reset_in_child(client: "weakref.ref[FeaturesClient]") -> None:
    # A fork copies the counts (and the lock, perhaps held by a thread the child lacks); the
    # child's are its own, as its connections are (DeadlineHttp resets those).
    instance = client()
    if instance is not None:
        instance._init_state()
