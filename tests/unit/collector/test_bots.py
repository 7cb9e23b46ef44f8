"""collector.bots: known crawlers dropped, every SDK and browser kept."""

from __future__ import annotations

import pytest

from event_capture.collector.bots import MAX_USER_AGENT_LENGTH, is_crawler

CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@pytest.mark.parametrize(
    "user_agent",
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
        "+https://openai.com/gptbot)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        CHROME.replace("Chrome/", "HeadlessChrome/"),
    ],
)
def test_a_known_crawler_is_one(user_agent: str) -> None:
    assert is_crawler(user_agent)


@pytest.mark.parametrize(
    "user_agent",
    [
        CHROME,
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        # The server SDKs' own, and the HTTP libraries a backend sends with.
        "analytics-python/2.4.0",
        "analytics-python/2.1.9",
        "analytics-node-next/latest",
        "analytics-node/3.1.1",
        "node",
        "undici",
        "python-requests/2.32.3",
        "curl/8.5.0",
        "",
        None,
    ],
)
def test_browsers_sdks_and_http_libraries_are_not_crawlers(user_agent: str | None) -> None:
    assert not is_crawler(user_agent)


def test_only_the_start_of_a_long_user_agent_is_read() -> None:
    padded = CHROME + " " * MAX_USER_AGENT_LENGTH

    assert not is_crawler(padded + "Googlebot/2.1")
    assert is_crawler("Googlebot/2.1 " + padded)
