"""contracts.capture_config, the capture pipeline's configuration, as the capture function reads
it (``ingest.config.load_config``): defaults, the rules between variables, and errors that name
the variable."""

from __future__ import annotations

from typing import Any

import pytest

from event_capture.contracts.timing import MODE_TTL_SECONDS
from event_capture.ingest.config import CONFIG_VARIABLES, ConfigError, load_config

MINIMAL = {"GCP_PROJECT": "shop-analytics", "GCS_BUCKET": "shop-events"}


def env(**overrides: str) -> dict[str, str]:
    return {**MINIMAL, **overrides}


def test_defaults() -> None:
    config = load_config(MINIMAL)

    assert config.project == "shop-analytics"
    assert config.bigquery_enabled is True
    assert config.gcs_enabled is True
    assert config.redis_enabled is False
    assert config.gcs_bucket == "shop-events"
    assert config.bigquery_dataset == "events"
    assert config.bigquery_emulator_host is None
    assert config.bigquery_write_api is False
    assert config.bigquery_deadline_seconds == 20.0
    assert config.gcs_deadline_seconds == 10.0
    assert config.redis_url == "redis://127.0.0.1:6379/0"
    assert config.redis_activity_length == 100
    assert config.redis_ttl_seconds == 7 * 24 * 3600
    assert config.redis_timeout_seconds == 0.5


def test_google_cloud_project_is_a_fallback_for_gcp_project() -> None:
    config = load_config({"GOOGLE_CLOUD_PROJECT": "fallback", "GCS_BUCKET": "b"})

    assert config.project == "fallback"
    assert load_config({**MINIMAL, "GOOGLE_CLOUD_PROJECT": "other"}).project == "shop-analytics"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        (" yes ", True),
        ("1", True),
        ("on", True),
        ("false", False),
        ("No", False),
        ("0", False),
        ("off", False),
    ],
)
def test_boolean_spellings(raw: str, expected: bool) -> None:
    assert load_config(env(REDIS_ENABLED=raw)).redis_enabled is expected


def test_values_are_read_and_typed() -> None:
    config = load_config(
        env(
            BIGQUERY_DATASET="events_dev",
            BIGQUERY_EMULATOR_HOST="http://127.0.0.1:9050",
            BIGQUERY_EMULATOR_GRPC_HOST="127.0.0.1:9060",
            BIGQUERY_WRITE_API="true",
            BIGQUERY_DEADLINE_SECONDS="7.5",
            GCS_DEADLINE_SECONDS="3",
            REDIS_ENABLED="true",
            REDIS_URL="rediss://cache.internal:6380/2",
            REDIS_ACTIVITY_LENGTH="250",
            REDIS_TTL_SECONDS="86400",
            REDIS_TIMEOUT_SECONDS="2.5",
        )
    )

    assert config.bigquery_dataset == "events_dev"
    assert config.bigquery_emulator_host == "http://127.0.0.1:9050"
    assert config.bigquery_emulator_grpc_host == "127.0.0.1:9060"
    assert config.bigquery_write_api is True
    assert config.bigquery_deadline_seconds == 7.5
    assert config.gcs_deadline_seconds == 3.0
    assert config.redis_enabled is True
    assert config.redis_url == "rediss://cache.internal:6380/2"
    assert config.redis_activity_length == 250
    assert isinstance(config.redis_activity_length, int)
    assert config.redis_ttl_seconds == 86400
    assert isinstance(config.redis_ttl_seconds, int)
    assert config.redis_timeout_seconds == 2.5


def test_gcs_off_needs_no_bucket() -> None:
    config = load_config({"GCP_PROJECT": "p", "GCS_ENABLED": "false"})

    assert config.gcs_enabled is False
    assert config.bigquery_enabled is True
    assert config.gcs_bucket is None


def test_bigquery_off_with_gcs_on_is_allowed() -> None:
    config = load_config(env(BIGQUERY_ENABLED="false"))

    assert (config.bigquery_enabled, config.gcs_enabled) == (False, True)


def test_empty_numbers_fall_back_to_defaults() -> None:
    config = load_config(env(BIGQUERY_DEADLINE_SECONDS="", REDIS_TTL_SECONDS="  "))

    assert config.bigquery_deadline_seconds == 20.0
    assert config.redis_ttl_seconds == 7 * 24 * 3600


def test_ttl_of_exactly_90_days_is_allowed() -> None:
    ninety_days = 90 * 24 * 3600

    assert load_config(env(REDIS_TTL_SECONDS=str(ninety_days))).redis_ttl_seconds == ninety_days


def test_a_bad_redis_url_is_named_but_not_quoted_since_it_may_hold_a_password() -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(env(REDIS_ENABLED="true", REDIS_URL="http://:s3cret@cache:6379"))

    assert "REDIS_URL" in str(raised.value) and "s3cret" not in str(raised.value)


def test_redis_url_is_not_checked_while_redis_is_off() -> None:
    assert load_config(env(REDIS_URL="localhost:6379")).redis_url == "localhost:6379"


@pytest.mark.parametrize(
    ("environment", "variable", "fragment"),
    [
        pytest.param(env(BIGQUERY_ENABLED="maybe"), "BIGQUERY_ENABLED", "'maybe'", id="bad-bool"),
        pytest.param(env(GCS_ENABLED="enabled"), "GCS_ENABLED", "'enabled'", id="bad-gcs-bool"),
        pytest.param(env(REDIS_ENABLED="2"), "REDIS_ENABLED", "true or false", id="bad-redis-bool"),
        pytest.param({"GCS_BUCKET": "b"}, "GCP_PROJECT", "required", id="missing-project"),
        pytest.param(
            {"GCP_PROJECT": "", "GCS_BUCKET": "b"}, "GCP_PROJECT", "required", id="empty-project"
        ),
        pytest.param({"GCP_PROJECT": "p"}, "GCS_BUCKET", "required", id="gcs-on-without-bucket"),
        pytest.param(
            {"GCP_PROJECT": "p", "GCS_BUCKET": ""}, "GCS_BUCKET", "required", id="empty-bucket"
        ),
        pytest.param(
            env(BIGQUERY_ENABLED="false", GCS_ENABLED="false"),
            "BIGQUERY_ENABLED",
            "at least one durable sink",
            id="both-sinks-off",
        ),
        pytest.param(
            env(BIGQUERY_DATASET="events-prod"),
            "BIGQUERY_DATASET",
            "'events-prod'",
            id="bad-dataset",
        ),
        pytest.param(
            env(BIGQUERY_DEADLINE_SECONDS="20s"),
            "BIGQUERY_DEADLINE_SECONDS",
            "must be a number",
            id="deadline-not-numeric",
        ),
        pytest.param(
            env(BIGQUERY_DEADLINE_SECONDS="0"),
            "BIGQUERY_DEADLINE_SECONDS",
            "between",
            id="deadline-zero",
        ),
        pytest.param(
            env(BIGQUERY_DEADLINE_SECONDS="301"),
            "BIGQUERY_DEADLINE_SECONDS",
            "between",
            id="deadline-too-long",
        ),
        pytest.param(
            env(BIGQUERY_DEADLINE_SECONDS="-5"),
            "BIGQUERY_DEADLINE_SECONDS",
            "between",
            id="deadline-negative",
        ),
        pytest.param(
            env(BIGQUERY_DEADLINE_SECONDS="nan"),
            "BIGQUERY_DEADLINE_SECONDS",
            "between",
            id="deadline-nan",
        ),
        pytest.param(
            env(GCS_DEADLINE_SECONDS="inf"),
            "GCS_DEADLINE_SECONDS",
            "between",
            id="gcs-deadline-inf",
        ),
        pytest.param(
            env(REDIS_TTL_SECONDS=str(90 * 24 * 3600 + 1)),
            "REDIS_TTL_SECONDS",
            "between",
            id="ttl-over-90-days",
        ),
        pytest.param(env(REDIS_TTL_SECONDS="59"), "REDIS_TTL_SECONDS", "between", id="ttl-short"),
        pytest.param(
            env(REDIS_TIMEOUT_SECONDS="60"), "REDIS_TIMEOUT_SECONDS", "between", id="redis-timeout"
        ),
        pytest.param(
            env(REDIS_ACTIVITY_LENGTH="0"), "REDIS_ACTIVITY_LENGTH", "between", id="length-zero"
        ),
        pytest.param(
            env(REDIS_ENABLED="true", REDIS_URL="localhost:6379"),
            "REDIS_URL",
            "redis://",
            id="bad-redis-url",
        ),
        pytest.param(
            env(REDIS_ENABLED="true", REDIS_URL="http://cache:6379"),
            "REDIS_URL",
            "redis://",
            id="http-redis-url",
        ),
    ],
)
def test_invalid_configuration_names_the_variable(
    environment: dict[str, str], variable: str, fragment: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(environment)

    message = str(raised.value)
    assert message.startswith(variable), message
    assert fragment in message
    assert isinstance(raised.value, ValueError)


def test_reads_os_environ_when_no_mapping_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CONFIG_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GCP_PROJECT", "from-environ")
    monkeypatch.setenv("GCS_BUCKET", "bucket-from-environ")

    config = load_config()

    assert config.project == "from-environ"
    assert config.gcs_bucket == "bucket-from-environ"
    assert config.bigquery_deadline_seconds == 20.0


@pytest.mark.parametrize("dataset", ["événements", "events²", "ev_١٢"])
def test_non_ascii_dataset_is_refused_at_start_up(dataset: str) -> None:
    with pytest.raises(ConfigError, match=r"^BIGQUERY_DATASET"):
        load_config(env(BIGQUERY_DATASET=dataset))


def test_dead_letters_share_the_archive_bucket_by_default() -> None:
    assert load_config(env()).dead_letter_bucket == "shop-events"


def test_dead_letters_can_have_a_bucket_of_their_own() -> None:
    config = load_config(env(DEAD_LETTER_BUCKET="shop-dead-letters"))

    assert (config.gcs_bucket, config.dead_letter_bucket) == ("shop-events", "shop-dead-letters")


class RecordingEnv(dict[str, str]):
    """An environment that records every variable asked for."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return super().__getitem__(key)


def test_config_variables_name_every_variable_load_config_reads() -> None:
    # Every branch: the project from either variable, Redis on.
    first = RecordingEnv({"GCP_PROJECT": "p", "GCS_BUCKET": "b", "REDIS_ENABLED": "true"})
    second = RecordingEnv({"GOOGLE_CLOUD_PROJECT": "p", "GCS_BUCKET": "b"})

    load_config(first)
    load_config(second)

    assert first.asked | second.asked == CONFIG_VARIABLES


def test_the_read_timeout_defaults_to_ten_seconds() -> None:
    base = {"GCP_PROJECT": "p", "GCS_BUCKET": "b"}
    assert load_config(base).request_read_timeout_seconds == 10.0
    assert (
        load_config(base | {"REQUEST_READ_TIMEOUT_SECONDS": " "}).request_read_timeout_seconds
        == 10.0
    )
    assert (
        load_config(base | {"REQUEST_READ_TIMEOUT_SECONDS": "2.5"}).request_read_timeout_seconds
        == 2.5
    )


@pytest.mark.parametrize("raw", ["soon", "0", "-1", "nan", "inf", "3601"])
def test_an_invalid_read_timeout_stops_start_up_naming_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match="REQUEST_READ_TIMEOUT_SECONDS"):
        load_config({"GCP_PROJECT": "p", "GCS_BUCKET": "b", "REQUEST_READ_TIMEOUT_SECONDS": raw})


# --------------------------------------------------------------------------------------------
# The capture mode's settings
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "switched_off",
    [
        pytest.param({"GCS_ENABLED": "false"}, id="gcs"),
        pytest.param({"BIGQUERY_ENABLED": "0"}, id="bigquery"),
    ],
)
def test_a_mode_bucket_needs_both_bigquery_and_the_archive(switched_off: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config({**MINIMAL, "CAPTURE_MODE_BUCKET": "shop-control", **switched_off})

    assert str(raised.value).startswith("CAPTURE_MODE_BUCKET: ")
    assert "BIGQUERY_ENABLED and GCS_ENABLED" in str(raised.value)


def test_the_mode_bucket_and_ttl_are_read() -> None:
    config = load_config(
        {**MINIMAL, "CAPTURE_MODE_BUCKET": "shop-control", "CAPTURE_MODE_TTL_SECONDS": "5"}
    )

    assert (config.capture_mode_bucket, config.capture_mode_ttl_seconds) == ("shop-control", 5.0)
    assert load_config(MINIMAL).capture_mode_bucket is None
    assert load_config(MINIMAL).capture_mode_ttl_seconds == MODE_TTL_SECONDS


@pytest.mark.parametrize("ttl", ["0", "601", "soon"])
def test_a_bad_mode_ttl_names_the_variable(ttl: str) -> None:
    with pytest.raises(ConfigError, match=r"^CAPTURE_MODE_TTL_SECONDS: "):
        load_config({**MINIMAL, "CAPTURE_MODE_TTL_SECONDS": ttl})


def test_an_emulator_without_its_grpc_address_gets_insert_all() -> None:
    emulator = env(BIGQUERY_EMULATOR_HOST="http://127.0.0.1:9050", BIGQUERY_WRITE_API="true")
    assert load_config(emulator).uses_write_api is False

    # Negative controls: with the address, or in the cloud, the Write API is used when asked.
    assert load_config({**emulator, "BIGQUERY_EMULATOR_GRPC_HOST": "h:1"}).uses_write_api
    assert load_config(env(BIGQUERY_WRITE_API="true")).uses_write_api
    assert not load_config(MINIMAL).uses_write_api
