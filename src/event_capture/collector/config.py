"""The collector's configuration: the capture pipeline's variables plus its own."""

import os
from collections.abc import Mapping
from dataclasses import dataclass

from event_capture.collector.auth import WriteKeyError, WriteKeys
from event_capture.collector.cors import NO_ORIGINS, AllowedOrigins, OriginError
from event_capture.ingest.config import CONFIG_VARIABLES as CAPTURE_CONFIG_VARIABLES
from event_capture.ingest.config import Config, ConfigError, load_config, number
from event_capture.ingest.limits import RETRY_AFTER_SECONDS

# The collector's own variables; the local cloud withholds a shell's leftovers of these.
COLLECTOR_VARIABLES = frozenset(
    {
        "COLLECTOR_WRITE_KEYS",
        "COLLECTOR_RETRY_AFTER_SECONDS",
        "ELEVENLABS_WEBHOOK_SECRETS",
        "COLLECTOR_ALLOWED_ORIGINS",
    }
)
CONFIG_VARIABLES = CAPTURE_CONFIG_VARIABLES | COLLECTOR_VARIABLES


@dataclass(frozen=True, slots=True, kw_only=True)
class CollectorConfig:
    capture: Config
    write_keys: WriteKeys
    # The Retry-After of a 503. Segment's SDKs wait exactly this long (at most 300 s) before
    # resending, and the wait does not use up one of their retries.
    retry_after_seconds: int
    # ElevenLabs post-call webhook secrets (two during a rotation); none: the route is off.
    elevenlabs_secrets: tuple[str, ...] = ()
    # The web pages' origins a browser SDK may send from (CORS); none: server SDKs only.
    allowed_origins: AllowedOrigins = NO_ORIGINS


def load_collector_config(env: Mapping[str, str] | None = None) -> CollectorConfig:
    env = os.environ if env is None else env
    capture = load_config(env)
    try:
        # In the cloud the value comes from Secret Manager; never quoted in an error.
        write_keys = WriteKeys.parse(env.get("COLLECTOR_WRITE_KEYS", ""))
    except WriteKeyError as error:
        raise ConfigError(f"COLLECTOR_WRITE_KEYS: {error}") from None
    retry_after = number(env, "COLLECTOR_RETRY_AFTER_SECONDS", RETRY_AFTER_SECONDS, 1, 300)
    # In the cloud from Secret Manager too; never quoted in an error.
    secrets = tuple(s.strip() for s in env.get("ELEVENLABS_WEBHOOK_SECRETS", "").split(","))
    secrets = tuple(s for s in secrets if s)
    if any(len(s) < 16 for s in secrets):
        raise ConfigError("ELEVENLABS_WEBHOOK_SECRETS: each secret must be at least 16 characters")
    try:
        origins = AllowedOrigins.parse(env.get("COLLECTOR_ALLOWED_ORIGINS", ""))
    except OriginError as error:
        raise ConfigError(f"COLLECTOR_ALLOWED_ORIGINS: {error}") from None
    return CollectorConfig(
        capture=capture,
        write_keys=write_keys,
        retry_after_seconds=int(retry_after),
        elevenlabs_secrets=secrets,
        allowed_origins=origins,
    )
