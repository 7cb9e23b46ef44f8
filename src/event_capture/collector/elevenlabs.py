"""ElevenLabs post-call webhooks: verify the signature, then map a transcription to a native event.

Framework-free: the collector's HTTP layer passes the headers and the raw body and gets back a
refusal to answer with, or the native event dicts to hand to the capture pipeline (which
validates and scrubs them like any native event) and counters for its log line.

The signature is ElevenLabs' own scheme, as ``elevenlabs.webhooks.construct_event`` (SDK 2.78.0,
``elevenlabs/webhooks_custom.py``) checks it: the ``ElevenLabs-Signature`` header reads
``t=<unix seconds>,v0=<hex>``, where the hex is HMAC-SHA256 of ``"<t>.<raw body>"`` keyed with
the webhook secret. Stricter than the SDK here: the comparison is constant-time, timestamps too
far in the future are refused as well as old ones, and several secrets may be active at once.

Nothing of a request is logged here, nor kept beyond the returned event: not the header, not the
body, and nothing at all of an audio webhook (a voice is biometric data).
"""

import hashlib
import hmac
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from pydantic import TypeAdapter, ValidationError

from event_capture.collector.contract import MAX_BATCH_BYTES
from event_capture.collector.identity import Unproven, UserIdProofs
from event_capture.collector.intents import OTHER_INTENT, storable_intent
from event_capture.platform.http_error import HttpError
from event_capture.platform.json_body import parse_json
from event_capture.schemas.envelope import Label
from event_capture.schemas.scrub import scrub_text
from event_capture.schemas.voice import VoiceInteractionEvent

SIGNATURE_HEADER: Final = "ElevenLabs-Signature"
# ElevenLabs' documented example and the SDK refuse timestamps older than 30 minutes.
DEFAULT_TOLERANCE: Final = timedelta(minutes=30)

# Re-deliveries of one conversation get one event id, hence one BigQuery insertId. The value is
# uuid5(NAMESPACE_URL, "https://elevenlabs.io/docs/eleven-agents/workflows/post-call-webhooks"),
# written out because changing it would break de-duplication against rows already stored.
EVENT_ID_NAMESPACE: Final = uuid.UUID("a0225884-a74a-5867-a043-d42c446cd37e")

EVENT_SOURCE: Final = "elevenlabs"
# The data-collection item (Agent → Analysis → Data collection) whose value is the intent; a
# string item, ideally with an enum of the intents the agent knows.
INTENT_DATA_COLLECTION_ID: Final = "intent"
# Stored when no usable intent was collected: detected_intent is required.
UNKNOWN_INTENT: Final = "unknown"
# Where the pseudonymous user id is read from, first present wins. The app sets it when it
# starts the conversation: a ``user_id`` dynamic variable, or the SDK's ``user_id`` field of
# the initiation data (which ElevenLabs also echoes as ``data.user_id``). Never the caller's
# phone number (``system__caller_id``) or anything else ElevenLabs fills in by itself.
USER_ID_PATHS: Final = (
    ("conversation_initiation_client_data", "dynamic_variables", "user_id"),
    ("conversation_initiation_client_data", "user_id"),
    ("user_id",),
)
# A page that starts the conversation sets the dynamic variables, so a user id there is as
# public as a page's Segment call: it is kept only with the backend's proof
# (schemas.user_proof) in this dynamic variable, and the page's device id is read beside it.
USER_PROOF_PATH: Final = ("conversation_initiation_client_data", "dynamic_variables", "user_hash")
ANONYMOUS_ID_PATH: Final = (
    "conversation_initiation_client_data",
    "dynamic_variables",
    "anonymous_id",
)
# Between the user's turns in the stored transcript.
TURN_SEPARATOR: Final = "\n"

_MAX_HEADER_CHARS = 1024
_HEX_DIGEST_CHARS = 64
_HEX = frozenset("0123456789abcdef")
_TRANSCRIPT_MAX_CHARS: Final[int] = next(
    constraint.max_length
    for constraint in VoiceInteractionEvent.model_fields["transcript"].metadata
    if isinstance(getattr(constraint, "max_length", None), int)
)
# The model's own types decide whether an optional or derived value is storable, so a value
# that would fail validation is left out instead of costing the whole event.
_LABEL: TypeAdapter[str] = TypeAdapter(Label)
_LANGUAGE_TYPE: Any = VoiceInteractionEvent.model_fields["language"].annotation
_LANGUAGE: TypeAdapter[str | None] = TypeAdapter(_LANGUAGE_TYPE)


class Rule(StrEnum):
    """Why a webhook call was refused; the refusal's body and the log line name it."""

    SIGNATURE_MISSING = "signature_missing"
    SIGNATURE_MALFORMED = "signature_malformed"
    SIGNATURE_MISMATCH = "signature_mismatch"
    TIMESTAMP_OUTSIDE_TOLERANCE = "timestamp_outside_tolerance"
    NOT_A_POST_CALL_WEBHOOK = "not_a_post_call_webhook"


class Count(StrEnum):
    """What a verified webhook call amounted to; counters for the log line, never content."""

    TRANSCRIPTION_MAPPED = "elevenlabs_transcription_mapped"
    # A transcription that gave no event, by reason.
    TRANSCRIPTION_NO_USER_ID = "elevenlabs_transcription_no_user_id"
    # A user id not kept, by reason (identity.Unproven); the call is its device's, if it has one.
    USER_ID_PROOF_MISSING = "elevenlabs_user_id_proof_missing"
    USER_ID_PROOF_MALFORMED = "elevenlabs_user_id_proof_malformed"
    USER_ID_PROOF_MISMATCH = "elevenlabs_user_id_proof_mismatch"
    USER_ID_NO_SECRET = "elevenlabs_user_id_no_secret_configured"  # noqa: S105 - a count
    TRANSCRIPTION_NO_USER_SPEECH = "elevenlabs_transcription_no_user_speech"
    TRANSCRIPTION_MALFORMED = "elevenlabs_transcription_malformed"
    # A mapped transcription that lost something on the way.
    TRANSCRIPT_TRUNCATED = "elevenlabs_transcript_truncated"
    INTENT_UNKNOWN = "elevenlabs_intent_unknown"
    # An intent was collected but is not a label the collector stores; stored as "other".
    INTENT_OTHER = "elevenlabs_intent_other"
    LANGUAGE_DROPPED = "elevenlabs_language_dropped"
    AUDIO_IGNORED = "elevenlabs_audio_ignored"
    CALL_INITIATION_FAILURE = "elevenlabs_call_initiation_failure"
    # A webhook type this code does not know (ElevenLabs adds some): answered 200, not stored.
    UNKNOWN_TYPE = "elevenlabs_unknown_type"


_REFUSAL_STATUS: Final = {
    Rule.SIGNATURE_MISSING: 401,
    Rule.SIGNATURE_MALFORMED: 401,
    Rule.SIGNATURE_MISMATCH: 401,
    Rule.TIMESTAMP_OUTSIDE_TOLERANCE: 401,
    Rule.NOT_A_POST_CALL_WEBHOOK: 400,
}


@dataclass(frozen=True, slots=True)
class WebhookRefusal:
    """Refused with ``status``, naming only the rule (a message could tell a prober more than
    it needs); nothing of the call is stored."""

    rule: Rule

    @property
    def status(self) -> int:
        return _REFUSAL_STATUS[self.rule]


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookAccepted:
    """A verified call: hand ``events`` (zero or one native event dict) to the pipeline.

    Answer 200 once the pipeline has stored them durably (an empty tuple needs no storing).
    """

    events: tuple[dict[str, Any], ...] = ()
    counts: Mapping[Count, int] = field(default_factory=dict)


WebhookOutcome = WebhookRefusal | WebhookAccepted


def handle_post_call(
    headers: Mapping[str, str],
    body: bytes,
    *,
    secrets: Sequence[str],
    now: datetime,
    tolerance: timedelta = DEFAULT_TOLERANCE,
    proofs: UserIdProofs | None = None,
) -> WebhookOutcome:
    """Verify one ElevenLabs post-call webhook call and map what it carries.

    Args:
        headers: the request headers (looked up case-insensitively).
        body: the raw request body, exactly as received: the signature covers these bytes.
        secrets: the webhook secrets currently accepted (two during a rotation).
        now: the server clock reading for this request (timezone-aware).
        tolerance: how far the signed timestamp may be from ``now``, in either direction.
        proofs: what a user id from the conversation's start must be proven with; None
            trusts it (an agent started only by the app's backend).

    Returns:
        A ``WebhookRefusal`` (401 for an unsigned, malformed, wrongly keyed, tampered or stale
        call; 400 for a signed body that is no post-call webhook), or a ``WebhookAccepted``.
    """
    keys = [secret.encode() for secret in secrets]
    if not keys or not all(keys):
        # An empty key would let anyone sign: a wiring bug, not a request to answer.
        raise ValueError("at least one non-empty webhook secret is required")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    refused = _verify(_header(headers, SIGNATURE_HEADER), body, keys, now, tolerance)
    if refused is not None:
        return WebhookRefusal(refused)
    # The JSON rules of every route (UTF-8, no NaN, nesting bounded); what went wrong is not
    # kept: it may quote the body.
    payload = parse_json(body, None, limit=MAX_BATCH_BYTES)
    if isinstance(payload, HttpError) or not isinstance(payload, dict):
        return WebhookRefusal(Rule.NOT_A_POST_CALL_WEBHOOK)
    kind, data = payload.get("type"), payload.get("data")
    if not isinstance(kind, str) or not isinstance(data, dict):
        return WebhookRefusal(Rule.NOT_A_POST_CALL_WEBHOOK)
    if kind == "post_call_transcription":
        return _transcription(data, proofs)
    if kind == "post_call_audio":
        # Dropped unread; the handler keeps no reference to it.
        return WebhookAccepted(counts={Count.AUDIO_IGNORED: 1})
    if kind == "call_initiation_failure":
        return WebhookAccepted(counts={Count.CALL_INITIATION_FAILURE: 1})
    return WebhookAccepted(counts={Count.UNKNOWN_TYPE: 1})


def event_id_for(conversation_id: str) -> str:
    """The event id of a conversation's voice interaction, the same on every re-delivery."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, conversation_id))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def _verify(
    header: str | None, body: bytes, keys: list[bytes], now: datetime, tolerance: timedelta
) -> Rule | None:
    if not header:
        return Rule.SIGNATURE_MISSING
    parsed = _parse_signature(header)
    if parsed is None:
        return Rule.SIGNATURE_MALFORMED
    timestamp, candidates = parsed
    message = timestamp.encode() + b"." + body
    expected = [hmac.new(key, message, hashlib.sha256).hexdigest().encode() for key in keys]
    # Every pair is compared, so the time taken says nothing about which one matched.
    matches = [hmac.compare_digest(e, c) for e in expected for c in candidates]
    if not any(matches):
        return Rule.SIGNATURE_MISMATCH
    # Checked after the signature, so the rule only ever speaks of a genuinely signed call.
    if abs(now.timestamp() - int(timestamp)) > tolerance.total_seconds():
        return Rule.TIMESTAMP_OUTSIDE_TOLERANCE
    return None


def _parse_signature(header: str) -> tuple[str, list[bytes]] | None:
    """``t=<digits>,v0=<64 lowercase hex>``: the timestamp as sent, and every v0 hash.

    Parts may come in any order, as the SDK allows; parts of other schemes are ignored, so a
    future ``v1`` beside ``v0`` does not break verification.
    """
    if len(header) > _MAX_HEADER_CHARS:
        return None
    timestamps: list[str] = []
    hashes: list[bytes] = []
    for part in header.split(","):
        key, sep, value = part.partition("=")
        if not sep:
            return None
        if key == "t":
            timestamps.append(value)
        elif key == "v0":
            if len(value) != _HEX_DIGEST_CHARS or not _HEX.issuperset(value):
                return None
            hashes.append(value.encode())
    if len(timestamps) != 1 or not hashes:
        return None
    timestamp = timestamps[0]
    # ASCII digits only: int() would also take "+1", " 1", "1_0" and other digits scripts.
    if not (0 < len(timestamp) <= 12 and timestamp.isascii() and timestamp.isdigit()):
        return None
    return timestamp, hashes


_UNPROVEN_COUNTS: Final = {
    Unproven.MISSING: Count.USER_ID_PROOF_MISSING,
    Unproven.MALFORMED: Count.USER_ID_PROOF_MALFORMED,
    Unproven.MISMATCH: Count.USER_ID_PROOF_MISMATCH,
    Unproven.NO_SECRET: Count.USER_ID_NO_SECRET,
}


def _transcription(data: dict[str, Any], proofs: UserIdProofs | None) -> WebhookAccepted:
    counts: Counter[Count] = Counter()
    conversation_id = data.get("conversation_id")
    metadata = data.get("metadata")
    if (
        not isinstance(conversation_id, str)
        or not conversation_id
        or not isinstance(metadata, dict)
    ):
        return WebhookAccepted(counts={Count.TRANSCRIPTION_MALFORMED: 1})
    occurred_at = _instant(metadata.get("start_time_unix_secs"))
    duration_ms = _milliseconds(metadata.get("call_duration_secs"))
    if occurred_at is None or duration_ms is None:
        return WebhookAccepted(counts={Count.TRANSCRIPTION_MALFORMED: 1})
    user_id = _user_id(data)
    if user_id is not None and proofs is not None:
        unproven = proofs.check(_at(data, USER_PROOF_PATH), user_id)
        if unproven is not None:
            counts[_UNPROVEN_COUNTS[unproven]] += 1
            user_id = None
    anonymous_id = _identifier(_at(data, ANONYMOUS_ID_PATH))
    if user_id is None and anonymous_id is None:
        counts[Count.TRANSCRIPTION_NO_USER_ID] += 1
        return WebhookAccepted(counts=dict(counts))
    transcript = _user_transcript(data.get("transcript"))
    if not transcript:
        return WebhookAccepted(counts={Count.TRANSCRIPTION_NO_USER_SPEECH: 1})
    if len(transcript) > _TRANSCRIPT_MAX_CHARS:
        transcript = _truncate(transcript)
        counts[Count.TRANSCRIPT_TRUNCATED] += 1
    intent = _intent(data.get("analysis"))
    if intent is None:
        intent = UNKNOWN_INTENT
        counts[Count.INTENT_UNKNOWN] += 1
    elif intent == OTHER_INTENT:
        counts[Count.INTENT_OTHER] += 1
    event: dict[str, Any] = {
        "event_id": event_id_for(conversation_id),
        "event_type": "voice_interaction",
        "session_id": conversation_id,
        "occurred_at": occurred_at,
        "source": EVENT_SOURCE,
        "transcript": transcript,
        "detected_intent": intent,
        "duration_ms": duration_ms,
    }
    if user_id is not None:
        event["user_id"] = user_id
    if anonymous_id is not None:
        event["anonymous_id"] = anonymous_id
    language = _language(metadata.get("main_language"))
    if language is not None:
        event["language"] = language
    elif metadata.get("main_language") is not None:
        counts[Count.LANGUAGE_DROPPED] += 1
    counts[Count.TRANSCRIPTION_MAPPED] += 1
    return WebhookAccepted(events=(event,), counts=dict(counts))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _instant(seconds: Any) -> str | None:
    if not _is_number(seconds):
        return None
    try:
        instant = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return instant.isoformat().replace("+00:00", "Z")


def _milliseconds(seconds: Any) -> int | None:
    # Passed on as is: a call longer than the model's limit is refused by validation, by rule,
    # rather than stored with a made-up length.
    if not _is_number(seconds) or seconds != seconds:  # NaN
        return None
    try:
        return round(float(seconds) * 1000)
    except OverflowError:
        return None


def _at(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = data
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _identifier(value: Any) -> str | None:
    # Dynamic variables may be numbers; a bool is no id.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _user_id(data: dict[str, Any]) -> str | None:
    for path in USER_ID_PATHS:
        found = _identifier(_at(data, path))
        if found is not None:
            return found
    return None


def _user_transcript(turns: Any) -> str:
    """What the user said: the ``message`` of every ``role: "user"`` turn, in delivery order.

    The agent's turns are left out: the model stores what the user said, and an agent reading
    back an address or an order would only add personal data.
    """
    if not isinstance(turns, list):
        return ""
    said = (
        turn["message"].strip()
        for turn in turns
        if isinstance(turn, dict)
        and turn.get("role") == "user"
        and isinstance(turn.get("message"), str)
    )
    return TURN_SEPARATOR.join(message for message in said if message)


def _truncate(transcript: str) -> str:
    # Scrubbed before it is cut: a cut through an e-mail address or a card number would leave
    # a fragment the scrubber no longer recognises. Validation scrubs again; scrubbing is
    # idempotent (the placeholders hold no "@" and no digits). The cut falls on whitespace so
    # no placeholder or word is split.
    scrubbed = scrub_text(transcript)
    if len(scrubbed) <= _TRANSCRIPT_MAX_CHARS:
        return scrubbed
    head = scrubbed[: _TRANSCRIPT_MAX_CHARS + 1]
    cut = max(head.rfind(" "), head.rfind("\n"))
    return (head[:cut] if cut > 0 else head[:_TRANSCRIPT_MAX_CHARS]).rstrip()


def _collected(analysis: dict[str, Any]) -> Any:
    results = analysis.get("data_collection_results")
    if isinstance(results, dict):
        item = results.get(INTENT_DATA_COLLECTION_ID)
        if isinstance(item, dict) and "value" in item:
            return item["value"]
    listed = analysis.get("data_collection_results_list")
    if isinstance(listed, list):
        for item in listed:
            if isinstance(item, dict) and item.get("data_collection_id") == (
                INTENT_DATA_COLLECTION_ID
            ):
                return item.get("value")
    return None


def _intent(analysis: Any) -> str | None:
    """The ``intent`` data-collection value as a label ("Order Status" → ``order_status``),
    ``other`` when it is not one the collector stores (see ``intents``), None when none was
    collected.

    The value is extracted by an LLM from the call: turning arbitrary text into a label could
    smuggle a name, an address or a number into an unscrubbed column.
    """
    if not isinstance(analysis, dict):
        return None
    value = _collected(analysis)
    if not isinstance(value, str) or not value.strip():
        return None
    candidate = "_".join(value.strip().lower().replace("-", " ").split())
    try:
        label = _LABEL.validate_python(candidate)
    except ValidationError:
        return OTHER_INTENT
    return label if storable_intent(label) else OTHER_INTENT


def _language(value: Any) -> str | None:
    """ElevenLabs' ``main_language`` as the model's tag: ``en`` stays, ``pt-br`` → ``pt-BR``."""
    if not isinstance(value, str):
        return None
    primary, _, region = value.strip().replace("_", "-").partition("-")
    candidate = f"{primary.lower()}-{region.upper()}" if region else primary.lower()
    try:
        return _LANGUAGE.validate_python(candidate)
    except ValidationError:
        return None
