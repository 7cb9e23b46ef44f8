"""collector.contract: the Segment tracking API's routes, including the browser SDK's short
ones."""

from __future__ import annotations

import pytest

from event_capture.collector.contract import route


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/t", "track"),
        ("/v1/p", "page"),
        ("/v1/i", "identify"),
        ("/v1/s", "screen"),
        ("/v1/g", "group"),
        ("/v1/a", "alias"),
        ("/v1/b", "batch"),
        ("/collector/v1/t", "track"),
        ("/collector/v1/b/", "batch"),
        # The SDK's remote metrics, sent only when sampled: not events, not served.
        ("/v1/m", None),
        ("/v1/x", None),
        ("/v1/tt", None),
        ("/v1t", None),
    ],
)
def test_the_browser_sdks_short_routes(path: str, expected: str | None) -> None:
    assert route(path) == expected
