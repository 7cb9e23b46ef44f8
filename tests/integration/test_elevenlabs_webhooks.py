"""ElevenLabs post-call webhooks through the real collector function to the BigQuery emulator:
a call signed as the elevenlabs package verifies lands once in ``voice_interactions``, scrubbed;
a wrongly signed one stores nothing."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from elevenlabs import ElevenLabs

from event_capture.collector.elevenlabs import SIGNATURE_HEADER, event_id_for
from localcloud.cloud import LocalCloud
from localcloud.processes import Service
from tests.unit.collector import calls
from tests.unit.collector.test_elevenlabs import _conversation, _sign

SECRET = "wsec_integration_0123456789abcdef"
WRITE_KEY = "wk_integration_elevenlabs_0123"


@pytest.fixture(scope="module")
def collector(cloud: LocalCloud) -> Iterator[Service]:
    service = cloud.start_collector(
        write_keys=[WRITE_KEY],
        env={
            "ELEVENLABS_WEBHOOK_SECRETS": SECRET,
            "COLLECTOR_USER_ID_SECRETS": calls.USER_ID_SECRET,
            "GCS_ENABLED": "false",
        },
    )
    yield service
    service.stop()


def post(url: str, body: bytes, signature: str) -> int:
    request = urllib.request.Request(  # noqa: S310 - loopback
        url,
        data=body,
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_a_signed_transcription_lands_once_scrubbed_and_a_forged_one_not_at_all(
    cloud: LocalCloud, collector: Service
) -> None:
    now = datetime.now(UTC)
    payload = _conversation(
        now,
        conversation_id=f"conv_it_{int(now.timestamp())}",
        user_said=("where is my order? mail me at jane.doe@example.com",),
    )
    body = json.dumps(payload).encode()
    signature = _sign(body, SECRET, now)
    # The elevenlabs package itself accepts what the test signed.
    ElevenLabs(api_key="unused").webhooks.construct_event(body.decode(), signature, SECRET)
    url = f"{collector.url}/elevenlabs/post-call"

    assert post(url, body, signature) == 200
    assert post(url, body, signature) == 200  # a redelivery
    forged = body.replace(b"where", b"WHERE", 1)
    assert post(url, forged, signature) == 401

    event_id = event_id_for(payload["data"]["conversation_id"])
    rows = cloud.rows("voice_interactions", [event_id])
    assert len(rows) == 1
    assert "jane.doe@example.com" not in rows[0]["transcript"]
    assert "[EMAIL]" in rows[0]["transcript"]
    assert "WHERE" not in rows[0]["transcript"]


def test_a_conversation_started_with_someone_elses_user_id_is_stored_as_its_device(
    cloud: LocalCloud, collector: Service
) -> None:
    now = datetime.now(UTC)
    dynamic = {"user_id": "victim-1", "anonymous_id": "a_caller_7"}  # no proof of victim-1
    payload = _conversation(
        now,
        conversation_id=f"conv_forged_{int(now.timestamp())}",
        client_data={"dynamic_variables": dynamic},
    )
    body = json.dumps(payload).encode()

    assert post(f"{collector.url}/elevenlabs/post-call", body, _sign(body, SECRET, now)) == 200

    [row] = cloud.rows("voice_interactions", [event_id_for(payload["data"]["conversation_id"])])
    assert (row["user_id"], row["anonymous_id"]) == (None, "a_caller_7")
