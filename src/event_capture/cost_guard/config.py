"""The cost guard's configuration, from environment variables read once at start-up.

The project, dataset, archive bucket and emulator hosts are read as the capture function reads
them (``event_capture.ingest.config``); these are the guard's own.
"""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from event_capture.cost_guard.guard import GuardSettings
from event_capture.ingest.config import Config, ConfigError, load_config, number

TRANSFER_CONFIG = re.compile(r"projects/[^/]+/locations/[^/]+/transferConfigs/[^/]+")
GUARD_CONFIG_VARIABLES = frozenset(
    {
        "GUARD_THRESHOLD",
        "GUARD_SETTLE_SECONDS",
        "SCHEDULED_QUERIES",
        "DATA_TRANSFER_ENDPOINT",
        "BIGQUERY_LOCATION",
    }
)


@dataclass(frozen=True, kw_only=True)
class GuardConfig:
    capture: Config
    settings: GuardSettings
    # The Data Transfer API's address; set only to reach a local stand-in (anonymous calls).
    data_transfer_endpoint: str | None
    # The event tables' location (their jobs are found there); None: BigQuery's default.
    bigquery_location: str | None = None


def load_guard_config(env: Mapping[str, str] | None = None) -> GuardConfig:
    env = os.environ if env is None else env
    capture = load_config(env)
    if not capture.capture_mode_bucket:
        raise ConfigError("CAPTURE_MODE_BUCKET: required (the bucket of capture's mode object)")
    queries = tuple(q.strip() for q in env.get("SCHEDULED_QUERIES", "").split(",") if q.strip())
    for query in queries:
        if not TRANSFER_CONFIG.fullmatch(query):
            raise ConfigError(
                "SCHEDULED_QUERIES: each must be "
                "projects/<project>/locations/<location>/transferConfigs/<id>"
            )
    settle = capture.capture_mode_ttl_seconds + capture.request_deadline_seconds + 10
    return GuardConfig(
        capture=capture,
        settings=GuardSettings(
            threshold=number(env, "GUARD_THRESHOLD", 1.0, 0.01, 100.0),
            queries=queries,
            settle_seconds=number(env, "GUARD_SETTLE_SECONDS", settle, 0.0, 480.0),
        ),
        data_transfer_endpoint=env.get("DATA_TRANSFER_ENDPOINT") or None,
        bigquery_location=env.get("BIGQUERY_LOCATION") or None,
    )
