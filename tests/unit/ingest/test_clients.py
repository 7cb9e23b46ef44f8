"""The clients the capture path builds from its configuration (no server needed to build one)."""

import redis

from event_capture.ingest.clients import redis_client
from event_capture.ingest.config import load_config


def test_redis_calls_time_out_after_the_configured_seconds() -> None:
    config = load_config(
        {
            "GCP_PROJECT": "p",
            "GCS_BUCKET": "b",
            "REDIS_ENABLED": "true",
            "REDIS_TIMEOUT_SECONDS": "3",
        }
    )

    client = redis_client(config)
    assert isinstance(client, redis.Redis)
    kwargs = client.connection_pool.connection_kwargs

    assert kwargs["socket_timeout"] == 3.0
    assert kwargs["socket_connect_timeout"] == 3.0


def test_the_switch_picks_the_bigquery_call_and_the_write_api_reaches_the_emulators_grpc() -> None:
    from event_capture.ingest.clients import bigquery_writes
    from event_capture.ingest.insert_all import HttpInsertAll
    from event_capture.ingest.write_api import WriteApiAppends

    emulator = {
        "GCP_PROJECT": "p",
        "GCS_BUCKET": "b",
        "BIGQUERY_EMULATOR_HOST": "http://127.0.0.1:9",
        "BIGQUERY_EMULATOR_GRPC_HOST": "127.0.0.1:9",
    }

    assert isinstance(bigquery_writes(load_config(emulator)), HttpInsertAll)
    on = bigquery_writes(load_config({**emulator, "BIGQUERY_WRITE_API": "true"}))
    assert isinstance(on, WriteApiAppends)
    assert on.opened == 0  # nothing opened before the first append
