"""The features function's HTTP contract, driven through ``http_api.handle`` with a stub reader.

The stub answers as FeatureReader does (duck-typed: ``user`` and ``similar``), records what it
was asked, and can raise RedisUnavailableError; no Redis, no server.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from event_capture.features import http_api
from event_capture.features.http_api import handle
from event_capture.features.serve import FeatureReader, Reading, RedisUnavailableError
from event_capture.platform.answer import Answer
from event_capture.schemas.features import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    PARTS,
    DeviceFeatures,
    Part,
    ProductSimilar,
    RecentItems,
    SimilarProduct,
    UserFeatures,
)

USER = "user-7f3a9c01"
PRODUCT = "sku_18842"
SNAPSHOT = dt.date(2026, 11, 27)
USER_PATH = f"/v1/users/{USER}/features"
PRODUCT_PATH = f"/v1/products/{PRODUCT}/similar"


@dataclass
class StubReader:
    degraded: bool = False
    error: RedisUnavailableError | None = None
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    def user(
        self, user_id: str, parts: Collection[Part], limit: int, reading: Reading | None = None
    ) -> UserFeatures:
        self.calls.append(("user", user_id, tuple(parts), limit))
        assert reading is not None
        reading.round_trips, reading.snapshot = 2, "2026-11-27.0123456789abcdef"
        if self.error:
            raise self.error
        if self.degraded:
            return UserFeatures(
                user_id=user_id,
                known=True,
                degraded=["snapshot_missing"],
                recent=RecentItems(viewed=["sku_1"]),
            )
        return UserFeatures(
            user_id=user_id, known=True, snapshot=SNAPSHOT, recent=RecentItems(viewed=["sku_1"])
        )

    def device(
        self, anonymous_id: str, limit: int, reading: Reading | None = None
    ) -> DeviceFeatures:
        self.calls.append(("device", anonymous_id, limit))
        assert reading is not None
        reading.round_trips = 1
        if self.error:
            raise self.error
        return DeviceFeatures(
            anonymous_id=anonymous_id, known=True, snapshot=SNAPSHOT, recent=RecentItems()
        )

    def similar(
        self, product_id: str, limit: int, reading: Reading | None = None
    ) -> ProductSimilar:
        self.calls.append(("similar", product_id, limit))
        assert reading is not None
        reading.round_trips = 1
        if self.error:
            raise self.error
        if self.degraded:
            return ProductSimilar.defaults(product_id, "snapshot_missing")
        return ProductSimilar(
            product_id=product_id,
            known=True,
            snapshot=SNAPSHOT,
            similar=[SimilarProduct(product_id="sku_2", co_occurrences=3, rank=1)],
        )


def get(
    path: str,
    query: Mapping[str, Sequence[str]] | None = None,
    *,
    reader: StubReader | None = None,
    method: str = "GET",
) -> Answer:
    return handle(cast(FeatureReader, reader or StubReader()), method, path, query or {})


def assert_refused(
    answer: Answer, status: int, parameter: str, rule: str, reader: StubReader | None = None
) -> None:
    assert answer.status == status
    assert (answer.body["parameter"], answer.body["rule"]) == (parameter, rule)
    assert answer.headers["Cache-Control"] == "no-store"
    assert (answer.log["rule"], answer.log["parameter"]) == (rule, parameter)
    assert (answer.log["severity"], answer.log["http_status"]) == ("WARNING", status)
    assert reader is None or reader.calls == []


# --- answers -----------------------------------------------------------------------------------


def test_a_users_features_are_served_privately_with_every_part_by_default() -> None:
    reader = StubReader()

    answer = get(USER_PATH, reader=reader)

    assert answer.status == 200
    assert reader.calls == [("user", USER, PARTS, DEFAULT_LIMIT)]
    assert answer.body == UserFeatures(
        user_id=USER, known=True, snapshot=SNAPSHOT, recent=RecentItems(viewed=["sku_1"])
    ).model_dump(mode="json")
    assert answer.headers == {"Cache-Control": "private, no-store"}


def test_a_products_similar_products_are_cacheable_by_anyone() -> None:
    reader = StubReader()

    answer = get(PRODUCT_PATH, {"limit": ["3"]}, reader=reader)

    assert answer.status == 200
    assert reader.calls == [("similar", PRODUCT, 3)]
    assert answer.body["similar"] == [{"product_id": "sku_2", "co_occurrences": 3, "rank": 1}]
    assert answer.headers == {"Cache-Control": "public, max-age=300"}


@pytest.mark.parametrize("path", [USER_PATH, PRODUCT_PATH])
def test_a_degraded_answer_is_never_cached(path: str) -> None:
    answer = get(path, reader=StubReader(degraded=True))

    assert answer.status == 200
    assert answer.body["degraded"] == ["snapshot_missing"]
    assert answer.headers == {"Cache-Control": "no-store"}
    assert answer.log["degraded"] == ["snapshot_missing"]


def test_the_log_line_of_an_answer() -> None:
    answer = get(USER_PATH, {"include": ["recent,profile"]})

    assert answer.log == {
        "severity": "INFO",
        "message": "features",
        "http_status": 200,
        "route": "user_features",
        "latency_ms": answer.log["latency_ms"],
        "snapshot": "2026-11-27.0123456789abcdef",
        "redis_round_trips": 2,
        "parts": ["profile", "recent"],
        "known": True,
        "degraded": [],
    }
    assert 0 <= answer.log["latency_ms"] < 10_000


@pytest.mark.parametrize(
    ("include", "parts"),
    [
        pytest.param("recent", ("recent",), id="one"),
        pytest.param("similar_to_recent,profile", ("profile", "similar_to_recent"), id="as-listed"),
        pytest.param(" profile , recent ", ("profile", "recent"), id="spaces"),
        pytest.param("recent,recent", ("recent",), id="twice"),
        pytest.param(",".join(reversed(PARTS)), PARTS, id="all"),
    ],
)
def test_include_names_the_parts_served_in_the_answers_order(
    include: str, parts: tuple[str, ...]
) -> None:
    reader = StubReader()

    get(USER_PATH, {"include": [include]}, reader=reader)

    assert reader.calls == [("user", USER, parts, DEFAULT_LIMIT)]


@pytest.mark.parametrize(("raw", "limit"), [("1", 1), ("50", MAX_LIMIT), ("07", 7)])
def test_a_limit_from_1_to_50_is_passed_on(raw: str, limit: int) -> None:
    reader = StubReader()

    assert get(USER_PATH, {"limit": [raw]}, reader=reader).status == 200
    assert reader.calls[0][-1] == limit


@pytest.mark.parametrize(
    ("path", "route", "identifier"),
    [
        pytest.param(f"{USER_PATH}/", "user", USER, id="trailing-slash"),
        pytest.param(f"/v1/users/{'a' * 128}/features", "user", "a" * 128, id="128-characters"),
        pytest.param("/v1/users/A.b_c:d-9/features", "user", "A.b_c:d-9", id="every-character"),
        pytest.param(f"{PRODUCT_PATH}/", "similar", PRODUCT, id="product-trailing-slash"),
    ],
)
def test_identifiers_that_are_accepted(path: str, route: str, identifier: str) -> None:
    reader = StubReader()

    assert get(path, reader=reader).status == 200
    assert reader.calls[0][:2] == (route, identifier)


def test_head_is_answered_as_get() -> None:
    reader = StubReader()

    answer = get(USER_PATH, reader=reader, method="HEAD")

    assert (answer.status, answer.headers) == (200, {"Cache-Control": "private, no-store"})
    assert reader.calls == [("user", USER, PARTS, DEFAULT_LIMIT)]


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "parameter", "rule", "says"),
    [
        pytest.param({"limit": ["0"]}, "limit", "limit_range", "from 1 to 50", id="limit-0"),
        pytest.param({"limit": ["51"]}, "limit", "limit_range", "from 1 to 50", id="limit-51"),
        pytest.param({"limit": ["abc"]}, "limit", "limit_range", "integer", id="limit-abc"),
        pytest.param({"limit": ["٣"]}, "limit", "limit_range", "integer", id="limit-arabic-3"),
        pytest.param({"limit": ["³"]}, "limit", "limit_range", "integer", id="limit-superscript"),
        pytest.param({"limit": ["-1"]}, "limit", "limit_range", "integer", id="limit-negative"),
        pytest.param({"limit": ["+5"]}, "limit", "limit_range", "integer", id="limit-plus"),
        pytest.param({"limit": [" 5"]}, "limit", "limit_range", "integer", id="limit-space"),
        pytest.param({"limit": ["5.0"]}, "limit", "limit_range", "integer", id="limit-decimal"),
        pytest.param({"limit": [""]}, "limit", "limit_range", "integer", id="limit-empty"),
        pytest.param(
            {"include": ["profile,nope"]}, "include", "include_unknown", "recent", id="include"
        ),
        pytest.param(
            {"include": [""]}, "include", "include_unknown", "profile", id="include-empty"
        ),
        pytest.param(
            {"include": ["Profile"]}, "include", "include_unknown", "profile", id="include-case"
        ),
        pytest.param(
            {"limit": ["5", "6"]}, "limit", "parameter_repeated", "more than once", id="limit-twice"
        ),
        pytest.param(
            {"include": ["recent", "recent"]},
            "include",
            "parameter_repeated",
            "more than once",
            id="include-twice",
        ),
    ],
)
def test_a_bad_parameter_is_a_400_naming_it_and_the_rule(
    query: dict[str, list[str]], parameter: str, rule: str, says: str
) -> None:
    reader = StubReader()

    answer = get(USER_PATH, query, reader=reader)

    assert_refused(answer, 400, parameter, rule, reader)
    assert answer.body["error"].startswith(f"{parameter}: ")
    assert says in answer.body["error"]


def test_a_limit_of_more_than_4300_digits_is_a_400() -> None:
    answer = get(USER_PATH, {"limit": ["9" * 4301]})

    assert_refused(answer, 400, "limit", "limit_range")


def test_include_is_unknown_on_the_product_route() -> None:
    reader = StubReader()

    answer = get(PRODUCT_PATH, {"include": ["recent"]}, reader=reader)

    assert_refused(answer, 400, "query", "parameter_unknown", reader)
    assert answer.body["error"] == "only these query parameters are known: limit"


@pytest.mark.parametrize("path", [USER_PATH, PRODUCT_PATH])
def test_an_unknown_parameter_is_refused_without_repeating_its_name(path: str) -> None:
    name = "zq_secret_token"
    reader = StubReader()

    answer = get(path, {"limit": ["5"], name: ["hunter2"]}, reader=reader)

    assert_refused(answer, 400, "query", "parameter_unknown", reader)
    for text in (json.dumps(answer.body), json.dumps(answer.log)):
        assert name not in text and "hunter2" not in text


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        pytest.param(f"/v1/users/{'a' * 129}/features", "user_id", id="129-characters"),
        pytest.param("/v1/users/a%20b/features", "user_id", id="space"),
        pytest.param("/v1/users/a$b/features", "user_id", id="dollar"),
        pytest.param("/v1/users/caf%C3%A9/features", "user_id", id="non-ascii"),
        # The path arrives decoded once by the server: a "%" left is the client's second
        # encoding ("a%252Fb" sent), and decoding again would serve another identifier.
        pytest.param("/v1/users/a%2Fb/features", "user_id", id="encoded-slash"),
        pytest.param("/v1/users/a%2fb/features", "user_id", id="encoded-slash-lower"),
        pytest.param("/v1/users/a%3Ab/features", "user_id", id="encoded-colon"),
        pytest.param("/v1/users/u%2D1/features", "user_id", id="encoded-dash"),
        pytest.param("/v1/users/%2E%2E%2Fadmin/features", "user_id", id="encoded-dot-dot-slash"),
        pytest.param("/v1/users/ab%0A/features", "user_id", id="trailing-newline"),
        pytest.param("/v1/users/%25/features", "user_id", id="percent"),
        pytest.param("/v1/users/%/features", "user_id", id="lone-percent"),
        pytest.param(f"/v1/products/{'p' * 129}/similar", "product_id", id="product-too-long"),
        pytest.param("/v1/products/p%2Fq/similar", "product_id", id="product-encoded-slash"),
    ],
)
def test_a_bad_identifier_is_a_400_that_does_not_log_it(path: str, parameter: str) -> None:
    reader = StubReader()

    answer = get(path, reader=reader)

    assert_refused(answer, 400, parameter, "identifier", reader)
    assert answer.body["error"] == (
        f"{parameter}: 1 to 128 characters of letters, digits and . _ : -"
    )
    identifier = path.split("/")[3]
    assert identifier not in json.dumps(answer.log)


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "",
        "/v1/users/u1",
        "/v1/users//features",
        "/v1/users/u1/features/x",
        "/v1/users/a/b/features",  # "a%2Fb" as the server decodes it
        "/v2/users/u1/features",
        "/v1/users/u1/features//",
        "//v1/users/u1/features",
        "/v1/products/p1",
        "/v1/products/p1/features",
        "/v1/devices/a1",
        "/v1/devices/a1/similar",
        "/V1/users/u1/features",
        "/robots.txt",
    ],
)
def test_an_unknown_route_is_a_404(path: str) -> None:
    reader = StubReader()

    answer = get(path, reader=reader)

    assert_refused(answer, 404, "path", "route_unknown", reader)
    assert answer.log["route"] is None


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "get"])
@pytest.mark.parametrize("path", [USER_PATH, "/nowhere"])
def test_any_method_but_get_and_head_is_a_405_with_allow(method: str, path: str) -> None:
    reader = StubReader()

    answer = get(path, reader=reader, method=method)

    assert answer.status == 405
    assert answer.headers == {"Cache-Control": "no-store", "Allow": "GET, HEAD"}
    assert (answer.body["parameter"], answer.body["rule"]) == ("method", "method_not_allowed")
    assert reader.calls == []


def test_the_method_is_checked_before_the_route_and_the_route_before_the_query() -> None:
    assert get("/nowhere", {"limit": ["0"]}, method="POST").status == 405
    assert get("/nowhere", {"limit": ["0"]}).status == 404
    assert get("/v1/users/a%2Fb/features", {"limit": ["0"]}).body["parameter"] == "user_id"


# --- Redis unavailable -------------------------------------------------------------------------


ERROR = RedisUnavailableError("ConnectionError: Error 111 connecting to 10.8.0.3:6379. Refused.")


def test_redis_unavailable_is_a_503_with_retry_after_and_the_users_defaults() -> None:
    answer = get(USER_PATH, {"include": ["recent"]}, reader=StubReader(error=ERROR))

    assert answer.status == 503
    assert answer.headers == {"Retry-After": "5", "Cache-Control": "no-store"}
    assert answer.body == {
        **UserFeatures.defaults(USER, "redis_unavailable").model_dump(mode="json"),
        "error": "features are unavailable; retry later",
    }
    assert answer.log["severity"] == "ERROR"
    assert answer.log["error_type"] == "ConnectionError"
    assert answer.log["degraded"] == ["redis_unavailable"]
    assert answer.log["route"] == "user_features"
    assert "10.8.0.3" not in json.dumps(answer.log)


def test_redis_unavailable_is_a_503_with_the_products_defaults() -> None:
    answer = get(PRODUCT_PATH, reader=StubReader(error=ERROR))

    assert answer.status == 503
    assert answer.headers["Retry-After"] == str(http_api.FEATURES_RETRY_AFTER_SECONDS)
    assert answer.body == {
        **ProductSimilar.defaults(PRODUCT, "redis_unavailable").model_dump(mode="json"),
        "error": "features are unavailable; retry later",
    }
    assert (answer.log["route"], answer.log["http_status"]) == ("similar_products", 503)


# --- nothing of the user in the log ------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "reader", "method", "status"),
    [
        pytest.param({}, StubReader(), "GET", 200, id="200"),
        pytest.param({}, StubReader(degraded=True), "GET", 200, id="200-degraded"),
        pytest.param({"limit": ["0"]}, StubReader(), "GET", 400, id="400-limit"),
        pytest.param({"limit": ["1", "2"]}, StubReader(), "GET", 400, id="400-repeated"),
        pytest.param({USER: ["x"]}, StubReader(), "GET", 400, id="400-id-as-parameter"),
        pytest.param({}, StubReader(), "POST", 405, id="405"),
        pytest.param({}, StubReader(error=ERROR), "GET", 503, id="503"),
    ],
)
def test_the_log_line_never_holds_the_user_id(
    query: dict[str, list[str]], reader: StubReader, method: str, status: int
) -> None:
    answer = get(USER_PATH, query, reader=reader, method=method)

    assert answer.status == status
    assert USER not in json.dumps(answer.log)
    assert USER.split("-")[1] not in json.dumps(answer.log)


@pytest.mark.parametrize(
    ("query", "reader", "status"),
    [
        pytest.param({}, StubReader(), 200, id="200"),
        pytest.param({"limit": ["99"]}, StubReader(), 400, id="400"),
        pytest.param({}, StubReader(error=ERROR), 503, id="503"),
    ],
)
def test_the_log_line_never_holds_the_product_id_either(
    query: dict[str, list[str]], reader: StubReader, status: int
) -> None:
    # Not personal, but client input all the same (the module's rule).
    answer = get(PRODUCT_PATH, query, reader=reader)

    assert answer.status == status
    assert PRODUCT not in json.dumps(answer.log)


def test_the_log_line_never_holds_a_bad_user_id_of_an_unknown_route() -> None:
    answer = get(f"/v1/users/{USER}/profile")

    assert answer.status == 404
    assert USER not in json.dumps(answer.log)


# --- a device's answer -------------------------------------------------------------------------


DEVICE_PATH = "/v1/devices/a_3b1f/features"


def test_a_devices_features_are_served_privately_with_its_limit() -> None:
    reader = StubReader()

    answer = get(DEVICE_PATH, {"limit": ["5"]}, reader=reader)

    assert answer.status == 200
    assert reader.calls == [("device", "a_3b1f", 5)]
    assert answer.body["anonymous_id"] == "a_3b1f" and answer.body["known"] is True
    assert answer.headers["Cache-Control"] == "private, no-store"
    assert answer.log["route"] == "device_features"


def test_a_device_takes_no_parts_and_a_bad_id_is_named_anonymous_id() -> None:
    reader = StubReader()

    assert_refused(
        get(DEVICE_PATH, {"include": ["profile"]}, reader=reader),
        400,
        "query",
        "parameter_unknown",
        reader,
    )
    assert_refused(
        get("/v1/devices/a%2Fb/features", reader=reader), 400, "anonymous_id", "identifier", reader
    )


def test_a_device_answer_without_redis_is_a_503_with_its_defaults() -> None:
    reader = StubReader(error=RedisUnavailableError("ConnectionError: refused"))

    answer = get(DEVICE_PATH, reader=reader)

    assert answer.status == 503
    assert answer.body["anonymous_id"] == "a_3b1f"
    assert answer.body["degraded"] == ["redis_unavailable"]
    assert answer.headers["Retry-After"] == "5"
