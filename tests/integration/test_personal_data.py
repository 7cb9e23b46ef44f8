"""Personal data as users type it, sent through the capture function and the collector (Segment
calls and ElevenLabs webhooks) on the local cloud, is found in no BigQuery row, archive or
dead-letter object, Redis entry or function log afterwards.

The data are ``localcloud.sample_personal_data`` (the shapes issue 26 found stored) and a
sample of the generated corpus of the unit tests; each is looked for by its needle: the digits
of a number among the digits of every stored string, the local part of an e-mail address as
text. A canary word sent beside them must be found everywhere, so the search is shown to reach
what was stored.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from google.cloud import bigquery
from hypothesis import HealthCheck, given, settings

from event_capture.collector.elevenlabs import SIGNATURE_HEADER
from event_capture.schemas.user_proof import user_proof
from localcloud.cloud import LocalCloud
from localcloud.processes import Service
from localcloud.sample_personal_data import INTENTS, REFUSED_URLS, TEXT, URLS, Sample
from tests.unit.collector import calls
from tests.unit.collector.test_elevenlabs import _conversation, _sign
from tests.unit.schemas.scrub_corpus import personal_data

KEY = "wk_personal_0123456789abcdef"
WEBHOOK_SECRET = "wsec_personal_0123456789abcdef"
CANARY = "zq7canary"
TABLES = ("searches", "sessions", "voice_interactions")
GENERATED = 40
# A number's digits may be split by any separator the data came with, or by none.
_DIGITS_WITH_SEPARATORS = re.compile(r"\d[\d\s.\-/()\u00a0\u202f\u200b]*")


def generated_sample() -> list[Sample]:
    """A fixed draw of the generated corpus (the unit tests' strategies)."""
    drawn: list[Sample] = []

    @settings(
        max_examples=GENERATED,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(datum=personal_data())
    def draw(datum: tuple[str, list[str]]) -> None:
        written, needles = datum
        drawn.append(Sample(name=f"generated {len(drawn)}", written=written, needle=needles[0]))

    draw()
    return drawn[:GENERATED]


def leaked(text: str, sample: Sample) -> bool:
    if not sample.digits:
        return sample.needle.lower() in text.lower()
    return any(
        sample.needle in re.sub(r"\D", "", run) for run in _DIGITS_WITH_SEPARATORS.findall(text)
    )


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
        try:
            decoded = json.loads(value)
        except ValueError:
            return
        if not isinstance(decoded, str):
            yield from strings(decoded)
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings(item)


def post(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(  # noqa: S310 - loopback
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:  # noqa: S310
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return error.code


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def services(
    cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Service, Service]]:
    logs = tmp_path_factory.mktemp("personal-data")
    # Redis on, and an archive object per request, so every store holds what it would.
    env = {"REDIS_ENABLED": "true", "ARCHIVE_FLUSH_SECONDS": "0"}
    capture = cloud.start_function(log_path=logs / "capture.log", env=env)
    collector = cloud.start_collector(
        write_keys=[{"id": "backend", "class": "server", "key": KEY}],
        log_path=logs / "collector.log",
        env={
            **env,
            "ELEVENLABS_WEBHOOK_SECRETS": WEBHOOK_SECRET,
            "COLLECTOR_USER_ID_SECRETS": calls.USER_ID_SECRET,
        },
    )
    yield capture, collector
    capture.stop()
    collector.stop()


def send_through_capture(capture: Service, user: str, data: list[Sample]) -> None:
    now = datetime.now(UTC)
    envelope = {
        "user_id": user,
        "session_id": f"s_{user}",
        "occurred_at": iso(now),
        "source": "web",
    }
    events: list[dict[str, Any]] = [
        {
            **envelope,
            "event_id": str(uuid.uuid4()),
            "event_type": "search",
            "query": f"{CANARY} red running shoes {sample.written} size 42",
            "filters": [
                {"name": "seller", "value": sample.written},
                {"name": "brand", "value": CANARY},
            ],
        }
        for sample in data
    ]
    events.append(
        {
            **envelope,
            "event_id": str(uuid.uuid4()),
            "event_type": "voice_interaction",
            "transcript": f"{CANARY} " + ", ".join(sample.written for sample in data),
            "detected_intent": "order_status",
            "duration_ms": 4_000,
        }
    )
    events += [
        {
            **envelope,
            "event_id": str(uuid.uuid4()),
            "event_type": "session_start",
            "started_at": iso(now - timedelta(seconds=5)),
            "device": "mobile",
            "landing_page": sample.written,
            "referrer": f"https://www.example.com/{CANARY}",
        }
        for sample in URLS
    ]
    assert post(f"{capture.url}/", {"events": events}) == 200
    refused = [
        {**event, "event_id": str(uuid.uuid4()), "landing_page": sample.written}
        for event, sample in zip(events[-len(REFUSED_URLS) :], REFUSED_URLS, strict=True)
    ]
    assert post(f"{capture.url}/", {"events": refused}) == 400


def send_through_collector(collector: Service, user: str, data: list[Sample]) -> None:
    now = datetime.now(UTC)
    searched = [
        {
            "type": "track",
            "event": "Products Searched",
            "messageId": str(uuid.uuid4()),
            "userId": user,
            "timestamp": iso(now),
            # Page URLs are dropped unread; sent all the same.
            "context": {"page": {"url": URLS[0].written, "referrer": URLS[1].written}},
            "properties": {
                "session_id": f"s_{user}",
                "query": f"{CANARY} {sample.written}",
                "filters": [
                    {"type": "seller", "value": sample.written},
                    {"type": "brand", "value": CANARY},
                ],
            },
        }
        for sample in data
    ]
    auth = {"Authorization": "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()}
    body = {"batch": searched, "sentAt": iso(now)}
    assert post(f"{collector.url}/v1/batch", body, auth) == 200
    for intent in INTENTS:
        conversation_id = f"conv_pd_{uuid.uuid4().hex[:12]}"
        client_data = {
            "dynamic_variables": {
                "user_id": user,
                "user_hash": user_proof(calls.USER_ID_SECRET, user),
            }
        }
        payload = _conversation(
            now,
            conversation_id=conversation_id,
            user_said=(CANARY, *(sample.written for sample in data)),
            intent=intent.written,
            client_data=client_data,
        )
        raw = json.dumps(payload).encode()
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{collector.url}/elevenlabs/post-call",
            data=raw,
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: _sign(raw, WEBHOOK_SECRET, now),
            },
        )
        with urllib.request.urlopen(request, timeout=120) as answer:  # noqa: S310
            assert answer.status == 200


def stored_rows(cloud: LocalCloud, users: list[str]) -> list[dict[str, Any]]:
    rows = []
    for table in TABLES:
        name = f"{cloud.settings.project}.{cloud.settings.dataset}.{table}"
        job = cloud.bigquery_client().query(
            f"SELECT * FROM `{name}` "
            "WHERE received_at > TIMESTAMP('2000-01-01') AND user_id IN UNNEST(@users)",
            job_config=bigquery.QueryJobConfig(
                query_parameters=[bigquery.ArrayQueryParameter("users", "STRING", users)]
            ),
        )
        rows += [{"table": table, **dict(row.items())} for row in job.result()]
    return rows


def stored_lines(cloud: LocalCloud, users: list[str]) -> list[str]:
    """Every line of every object in the bucket (archive, dead letters) of these users."""
    return [
        line
        for text in cloud.objects("").values()
        for line in text.splitlines()
        if any(user in line for user in users)
    ]


def redis_entries(cloud: LocalCloud, users: list[str]) -> list[str]:
    client = redis.Redis.from_url(cloud.redis_url, decode_responses=True)
    found = []
    for key in map(str, client.scan_iter()):
        if not any(user in key for user in users):
            continue
        kind = client.type(key)
        if kind == "list":
            found += [str(value) for value in client.lrange(key, 0, -1)]
        elif kind == "hash":
            found += [f"{k!s}={v!s}" for k, v in client.hgetall(key).items()]
        elif kind == "string":
            found.append(str(client.get(key)))
        else:
            found.append(key)
    return found


def test_personal_data_is_found_in_no_store_or_log(
    cloud: LocalCloud, services: tuple[Service, Service]
) -> None:
    capture, collector = services
    run = uuid.uuid4().hex[:8]
    users = [f"u_pd_capture_{run}", f"u_pd_collector_{run}"]
    data = [*TEXT, *generated_sample()]

    send_through_capture(capture, users[0], data)
    send_through_collector(collector, users[1], data)

    rows = stored_rows(cloud, users)
    # Every search of both paths, a call through each, both calls' intents, every session.
    tables = [row["table"] for row in rows]
    assert tables.count("searches") == 2 * len(data)
    assert tables.count("voice_interactions") == 1 + len(INTENTS)
    assert tables.count("sessions") == len(URLS)
    assert sorted(
        row["detected_intent"] for row in rows if row["table"] == "voice_interactions"
    ) == ["order_status", *["other"] * len(INTENTS)]
    stores = {
        "BigQuery": [text for row in rows for text in strings(row)],
        "archive and dead letters": [
            text for line in stored_lines(cloud, users) for text in strings(line)
        ],
        "Redis": redis_entries(cloud, users),
        "capture's log": Path(str(capture.log_path)).read_text().splitlines(),
        "the collector's log": Path(str(collector.log_path)).read_text().splitlines(),
    }
    for store in ("BigQuery", "archive and dead letters"):
        assert any(CANARY in text for text in stores[store]), f"{store} holds nothing sent"

    escapes = [
        f"{sample.name} ({sample.written!r}) in {store}"
        for sample in [*data, *URLS, *REFUSED_URLS, *INTENTS]
        for store, texts in stores.items()
        if any(leaked(text, sample) for text in texts)
    ]
    assert escapes == []
