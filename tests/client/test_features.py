"""The features client against a scripted features-function stand-in on loopback
(``stub_features``): answers parsed, every kind of server trouble turned into defaults within
the total timeout, arguments refused before any request, connections shared by threads and not
by forks, a fresh token after a 401, and TLS. Its transport's own behaviour (paths, proxies,
keep-alive, TLS timing) is tested in ``test_deadline_http.py``; the real function is held to
the same client by an integration test."""

import logging
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import fields
from typing import Any

import pytest

from event_capture.client import FallbackReason, FeaturesClient, FeaturesStats
from event_capture.client.auth import GoogleIdTokens
from event_capture.client.features import DEFAULT_TIMEOUT_SECONDS, MAX_ANSWER_BYTES
from event_capture.client.version import USER_AGENT
from event_capture.schemas.features import (
    MAX_LIMIT,
    PARTS,
    DeviceFeatures,
    ProductSimilar,
    UserFeatures,
)
from tests.client.stub_features import MARGIN_SECONDS, Reply, StubFeatures, stub_features
from tests.fakes.id_tokens import FakeIdTokenCredentials

# Room for the functional tests on a loaded machine; the timing tests use the default.
PATIENT = 5.0
SECRET_USER = "u_private_7781"

FULL_ANSWER: dict[str, Any] = {
    "user_id": SECRET_USER,
    "known": True,
    "snapshot": "2026-11-30",
    "degraded": [],
    "profile": {
        "searches": 12,
        "product_views": 30,
        "product_clicks": 9,
        "add_to_carts": 4,
        "orders": 2,
        "voice_interactions": 1,
        "sessions": 5,
        "first_seen": "2026-10-01T08:00:00Z",
        "last_seen": "2026-11-29T19:30:00Z",
        "days_since_last_seen": 1,
        "favourite_category": "dairy",
        "favourite_product": "sku_1",
        "intent_mix": [{"intent": "product_lookup", "share": 0.75}],
        "order_currency": "EUR",
        "average_order_value": "23.450",
        "a_field_of_a_newer_server": True,
    },
    "reorder_due": [
        {
            "product_id": "sku_1",
            "orders": 3,
            "last_ordered_on": "2026-11-20",
            "mean_interval_days": 7.5,
            "next_expected_on": "2026-11-27",
            "due_score": 1.33,
            "due": True,
        }
    ],
    "recommendations": [{"product_id": "sku_9", "score": 0.4, "rank": 1}],
    "recent": {"viewed": ["sku_2"], "carted": [], "ordered": ["sku_1"], "searched": ["oat"]},
    "similar_to_recent": [{"product_id": "sku_3", "co_occurrences": 4, "rank": 1}],
}


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    start = time.monotonic()
    result = call()
    return result, time.monotonic() - start


def fallback_reasons(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        getattr(record, "features_fallback", "")
        for record in caplog.records
        if record.name == "event_capture.client" and hasattr(record, "features_fallback")
    ]


# -- answers ------------------------------------------------------------------------------------


def test_an_answer_is_parsed_and_the_request_is_the_documented_one() -> None:
    with (
        stub_features(Reply(body=FULL_ANSWER)) as stub,
        FeaturesClient(stub.url, timeout_seconds=PATIENT) as client,
    ):
        answer = client.user_features(SECRET_USER, include=["recent", "profile", "recent"], limit=5)

    assert answer == UserFeatures.model_validate(FULL_ANSWER)
    assert answer.profile is not None and str(answer.profile.average_order_value) == "23.450"
    assert answer.reorder_due[0].due and answer.recent.viewed == ["sku_2"]
    # Each part once, in PARTS order; the comma left as it is.
    assert stub.targets == [f"/v1/users/{SECRET_USER}/features?include=profile,recent&limit=5"]
    assert stub.headers[0]["User-Agent"] == USER_AGENT
    assert stub.headers[0]["Accept"] == "application/json"
    assert "Authorization" not in stub.headers[0]
    assert client.stats() == FeaturesStats(answered=1, connections_opened=1)


def test_similar_products_and_defaults_left_to_the_function(stub: StubFeatures) -> None:
    similar = {
        "product_id": "sku_1",
        "known": True,
        "similar": [{"product_id": "sku_2", "co_occurrences": 7, "rank": 1}],
    }
    stub.script.append(Reply(body=similar))
    with FeaturesClient(stub.url, timeout_seconds=PATIENT) as client:
        answer = client.similar_products("sku_1")
        client.user_features("u_1")

    assert answer == ProductSimilar.model_validate(similar)
    # No include and no limit: the function's own defaults (all parts, DEFAULT_LIMIT).
    assert stub.targets == ["/v1/products/sku_1/similar", "/v1/users/u_1/features"]


def test_path_segments_are_percent_encoded(stub: StubFeatures) -> None:
    with FeaturesClient(stub.url, timeout_seconds=PATIENT) as client:
        user = client.user_features("tenant:7.u-1_a")
        dots = client.user_features("..")
        product = client.similar_products("sku:1", limit=MAX_LIMIT)

    assert stub.targets == [
        "/v1/users/tenant%3A7.u-1_a/features",
        # Left as "..", a proxy or library normalizing the URL would call /v1/features.
        "/v1/users/%2E%2E/features",
        f"/v1/products/sku%3A1/similar?limit={MAX_LIMIT}",
    ]
    # The stand-in decoded each back to the id asked about, so these are its answers.
    assert (user.user_id, user.known) == ("tenant:7.u-1_a", True)
    assert (dots.user_id, dots.known) == ("..", True)
    assert (product.product_id, product.known) == ("sku:1", True)


# -- degraded and refused answers ---------------------------------------------------------------


def test_a_503_with_a_degraded_answer_is_that_answer(
    stub: StubFeatures, caplog: pytest.LogCaptureFixture
) -> None:
    degraded = {**FULL_ANSWER, "degraded": ["redis_unavailable"], "recent": {}}
    stub.script.append(Reply(503, body=degraded, headers={"Retry-After": "10"}))
    with FeaturesClient(stub.url, timeout_seconds=PATIENT) as client:
        answer = client.user_features(SECRET_USER)

    assert answer == UserFeatures.model_validate(degraded)
    assert answer.degraded == ["redis_unavailable"] and answer.profile is not None
    assert client.stats() == FeaturesStats(answered=1, degraded=1, connections_opened=1)
    assert fallback_reasons(caplog) == []


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(500, body={"error": "internal_error"}), FallbackReason.STATUS),
        (Reply(503, body=b"<html>Service Unavailable</html>"), FallbackReason.STATUS),
        (Reply(502, body=b"<html>Bad Gateway</html>"), FallbackReason.STATUS),
        (Reply(404, body={"error": "no such route"}), FallbackReason.STATUS),
        (Reply(200, body=b"<html>a captive portal</html>"), FallbackReason.BODY),
        (Reply(200, body=b'["not", "an", "object"]'), FallbackReason.BODY),
        (Reply(200, body={"known": True}), FallbackReason.BODY),
        # An answer about someone else (a mixed-up cache on the way) is no answer.
        (Reply(200, body={**FULL_ANSWER, "user_id": "u_other"}), FallbackReason.BODY),
        (Reply(200, body=b" " * MAX_ANSWER_BYTES + b"{}"), FallbackReason.BODY),
    ],
    ids=["500", "503-html", "502-html", "404", "200-html", "200-array", "200-no-id",
         "200-other-user", "200-too-big"],
)  # fmt: skip
def test_other_answers_give_the_defaults_and_one_log_line(
    reply: Reply, reason: FallbackReason, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        stub_features(reply) as stub,
        FeaturesClient(stub.url, timeout_seconds=PATIENT) as client,
        caplog.at_level(logging.WARNING, logger="event_capture.client"),
    ):
        answer = client.user_features(SECRET_USER)
        after = client.user_features(SECRET_USER)  # and the next call is answered

    assert answer == UserFeatures.defaults(SECRET_USER, "client_fallback")
    assert after.known
    assert fallback_reasons(caplog) == [reason.value]
    assert getattr(client.stats(), f"fallback_{reason}") == 1
    assert client.stats().answered == 1
    assert SECRET_USER not in caplog.text


def test_a_400_gives_the_defaults_and_logs_the_parameter(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A 400 means the client and the function disagree on a rule (versions apart).
    refusal = {
        "error": "limit: an integer from 1 to 20",
        "parameter": "limit",
        "rule": "limit_range",
    }
    with (
        stub_features(Reply(400, body=refusal)) as stub,
        FeaturesClient(stub.url, timeout_seconds=PATIENT) as client,
        caplog.at_level(logging.WARNING, logger="event_capture.client"),
    ):
        answer = client.user_features(SECRET_USER, limit=30)

    assert answer == UserFeatures.defaults(SECRET_USER, "client_fallback")
    [record] = [r for r in caplog.records if hasattr(r, "features_fallback")]
    message = record.getMessage()
    assert "GET /v1/users/{user_id}/features" in message
    assert "(status)" in message and "400" in message
    assert "parameter 'limit', rule 'limit_range'" in message and "1 to 20" in message
    assert SECRET_USER not in caplog.text


# -- server trouble within the total timeout ----------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [Reply(stall=True), Reply(trickle="all"), Reply(trickle="body")],
    ids=["stalls", "trickles-headers", "trickles-body"],
)
def test_a_slow_function_gives_the_defaults_within_the_timeout(
    reply: Reply, caplog: pytest.LogCaptureFixture
) -> None:
    with stub_features(reply) as stub, FeaturesClient(stub.url) as client:
        answer, elapsed = timed(lambda: client.user_features(SECRET_USER))

    assert answer == UserFeatures.defaults(SECRET_USER, "client_fallback")
    assert elapsed < DEFAULT_TIMEOUT_SECONDS + MARGIN_SECONDS
    assert fallback_reasons(caplog) == ["timeout"]
    assert client.stats().fallback_timeout == 1


def test_the_trickle_outlasts_a_per_operation_timeout() -> None:
    """Negative control: a socket timeout of the same length never fires on the trickle, so
    only the client's total bound can stop it."""
    with stub_features(Reply(trickle="all")) as stub:
        port = int(stub.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=DEFAULT_TIMEOUT_SECONDS) as sock:
            sock.sendall(b"GET /v1/users/u_1/features HTTP/1.1\r\nHost: stub\r\n\r\n")
            received, start = b"", time.monotonic()
            while time.monotonic() - start < DEFAULT_TIMEOUT_SECONDS + MARGIN_SECONDS:
                received += sock.recv(1)  # raises TimeoutError if a byte ever takes that long

    assert received.startswith(b"HTTP/1.1 200") and b"\r\n\r\n" not in received


def test_a_refused_connection_gives_the_defaults_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    with FeaturesClient(f"http://127.0.0.1:{port}") as client:
        answer, elapsed = timed(lambda: client.similar_products("sku_1"))

    assert answer == ProductSimilar.defaults("sku_1", "client_fallback")
    assert elapsed < DEFAULT_TIMEOUT_SECONDS + MARGIN_SECONDS
    assert fallback_reasons(caplog) == ["connection"]
    assert "ConnectionRefusedError" in caplog.text


def test_a_failing_token_provider_gives_the_defaults_and_sends_nothing(
    stub: StubFeatures, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> str:
        raise RuntimeError("metadata server unreachable")

    with FeaturesClient(stub.url, token=broken) as client:
        assert client.user_features("u_1") == UserFeatures.defaults("u_1", "client_fallback")

    assert fallback_reasons(caplog) == ["token"]
    assert stub.connections == 0


# -- arguments ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda c: c.user_features(""), "user_id"),
        (lambda c: c.user_features("u/1"), "user_id"),
        (lambda c: c.user_features("u 1"), "user_id"),
        (lambda c: c.user_features("u_1\n"), "user_id"),
        (lambda c: c.user_features("ü"), "user_id"),
        (lambda c: c.user_features("u" * 129), "user_id"),
        (lambda c: c.user_features(42), "user_id"),
        (lambda c: c.user_features("u_1", include=["profile", "secrets"]), "include"),
        (lambda c: c.user_features("u_1", include="profile"), "include"),
        (lambda c: c.user_features("u_1", include=[]), "include"),
        (lambda c: c.user_features("u_1", limit=0), "limit"),
        (lambda c: c.user_features("u_1", limit=MAX_LIMIT + 1), "limit"),
        (lambda c: c.user_features("u_1", limit=True), "limit"),
        (lambda c: c.user_features("u_1", limit="5"), "limit"),
        (lambda c: c.similar_products("sku?1"), "product_id"),
        (lambda c: c.similar_products("sku_1", limit=-1), "limit"),
    ],
)
def test_arguments_the_function_would_refuse_raise_before_any_request(
    stub: StubFeatures, call: Callable[[Any], Any], argument: str
) -> None:
    with FeaturesClient(stub.url) as client, pytest.raises(ValueError) as raised:
        call(client)

    assert str(raised.value).startswith(f"{argument}: ")
    assert stub.connections == 0 and stub.targets == []
    assert client.stats() == FeaturesStats()


def test_every_part_and_limit_bound_is_accepted(stub: StubFeatures) -> None:
    with FeaturesClient(stub.url, timeout_seconds=PATIENT) as client:
        client.user_features("u_1", include=PARTS, limit=1)
        client.user_features("u_1", include=(p for p in reversed(PARTS)), limit=MAX_LIMIT)

    assert stub.targets == [
        f"/v1/users/u_1/features?include={','.join(PARTS)}&limit=1",
        f"/v1/users/u_1/features?include={','.join(PARTS)}&limit={MAX_LIMIT}",
    ]


@pytest.mark.parametrize(
    ("base_url", "timeout"),
    [("ftp://host", 0.15), ("http://", 0.15), ("http://h:port", 0.15), ("http://h/?a=1", 0.15),
     ("http://h", 0), ("http://h", float("inf"))],
)  # fmt: skip
def test_a_malformed_setting_raises_when_the_client_is_made(base_url: str, timeout: float) -> None:
    with pytest.raises(ValueError, match=r"^(base_url|timeout_seconds): "):
        FeaturesClient(base_url, timeout_seconds=timeout)


def test_every_fallback_reason_has_its_counter() -> None:
    names = {f.name for f in fields(FeaturesStats)}
    assert {f"fallback_{reason}" for reason in FallbackReason} <= names


# -- connections --------------------------------------------------------------------------------


def test_concurrent_callers_share_a_few_connections(stub: StubFeatures) -> None:
    callers, calls = 8, 25
    wrong: list[str] = []
    with FeaturesClient(stub.url, timeout_seconds=PATIENT) as client:

        def work(caller: int) -> None:
            for n in range(calls):
                user_id = f"u_{caller}_{n}"
                answer = client.user_features(user_id)
                if answer.user_id != user_id or not answer.known:
                    wrong.append(user_id)

        threads = [threading.Thread(target=work, args=(c,)) for c in range(callers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)

    assert wrong == []
    assert client.stats().answered == callers * calls
    assert stub.connections <= callers


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_opens_its_own_connection(stub: StubFeatures) -> None:
    with FeaturesClient(stub.url, timeout_seconds=PATIENT) as client:
        client.user_features("u_1")
        pid = os.fork()
        if pid == 0:  # the child: never the parent's connection, whose bytes it would mix
            fresh = client.stats() == FeaturesStats()
            answered = client.user_features("u_2").known
            os._exit(0 if fresh and answered and client.stats().connections_opened == 1 else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert client.user_features("u_3").known

    assert stub.connections == 2
    assert client.stats() == FeaturesStats(answered=2, connections_opened=1)


# -- authentication -----------------------------------------------------------------------------


@pytest.fixture
def google_tokens(monkeypatch: pytest.MonkeyPatch) -> FakeIdTokenCredentials:
    return FakeIdTokenCredentials().install(monkeypatch)


def test_a_401_gets_one_fresh_token(
    stub: StubFeatures, google_tokens: FakeIdTokenCredentials
) -> None:
    stub.script.append(Reply(401, body={"error": "token refused"}))
    with FeaturesClient.for_google_cloud(stub.url, timeout_seconds=PATIENT) as client:
        answer = client.user_features("u_1")
        client.user_features("u_2")

    assert answer.known
    assert [h["Authorization"] for h in stub.headers] == [
        "Bearer id-token-1",
        "Bearer id-token-2",
        "Bearer id-token-2",
    ]
    assert stub.connections == 1  # the 401 was read to its end; the connection stayed
    assert client.stats().answered == 2


def test_a_second_401_gives_the_defaults(
    stub: StubFeatures, google_tokens: FakeIdTokenCredentials, caplog: pytest.LogCaptureFixture
) -> None:
    stub.script += [Reply(401), Reply(401)]
    with FeaturesClient(stub.url, timeout_seconds=PATIENT, token=GoogleIdTokens(stub.url)) as c:
        assert c.user_features("u_1") == UserFeatures.defaults("u_1", "client_fallback")

    assert len(stub.targets) == 2 and google_tokens.refreshes == 2
    assert fallback_reasons(caplog) == ["status"]


def test_without_a_renewable_token_a_401_is_not_retried(stub: StubFeatures) -> None:
    stub.script.append(Reply(401))
    with FeaturesClient(stub.url, timeout_seconds=PATIENT) as client:
        assert client.user_features("u_1") == UserFeatures.defaults("u_1", "client_fallback")

    assert len(stub.targets) == 1


# -- TLS ----------------------------------------------------------------------------------------


def test_an_untrusted_certificate_gives_the_defaults(
    server_tls: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE")
    with stub_features(tls=server_tls) as stub, FeaturesClient(stub.url) as client:
        assert client.user_features("u_1") == UserFeatures.defaults("u_1", "client_fallback")

    assert fallback_reasons(caplog) == ["connection"]
    assert "SSLCertVerificationError" in caplog.text


def test_a_devices_features_and_their_fallback(stub: StubFeatures) -> None:
    device = {"anonymous_id": "a_3b1f", "known": True, "recent": {"viewed": ["sku_1"]}}
    stub.script.append(Reply(body=device))
    with FeaturesClient(stub.url, timeout_seconds=PATIENT) as client:
        answer = client.device_features("a_3b1f", limit=3)
        with pytest.raises(ValueError, match="anonymous_id"):
            client.device_features("a b")

    assert answer == DeviceFeatures.model_validate(device)
    assert stub.targets == ["/v1/devices/a_3b1f/features?limit=3"]
    with FeaturesClient("http://127.0.0.1:9", timeout_seconds=PATIENT) as client:
        fallback = client.device_features("a_3b1f")
    assert fallback == DeviceFeatures.defaults("a_3b1f", "client_fallback")
