"""Whatever a client sends, the function answers by its contract: hypothesis drives the real WSGI
app in process with arbitrary bytes, arbitrary JSON, mutated valid events and batches, and
header and framing variants.

The invariant, for every request: a status the OpenAPI document lists, a JSON object as the
body (HEAD has none), exactly one JSON log line that carries that status, nothing on stderr
(no traceback reached Flask's error logging), and nothing the client sent in the log line:
every generated key and string value carries MARKER, which must never appear there.

The sinks are in-memory fakes that speak the sink interface, so accepted events (200, 207) and
an outage (503) are exercised without a network. Bounded and derandomized so that
``make test`` stays quick and every run explores the same examples.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from event_capture.ingest.function import CaptureFunction
from event_capture.ingest.openapi import openapi_document
from event_capture.ingest.row import Row
from localcloud.processes import CAPTURE_SOURCE
from tests.fakes.functions import Function, loaded
from tests.unit import event_factory as factory

MAIN = CAPTURE_SOURCE
JSON = "application/json"
R = factory.RECEIVED_AT
MARKER = "zqx7mark"
DOCUMENTED = {int(status) for status in openapi_document()["paths"]["/"]["post"]["responses"]}

HOSTILE = settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --------------------------------------------------------------------------------------------
# The function on fake sinks
# --------------------------------------------------------------------------------------------


_PLAIN_MONEY = re.compile(r"[0-9]+(?:\.[0-9]{1,3})?")


def _strict_json(text: str) -> Any:
    def refuse(name: str) -> Any:
        raise AssertionError(f"{name} in a row")

    return json.loads(text, parse_constant=refuse)


def assert_storable(row: Row) -> None:
    """What BigQuery would refuse after the function acknowledged it."""
    data = _strict_json(row.json)
    row.json.encode("utf-8")  # no unpaired surrogate
    for name in ("occurred_at", "started_at", "ended_at", "received_at"):
        if name in data:
            # The UTC instant, as BigQuery stores it, from year 1 to 9999.
            datetime.fromisoformat(data[name]).astimezone(UTC)
    for price in [data.get("total"), *(item["unit_price"] for item in data.get("items", []))]:
        assert price is None or _PLAIN_MONEY.fullmatch(price), price


@pytest.fixture(scope="module")
def function() -> Iterator[Function]:
    with loaded(lambda pipeline: CaptureFunction(pipeline, read_timeout_seconds=10)) as function:
        yield function


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    line: dict[str, Any]
    log: str


def _send(function: Function, **request: Any) -> Answer:
    """One request; checks the invariant and returns what came back."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        response = function.client.open(**request)
        data = response.get_data()
    method = str(request.get("method", "GET")).upper()
    status = response.status_code
    assert status in DOCUMENTED, (status, data[:300])
    assert response.mimetype == JSON, (status, data[:300])
    body = None
    if method != "HEAD":
        body = json.loads(data)
        assert isinstance(body, dict) and body, data[:300]
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    assert len(lines) == 1, lines
    line = json.loads(lines[0])
    assert (line["message"], line["http_status"]) == ("capture", status), line
    assert err.getvalue() == "", err.getvalue()[-2000:]
    assert MARKER not in lines[0], lines[0]
    return Answer(status, body, line, lines[0])


# --------------------------------------------------------------------------------------------
# Strategies: everything the client controls carries MARKER
# --------------------------------------------------------------------------------------------

_text = st.text(max_size=12)
marked_text = st.builds(lambda a, b: f"{a}{MARKER}{b}", _text, _text)
marked_keys = marked_text | st.sampled_from([f"{MARKER}@example.com", f"events{MARKER}"])
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats()  # NaN and the infinities too: json.dumps writes them, JSON has no such values
    | marked_text
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(marked_keys, children, max_size=4)
    ),
    max_leaves=20,
)

BUILDERS: list[Callable[[Any], dict[str, Any]]] = [
    factory.search,
    lambda r: factory.product_interaction(r, "add_to_cart"),
    factory.order,
    lambda r: factory.session(r, "session_end"),
    factory.voice,
]

# Values that once got through (or crashed) where a field of their type expects them.
TIMESTAMP_EDGES = [
    "0001-01-01T00:30:00+01:00",
    "9999-12-31T23:30:00-01:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "0001-01-01T00:00:00-23:59",
    "2026-11-28T16:37:31+23:59",
]
MONEY_EDGES = ["5_000", " 5 ", "٥", "1e3", "NaN", "Infinity", "+5", "5.", "0.001", "12.50", 1e400]
EDGES: dict[str, list[Any]] = {
    "occurred_at": TIMESTAMP_EDGES,
    "started_at": TIMESTAMP_EDGES,
    "ended_at": TIMESTAMP_EDGES,
    "total": MONEY_EDGES,
    "referrer": ["http://[::1", "https://example.com:99999/", "https://u:p@example.com:x/"],
    "query": ["oat \ud800 milk", "[" * 600],
}
ANY_EDGES = [1e400, -0.0, 10**20, True, [], {}, "", "\x00"]


@st.composite
def mutated_event(draw: st.DrawFn) -> Any:
    event: Any = draw(st.sampled_from(BUILDERS))(R)
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from(sorted(event)))
        mutation = draw(st.integers(0, 6))
        if mutation == 0:
            event[key] = draw(json_values)
        elif mutation == 1:
            del event[key]
        elif mutation == 2:
            event[draw(marked_keys)] = draw(json_values)
        elif mutation == 3:
            event[key] = f"{event[key]}{MARKER}" if isinstance(event[key], str) else MARKER
        elif mutation == 4:
            event[key] = draw(st.sampled_from(ANY_EDGES))
        elif mutation == 5:
            typed = sorted(set(EDGES) & set(event)) or [key]
            key = draw(st.sampled_from(typed))
            event[key] = draw(st.sampled_from(EDGES.get(key, ANY_EDGES)))
        else:
            event = draw(json_values)
            break
    return event


@st.composite
def capture_request(draw: st.DrawFn) -> Any:
    events = draw(st.lists(mutated_event(), min_size=1, max_size=5))
    if len(events) > 1 and draw(st.booleans()):
        events.append(events[0])  # a duplicate event_id
    if len(events) == 1 and draw(st.booleans()):
        return events[0]
    batch: dict[str, Any] = {"events": events}
    if draw(st.integers(0, 9)) == 0:
        batch[draw(marked_keys)] = draw(json_values)
    return batch


# --------------------------------------------------------------------------------------------
# The properties
# --------------------------------------------------------------------------------------------


@HOSTILE
@given(
    data=st.binary(max_size=2048) | st.builds(bytes.__add__, st.just(b'{"events":['), st.binary())
)
def test_arbitrary_bytes_are_answered_by_the_contract(function: Function, data: bytes) -> None:
    answer = _send(function, path="/", method="POST", data=data, content_type=JSON)

    assert answer.status in {200, 207, 400, 413}


@HOSTILE
@given(document=json_values)
def test_arbitrary_json_is_answered_by_the_contract(function: Function, document: Any) -> None:
    answer = _send(function, path="/", method="POST", data=json.dumps(document), content_type=JSON)

    assert answer.status in {200, 207, 400, 413}


@st.composite
def nested(draw: st.DrawFn) -> bytes:
    """A document nested up to 200,000 deep: past the JSON parser's recursion limit."""
    depth = draw(st.integers(1, 200_000))
    opener, closer = draw(st.sampled_from([(b"[", b"]"), (f'{{"{MARKER}":'.encode(), b"}")]))
    inner = json.dumps(draw(scalars)).encode()
    closed = draw(st.integers(0, depth)) if draw(st.booleans()) else depth
    document = opener * depth + inner + closer * closed
    return b'{"events": [' + document + b"]}" if draw(st.booleans()) else document


@HOSTILE
@given(data=nested())
def test_deeply_nested_json_is_answered_by_the_contract(function: Function, data: bytes) -> None:
    answer = _send(function, path="/", method="POST", data=data, content_type=JSON)

    # 413 when the nesting alone is over the size limit.
    assert answer.status in {400, 413}


@HOSTILE
@given(document=capture_request(), outage=st.booleans(), gzipped=st.booleans())
def test_mutated_events_and_batches_are_answered_by_the_contract(
    function: Function, document: Any, outage: bool, gzipped: bool
) -> None:
    function.bigquery.down = outage
    function.bigquery.rows.clear()
    data = json.dumps(document).encode()
    headers = {"Content-Encoding": "gzip"} if gzipped else {}
    try:
        answer = _send(
            function,
            path="/",
            method="POST",
            data=gzip.compress(data) if gzipped else data,
            content_type=JSON,
            headers=headers,
        )
    finally:
        function.bigquery.down = False

    if answer.status in (200, 207, 503):
        received = len(document["events"]) if "events" in document else 1
        assert answer.body["received"] == received
        accepted, rejected = answer.body["accepted"], answer.body["rejected"]
        assert rejected == len(answer.body["rejections"])
        assert accepted == (0 if answer.status == 503 else received - rejected)
    if answer.status == 503:
        assert outage
    for row in function.bigquery.rows:
        assert_storable(row)


@st.composite
def edge_event(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event with one field set to a value of its type that once got through."""
    event: dict[str, Any] = draw(st.sampled_from(BUILDERS))(R)
    key = draw(st.sampled_from(sorted(set(EDGES) & set(event))))
    event[key] = draw(st.sampled_from(EDGES[key]))
    return event


@HOSTILE
@given(event=edge_event())
def test_an_acknowledged_event_is_storable(function: Function, event: dict[str, Any]) -> None:
    function.bigquery.rows.clear()

    answer = _send(function, path="/", method="POST", json=event)

    assert answer.status in {200, 400}
    assert len(function.bigquery.rows) == (1 if answer.status == 200 else 0)
    for row in function.bigquery.rows:
        assert_storable(row)


_GZIP_BOMB = gzip.compress(b" " * 5_000_000)
_VALID = json.dumps({"events": factory.one_of_each(R)}).encode()
BODIES = st.sampled_from(
    [
        _VALID,
        b"",
        b"{}",
        _VALID,
        gzip.compress(_VALID),
        gzip.compress(_VALID)[:-9],
        _GZIP_BOMB,
        b"[" * 50_000,
        b"\xff\xfe{",
        f'{{"events": [], "{MARKER}": 1}}'.encode(),
    ]
) | st.binary(max_size=256)
header_text = st.text(
    st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"), max_size=40
)


@st.composite
def framing(draw: st.DrawFn) -> dict[str, Any]:
    body = draw(BODIES)
    headers: dict[str, str] = {}
    environ: dict[str, Any] = {}
    content_type = draw(
        st.just(JSON)
        | st.sampled_from(
            [
                None,
                JSON,
                "application/json; charset=utf-8",
                "APPLICATION/JSON",
                "application/json;;;",
                'application/json; charset="\x00"',
                "text/plain",
                "application/x-ndjson",
                "multipart/form-data; boundary=x",
                "application/x-www-form-urlencoded",
            ]
        )
        | header_text
    )
    if content_type is not None:
        headers["Content-Type"] = content_type
    encoding = draw(
        st.none()
        | st.sampled_from(["gzip", "x-gzip", "identity", "GZIP", "br", "gzip, gzip", ""])
        | header_text
    )
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    length = draw(st.integers(0, 4))
    if length == 1:
        environ["CONTENT_LENGTH"] = str(len(body) + draw(st.integers(1, 10**6)))
    elif length == 2:
        environ["CONTENT_LENGTH"] = str(max(0, len(body) - draw(st.integers(1, 100))))
    elif length == 3:
        environ["CONTENT_LENGTH"] = draw(st.sampled_from(["abc", "-1", "1e3", " 7 ", "9" * 30]))
    elif length == 4:
        # What gunicorn hands over for Transfer-Encoding: chunked: no length, and a stream it
        # has already de-chunked and terminated.
        headers["Transfer-Encoding"] = "chunked"
        environ["wsgi.input_terminated"] = True
    for _ in range(draw(st.integers(0, 3))):
        name = draw(
            st.sampled_from(["X-Cloud-Trace-Context", "Function-Execution-Id", "Expect", "Host"])
            | st.from_regex(r"X-[A-Za-z0-9-]{1,12}", fullmatch=True)
        )
        headers[name] = draw(header_text)
    # Each "|" branch is drawn about equally often: POST on / is half of the requests, so that
    # the framing and the body, not only the method and the path, are what varies.
    method = draw(
        st.just("POST")
        | st.sampled_from(["GET", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "post"])
        | st.from_regex(r"[A-Z]{1,10}", fullmatch=True)
    )
    path = draw(
        st.just("/")
        | st.sampled_from(
            ["/", "/robots.txt", "/favicon.ico", "/static/x", "//", "/a//b", "/%ff", "/x/"]
        )
        | st.from_regex(r"/[A-Za-z0-9._~%/-]{0,20}", fullmatch=True)
    )
    return {
        "path": path,
        "method": method,
        "input_stream": io.BytesIO(body),
        "headers": headers,
        "environ_overrides": environ,
    }


@HOSTILE
@given(request=framing())
def test_header_and_framing_variants_are_answered_by_the_contract(
    function: Function, request: dict[str, Any]
) -> None:
    _send(function, **request)
