"""The pipeline as the function builds it from its configuration, against a closed port.

Nothing listens on 127.0.0.1:9, so every BigQuery call fails at once: enough to see the
deployed wiring's circuit breaker open and its budget apply, with no emulator.
"""

from __future__ import annotations

import pytest

from event_capture.contracts import log_fields
from event_capture.ingest.answer import capture_answer
from event_capture.ingest.config import load_config
from event_capture.ingest.validation import validate_events
from event_capture.ingest.wiring import build_pipeline
from tests.unit import event_factory as factory

CLOSED = "http://127.0.0.1:9"


def test_the_built_pipeline_has_a_breaker_per_backend_that_opens_on_repeated_failures() -> None:
    pipeline = build_pipeline(
        load_config(
            {
                "GCP_PROJECT": "wiring",
                "BIGQUERY_EMULATOR_HOST": CLOSED,
                "BIGQUERY_DEADLINE_SECONDS": "0.3",
                "GCS_ENABLED": "false",
                "CIRCUIT_FAILURES": "2",
            }
        )
    )
    now = factory.RECEIVED_AT

    first = capture_answer(pipeline.handle([factory.search(now)], batch=False))
    assert first.status == 503  # nowhere durable: BigQuery refused, no Cloud Storage
    assert first.log[log_fields.CIRCUITS] == dict.fromkeys(log_fields.BACKENDS, "closed")
    capture_answer(pipeline.handle([factory.search(now)], batch=False))

    third = capture_answer(pipeline.handle([factory.search(now)], batch=False))

    assert third.log[log_fields.CIRCUITS][log_fields.BACKEND_BIGQUERY] == "open"
    assert third.body["sinks"]["bigquery"]["status"] == "skipped"
    assert third.log[log_fields.BIGQUERY_INSERT_REQUESTS] == 0
    assert third.status == 503


def test_the_request_budget_cuts_every_sinks_own_deadline() -> None:
    # BigQuery's own deadline is 60 s; the request's budget of 1 s gives it 0.6 s.
    pipeline = build_pipeline(
        load_config(
            {
                "GCP_PROJECT": "wiring",
                "BIGQUERY_EMULATOR_HOST": CLOSED,
                "BIGQUERY_DEADLINE_SECONDS": "60",
                "REQUEST_DEADLINE_SECONDS": "1",
                "GCS_ENABLED": "false",
            }
        )
    )

    result = capture_answer(pipeline.handle([factory.search(factory.RECEIVED_AT)], batch=False))

    assert result.status == 503
    # It retried, and gave up within its share of the budget, not its own 60 s.
    assert result.log[log_fields.BIGQUERY_RETRIES] >= 1
    assert result.log[log_fields.LATENCY_MS] < 1_000


def test_each_client_pools_a_connection_per_table_write_and_reads_no_proxy_per_call() -> None:
    import google.cloud.bigquery
    import google.cloud.storage

    from event_capture.ingest import clients
    from event_capture.schemas.families import FAMILIES

    config = load_config(
        {
            "GCP_PROJECT": "wiring",
            "BIGQUERY_EMULATOR_HOST": CLOSED,
            "GCS_BUCKET": "wiring-events",
            "STORAGE_EMULATOR_HOST": CLOSED,
            "THREADS": "6",
        }
    )

    bigquery, storage = clients.bigquery_client(config), clients.storage_client(config)
    # The libraries' own clients, whose session is not part of the Protocols.
    assert isinstance(bigquery, google.cloud.bigquery.Client)
    assert isinstance(storage, google.cloud.storage.Client)
    for session in (bigquery._http, storage._http):
        assert session.trust_env is False
        assert session.get_adapter("http://127.0.0.1:9/")._pool_maxsize == 6 * len(FAMILIES)


def test_the_capture_paths_own_calls_go_to_the_emulators_without_credentials() -> None:
    from event_capture.ingest import clients
    from event_capture.platform.curl_http import CurlConnectionError

    config = load_config(
        {
            "GCP_PROJECT": "wiring",
            "BIGQUERY_EMULATOR_HOST": CLOSED,
            "GCS_BUCKET": "wiring-events",
            "STORAGE_EMULATOR_HOST": CLOSED,
        }
    )
    rows, _ = validate_events([factory.search(factory.RECEIVED_AT)], factory.RECEIVED_AT)

    # No application default credentials are looked for (this machine has none): each call
    # reaches the emulator's address, where nothing listens.
    with pytest.raises(CurlConnectionError, match=r"curl 7"):
        clients.bigquery_inserts(config).insert_all("wiring.events.searches", rows, timeout=2)
    with pytest.raises(CurlConnectionError, match=r"curl 7"):
        clients.storage_uploads(config).create(
            "wiring-events", "o", b"{}\n", content_type="application/x-ndjson", timeout=2
        )
