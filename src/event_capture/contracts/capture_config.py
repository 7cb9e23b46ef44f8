"""The capture pipeline's configuration: where events go and how long each step may take.

Shared because three functions must agree on it: the capture function and the collector both
run the pipeline with it, and the cost guard reads where capture writes (the dataset, the
archive, the control bucket) and waits out capture's mode TTL and request deadline. Each reads
it from the same variables; the reference page lists them per function
(docs/reference/configuration.md).
"""

import os
import re
from typing import Any

from pydantic import model_validator

from event_capture.contracts.archive_layout import FLUSH_SECONDS, MAX_LINE_AGE_SECONDS
from event_capture.contracts.bigquery_writes import WRITE_API_BY_DEFAULT
from event_capture.contracts.timing import MAX_REQUEST_DEADLINE_SECONDS, MODE_TTL_SECONDS
from event_capture.platform.config import (
    Flag,
    Number,
    Settings,
    WholeNumber,
    check_redis_url,
    variable,
)
from event_capture.schemas.retention import RETENTION

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
_DATASET = re.compile(r"[A-Za-z0-9_]{1,1024}", re.ASCII)


def redis_timeout(default: float, *, at_least: float, then: str) -> Any:
    """REDIS_TIMEOUT_SECONDS: one meaning in every function (how long one Redis call may take),
    with each function's own default and what it does when the call takes longer."""
    return variable(
        "REDIS_TIMEOUT_SECONDS",
        default=default,
        ge=at_least,
        le=30.0,
        description=f"How long one Redis call may take; then {then}.",
    )


class EventWarehouse(Settings):
    """The project and the dataset of the event tables, and the emulator that stands in."""

    project: str = variable(
        "GCP_PROJECT",
        also=("GOOGLE_CLOUD_PROJECT",),
        description="The project that holds the dataset and the buckets.",
    )
    bigquery_dataset: str = variable(
        "BIGQUERY_DATASET",
        default="events",
        description="The dataset of the event tables: letters, digits and underscores.",
    )
    bigquery_emulator_host: str | None = variable(
        "BIGQUERY_EMULATOR_HOST",
        default=None,
        description="A local BigQuery's address, e.g. http://127.0.0.1:9050; calls are then "
        "anonymous.",
    )

    def check_dataset(self) -> None:
        if not _DATASET.fullmatch(self.bigquery_dataset):
            raise ValueError(
                "BIGQUERY_DATASET: letters, digits and underscores only, "
                f"got {self.bigquery_dataset!r}"
            )


class RedisLocation(Settings):
    """Where Redis is: for the live activity (capture) and the feature snapshots."""

    redis_url: str = variable(
        "REDIS_URL",
        default=DEFAULT_REDIS_URL,
        secret=True,
        description="redis://, rediss:// or unix://; from Secret Manager in the cloud.",
    )


class LiveActivity(Settings):
    """How many entries a user's live activity holds: capture keeps them, features read them."""

    redis_activity_length: WholeNumber = variable(
        "REDIS_ACTIVITY_LENGTH",
        default=100,
        ge=1,
        le=10_000,
        description="Entries a user's live activity holds: capture keeps this many, the "
        "features function reads this many.",
    )


class CaptureConfig(LiveActivity, RedisLocation, EventWarehouse):
    # Bases in reverse: pydantic lists the last base's fields first (the project, then Redis).

    TITLE = "The capture pipeline's variables, which the collector and the cost guard read too"

    bigquery_enabled: Flag = variable(
        "BIGQUERY_ENABLED", default=True, description="Stream accepted events into BigQuery."
    )
    # Off by default (contracts/bigquery_writes.py says why).
    bigquery_write_api: Flag = variable(
        "BIGQUERY_WRITE_API",
        default=WRITE_API_BY_DEFAULT,
        description="Write to BigQuery through the Storage Write API's default streams (gRPC) "
        "instead of insertAll (HTTP).",
    )
    bigquery_emulator_grpc_host: str | None = variable(
        "BIGQUERY_EMULATOR_GRPC_HOST",
        default=None,
        description="The local BigQuery's gRPC address (the Storage Write API), e.g. "
        "127.0.0.1:9060; plaintext and anonymous. A local BigQuery without it gets insertAll.",
    )

    bigquery_deadline_seconds: Number = variable(
        "BIGQUERY_DEADLINE_SECONDS",
        default=20.0,
        ge=0.1,
        le=300.0,
        description="How long one request's inserts may take, retries included.",
    )
    gcs_enabled: Flag = variable(
        "GCS_ENABLED",
        default=True,
        description="Archive accepted events and keep dead letters in Cloud Storage. At least one "
        "of BigQuery and Cloud Storage must be on: without a durable sink nothing could be "
        "accepted.",
    )
    gcs_bucket: str | None = variable(
        "GCS_BUCKET",
        default=None,
        description="The bucket of archive/ (and of dead-letter/ unless DEAD_LETTER_BUCKET is "
        "set); required with GCS_ENABLED.",
    )
    # A bucket of its own lets operators who replay dead letters read and delete them without
    # any access to the archive; sharing the archive bucket is the simple default.
    dead_letter_bucket: str | None = variable(
        "DEAD_LETTER_BUCKET",
        default=None,
        default_text="GCS_BUCKET",
        description="The bucket of dead-letter/: one of its own lets replay operators read and "
        "delete dead letters without access to the archive (the deployed stack does this).",
    )
    gcs_deadline_seconds: Number = variable(
        "GCS_DEADLINE_SECONDS",
        default=10.0,
        ge=0.1,
        le=300.0,
        description="How long one object write may take, retries included.",
    )
    archive_flush_seconds: Number = variable(
        "ARCHIVE_FLUSH_SECONDS",
        default=FLUSH_SECONDS,
        ge=0.0,
        # Well inside the age past which a line is left to the backfill (archive_layout.py).
        le=MAX_LINE_AGE_SECONDS / 2,
        description="An instance writes the archive lines of many requests as one object, at "
        "most this long after the oldest was accepted, inside a request (or at shutdown); 0 "
        "writes each request's lines as an object of its own, beside BigQuery.",
    )
    # google-cloud-storage reads the same variable from the process environment, but the client
    # is given it explicitly so that a configuration read from any mapping (a test's, the local
    # cloud's) reaches the emulator it names.
    storage_emulator_host: str | None = variable(
        "STORAGE_EMULATOR_HOST",
        default=None,
        description="fake-gcs-server's address, e.g. http://127.0.0.1:4443; calls are then "
        "anonymous.",
    )
    redis_enabled: Flag = variable(
        "REDIS_ENABLED",
        default=False,
        description="Push each accepted event to its user's live activity in Redis "
        "(contracts/redis_keys.py, contracts/live_activity.py).",
    )
    redis_ttl_seconds: WholeNumber = variable(
        "REDIS_TTL_SECONDS",
        default=7 * 24 * 3600,
        ge=60,
        le=RETENTION.total_seconds(),
        description="A user's live activity and the daily counters expire this long after the "
        "last write; at most the raw events' retention.",
    )
    redis_timeout_seconds: Number = redis_timeout(
        0.5, at_least=0.05, then="the cache is skipped: a slow Redis never holds up a capture"
    )
    request_deadline_seconds: Number = variable(
        "REQUEST_DEADLINE_SECONDS",
        default=30.0,
        ge=1.0,
        le=MAX_REQUEST_DEADLINE_SECONDS,
        description="One request's whole time budget, shared by every sink; the deployed "
        "function gets its timeout less 15 s.",
    )
    request_read_timeout_seconds: Number = variable(
        "REQUEST_READ_TIMEOUT_SECONDS",
        default=10.0,
        ge=0.1,
        le=3600.0,
        description="How long a client may take to send its whole body; then 408.",
    )
    circuit_failures: WholeNumber = variable(
        "CIRCUIT_FAILURES",
        default=3,
        ge=1,
        le=100,
        description="Failed requests in a row that open a backend's circuit breaker.",
    )
    circuit_cooldown_seconds: Number = variable(
        "CIRCUIT_COOLDOWN_SECONDS",
        default=5.0,
        ge=1.0,
        le=3600.0,
        description="How long an open circuit skips its backend before one request probes it; "
        "also how long an outage outlives its backend at most.",
    )
    # Requests one instance serves at once: the sinks' thread pools are sized from it.
    server_threads: WholeNumber = variable(
        "THREADS",
        default_factory=lambda: 4 * (os.cpu_count() or 1),
        default_text="4 per CPU",
        ge=1,
        le=1000,
        description="Requests an instance serves at once (functions-framework's threads); the "
        "sinks' thread pools hold five threads (a table per family) for each.",
    )
    capture_mode_bucket: str | None = variable(
        "CAPTURE_MODE_BUCKET",
        default=None,
        description="The cost guard's control bucket: capture reads capture-mode.json there and, "
        "while it says archive_only, archives events without streaming them (needs both "
        "sinks on). Unset: capture always streams.",
    )
    capture_mode_ttl_seconds: Number = variable(
        "CAPTURE_MODE_TTL_SECONDS",
        default=MODE_TTL_SECONDS,
        ge=0.1,
        le=600.0,
        description="How long an instance uses the mode it read; the guard waits this long, "
        "plus a request's budget, before it loads the archive.",
    )

    @property
    def uses_write_api(self) -> bool:
        """Whether BigQuery writes go through the Storage Write API: asked for, and not an
        emulator reached over REST only (the appends would leave it for the real API)."""
        return self.bigquery_write_api and (
            self.bigquery_emulator_host is None or self.bigquery_emulator_grpc_host is not None
        )

    @model_validator(mode="before")
    @classmethod
    def _dead_letters_share_the_archive_by_default(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("DEAD_LETTER_BUCKET"):
            data = {**data, "DEAD_LETTER_BUCKET": data.get("GCS_BUCKET")}
        return data

    @model_validator(mode="after")
    def _rules_across_variables(self) -> "CaptureConfig":
        if not (self.bigquery_enabled or self.gcs_enabled):
            raise ValueError(
                "BIGQUERY_ENABLED, GCS_ENABLED: at least one durable sink must be enabled, "
                "otherwise no event could ever be accepted"
            )
        if self.bigquery_enabled:
            self.check_dataset()
        if self.gcs_enabled and self.gcs_bucket is None:
            raise ValueError("GCS_BUCKET: required when GCS_ENABLED is true")
        if self.capture_mode_bucket is not None and not (
            self.gcs_enabled and self.bigquery_enabled
        ):
            raise ValueError(
                "CAPTURE_MODE_BUCKET: the cost guard's archive-only mode needs both "
                "BIGQUERY_ENABLED and GCS_ENABLED true"
            )
        if self.redis_enabled:
            try:
                check_redis_url(self.redis_url)
            except ValueError as error:
                raise ValueError(f"REDIS_URL: {error}") from None
        return self
