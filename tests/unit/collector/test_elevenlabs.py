"""ElevenLabs post-call webhooks, against the real ``elevenlabs`` package.

The SDK has no signing helper, only ``webhooks.construct_event``, which verifies. So every
accepted call here is signed by ``_sign`` (the scheme as the SDK implements it) and shown to
pass the SDK's own verification too; the payloads are built from the SDK's conversation models,
so the field names are the package's, not ours.
"""

import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elevenlabs import (
    ConversationHistoryAnalysisCommonModel,
    ConversationHistoryMetadataCommonModel,
    ConversationHistoryTranscriptResponseModel,
    ConversationInitiationClientDataRequestOutput,
    DataCollectionResultCommonModel,
    ElevenLabs,
    GetConversationResponseModel,
)
from elevenlabs.errors import BadRequestError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from event_capture.collector.elevenlabs import (
    DEFAULT_TOLERANCE,
    SIGNATURE_HEADER,
    UNKNOWN_INTENT,
    Count,
    Rule,
    WebhookAccepted,
    WebhookOutcome,
    WebhookRefusal,
    event_id_for,
    handle_post_call,
)
from event_capture.collector.identity import UserIdProofs
from event_capture.collector.intents import OTHER_INTENT
from event_capture.ingest.validation import validate_events
from event_capture.schemas.user_proof import user_proof
from tests.unit.collector import calls

SECRET = "wsec_0123456789abcdef0123456789abcdef"
NEXT_SECRET = "wsec_fedcba9876543210fedcba9876543210"
# A fixed clock for everything but the SDK cross-checks, which read the real one.
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

SDK = ElevenLabs(api_key="unused-no-request-is-made")


def _sign(body: bytes, secret: str, at: datetime) -> str:
    timestamp = str(int(at.timestamp()))
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v0={digest.hexdigest()}"


def _conversation(
    now: datetime,
    *,
    conversation_id: str = "conv_01jk7x2q9r8m3n4p5s6t7v8w9y",
    user_said: tuple[str, ...] = ("I'd like to know where my order is", "it's ORD-2026-000123"),
    intent: str | None = "Order Status",
    client_data: dict[str, Any] | None = None,
    main_language: str | None = "en",
    duration_secs: int = 74,
) -> dict[str, Any]:
    """A ``post_call_transcription`` webhook as ElevenLabs sends it (the GET-conversation model)."""
    turns = [
        ConversationHistoryTranscriptResponseModel(
            role="agent", message="Hi, this is Acme support. How can I help?", time_in_call_secs=0
        )
    ]
    for second, said in enumerate(user_said, start=1):
        turns.append(
            ConversationHistoryTranscriptResponseModel(
                role="user", message=said, time_in_call_secs=second * 5
            )
        )
        turns.append(
            ConversationHistoryTranscriptResponseModel(
                role="agent", message="Let me check that for you.", time_in_call_secs=second * 5 + 2
            )
        )
    collected = (
        {
            "intent": DataCollectionResultCommonModel(
                data_collection_id="intent", value=intent, rationale="The caller asked about it."
            )
        }
        if intent is not None
        else None
    )
    data = GetConversationResponseModel(
        agent_id="agent_3701ksy7tz77fw0bm68z30tyxyse",
        status="done",
        conversation_id=conversation_id,
        metadata=ConversationHistoryMetadataCommonModel(
            start_time_unix_secs=int((now - timedelta(minutes=3)).timestamp()),
            call_duration_secs=duration_secs,
            main_language=main_language,
            termination_reason="end_call tool was called.",
        ),
        analysis=ConversationHistoryAnalysisCommonModel(
            call_successful="success",
            transcript_summary="The caller asked where their order is.",
            data_collection_results=collected,
        ),
        conversation_initiation_client_data=ConversationInitiationClientDataRequestOutput(
            **(
                client_data
                if client_data is not None
                else {
                    "dynamic_variables": {
                        "user_id": "u_8f14e45f",
                        # The proof the app's backend gave the page that started the call.
                        "user_hash": user_proof(calls.USER_ID_SECRET, "u_8f14e45f"),
                        "system__caller_id": "+1555",
                    }
                }
            )
        ),
        has_audio=True,
        has_user_audio=True,
        has_response_audio=True,
        has_auxiliary_audio=False,
        transcript=turns,
    )
    return {
        "type": "post_call_transcription",
        "event_timestamp": int(now.timestamp()),
        "data": data.model_dump(mode="json", exclude_none=True),
    }


def _encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def _call(
    body: bytes,
    signature: str | None,
    *,
    now: datetime = NOW,
    secrets: tuple[str, ...] = (SECRET,),
) -> WebhookOutcome:
    headers = {} if signature is None else {SIGNATURE_HEADER: signature}
    return handle_post_call(headers, body, secrets=secrets, now=now)


def _accepted(outcome: WebhookOutcome) -> WebhookAccepted:
    assert isinstance(outcome, WebhookAccepted), outcome
    return outcome


def _refused(outcome: WebhookOutcome, rule: Rule, status: int = 401) -> None:
    assert isinstance(outcome, WebhookRefusal), outcome  # so nothing to hand to the pipeline
    assert (outcome.rule, outcome.status) == (rule, status)


# --- the signature, as the SDK defines it ---


def test_a_call_signed_by_the_scheme_passes_the_sdk_and_the_handler_alike() -> None:
    now = datetime.now(UTC)
    body = _encode(_conversation(now))
    signature = _sign(body, SECRET, now)
    assert SDK.webhooks.construct_event(body.decode(), signature, SECRET) == json.loads(body)
    outcome = _accepted(_call(body, signature, now=now))
    assert outcome.counts == {Count.TRANSCRIPTION_MAPPED: 1}
    assert len(outcome.events) == 1


def test_the_header_name_is_matched_case_insensitively() -> None:
    body = _encode(_conversation(NOW))
    headers = {"elevenlabs-signature": _sign(body, SECRET, NOW)}
    _accepted(handle_post_call(headers, body, secrets=[SECRET], now=NOW))


@pytest.mark.parametrize("secrets", [(SECRET, NEXT_SECRET), (NEXT_SECRET, SECRET)])
def test_either_secret_is_accepted_during_a_rotation(secrets: tuple[str, ...]) -> None:
    body = _encode(_conversation(NOW))
    _accepted(_call(body, _sign(body, SECRET, NOW), secrets=secrets))


def test_a_wrong_key_is_refused_here_and_by_the_sdk() -> None:
    now = datetime.now(UTC)
    body = _encode(_conversation(now))
    signature = _sign(body, "wsec_someone_elses_secret", now)
    with pytest.raises(BadRequestError):
        SDK.webhooks.construct_event(body.decode(), signature, SECRET)
    _refused(
        _call(body, signature, now=now, secrets=(SECRET, NEXT_SECRET)), Rule.SIGNATURE_MISMATCH
    )


def test_a_tampered_body_is_refused_here_and_by_the_sdk() -> None:
    now = datetime.now(UTC)
    body = _encode(_conversation(now))
    signature = _sign(body, SECRET, now)
    tampered = body.replace(b"u_8f14e45f", b"u_attacker")
    with pytest.raises(BadRequestError):
        SDK.webhooks.construct_event(tampered.decode(), signature, SECRET)
    _refused(_call(tampered, signature, now=now), Rule.SIGNATURE_MISMATCH)


def test_a_stale_call_is_refused_here_and_by_the_sdk() -> None:
    now = datetime.now(UTC)
    body = _encode(_conversation(now))
    signature = _sign(body, SECRET, now - DEFAULT_TOLERANCE - timedelta(seconds=2))
    with pytest.raises(BadRequestError):
        SDK.webhooks.construct_event(body.decode(), signature, SECRET)
    _refused(_call(body, signature, now=now), Rule.TIMESTAMP_OUTSIDE_TOLERANCE)


def test_a_call_from_the_future_is_refused_although_the_sdk_would_take_it() -> None:
    # The SDK only checks the past; a timestamp ahead of the window is as much a replay risk.
    now = datetime.now(UTC)
    body = _encode(_conversation(now))
    signature = _sign(body, SECRET, now + DEFAULT_TOLERANCE + timedelta(seconds=2))
    assert SDK.webhooks.construct_event(body.decode(), signature, SECRET) == json.loads(body)
    _refused(_call(body, signature, now=now), Rule.TIMESTAMP_OUTSIDE_TOLERANCE)


@pytest.mark.parametrize("offset", [-DEFAULT_TOLERANCE, DEFAULT_TOLERANCE])
def test_the_edges_of_the_window_are_inside_it(offset: timedelta) -> None:
    body = _encode(_conversation(NOW))
    _accepted(_call(body, _sign(body, SECRET, NOW + offset)))


def test_the_tolerance_is_the_callers_to_set() -> None:
    body = _encode(_conversation(NOW))
    signature = _sign(body, SECRET, NOW - timedelta(minutes=6))
    refused = handle_post_call(
        {SIGNATURE_HEADER: signature},
        body,
        secrets=[SECRET],
        now=NOW,
        tolerance=timedelta(minutes=5),
    )
    _refused(refused, Rule.TIMESTAMP_OUTSIDE_TOLERANCE)


@pytest.mark.parametrize("signature", [None, ""])
def test_an_unsigned_call_is_refused(signature: str | None) -> None:
    _refused(_call(_encode(_conversation(NOW)), signature), Rule.SIGNATURE_MISSING)


def _good_parts(body: bytes) -> tuple[str, str]:
    timestamp, digest = _sign(body, SECRET, NOW).split(",")
    return timestamp, digest


@pytest.mark.parametrize(
    "build",
    [
        lambda t, v: v,  # no timestamp
        lambda t, v: t,  # no hash
        lambda t, v: f"{t},{v.replace('v0=', 'v1=')}",  # another scheme only
        lambda t, v: f"{t},{t},{v}",  # two timestamps
        lambda t, v: f"t=,{v}",
        lambda t, v: f"t=+{t[2:]},{v}",  # int() would take it
        lambda t, v: f"t={t[2:]}.5,{v}",
        lambda t, v: f"{t},{v[:-1]}",  # a hash one digit short
        lambda t, v: f"{t},{v.upper().replace('V0=', 'v0=')}",  # upper case: the SDK refuses it
        lambda t, v: f"{t}, {v}",  # a space before the part
        lambda t, v: f"{t};{v}",
        lambda t, v: "sha256=" + v[3:],  # another provider's format
        lambda t, v: f"{t},{v}," + "x" * 1024,
    ],
)
def test_a_malformed_header_is_refused(build: Any) -> None:
    body = _encode(_conversation(NOW))
    _refused(_call(body, build(*_good_parts(body))), Rule.SIGNATURE_MALFORMED)


def test_parts_in_another_order_and_other_schemes_beside_v0_are_accepted() -> None:
    body = _encode(_conversation(NOW))
    timestamp, digest = _good_parts(body)
    _accepted(_call(body, f"{digest},{timestamp}"))
    _accepted(_call(body, f"{timestamp},v1=whatever,{digest}"))


@pytest.mark.parametrize("secrets", [(), ("",), (SECRET, "")])
def test_a_missing_or_empty_secret_is_a_wiring_error_not_an_open_door(
    secrets: tuple[str, ...],
) -> None:
    body = _encode(_conversation(NOW))
    with pytest.raises(ValueError, match="secret"):
        _call(body, _sign(body, "", NOW), secrets=secrets)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_one_byte_tampered_in_the_body_is_refused(data: st.DataObject) -> None:
    body = _encode(_conversation(NOW))
    signature = _sign(body, SECRET, NOW)
    index = data.draw(st.integers(0, len(body) - 1))
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != body[index]))
    tampered = body[:index] + bytes([byte]) + body[index + 1 :]
    _refused(_call(tampered, signature), Rule.SIGNATURE_MISMATCH)


@settings(max_examples=300)
@given(data=st.data())
def test_any_one_character_tampered_in_the_signature_is_refused(data: st.DataObject) -> None:
    body = _encode(_conversation(NOW))
    signature = _sign(body, SECRET, NOW)
    index = data.draw(st.integers(0, len(signature) - 1))
    char = data.draw(st.characters().filter(lambda c: c != signature[index]))
    outcome = _call(body, signature[:index] + char + signature[index + 1 :])
    assert isinstance(outcome, WebhookRefusal)
    assert outcome.status == 401


# --- what a verified call amounts to ---


def _signed(payload: dict[str, Any] | bytes, now: datetime = NOW) -> WebhookOutcome:
    body = payload if isinstance(payload, bytes) else _encode(payload)
    return _call(body, _sign(body, SECRET, now), now=now)


def test_a_transcription_maps_to_a_voice_interaction_that_passes_validation() -> None:
    outcome = _accepted(_signed(_conversation(NOW)))
    rows, rejections = validate_events(list(outcome.events), received_at=NOW)
    assert rejections == []
    stored = json.loads(rows[0].json)
    assert {
        k: v for k, v in stored.items() if k not in {"received_at", "schema_version", "arrived_via"}
    } == {
        "event_id": event_id_for("conv_01jk7x2q9r8m3n4p5s6t7v8w9y"),
        "event_type": "voice_interaction",
        "user_id": "u_8f14e45f",
        "session_id": "conv_01jk7x2q9r8m3n4p5s6t7v8w9y",
        "occurred_at": (NOW - timedelta(minutes=3)).isoformat().replace("+00:00", "Z"),
        "source": "elevenlabs",
        # The user's turns only, one a line; the agent's are left out.
        "transcript": "I'd like to know where my order is\nit's ORD-2026-000123",
        "detected_intent": "order_status",
        "duration_ms": 74_000,
        "language": "en",
    }
    assert rows[0].table == "voice_interactions"


def test_the_transcript_is_scrubbed_by_validation() -> None:
    said = ("my e-mail is jane.doe@example.com", "and my card is 4111 1111 1111 1111")
    outcome = _accepted(_signed(_conversation(NOW, user_said=said)))
    rows, rejections = validate_events(list(outcome.events), received_at=NOW)
    assert rejections == []
    transcript = json.loads(rows[0].json)["transcript"]
    assert transcript == "my e-mail is [EMAIL]\nand my card is [CARD]"
    assert "jane.doe" not in rows[0].json and "4111" not in rows[0].json


def test_a_redelivery_has_the_same_event_id_and_another_conversation_another() -> None:
    first = _accepted(_signed(_conversation(NOW)))
    again = _accepted(
        _signed(_conversation(NOW + timedelta(minutes=10)), NOW + timedelta(minutes=10))
    )
    other = _accepted(_signed(_conversation(NOW, conversation_id="conv_other")))
    assert first.events[0]["event_id"] == again.events[0]["event_id"]
    assert first.events[0]["event_id"] != other.events[0]["event_id"]


def test_the_audio_webhook_is_ignored() -> None:
    payload = {
        "type": "post_call_audio",
        "event_timestamp": int(NOW.timestamp()),
        "data": {
            "agent_id": "agent_3701ksy7tz77fw0bm68z30tyxyse",
            "conversation_id": "conv_01jk7x2q9r8m3n4p5s6t7v8w9y",
            "full_audio": "SUQzBAAAAAAAI1RTU0UAAAAPAAADTGF2ZjYwLjE2LjEwMAAAAAAA",
        },
    }
    outcome = _accepted(_signed(payload))
    assert outcome.events == ()
    assert outcome.counts == {Count.AUDIO_IGNORED: 1}
    assert "SUQz" not in repr(outcome)


def test_an_initiation_failure_is_counted_only() -> None:
    payload = {
        "type": "call_initiation_failure",
        "event_timestamp": int(NOW.timestamp()),
        "data": {
            "agent_id": "agent_3701ksy7tz77fw0bm68z30tyxyse",
            "conversation_id": "conv_failed",
            "failure_reason": "busy",
            "metadata": {"type": "twilio", "body": {"To": "+14155550100"}},
        },
    }
    assert _accepted(_signed(payload)) == WebhookAccepted(counts={Count.CALL_INITIATION_FAILURE: 1})


def test_a_type_not_known_yet_is_counted_and_answered_200() -> None:
    payload = {"type": "post_call_something_new", "event_timestamp": 1, "data": {}}
    assert _accepted(_signed(payload)) == WebhookAccepted(counts={Count.UNKNOWN_TYPE: 1})


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe\x00",
        b"[]",
        b'{"data": {}}',
        b'{"type": 3, "data": {}}',
        b'{"type": "post_call_transcription", "data": []}',
    ],
)
def test_a_signed_body_that_is_no_post_call_webhook_is_a_400(body: bytes) -> None:
    _refused(_signed(body), Rule.NOT_A_POST_CALL_WEBHOOK, status=400)


@pytest.mark.parametrize(
    ("client_data", "user_id"),
    [
        ({"dynamic_variables": {"user_id": "u_dyn"}, "user_id": "u_sdk"}, "u_dyn"),
        ({"user_id": "u_sdk"}, "u_sdk"),
        ({"dynamic_variables": {"user_id": 4217}}, "4217"),
    ],
)
def test_the_user_comes_from_the_documented_fields(
    client_data: dict[str, Any], user_id: str
) -> None:
    event = _accepted(_signed(_conversation(NOW, client_data=client_data))).events[0]
    assert event["user_id"] == user_id


def test_the_top_level_user_id_is_the_last_resort() -> None:
    payload = _conversation(NOW, client_data={})
    payload["data"]["user_id"] = "u_top"
    assert _accepted(_signed(payload)).events[0]["user_id"] == "u_top"


def test_no_user_id_stores_nothing_and_counts_why() -> None:
    # The caller's number is never taken for a user id.
    client_data = {"dynamic_variables": {"system__caller_id": "+14155550100"}}
    outcome = _accepted(_signed(_conversation(NOW, client_data=client_data)))
    assert outcome == WebhookAccepted(counts={Count.TRANSCRIPTION_NO_USER_ID: 1})


def test_a_call_where_the_user_said_nothing_stores_nothing() -> None:
    outcome = _accepted(_signed(_conversation(NOW, user_said=("", "  "))))
    assert outcome == WebhookAccepted(counts={Count.TRANSCRIPTION_NO_USER_SPEECH: 1})


@pytest.mark.parametrize("drop", ["conversation_id", "metadata"])
def test_a_transcription_missing_what_the_sdk_requires_is_counted(drop: str) -> None:
    payload = _conversation(NOW)
    del payload["data"][drop]
    assert _accepted(_signed(payload)) == WebhookAccepted(counts={Count.TRANSCRIPTION_MALFORMED: 1})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("order_status", "order_status"),
        ("Track-Order", "track_order"),
        ("Price Check", "price_check"),
        # What the caller said, not an intent: never turned into a label.
        ("jane@example.com", OTHER_INTENT),
        ("call 020 7946 0958", OTHER_INTENT),
        ("deliver_to_12_elm_street", OTHER_INTENT),
        ("deliver to elm street", OTHER_INTENT),
        ("jane_doe", OTHER_INTENT),
        ("Jane Doe", OTHER_INTENT),
        ("order_status_for_my_account", OTHER_INTENT),  # more words than a label has
        (None, UNKNOWN_INTENT),
        ("  ", UNKNOWN_INTENT),
    ],
)
def test_the_intent_is_the_intent_data_collection_value_as_a_label(
    value: str | None, expected: str
) -> None:
    outcome = _accepted(_signed(_conversation(NOW, intent=value)))
    assert outcome.events[0]["detected_intent"] == expected
    assert (Count.INTENT_UNKNOWN in outcome.counts) == (expected == UNKNOWN_INTENT)
    assert (Count.INTENT_OTHER in outcome.counts) == (expected == OTHER_INTENT)
    assert validate_events(list(outcome.events), received_at=NOW)[1] == []


def test_the_intent_list_variant_is_read_too() -> None:
    payload = _conversation(NOW, intent=None)
    payload["data"]["analysis"]["data_collection_results_list"] = [
        {"data_collection_id": "other", "value": "x", "rationale": ""},
        {"data_collection_id": "intent", "value": "cancel_order", "rationale": ""},
    ]
    assert _accepted(_signed(payload)).events[0]["detected_intent"] == "cancel_order"


@pytest.mark.parametrize(
    ("main_language", "expected"), [("en", "en"), ("pt-br", "pt-BR"), ("english", None)]
)
def test_the_language_is_kept_when_it_is_a_tag(main_language: str, expected: str | None) -> None:
    outcome = _accepted(_signed(_conversation(NOW, main_language=main_language)))
    assert outcome.events[0].get("language") == expected
    assert (Count.LANGUAGE_DROPPED in outcome.counts) == (expected is None)
    assert validate_events(list(outcome.events), received_at=NOW)[1] == []


def test_a_long_transcript_is_scrubbed_then_cut_on_whitespace() -> None:
    # The e-mail address straddles the limit: cut first, its fragment would not be scrubbed.
    filler = "word " * 799  # 3,995 characters
    said = (filler + "jane.doe@example.com and more",)
    outcome = _accepted(_signed(_conversation(NOW, user_said=said)))
    transcript = outcome.events[0]["transcript"]
    assert Count.TRANSCRIPT_TRUNCATED in outcome.counts
    assert len(transcript) <= 4_000
    assert "jane" not in transcript and "@" not in transcript
    rows, rejections = validate_events(list(outcome.events), received_at=NOW)
    assert rejections == [] and len(rows) == 1


def test_a_call_longer_than_the_model_allows_is_refused_by_validation_not_clamped() -> None:
    outcome = _accepted(_signed(_conversation(NOW, duration_secs=3_601)))
    assert outcome.events[0]["duration_ms"] == 3_601_000
    _, rejections = validate_events(list(outcome.events), received_at=NOW, batch=False)
    assert [(e.field, e.rule) for e in rejections[0].errors] == [("duration_ms", "less_than_equal")]


def test_nothing_of_a_call_is_printed_or_logged(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = _encode(_conversation(NOW, user_said=("jane.doe@example.com",)))
    signature = _sign(body, SECRET, NOW)
    _call(body, signature)
    _call(body + b" ", signature)
    _call(body, signature[:-1])
    _signed(b"not json")
    _signed({"type": "post_call_audio", "data": {"full_audio": "SUQzBAAA"}})
    assert capsys.readouterr() == ("", "")
    assert caplog.records == []


def test_a_naive_clock_is_a_wiring_error() -> None:
    body = _encode(_conversation(NOW))
    with pytest.raises(ValueError, match="timezone-aware"):
        _call(body, _sign(body, SECRET, NOW), now=NOW.replace(tzinfo=None))


@pytest.mark.parametrize(
    "body",
    [
        b'{"type": "post_call_transcription", "data": {"duration": NaN}}',
        b'{"type": "post_call_transcription", "data": ' + b'{"a":' * 40 + b"1" + b"}" * 41,
        b'{"type": "post_call_transcription", "data": {"text": "\xff"}}',
    ],
    ids=["nan", "nested-past-the-cap", "not-utf8"],
)
def test_a_signed_body_breaking_the_json_rules_of_every_route_is_no_webhook(body: bytes) -> None:
    # The same strict JSON as the tracking routes: json.loads alone would take the first two.
    _refused(_signed(body), Rule.NOT_A_POST_CALL_WEBHOOK, 400)


# --- a user id from the conversation's start is proven, or not kept ---------------------------


PROOFS = UserIdProofs((calls.USER_ID_SECRET,))


def _proven_call(dynamic: dict[str, Any], proofs: UserIdProofs | None = PROOFS) -> WebhookAccepted:
    body = _encode(_conversation(NOW, client_data={"dynamic_variables": dynamic}))
    return _accepted(
        handle_post_call(
            {SIGNATURE_HEADER: _sign(body, SECRET, NOW)},
            body,
            secrets=[SECRET],
            now=NOW,
            proofs=proofs,
        )
    )


def test_a_proven_user_id_is_kept_with_the_pages_device_id() -> None:
    proof = user_proof(calls.USER_ID_SECRET, "u_42")
    outcome = _proven_call({"user_id": "u_42", "user_hash": proof, "anonymous_id": "a_7"})

    [event] = outcome.events
    assert (event["user_id"], event["anonymous_id"]) == ("u_42", "a_7")
    assert not {c for c in outcome.counts if c.startswith("elevenlabs_user_id_")}


@pytest.mark.parametrize(
    ("proof", "count"),
    [
        (None, Count.USER_ID_PROOF_MISSING),
        ("not-hex", Count.USER_ID_PROOF_MALFORMED),
        (user_proof(calls.USER_ID_SECRET, "u_someone_else"), Count.USER_ID_PROOF_MISMATCH),
        (user_proof("o" * 40, "u_victim"), Count.USER_ID_PROOF_MISMATCH),
    ],
)
def test_an_unproven_user_id_leaves_the_call_its_devices_or_unstored(
    proof: str | None, count: Count
) -> None:
    dynamic: dict[str, Any] = {"user_id": "u_victim", "anonymous_id": "a_7"}
    if proof is not None:
        dynamic["user_hash"] = proof

    kept = _proven_call(dynamic)
    [event] = kept.events
    assert "user_id" not in event and event["anonymous_id"] == "a_7"
    assert kept.counts[count] == 1

    dropped = _proven_call({k: v for k, v in dynamic.items() if k != "anonymous_id"})
    assert dropped.events == ()
    assert dropped.counts == {count: 1, Count.TRANSCRIPTION_NO_USER_ID: 1}


def test_without_secrets_no_user_id_from_a_conversation_is_kept_and_none_means_trusted() -> None:
    dynamic = {"user_id": "u_42", "anonymous_id": "a_7"}

    untrusted = _proven_call(dynamic, UserIdProofs())
    trusted = _proven_call(dynamic, None)

    assert "user_id" not in untrusted.events[0]
    assert untrusted.counts[Count.USER_ID_NO_SECRET] == 1
    assert trusted.events[0]["user_id"] == "u_42"
