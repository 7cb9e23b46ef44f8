"""Configuration from environment variables, read once at start-up.

Invalid configuration stops the instance with a message that names the variable, rather than
failing requests one by one later.
"""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from event_capture.contracts.timing import MODE_TTL_SECONDS
from event_capture.schemas.retention import RETENTION


class ConfigError(ValueError):
    """A configuration variable is missing or invalid; the message names it."""


@dataclass(frozen=True, slots=True)
class Config:
    project: str | None
    bigquery_enabled: bool
    bigquery_dataset: str
    bigquery_emulator_host: str | None
    bigquery_deadline_seconds: float
    gcs_enabled: bool
    gcs_bucket: str | None
    dead_letter_bucket: str | None
    gcs_deadline_seconds: float
    # fake-gcs-server's address; google-cloud-storage reads the same variable from the process
    # environment, but the client is given it explicitly so that a config built from any
    # mapping (a test's, the local cloud's) reaches the emulator it names.
    storage_emulator_host: str | None
    redis_enabled: bool
    redis_url: str
    redis_activity_length: int
    redis_ttl_seconds: int
    redis_timeout_seconds: float
    # One request's whole time budget, shared by every sink (see pipeline.py).
    request_deadline_seconds: float
    # How long a client may take to send its whole body, from the moment the function starts
    # reading it: a thread is held at most this long by a client that stalls.
    request_read_timeout_seconds: float
    circuit_failures: int
    circuit_cooldown_seconds: float
    # Requests one instance serves at once: functions-framework's THREADS (its default is
    # four per CPU). The sinks' thread pools are sized from it.
    server_threads: int
    # The cost guard's control bucket (capture_mode.py); None: capture always streams.
    capture_mode_bucket: str | None = None
    capture_mode_ttl_seconds: float = MODE_TTL_SECONDS


# Every variable load_config reads (a test holds it to that): the local cloud keeps a shell's
# leftovers of these out of the functions it starts.
CONFIG_VARIABLES = frozenset(
    {
        "GCP_PROJECT",
        "GOOGLE_CLOUD_PROJECT",
        "BIGQUERY_ENABLED",
        "BIGQUERY_DATASET",
        "BIGQUERY_EMULATOR_HOST",
        "BIGQUERY_DEADLINE_SECONDS",
        "GCS_ENABLED",
        "GCS_BUCKET",
        "DEAD_LETTER_BUCKET",
        "GCS_DEADLINE_SECONDS",
        "STORAGE_EMULATOR_HOST",
        "REDIS_ENABLED",
        "REDIS_URL",
        "REDIS_ACTIVITY_LENGTH",
        "REDIS_TTL_SECONDS",
        "REDIS_TIMEOUT_SECONDS",
        "REQUEST_DEADLINE_SECONDS",
        "REQUEST_READ_TIMEOUT_SECONDS",
        "CIRCUIT_FAILURES",
        "CIRCUIT_COOLDOWN_SECONDS",
        "THREADS",
        "CAPTURE_MODE_BUCKET",
        "CAPTURE_MODE_TTL_SECONDS",
    }
)

# The most REQUEST_DEADLINE_SECONDS may be; the infrastructure derives it from the function's
# timeout and keeps below this.
MAX_REQUEST_DEADLINE_SECONDS = 300.0

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}: must be true or false, got {raw!r}")


def number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}: must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}: must be between {low:g} and {high:g}, got {raw!r}")
    return value


DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def load_redis_url(env: Mapping[str, str]) -> str:
    """``REDIS_URL``; in the cloud it comes from Secret Manager (it may hold a password)."""
    url = env.get("REDIS_URL") or DEFAULT_REDIS_URL
    if not url.startswith(("redis://", "rediss://", "unix://")):
        # Not quoted: the URL may carry a password.
        raise ConfigError("REDIS_URL: must start with redis://, rediss:// or unix://")
    return url


def load_config(env: Mapping[str, str] | None = None) -> Config:
    env = os.environ if env is None else env
    bigquery_enabled = _flag(env, "BIGQUERY_ENABLED", True)
    gcs_enabled = _flag(env, "GCS_ENABLED", True)
    if not (bigquery_enabled or gcs_enabled):
        raise ConfigError(
            "BIGQUERY_ENABLED, GCS_ENABLED: at least one durable sink must be enabled, "
            "otherwise no event could ever be accepted"
        )
    project = env.get("GCP_PROJECT") or env.get("GOOGLE_CLOUD_PROJECT") or None
    if project is None:
        raise ConfigError("GCP_PROJECT: required (the project that holds the dataset and bucket)")
    dataset = env.get("BIGQUERY_DATASET", "events")
    if bigquery_enabled and not re.fullmatch(r"[A-Za-z0-9_]{1,1024}", dataset):
        raise ConfigError(
            f"BIGQUERY_DATASET: letters, digits and underscores only, got {dataset!r}"
        )
    bucket = env.get("GCS_BUCKET") or None
    if gcs_enabled and bucket is None:
        raise ConfigError("GCS_BUCKET: required when GCS_ENABLED is true")
    # A bucket of its own lets operators who replay dead letters read and delete them without
    # any access to the archive; sharing the archive bucket is the simple default.
    dead_letter_bucket = env.get("DEAD_LETTER_BUCKET") or bucket
    mode_bucket = env.get("CAPTURE_MODE_BUCKET") or None
    if mode_bucket is not None and not (gcs_enabled and bigquery_enabled):
        raise ConfigError(
            "CAPTURE_MODE_BUCKET: the cost guard's archive-only mode needs both "
            "BIGQUERY_ENABLED and GCS_ENABLED true"
        )
    redis_enabled = _flag(env, "REDIS_ENABLED", False)
    redis_url = load_redis_url(env) if redis_enabled else env.get("REDIS_URL", DEFAULT_REDIS_URL)
    return Config(
        project=project,
        bigquery_enabled=bigquery_enabled,
        bigquery_dataset=dataset,
        bigquery_emulator_host=env.get("BIGQUERY_EMULATOR_HOST") or None,
        bigquery_deadline_seconds=number(env, "BIGQUERY_DEADLINE_SECONDS", 20.0, 0.1, 300.0),
        gcs_enabled=gcs_enabled,
        gcs_bucket=bucket,
        dead_letter_bucket=dead_letter_bucket,
        gcs_deadline_seconds=number(env, "GCS_DEADLINE_SECONDS", 10.0, 0.1, 300.0),
        storage_emulator_host=env.get("STORAGE_EMULATOR_HOST") or None,
        redis_enabled=redis_enabled,
        redis_url=redis_url,
        redis_activity_length=int(number(env, "REDIS_ACTIVITY_LENGTH", 100, 1, 10_000)),
        redis_ttl_seconds=int(
            number(env, "REDIS_TTL_SECONDS", 7 * 24 * 3600, 60, RETENTION.total_seconds())
        ),
        redis_timeout_seconds=number(env, "REDIS_TIMEOUT_SECONDS", 0.5, 0.05, 30.0),
        request_deadline_seconds=number(
            env, "REQUEST_DEADLINE_SECONDS", 30.0, 1.0, MAX_REQUEST_DEADLINE_SECONDS
        ),
        request_read_timeout_seconds=number(env, "REQUEST_READ_TIMEOUT_SECONDS", 10.0, 0.1, 3600.0),
        circuit_failures=int(number(env, "CIRCUIT_FAILURES", 3, 1, 100)),
        circuit_cooldown_seconds=number(env, "CIRCUIT_COOLDOWN_SECONDS", 5.0, 1.0, 3600.0),
        server_threads=int(number(env, "THREADS", 4 * (os.cpu_count() or 1), 1, 1000)),
        capture_mode_bucket=mode_bucket,
        capture_mode_ttl_seconds=number(
            env, "CAPTURE_MODE_TTL_SECONDS", MODE_TTL_SECONDS, 0.1, 600.0
        ),
    )
