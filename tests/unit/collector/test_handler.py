"""The collector function in process (functions-framework's own WSGI app) on fake sinks:
routes, write keys, limits, statuses, and what reaches the sinks and the log.

Then hypothesis sends it hostile requests: whatever arrives, the answer is a documented
status with a JSON object, and exactly one log line that carries nothing the client sent
(every generated string, key and the write key itself carry MARKER).
"""

from __future__ import annotations

import gzip
import io
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from event_capture.collector.auth import WriteKeys
from event_capture.collector.contract import MAX_BATCH_BYTES, MAX_CALL_BYTES
from event_capture.collector.function import CollectorFunction
from event_capture.collector.handler import Collector
from event_capture.ingest.pipeline import CapturePipeline
from localcloud.processes import CAPTURE_SOURCE, COLLECTOR_SOURCE
from tests.fakes.functions import Function, loaded
from tests.unit.collector import calls
from tests.unit.event_factory import RECEIVED_AT
from tests.unit.ingest.test_function_hostile import json_values, marked_text

JSON = "application/json"
MARKER = "zqx7mark"
KEY = f"wk_{MARKER}_0123456789"
AUTH = {"Authorization": calls.basic(KEY)}
DOCUMENTED = {200, 400, 401, 403, 404, 405, 408, 413, 415, 503}


@pytest.fixture(scope="module")
def function() -> Iterator[Function]:
    def collector(pipeline: CapturePipeline) -> CollectorFunction:
        built = Collector(
            pipeline=pipeline,
            write_keys=WriteKeys.parse(f"{KEY},{calls.NEXT_WRITE_KEY}"),
            retry_after_seconds=7,
            clock=lambda: RECEIVED_AT,
        )
        return CollectorFunction(built, read_timeout_seconds=10)

    with loaded(collector) as function:
        yield function


@pytest.fixture
def fresh(function: Function) -> Function:
    function.bigquery.rows.clear()
    function.archive.rows.clear()
    function.bigquery.down = function.archive.down = False
    return function


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    line: dict[str, Any]
    log: str


def send(function: Function, **request: Any) -> Answer:
    out, err = io.StringIO(), io.StringIO()
    request.setdefault("method", "POST")
    request.setdefault("path", "/v1/batch")
    with redirect_stdout(out), redirect_stderr(err):
        response = function.client.open(**request)
        data = response.get_data()
    assert response.status_code in DOCUMENTED, (response.status_code, data[:300])
    assert response.mimetype == JSON
    body = json.loads(data) if request["method"] != "HEAD" else {"head": True}
    assert isinstance(body, dict) and body
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    assert len(lines) == 1, lines
    line = json.loads(lines[0])
    assert (line["message"], line["http_status"]) == ("collector", response.status_code)
    assert err.getvalue() == "", err.getvalue()[-2000:]
    assert MARKER not in lines[0], lines[0]
    return Answer(response.status_code, body, dict(response.headers), line, lines[0])


def post(
    function: Function, document: Any, headers: dict[str, str] | None = None, **kw: Any
) -> Answer:
    return send(
        function,
        data=json.dumps(document),
        content_type=JSON,
        headers=AUTH if headers is None else headers,
        **kw,
    )


def ecommerce() -> list[dict[str, Any]]:
    return [
        calls.track("Products Searched", calls.SEARCH),
        calls.track("Product Viewed", calls.PRODUCT),
        calls.track("Product Clicked", calls.PRODUCT),
        calls.track("Product Added", calls.PRODUCT),
        calls.track("Order Completed", calls.ORDER),
    ]


def test_a_batch_of_ecommerce_events_is_stored_with_200_and_counts(fresh: Function) -> None:
    answer = post(fresh, calls.batch(*ecommerce(), writeKey=KEY))

    assert answer.status == 200
    assert {
        k: answer.body[k] for k in ("success", "received", "accepted", "rejected", "ignored")
    } == {
        "success": True,
        "received": 5,
        "accepted": 5,
        "rejected": 0,
        "ignored": 0,
    }
    types = [row.event_type for row in fresh.bigquery.rows]
    assert types == ["search", "product_view", "product_click", "add_to_cart", "order_placed"]
    assert answer.line["events_accepted"] == 5 and answer.line["route"] == "batch"
    assert answer.line["sinks"]["bigquery"]["status"] == "ok"


@pytest.mark.parametrize("path", ["/v1/batch", "/collector/v1/batch", "/a/b/v1/batch/"])
def test_the_batch_route_is_served_under_any_prefix(fresh: Function, path: str) -> None:
    assert post(fresh, calls.batch(*ecommerce()[:1]), path=path).status == 200
    assert len(fresh.bigquery.rows) == 1


def test_a_single_track_call_takes_its_type_from_the_route(fresh: Function) -> None:
    call = calls.track("Product Added", calls.PRODUCT)
    del call["type"]
    answer = post(fresh, call, path="/fn/v1/track")
    assert (answer.status, answer.body["accepted"], answer.line["route"]) == (200, 1, "track")


def test_invalid_and_ignored_calls_still_get_200_with_rules_and_no_values(fresh: Function) -> None:
    bad = calls.track("Product Viewed", {**calls.PRODUCT, "category": f"{MARKER} & co"})
    secret = calls.track(f"Signed up {MARKER}@example.com")
    answer = post(fresh, calls.batch(ecommerce()[0], bad, calls.identify(), secret, "x"))

    assert answer.status == 200
    assert (answer.body["accepted"], answer.body["rejected"], answer.body["ignored"]) == (1, 2, 2)
    assert answer.body["rejections"] == [
        {
            "index": 1,
            "errors": [
                {
                    "field": "batch[1].properties.category",
                    "rule": "string_pattern_mismatch",
                    "message": "must match ^[A-Za-z0-9._:-]+$",
                }
            ],
        },
        {
            "index": 4,
            "errors": [{"field": "batch[4]", "rule": "model_type", "message": "must be an object"}],
        },
    ]
    assert answer.line["rejected_rules"] == {"string_pattern_mismatch": 1, "model_type": 1}
    assert answer.line["ignored_by_call"] == {"identify": 1, "track": 1}
    assert answer.line["ignored_by_event"] == {"other": 1}
    assert answer.line["severity"] == "WARNING"


def test_a_batch_with_nothing_valid_is_still_200(fresh: Function) -> None:
    answer = post(fresh, calls.batch(calls.track("Product Viewed", {"product_id": "no spaces"})))
    assert (answer.status, answer.body["accepted"], answer.body["rejected"]) == (200, 0, 1)


def test_identify_full_of_personal_data_stores_and_logs_nothing(fresh: Function) -> None:
    person = calls.identify(
        userId=f"{MARKER}_user",
        traits={"email": f"{MARKER}@example.com", "name": f"Jane {MARKER}"},
        context={"ip": "203.0.113.7", "userAgent": f"Mozilla {MARKER}"},
    )
    answer = post(
        fresh, calls.batch(person, calls.identify(type="alias"), calls.identify(type="page"))
    )

    assert answer.status == 200 and answer.body["ignored"] == 3
    assert fresh.bigquery.rows == [] and fresh.archive.rows == []
    assert answer.line["ignored_by_call"] == {"identify": 1, "alias": 1, "page": 1}
    assert answer.line["sinks"] == {}


@pytest.mark.parametrize(
    ("headers", "body_key", "status", "code"),
    [
        (AUTH, None, 200, None),
        ({"Authorization": calls.basic(calls.NEXT_WRITE_KEY)}, None, 200, None),
        ({}, KEY, 200, None),
        ({"Authorization": "Bearer x"}, KEY, 200, None),
        ({}, None, 401, "write_key_missing"),
        ({}, "wrong_0123456789abcd", 401, "write_key_invalid"),
        ({}, 42, 401, "write_key_invalid"),
        # A header, when sent, decides: a right key in the body does not make up for it.
        ({"Authorization": calls.basic("wrong_0123456789abcd")}, KEY, 401, "write_key_invalid"),
        ({"Authorization": "Basic %%%"}, None, 401, "write_key_invalid"),
    ],
)
def test_write_keys(
    fresh: Function, headers: dict[str, str], body_key: Any, status: int, code: str | None
) -> None:
    document = calls.batch(*ecommerce()[:1], **({} if body_key is None else {"writeKey": body_key}))
    answer = post(fresh, document, headers=headers)

    assert answer.status == status
    if code is not None:
        # What the SDKs read and log: {"code", "message"}.
        assert set(answer.body) == {"code", "message"} and answer.body["code"] == code
        assert answer.headers["WWW-Authenticate"].startswith("Basic")
        assert answer.line["rule"] == code
        assert fresh.bigquery.rows == []


def test_a_gzip_bomb_is_413_after_inflating_at_most_the_limit(fresh: Function) -> None:
    bomb = gzip.compress(b'{"batch": [' + b" " * (MAX_BATCH_BYTES * 40) + b"]}")
    assert len(bomb) < 100_000
    answer = send(fresh, data=bomb, content_type=JSON, headers={**AUTH, "Content-Encoding": "gzip"})
    assert (answer.status, answer.body["code"], answer.line["position"]) == (
        413,
        "body_too_large",
        "body (inflated)",
    )


def test_gzip_bodies_as_rudder_sends_them_are_taken(fresh: Function) -> None:
    data = gzip.compress(json.dumps(calls.batch(*ecommerce())).encode())
    answer = send(fresh, data=data, content_type=JSON, headers={**AUTH, "Content-Encoding": "gzip"})
    assert (answer.status, answer.body["accepted"]) == (200, 5)


def test_a_batch_over_500_kb_is_413_and_a_call_over_32_kb_is_rejected_alone(
    fresh: Function,
) -> None:
    big = calls.batch(*[calls.track("Product Viewed", {**calls.PRODUCT, "pad": "x" * 30_000})] * 18)
    assert post(fresh, big).status == 413
    over = calls.track("Product Viewed", {**calls.PRODUCT, "description": "x" * MAX_CALL_BYTES})
    answer = post(fresh, calls.batch(over, ecommerce()[1]))
    assert (answer.status, answer.body["accepted"], answer.body["rejected"]) == (200, 1, 1)
    assert answer.body["rejections"][0]["errors"][0]["rule"] == "event_too_large"


@pytest.mark.parametrize(
    ("document", "status", "code"),
    [
        ([], 400, "body_shape"),
        ({"batch": {}}, 400, "batch_type"),
        ({"events": []}, 400, "batch_type"),
        ({"batch": [{}] * 2_501}, 413, "too_many_events"),
    ],
)
def test_a_body_that_is_not_a_batch_is_400(
    fresh: Function, document: Any, status: int, code: str
) -> None:
    answer = post(fresh, document)
    assert (answer.status, answer.body["code"]) == (status, code)


def test_an_empty_batch_is_200_with_nothing_done(fresh: Function) -> None:
    answer = post(fresh, calls.batch())
    assert (answer.status, answer.body["received"]) == (200, 0)


def test_requests_refused_before_the_body(fresh: Function) -> None:
    assert send(fresh, path="/v2/batch", data="{}", content_type=JSON).status == 404
    answer = send(fresh, method="GET", headers=AUTH)
    assert (answer.status, answer.headers["Allow"]) == (405, "POST")
    # text/plain is the browser SDK's (test_collector_browser_calls.py); a form is not JSON.
    form = "application/x-www-form-urlencoded"
    assert send(fresh, data="{}", content_type=form, headers=AUTH).status == 415
    assert post(fresh, "x", headers=AUTH, path="/favicon.ico").status == 404


def test_no_durable_sink_is_503_with_retry_after_and_a_retry_stores_once(fresh: Function) -> None:
    fresh.bigquery.down = fresh.archive.down = True
    document = calls.batch(*ecommerce())
    answer = post(fresh, document)

    assert answer.status == 503
    assert answer.headers["Retry-After"] == "7"
    assert answer.body["code"] == "storage_unavailable" and answer.body["accepted"] == 0
    assert answer.line["severity"] == "ERROR" and answer.line["events_not_stored"] == 5

    fresh.bigquery.down = fresh.archive.down = False
    retried = post(fresh, document, headers={**AUTH, "X-Retry-Count": "1"})
    again = post(fresh, document)  # a duplicate send: the same event ids, de-duplicated by insertId
    assert retried.status == again.status == 200
    ids = [row.event_id for row in fresh.bigquery.rows]
    assert len(set(ids)) == 5 and ids[:5] == ids[5:]


def test_the_collector_deploys_with_the_capture_functions_pins() -> None:
    def pins(path: Path) -> list[str]:
        return [line for line in path.read_text().splitlines() if not line.startswith("#")]

    assert pins(COLLECTOR_SOURCE.with_name("requirements.txt")) == pins(
        CAPTURE_SOURCE.with_name("requirements.txt")
    )


# --------------------------------------------------------------------------------------------
# Hostile requests
# --------------------------------------------------------------------------------------------

HOSTILE = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)

marked_calls = st.builds(
    lambda base, key, value: {**base, key: value},
    st.sampled_from([*ecommerce(), calls.identify(), calls.track("Cart Viewed")]),
    st.sampled_from(
        [
            "type",
            "event",
            "messageId",
            "userId",
            "anonymousId",
            "timestamp",
            "originalTimestamp",
            "sentAt",
            "properties",
            "context",
            MARKER,
        ]
    ),
    json_values,
)
mutated_properties = st.builds(
    lambda base, key, value: {**base, "properties": {**base["properties"], key: value}},
    st.sampled_from(ecommerce()),
    st.sampled_from(
        [
            "query",
            "product_id",
            "products",
            "total",
            "currency",
            "session_id",
            "filters",
            "search_event_id",
            "position",
            "source",
        ]
    ),
    json_values,
)
documents = st.one_of(
    json_values,
    st.builds(calls.batch, *[marked_calls | mutated_properties] * 3),
    st.builds(
        lambda c, k: {**c, "writeKey": k}, marked_calls, st.sampled_from([KEY, MARKER, None])
    ),
    st.builds(lambda v: {"batch": v, "sentAt": v, "context": v}, json_values),
)


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    document = draw(documents)
    raw = draw(st.sampled_from(["json", "bytes", "gzip", "bad-gzip"]))
    data: bytes = json.dumps(document).encode() if raw != "bytes" else draw(st.binary(max_size=200))
    headers: dict[str, str] = {}
    if raw == "gzip":
        data, headers["Content-Encoding"] = gzip.compress(data), "gzip"
    elif raw == "bad-gzip":
        data, headers["Content-Encoding"] = data[:20], "gzip"
    auth = draw(
        st.sampled_from(
            [
                *[AUTH["Authorization"]] * 4,
                calls.basic(MARKER),
                f"Basic {MARKER}",
                f"Bearer {MARKER}",
                None,
            ]
        )
    )
    if auth is not None:
        headers["Authorization"] = auth
    path = draw(
        st.sampled_from(["/v1/batch"] * 4 + ["/x/v1/track", "/v1/identify", "/v1/page", "/"])
        | marked_text.filter(str.isprintable).map(
            lambda t: "/" + t.replace("?", "").replace("#", "")
        )
    )
    method = draw(st.sampled_from(["POST"] * 6 + ["GET", "PUT", "HEAD", "OPTIONS"]))
    content_type = draw(st.sampled_from([JSON] * 6 + ["text/plain", f"application/{MARKER}", ""]))
    return {
        "method": method,
        "path": path,
        "data": data,
        "content_type": content_type,
        "headers": headers,
        "down": draw(st.booleans()),
    }


statuses: Counter[int] = Counter()


@HOSTILE
@given(request=requests())
def test_any_request_gets_a_documented_json_answer_and_a_log_line_without_client_input(
    function: Function, request: dict[str, Any]
) -> None:
    request = dict(request)
    function.bigquery.down = function.archive.down = request.pop("down")
    try:
        answer = send(function, **request)
    finally:
        function.bigquery.down = function.archive.down = False
    statuses[answer.status] += 1
    if answer.status == 200 and "success" in answer.body:
        assert (
            answer.body["received"]
            == answer.body["accepted"] + answer.body["rejected"] + answer.body["ignored"]
        )


def test_the_hostile_requests_reached_every_kind_of_answer() -> None:
    # Runs after the property above (file order): it must not have explored only refusals.
    # (Its 503s depend on the examples drawn; the 503 has a test of its own above.)
    if statuses:
        assert {200, 400, 401, 404, 405, 415} <= set(statuses), statuses
