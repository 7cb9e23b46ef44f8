"""collector.handler: one collector request to its answer and its log line. Routes, write keys,
limits, statuses and what reaches the sinks and the log, for the Segment SDKs (server and
browser) and for ElevenLabs post-call webhooks.

Mostly through the function served in process (functions-framework's own WSGI app) on fake
sinks, as ``served.send`` checks every answer; the webhook tests call the handler directly.
The signature rules themselves are tested in test_elevenlabs.py, against the elevenlabs package.
"""

from __future__ import annotations

import gzip
import io
import json
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

import pytest

from event_capture.collector.auth import WriteKeys
from event_capture.collector.contract import MAX_BATCH_BYTES, MAX_CALL_BYTES
from event_capture.collector.cors import AllowedOrigins
from event_capture.collector.elevenlabs import event_id_for
from event_capture.collector.handler import Collector, CollectorRequest
from event_capture.collector.identity import UserIdProofs
from event_capture.collector.limits import Edge
from event_capture.contracts import provenance
from event_capture.ingest.pipeline import CapturePipeline
from event_capture.platform.answer import Answer
from tests.fakes.functions import Function
from tests.fakes.sinks import FakeSink
from tests.unit.collector import calls
from tests.unit.collector.served import (
    AUTH,
    JSON,
    KEY,
    MARKER,
    PAGE,
    SHOP,
    beacon,
    browser_call,
    ecommerce,
    post,
    product_added,
    send,
)
from tests.unit.collector.test_elevenlabs import NOW, SECRET, _conversation, _encode, _sign
from tests.unit.event_factory import RECEIVED_AT, iso


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


def test_each_row_records_the_id_of_the_key_it_came_under(fresh: Function) -> None:
    keys = WriteKeys.parse(f"{KEY},{calls.NEXT_WRITE_KEY}")
    post(fresh, calls.batch(*ecommerce()[:2]))
    post(
        fresh, calls.batch(*ecommerce()[2:3]), {"Authorization": calls.basic(calls.NEXT_WRITE_KEY)}
    )

    expected = [keys.find(KEY), keys.find(KEY), keys.find(calls.NEXT_WRITE_KEY)]
    assert [row.data["arrived_via"] for row in fresh.bigquery.rows] == [
        provenance.collector(key.key_id) for key in expected if key is not None
    ]
    assert len({row.data["arrived_via"] for row in fresh.bigquery.rows}) == 2


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


@pytest.mark.parametrize(
    ("valid", "invalid", "flagged"), [(0, 1, True), (2, 2, True), (3, 2, False), (2, 0, False)]
)
def test_a_200_that_rejected_as_many_calls_as_it_stored_is_flagged_for_the_alert(
    fresh: Function, valid: int, invalid: int, flagged: bool
) -> None:
    bad = calls.track("Product Viewed", {**calls.PRODUCT, "category": "a & b"})
    good = [calls.track("Product Viewed", calls.PRODUCT) for _ in range(valid)]
    # Ignored calls (identify) count for neither side: a page's identify is not a failure.
    answer = post(fresh, calls.batch(*good, *[bad] * invalid, calls.identify()))

    assert answer.status == 200
    assert (answer.body["accepted"], answer.body["rejected"]) == (valid, invalid)
    assert answer.line.get("mostly_rejected", False) is flagged


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
    # text/plain is the browser SDK's (its tests below); a form is not JSON.
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


# --------------------------------------------------------------------------------------------
# The browser SDK's calls
# --------------------------------------------------------------------------------------------


def test_a_text_plain_track_call_on_the_short_route_is_stored_as_a_web_event(
    fresh: Function,
) -> None:
    call = product_added()
    answer = beacon(fresh, "/collector/v1/t", call)

    assert (answer.status, answer.body["accepted"], answer.line["route"]) == (200, 1, "track")
    # A proven call with both ids also links the browser to the user (ingest/links.py).
    [row, link] = fresh.bigquery.rows
    assert (link.table, link.anonymous_id, link.user_id) == (
        "identity_links",
        call["anonymousId"],
        call["userId"],
    )
    assert (row.event_type, row.data["source"], row.data["session_id"]) == (
        "add_to_cart",
        "web",
        "s_web",
    )
    # Nothing of the page, the user agent or the campaign is kept.
    assert MARKER not in repr(fresh.bigquery.rows) and MARKER not in repr(fresh.archive.rows)


def test_the_write_key_in_the_text_plain_body_is_enough(fresh: Function) -> None:
    answer = send(
        fresh,
        path="/v1/t",
        data=json.dumps(product_added()),
        content_type="text/plain",
        headers={"Origin": SHOP},
    )
    assert (answer.status, answer.body["accepted"]) == (200, 1)
    wrong = {**product_added(), "writeKey": f"wk_{MARKER}_wrong_key_00"}
    refused = send(
        fresh, path="/v1/t", data=json.dumps(wrong), content_type="text/plain", headers={}
    )
    assert (refused.status, refused.body["code"]) == (401, "write_key_invalid")


def test_a_pages_identify_is_a_link_and_its_page_call_is_ignored_both_unread(
    fresh: Function,
) -> None:
    traits = {"email": f"{MARKER}@example.com"}
    identify = browser_call("identify", traits=traits)
    linked = beacon(fresh, "/v1/i", identify)
    ignored = beacon(fresh, "/v1/p", browser_call("page", name="Oat milk", properties=PAGE))

    assert (linked.status, linked.body["accepted"], linked.body["ignored"]) == (200, 1, 0)
    assert (ignored.status, ignored.body["ignored"]) == (200, 1)
    [link] = fresh.bigquery.rows
    assert (link.event_type, link.anonymous_id, link.user_id) == (
        "identify",
        identify["anonymousId"],
        identify["userId"],
    )
    assert MARKER not in repr(fresh.bigquery.rows) + repr(fresh.archive.rows)
    assert MARKER not in repr(linked.log) + repr(ignored.log)


def test_a_batch_of_the_batching_strategy_on_v1_b_is_stored(fresh: Function) -> None:
    # deliveryStrategy: {strategy: "batching"} posts {writeKey, batch, sentAt} to apiHost/b,
    # each call without its own sentAt (plugins/segmentio/batched-dispatcher.ts).
    batch = [{k: v for k, v in product_added().items() if k != "sentAt"} for _ in range(3)]
    document = {"writeKey": KEY, "batch": batch, "sentAt": iso(RECEIVED_AT)}
    answer = beacon(fresh, "/v1/b", document)

    assert (answer.status, answer.body["accepted"], answer.line["route"]) == (200, 3, "batch")


# --------------------------------------------------------------------------------------------
# ElevenLabs post-call webhooks
# --------------------------------------------------------------------------------------------


PATH = "/collector/elevenlabs/post-call"


def collector(bigquery: FakeSink, *, secrets: tuple[str, ...] = (SECRET,)) -> Collector:
    pipeline = CapturePipeline(
        bigquery=bigquery, dead_letter=None, archive=None, redis=None, clock=lambda: NOW
    )
    return Collector(
        pipeline=pipeline,
        write_keys=WriteKeys.parse(calls.NEXT_WRITE_KEY),
        clock=lambda: NOW,
        elevenlabs_secrets=secrets,
        user_id_proofs=UserIdProofs((calls.USER_ID_SECRET,)),
    )


def deliver(target: Collector, body: bytes, signature: str | None, path: str = PATH) -> Answer:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        answer = target.handle(
            CollectorRequest(
                method="POST",
                path=path,
                mimetype="application/json",
                content_length=len(body),
                content_encoding=None,
                authorization=None,
                body=body,
                signature=signature,
            )
        )
    assert out.getvalue() == err.getvalue() == ""
    return answer


def transcription(**overrides: Any) -> bytes:
    return _encode(_conversation(NOW, **overrides))


def test_a_signed_transcription_is_stored_as_one_voice_interaction() -> None:
    bigquery = FakeSink()
    body = transcription(user_said=("mail me at jane.doe@example.com",))

    answer = deliver(collector(bigquery), body, _sign(body, SECRET, NOW))

    assert (answer.status, answer.body["accepted"]) == (200, 1)
    [row] = bigquery.rows
    assert row.event_type == "voice_interaction"
    conversation = json.loads(body)["data"]["conversation_id"]
    assert row.event_id == event_id_for(conversation)
    assert "jane.doe@example.com" not in row.json and "[EMAIL]" in row.json
    assert row.data["arrived_via"] == provenance.ELEVENLABS
    line = json.dumps(answer.log)
    assert answer.log["route"] == "elevenlabs_post_call"
    assert answer.log["webhook_counts"]["elevenlabs_transcription_mapped"] == 1
    assert "jane" not in line and conversation not in line


def test_a_redelivery_is_the_same_event() -> None:
    bigquery = FakeSink()
    target = collector(bigquery)
    body = transcription()

    deliver(target, body, _sign(body, SECRET, NOW))
    deliver(target, body, _sign(body, SECRET, NOW))

    assert len({row.event_id for row in bigquery.rows}) == 1


@pytest.mark.parametrize(
    ("signature", "rule"),
    [
        pytest.param(None, "signature_missing", id="unsigned"),
        pytest.param("t=1,v0=zz", "signature_malformed", id="malformed"),
        pytest.param("wrong-key", "signature_mismatch", id="wrong-key"),
    ],
)
def test_an_unsigned_or_wrongly_signed_call_is_401_and_stores_nothing(
    signature: str | None, rule: str
) -> None:
    bigquery = FakeSink()
    body = transcription()
    if signature == "wrong-key":
        signature = _sign(body, "wsec_not_the_configured_secret_0000", NOW)

    answer = deliver(collector(bigquery), body, signature)

    assert (answer.status, answer.body["code"]) == (401, rule)
    assert bigquery.rows == []


def test_a_tampered_body_is_401() -> None:
    bigquery = FakeSink()
    body = transcription()
    signature = _sign(body, SECRET, NOW)

    answer = deliver(collector(bigquery), body.replace(b"order", b"ORDER", 1), signature)

    assert answer.status == 401 and bigquery.rows == []


def test_audio_is_answered_200_and_ignored_unread() -> None:
    bigquery = FakeSink()
    body = json.dumps({"type": "post_call_audio", "data": {"full_audio": "UklGRg=="}}).encode()

    answer = deliver(collector(bigquery), body, _sign(body, SECRET, NOW))

    assert (answer.status, answer.body["ignored"]) == (200, 1)
    assert answer.log["webhook_counts"] == {"elevenlabs_audio_ignored": 1}
    assert bigquery.rows == [] and "UklGRg" not in json.dumps(answer.log)


def test_the_route_is_off_without_a_configured_secret() -> None:
    body = transcription()

    answer = deliver(collector(FakeSink(), secrets=()), body, _sign(body, SECRET, NOW))

    assert answer.status == 404


def test_a_transcription_that_cannot_be_stored_durably_is_503_for_a_redelivery() -> None:
    bigquery = FakeSink()
    bigquery.down = True
    body = transcription()

    answer = deliver(collector(bigquery), body, _sign(body, SECRET, NOW))

    assert answer.status == 503 and "Retry-After" in answer.headers


# The edge's limits (collector.limits), through the handler: what is refused before the body
# is read, what a client sees, and what passes.

CLIENT_KEY, SERVER_KEY = calls.WRITE_KEY, "srv_4f0c9e1a7b3d2e8f6a5c"
KEYS = WriteKeys.parse(
    json.dumps(
        [
            {"id": "web", "class": "client", "key": CLIENT_KEY},
            {"id": "backend", "class": "server", "key": SERVER_KEY},
        ]
    )
)


def limited(bigquery: FakeSink, **limits: float) -> Collector:
    settings = {
        "address_rate": 1.0,
        "address_burst": 2,
        "in_flight": 1,
        "key_rate": 1_000.0,
        "key_burst": 1_000,
        "daily_requests": 0,
        "daily_events": 0,
        **limits,
    }
    pipeline = CapturePipeline(
        bigquery=bigquery, dead_letter=None, archive=None, redis=None, clock=lambda: NOW
    )
    return Collector(
        pipeline=pipeline,
        write_keys=KEYS,
        clock=lambda: NOW,
        user_id_proofs=UserIdProofs((calls.USER_ID_SECRET,)),
        edge=Edge(
            address_rate=settings["address_rate"],
            address_burst=int(settings["address_burst"]),
            in_flight=int(settings["in_flight"]),
            key_rate=settings["key_rate"],
            key_burst=int(settings["key_burst"]),
            daily_requests=int(settings["daily_requests"]),
            daily_events=int(settings["daily_events"]),
            day_clock=lambda: NOW,
        ),
    )


class Body:
    """A body that counts how often it is read."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.data = json.dumps(document).encode()
        self.reads = 0

    def __call__(self) -> bytes:
        self.reads += 1
        return self.data


def request(
    body: Body, key: str, *, address: str = "203.0.113.7", **fields: Any
) -> CollectorRequest:
    return CollectorRequest(
        method="POST",
        path="/v1/batch",
        mimetype="application/json",
        content_length=len(body.data),
        content_encoding=None,
        authorization=calls.basic(key),
        address=address,
        body=body,
        **fields,
    )


def quietly(target: Collector, incoming: CollectorRequest) -> Answer:
    with redirect_stdout(io.StringIO()):
        return target.handle(incoming)


def one_event() -> dict[str, Any]:
    return events(1)


def events(count: int) -> dict[str, Any]:
    added = [
        calls.track("Product Added", calls.PRODUCT, timestamp=iso(NOW), messageId=f"m-{n}")
        for n in range(count)
    ]
    return calls.batch(*added, sent_at=NOW)


def test_an_address_over_its_rate_gets_429_with_retry_after_before_its_body_is_read() -> None:
    bigquery = FakeSink()
    target = limited(bigquery)
    bodies = [Body(one_event()) for _ in range(3)]

    answers = [quietly(target, request(body, CLIENT_KEY)) for body in bodies]

    assert [a.status for a in answers] == [200, 200, 429]
    refused = answers[2]
    assert refused.headers["Retry-After"] == "1"
    assert refused.body["code"] == "address_rate_limited"
    assert (refused.log["rule"], refused.log["key_id"]) == ("address_rate_limited", "web")
    assert [b.reads for b in bodies] == [1, 1, 0]
    assert len(bigquery.rows) == 2


def test_a_browser_can_read_the_retry_after_of_its_429() -> None:
    target = Collector(
        pipeline=CapturePipeline(
            bigquery=FakeSink(), dead_letter=None, archive=None, redis=None, clock=lambda: NOW
        ),
        write_keys=KEYS,
        clock=lambda: NOW,
        allowed_origins=AllowedOrigins.parse(SHOP),
        edge=limited(FakeSink(), address_burst=1)._edge,
    )
    first, second = (
        quietly(target, request(Body(one_event()), CLIENT_KEY, origin=SHOP)) for _ in range(2)
    )

    assert (first.status, second.status) == (200, 429)
    assert second.headers["Access-Control-Expose-Headers"] == "Retry-After"
    assert second.headers["Access-Control-Allow-Origin"] == SHOP


def test_a_server_key_passes_every_client_limit_from_one_address() -> None:
    bigquery = FakeSink()
    target = limited(bigquery, daily_requests=1)

    answers = [quietly(target, request(Body(one_event()), SERVER_KEY)) for _ in range(10)]
    flooded = [quietly(target, request(Body(one_event()), CLIENT_KEY)) for _ in range(10)]

    assert {a.status for a in answers} == {200}
    assert [a.log["key_class"] for a in answers[:1]] == ["server"]
    assert 429 in {a.status for a in flooded}
    assert len(bigquery.rows) == 10 + 1


def test_past_a_client_keys_daily_cap_a_batch_is_refused_whole() -> None:
    bigquery = FakeSink()
    target = limited(bigquery, address_burst=100, daily_events=3)
    two = events(2)

    first = quietly(target, request(Body(two), CLIENT_KEY))
    second = quietly(target, request(Body(two), CLIENT_KEY))

    assert (first.status, second.status) == (200, 429)
    assert second.log["rule"] == "daily_cap_reached" and second.body["code"] == "daily_cap_reached"
    assert len(bigquery.rows) == 2


def test_a_request_in_flight_leaves_its_place_when_answered() -> None:
    target = limited(FakeSink(), address_rate=1_000.0, address_burst=1_000, in_flight=1)

    answers = [quietly(target, request(Body(one_event()), CLIENT_KEY)) for _ in range(5)]

    assert {a.status for a in answers} == {200}


def test_a_known_crawler_is_answered_200_and_nothing_is_read_or_stored() -> None:
    bigquery = FakeSink()
    body = Body(one_event())
    googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"

    answer = quietly(limited(bigquery), request(body, CLIENT_KEY, user_agent=googlebot))

    assert (answer.status, answer.body["code"], answer.log["rule"]) == (
        200,
        "crawler_ignored",
        "crawler_ignored",
    )
    assert body.reads == 0 and bigquery.rows == []
