"""The collector's configuration: the capture pipeline's variables, which it runs, plus its own."""

from collections.abc import Mapping
from typing import Any

from pydantic import ConfigDict, field_validator

from event_capture.collector.auth import WriteKeys
from event_capture.collector.cors import NO_ORIGINS, AllowedOrigins
from event_capture.contracts.capture_config import CaptureConfig
from event_capture.platform.config import Number, WholeNumber, load, variable
from event_capture.schemas import user_proof
from event_capture.schemas.http_limits import RETRY_AFTER_SECONDS

MIN_SECRET_LENGTH = 16


class CollectorConfig(CaptureConfig):
    TITLE = "The collector's"
    model_config = ConfigDict(arbitrary_types_allowed=True)

    # From Secret Manager in the cloud; never quoted in an error.
    write_keys: WriteKeys = variable(
        "COLLECTOR_WRITE_KEYS",
        default="",
        default_text="required",
        validate_default=True,
        secret=True,
        description="The write keys SDKs send (comma-separated, two during a rotation).",
    )
    # Segment's SDKs wait exactly this long (at most 300 s) before resending, and the wait does
    # not use up one of their retries.
    retry_after_seconds: WholeNumber = variable(
        "COLLECTOR_RETRY_AFTER_SECONDS",
        default=RETRY_AFTER_SECONDS,
        ge=1,
        le=300,
        description="The Retry-After of a 503.",
    )
    elevenlabs_secrets: tuple[str, ...] = variable(
        "ELEVENLABS_WEBHOOK_SECRETS",
        default=(),
        default_text="none",
        secret=True,
        description="ElevenLabs post-call webhook secrets (two during a rotation); none: off.",
    )
    user_id_secrets: tuple[str, ...] = variable(
        "COLLECTOR_USER_ID_SECRETS",
        default=(),
        default_text="none",
        secret=True,
        description="The secrets the app's backend proves user ids with (two during a "
        f"rotation; {user_proof.PATH}); none: a client key's calls keep no user id.",
    )
    allowed_origins: AllowedOrigins = variable(
        "COLLECTOR_ALLOWED_ORIGINS",
        default=NO_ORIGINS,
        default_text="none",
        description="The web pages' origins a browser SDK may send from (CORS); none: no page.",
    )

    # The edge's limits (limits.py): per client address and client key, per instance. Server
    # keys pass them all.
    address_rate: Number = variable(
        "COLLECTOR_ADDRESS_RATE",
        default=10.0,
        ge=0.1,
        le=10_000.0,
        description="Requests a second one client address may send with client keys.",
    )
    address_burst: WholeNumber = variable(
        "COLLECTOR_ADDRESS_BURST",
        default=40,
        ge=1,
        le=100_000,
        description="Requests one client address may send at once above its rate.",
    )
    address_in_flight: WholeNumber = variable(
        "COLLECTOR_ADDRESS_IN_FLIGHT",
        default=4,
        ge=1,
        le=1_000,
        description="Requests of one client address served at once by an instance.",
    )
    client_key_rate: Number = variable(
        "COLLECTOR_CLIENT_KEY_RATE",
        default=200.0,
        ge=0.1,
        le=100_000.0,
        description="Requests a second one client key may send to an instance.",
    )
    client_key_burst: WholeNumber = variable(
        "COLLECTOR_CLIENT_KEY_BURST",
        default=400,
        ge=1,
        le=1_000_000,
        description="Requests one client key may send at once above its rate.",
    )
    daily_requests: WholeNumber = variable(
        "COLLECTOR_DAILY_REQUESTS",
        default=0,
        ge=0,
        default_text="0 (no cap)",
        description="Requests a day per client key this instance takes (its share of the key's "
        "cap); 0: no cap.",
    )
    daily_events: WholeNumber = variable(
        "COLLECTOR_DAILY_EVENTS",
        default=0,
        ge=0,
        default_text="0 (no cap)",
        description="Calls a day per client key this instance takes (its share); 0: no cap.",
    )
    # analytics-node gives up on a request 10 s after sending it; a body still arriving after
    # this is cut off with a 408 and its thread freed.
    read_timeout_seconds: Number = variable(
        "COLLECTOR_READ_TIMEOUT_SECONDS",
        default=5.0,
        ge=0.5,
        le=60.0,
        description="How long the collector waits for a request's body.",
    )

    @field_validator("write_keys", mode="before")
    @classmethod
    def _keys(cls, raw: Any) -> Any:
        return WriteKeys.parse(raw) if isinstance(raw, str) else raw

    @field_validator("elevenlabs_secrets", mode="before")
    @classmethod
    def _secrets(cls, raw: Any) -> Any:
        return _secret_list(raw, MIN_SECRET_LENGTH) if isinstance(raw, str) else raw

    @field_validator("user_id_secrets", mode="before")
    @classmethod
    def _proof_secrets(cls, raw: Any) -> Any:
        if not isinstance(raw, str):
            return raw
        secrets = _secret_list(raw, user_proof.MIN_SECRET_LENGTH)
        if len(secrets) > 2:
            raise ValueError("at most two secrets (the current and the next)")
        return secrets

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _origins(cls, raw: Any) -> Any:
        return AllowedOrigins.parse(raw) if isinstance(raw, str) else raw


def _secret_list(raw: str, min_length: int) -> tuple[str, ...]:
    """Comma-separated secrets; the message never quotes one."""
    secrets = tuple(s for s in (s.strip() for s in raw.split(",")) if s)
    if any(len(s) < min_length for s in secrets):
        raise ValueError(f"each secret must be at least {min_length} characters")
    return secrets


def load_collector_config(env: Mapping[str, str] | None = None) -> CollectorConfig:
    return load(CollectorConfig, env)


CONFIG_VARIABLES = CollectorConfig.variables()
