"""The features function under generated requests: whatever path, query, method and headers a
client sends, the answer is a documented status with a JSON body and one JSON log line that
holds nothing the client sent.

The function, built as its factory builds it, runs in functions-framework's own WSGI app in
process; its reader is a ``FeatureReader`` on an in-memory stand-in for Redis that answers like
an empty store, or fails like a dead one. The same contract runs against redis-server in
tests/integration/warehouse/test_online_features.py.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import flask
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from event_capture.features.function import FeaturesFunction
from event_capture.features.serve import FeatureReader
from tests.fakes.functions import serve_in_process
from tests.fakes.redis import FakeRedis

DOCUMENTED = {200, 400, 404, 405, 503}
MARKER = "Zq7"


@dataclass
class App:
    client: flask.testing.FlaskClient
    redis: FakeRedis
    function: FeaturesFunction


@pytest.fixture(scope="module")
def app() -> App:
    # Empty: every read finds nothing.
    redis = FakeRedis()
    function = FeaturesFunction(FeatureReader(lambda: redis))
    return App(serve_in_process(function), redis, function)


def send(app: App, method: str, path: str, query: str = "", **headers: str) -> tuple[int, Any]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        response = app.client.open(
            path + (f"?{query}" if query else ""), method=method, headers=headers
        )
        data = response.get_data()
    status = response.status_code
    assert status in DOCUMENTED, (status, data[:300])
    assert response.mimetype == "application/json", (status, data[:300])
    body = json.loads(data) if method != "HEAD" else None
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    assert len(lines) == 1, lines
    line = json.loads(lines[0])
    assert (line["message"], line["http_status"]) == ("features", status)
    assert MARKER not in lines[0], lines[0]
    assert err.getvalue() == ""
    assert "Cache-Control" in response.headers
    return status, body


segments = st.text(max_size=20).map(lambda t: quote(t + MARKER, safe=""))
paths = st.one_of(
    st.builds(lambda s: f"/v1/users/{s}/features", segments),
    st.builds(lambda s: f"/v1/products/{s}/similar", segments),
    st.builds(lambda s: f"/{s}", segments),
    st.builds(lambda a, b: f"/v1/{a}/{b}", segments, segments),
    st.sampled_from(["/", "/v1/users//features", "/v1/users/u1/features/extra", "/robots.txt"]),
)
query_values = st.text(max_size=12).map(lambda t: quote(t + MARKER, safe=""))
query_names = st.sampled_from(["limit", "include", "x", f"limit{MARKER}", "", "LIMIT"])
queries = st.lists(st.builds(lambda n, v: f"{n}={v}", query_names, query_values), max_size=4).map(
    "&".join
)
methods = st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"])


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(method=methods, path=paths, query=queries)
def test_any_request_is_answered_by_the_contract(
    app: App, method: str, path: str, query: str
) -> None:
    send(app, method, path, query)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(user=st.from_regex(r"[A-Za-z0-9._:-]{1,128}", fullmatch=True), limit=st.integers(1, 50))
def test_any_valid_user_and_limit_gets_200_or_the_degraded_503(
    app: App, user: str, limit: int
) -> None:
    status, body = send(app, "GET", f"/v1/users/{quote(user, safe='')}/features", f"limit={limit}")

    assert status == 200
    assert body["user_id"] == user and body["known"] is False
    assert body["degraded"] == ["snapshot_missing"]


def test_redis_down_is_a_503_with_the_defaults(app: App) -> None:
    app.redis.down = True
    try:
        # A fresh reader: the pointer of an earlier request may be cached.
        app.function.reader._pointer = None
        status, body = send(app, "GET", "/v1/users/u1/features")
    finally:
        app.redis.down = False

    assert status == 503 and body["degraded"] == ["redis_unavailable"]
    assert body["recommendations"] == [] and body["profile"] is None
