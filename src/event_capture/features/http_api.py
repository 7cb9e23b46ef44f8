"""The features function's HTTP contract: routes, parameters, statuses, headers, log line.

Kept apart from the server so tests drive it without one. Every answer is JSON; a bad request
is a 400 naming the parameter and the rule, and nothing the client sent reaches the log.
"""

import re
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from pydantic import BaseModel

from event_capture.contracts.log_fields import FEATURES_MESSAGE
from event_capture.features.serve import FeatureReader, Reading, RedisUnavailableError
from event_capture.platform.answer import Answer
from event_capture.schemas.envelope import ID_PATTERN
from event_capture.schemas.features import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    PARTS,
    Degraded,
    DeviceFeatures,
    Part,
    ProductSimilar,
    UserFeatures,
)

MESSAGE = FEATURES_MESSAGE
# After a 503 (Redis out of reach): short, since the app renders the defaults meanwhile.
FEATURES_RETRY_AFTER_SECONDS = 5
MAX_ID_LENGTH = 128
_ID = re.compile(ID_PATTERN)
_USER_ROUTE = re.compile(r"/v1/users/([^/]+)/features/?")
_DEVICE_ROUTE = re.compile(r"/v1/devices/([^/]+)/features/?")
_PRODUCT_ROUTE = re.compile(r"/v1/products/([^/]+)/similar/?")
ROUTE_USER = "user_features"
ROUTE_DEVICE = "device_features"
ROUTE_PRODUCT = "similar_products"
PARAMETERS = {ROUTE_USER: ("include", "limit"), ROUTE_DEVICE: ("limit",), ROUTE_PRODUCT: ("limit",)}

# Personal and live (every captured event may change it): never stored by a cache. A product's
# similar products are the same for everyone and change nightly.
USER_CACHE = "private, no-store"
PRODUCT_CACHE = "public, max-age=300"
NO_CACHE = "no-store"


class RefusedError(Exception):
    def __init__(self, parameter: str, rule: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.parameter, self.rule, self.message, self.status = parameter, rule, message, status


def _identifier(value: str, parameter: str) -> str:
    # The server has decoded the path once; decoding again would serve "a%253Ab" as "a:b".
    if not 1 <= len(value) <= MAX_ID_LENGTH or not _ID.fullmatch(value):
        raise RefusedError(
            parameter,
            "identifier",
            f"{parameter}: 1 to {MAX_ID_LENGTH} characters of letters, digits and . _ : -",
        )
    return value


def _limit(values: Sequence[str]) -> int:
    if not values:
        return DEFAULT_LIMIT
    raw = values[0]
    # The length first: int() of thousands of digits raises (and costs) before any bound check.
    if len(raw) > 3 or not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise RefusedError("limit", "limit_range", f"limit: an integer from 1 to {MAX_LIMIT}")
    return int(raw)


def _include(values: Sequence[str]) -> tuple[Part, ...]:
    if not values:
        return PARTS
    names = [name.strip() for name in values[0].split(",")]
    unknown = [name for name in names if name not in PARTS]
    if unknown or not names:
        raise RefusedError("include", "include_unknown", "include: any of " + ", ".join(PARTS))
    return tuple(part for part in PARTS if part in names)


def _check_query(route: str, query: Mapping[str, Sequence[str]]) -> None:
    for name, values in query.items():
        if name not in PARAMETERS[route]:
            # Named by the rule only: the name itself is client input.
            raise RefusedError(
                "query",
                "parameter_unknown",
                "only these query parameters are known: " + ", ".join(PARAMETERS[route]),
            )
        if len(values) > 1:
            raise RefusedError(name, "parameter_repeated", f"{name}: given more than once")


def _route(path: str) -> tuple[str, str]:
    if match := _USER_ROUTE.fullmatch(path):
        return ROUTE_USER, _identifier(match.group(1), "user_id")
    if match := _DEVICE_ROUTE.fullmatch(path):
        return ROUTE_DEVICE, _identifier(match.group(1), "anonymous_id")
    if match := _PRODUCT_ROUTE.fullmatch(path):
        return ROUTE_PRODUCT, _identifier(match.group(1), "product_id")
    raise RefusedError(
        "path",
        "route_unknown",
        "GET /v1/users/<user_id>/features, /v1/devices/<anonymous_id>/features or "
        "/v1/products/<product_id>/similar",
        status=404,
    )


def handle(
    reader: FeatureReader,
    method: str,
    path: str,
    query: Mapping[str, Sequence[str]],
    *,
    started: float | None = None,
) -> Answer:
    started = time.perf_counter() if started is None else started
    reading = Reading()
    route: str | None = None
    line: dict[str, Any] = {}
    try:
        if method not in ("GET", "HEAD"):
            raise RefusedError("method", "method_not_allowed", "only GET is allowed", status=405)
        route, identifier = _route(path)
        _check_query(route, query)
        limit = _limit(query.get("limit", ()))
        read: Callable[[], BaseModel]
        defaults: Callable[[str, Degraded], BaseModel]
        if route == ROUTE_USER:
            parts = _include(query.get("include", ()))
            line["parts"] = list(parts)
            read = partial(reader.user, identifier, parts, limit, reading)
            defaults, cache = UserFeatures.defaults, USER_CACHE
        elif route == ROUTE_DEVICE:
            read = partial(reader.device, identifier, limit, reading)
            # A device's own activity: as personal and as live as a user's.
            defaults, cache = DeviceFeatures.defaults, USER_CACHE
        else:
            read = partial(reader.similar, identifier, limit, reading)
            defaults, cache = ProductSimilar.defaults, PRODUCT_CACHE
        try:
            model = read()
        except RedisUnavailableError as error:
            unavailable = defaults(identifier, "redis_unavailable")
            return _unavailable(unavailable, error, route, reading, started)
        line["known"] = getattr(model, "known", False)
        body = model.model_dump(mode="json")
        headers = {"Cache-Control": cache if not body["degraded"] else NO_CACHE}
        line["degraded"] = body["degraded"]
        return Answer(
            status=200,
            body=body,
            headers=headers,
            log=_log(200, route, reading, started, "INFO", line),
        )
    except RefusedError as error:
        body = {"error": error.message, "parameter": error.parameter, "rule": error.rule}
        headers = {"Cache-Control": NO_CACHE}
        if error.status == 405:
            headers["Allow"] = "GET, HEAD"
        fields = {"rule": error.rule, "parameter": error.parameter}
        return Answer(
            status=error.status,
            body=body,
            headers=headers,
            log=_log(error.status, route, reading, started, "WARNING", fields),
        )


def _unavailable(
    model: BaseModel, error: RedisUnavailableError, route: str, reading: Reading, started: float
) -> Answer:
    # The defaults the app renders anyway, with why; resend after Retry-After.
    body = {**model.model_dump(mode="json"), "error": "features are unavailable; retry later"}
    headers = {"Retry-After": str(FEATURES_RETRY_AFTER_SECONDS), "Cache-Control": NO_CACHE}
    fields = {"degraded": body["degraded"], "error_type": str(error).split(":")[0]}
    return Answer(
        status=503,
        body=body,
        headers=headers,
        log=_log(503, route, reading, started, "ERROR", fields),
    )


def _log(
    status: int,
    route: str | None,
    reading: Reading,
    started: float,
    severity: str,
    fields: dict[str, Any],
) -> dict[str, Any]:
    return {
        "severity": severity,
        "message": MESSAGE,
        "http_status": status,
        "route": route,
        "latency_ms": round((time.perf_counter() - started) * 1000, 3),
        "snapshot": reading.snapshot,
        "redis_round_trips": reading.round_trips,
        **fields,
    }
