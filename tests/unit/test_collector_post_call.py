"""The collector's ElevenLabs route in process: a signed post-call webhook reaches the capture
pipeline as one voice interaction; unsigned or tampered calls store nothing; audio is ignored;
nothing of a call's content reaches the log. The signature rules themselves are tested in
test_collector_elevenlabs.py, against the elevenlabs package."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

import pytest

from event_capture.collector.auth import WriteKeys
from event_capture.collector.elevenlabs import event_id_for
from event_capture.collector.handler import Collector, CollectorRequest
from event_capture.ingest.pipeline import CapturePipeline
from event_capture.platform.answer import Answer
from tests.fakes.sinks import FakeSink
from tests.unit.collector import calls
from tests.unit.collector.test_elevenlabs import NOW, SECRET, _conversation, _encode, _sign

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
