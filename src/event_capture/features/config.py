"""The features function's and the materializer's configuration, read once at start-up."""

from collections.abc import Mapping
from typing import Any

from pydantic import field_validator

from event_capture.contracts.capture_config import (
    EventWarehouse,
    LiveActivity,
    RedisLocation,
    redis_timeout,
)
from event_capture.platform.clients import redis_connection
from event_capture.platform.config import (
    Number,
    check_redis_url,
    load,
)
from event_capture.platform.redis_surface import RedisClient


class _Redis(RedisLocation):
    # Checked whatever else is set: both functions always use Redis.
    @field_validator("redis_url")
    @classmethod
    def _a_redis_url(cls, url: str) -> str:
        return check_redis_url(url)


class FeaturesConfig(LiveActivity, _Redis):
    TITLE = "The features function's"

    # Short: an answer is wanted in milliseconds, and a slow Redis must give a quick 503 rather
    # than a page that waits (the client's own timeout is 150 ms).
    redis_timeout_seconds: Number = redis_timeout(
        0.1, at_least=0.01, then="503, with the defaults the app renders anyway"
    )


class MaterializerConfig(_Redis, EventWarehouse):
    TITLE = "The materializer's"

    # A snapshot is thousands of writes in a few pipelines, not a page waiting for an answer.
    redis_timeout_seconds: Number = redis_timeout(
        10.0, at_least=0.01, then="the load fails and the trigger delivers its message again"
    )

    def model_post_init(self, context: Any) -> None:
        self.check_dataset()


CONFIG_VARIABLES = FeaturesConfig.variables()


def load_features_config(env: Mapping[str, str] | None = None) -> FeaturesConfig:
    return load(FeaturesConfig, env)


def load_materializer_config(env: Mapping[str, str] | None = None) -> MaterializerConfig:
    return load(MaterializerConfig, env)


def redis_client(config: FeaturesConfig | MaterializerConfig) -> RedisClient:
    return redis_connection(config.redis_url, config.redis_timeout_seconds)
