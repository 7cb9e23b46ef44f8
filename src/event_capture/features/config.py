"""The features function's configuration, read once at start-up like the capture function's."""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from event_capture.ingest.config import load_redis_url, number
from event_capture.platform.clients import redis_connection

CONFIG_VARIABLES = frozenset({"REDIS_URL", "REDIS_TIMEOUT_SECONDS", "REDIS_ACTIVITY_LENGTH"})


@dataclass(frozen=True, slots=True)
class FeaturesConfig:
    redis_url: str
    # Short: an answer is wanted in milliseconds, and a slow Redis must give a quick 503 rather
    # than a page that waits (the client's own timeout is 150 ms).
    redis_timeout_seconds: float
    # As many entries as the capture function keeps per user (the same variable).
    redis_activity_length: int


def load_features_config(env: Mapping[str, str] | None = None) -> FeaturesConfig:
    env = os.environ if env is None else env
    return FeaturesConfig(
        redis_url=load_redis_url(env),
        redis_timeout_seconds=number(env, "REDIS_TIMEOUT_SECONDS", 0.1, 0.01, 30.0),
        redis_activity_length=int(number(env, "REDIS_ACTIVITY_LENGTH", 100, 1, 10_000)),
    )


def redis_client(config: FeaturesConfig) -> Any:
    return redis_connection(config.redis_url, config.redis_timeout_seconds)
