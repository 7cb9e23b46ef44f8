"""The collector as its in-process tests serve it (``conftest.py``: functions-framework's own app
on fake sinks), what they send it, and ``send``, which checks every answer the same way: a
documented status, a JSON object, and exactly one log line that carries nothing the client sent
(every generated string, key and the write key itself carry MARKER).

The browser calls are as Chromium sent them, recorded with ``@segment/analytics-next`` 1.84.3
against a loopback server (tests/integration/test_collector_browser.py runs the SDK itself).
"""

from __future__ import annotations

import io
import json
import uuid
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from typing import Any

from tests.fakes.functions import Function
from tests.unit.collector import calls
from tests.unit.event_factory import RECEIVED_AT, iso

JSON = "application/json"


MARKER = "zqx7mark"


KEY = f"wk_{MARKER}_0123456789"


AUTH = {"Authorization": calls.basic(KEY)}


DOCUMENTED = {200, 400, 401, 403, 404, 405, 408, 413, 415, 503}


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


SHOP = "https://shop.example.com"


OTHER_SHOP = "http://127.0.0.1:8000"


PAGE = {
    "path": "/p/oat-milk",
    "referrer": "",
    "search": f"?email={MARKER}@example.com",
    "title": "Oat milk",
    "url": f"{SHOP}/p/oat-milk?email={MARKER}@example.com",
}


def browser_call(kind: str, **fields: Any) -> dict[str, Any]:
    """One call as the browser SDK posts it to /v1/<letter>: writeKey and sentAt inside."""
    call: dict[str, Any] = {
        "timestamp": iso(RECEIVED_AT),
        "integrations": {"Segment.io": True},
        "type": kind,
        "context": {
            "page": PAGE,
            "userAgent": f"Mozilla/5.0 HeadlessChrome/156 {MARKER}",
            "locale": "en-US",
            "library": {"name": "analytics.js", "version": "next-1.84.3"},
            "campaign": {"source": "x"},
            "timezone": "UTC",
        },
        "messageId": f"ajs-next-1796126158655-{uuid.uuid4()}",
        "userId": "u_8f14e45f",
        "anonymousId": str(uuid.uuid4()),
        "writeKey": KEY,
        "sentAt": iso(RECEIVED_AT),
        "_metadata": {"bundled": ["Segment.io"], "unbundled": [], "bundledIds": []},
    }
    return calls.proven(call, fields)


def product_added() -> dict[str, Any]:
    properties = {**calls.PRODUCT, "session_id": "s_web", "cart_id": "c_1"}
    return browser_call("track", event="Product Added", properties=properties)


def beacon(
    function: Function, path: str, document: Any, origin: str | None = SHOP, **headers: str
) -> Answer:
    """A POST as the SDK's fetch makes it: text/plain, Basic auth, the page's Origin."""
    sent = {**AUTH, **headers, **({} if origin is None else {"Origin": origin})}
    return send(
        function, path=path, data=json.dumps(document), content_type="text/plain", headers=sent
    )


def preflight(function: Function, path: str, origin: str) -> Answer:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    return send(function, method="OPTIONS", path=path, headers=headers)
