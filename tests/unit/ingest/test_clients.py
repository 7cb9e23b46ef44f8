"""The Redis client is built with the configured timeouts (no server needed to build one)."""

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
