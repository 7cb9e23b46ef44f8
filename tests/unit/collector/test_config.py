"""collector.config: the collector reads the capture pipeline's variables and its own."""

from __future__ import annotations

import pytest

from event_capture.collector.config import CONFIG_VARIABLES, load_collector_config
from event_capture.platform.config import ConfigError
from tests.unit.collector.calls import WRITE_KEY

BASE = {"GCP_PROJECT": "p", "GCS_BUCKET": "b"}


def test_the_collector_config_reads_the_capture_variables_and_its_own() -> None:
    config = load_collector_config(
        {**BASE, "COLLECTOR_WRITE_KEYS": WRITE_KEY, "COLLECTOR_RETRY_AFTER_SECONDS": "2"}
    )
    assert config.retry_after_seconds == 2
    assert config.gcs_bucket == "b"
    assert {"COLLECTOR_WRITE_KEYS", "COLLECTOR_RETRY_AFTER_SECONDS", "GCS_BUCKET"} <= (
        CONFIG_VARIABLES
    )


SECRET = "uid_" + "7" * 28 + "ab"  # 34 characters


def test_the_user_id_secrets_are_one_or_two_long_enough_values_never_quoted() -> None:
    def config(value: str) -> tuple[str, ...]:
        env = {**BASE, "COLLECTOR_WRITE_KEYS": WRITE_KEY, "COLLECTOR_USER_ID_SECRETS": value}
        return load_collector_config(env).user_id_secrets

    assert config(f" {SECRET} , {SECRET[::-1]} ") == (SECRET, SECRET[::-1])
    assert load_collector_config({**BASE, "COLLECTOR_WRITE_KEYS": WRITE_KEY}).user_id_secrets == ()
    for value, rule in (
        (SECRET[:31], "at least 32 characters"),
        (",".join([SECRET, SECRET[::-1], SECRET.upper()]), "at most two secrets"),
    ):
        with pytest.raises(ConfigError, match="COLLECTOR_USER_ID_SECRETS") as refused:
            config(value)
        assert rule in str(refused.value) and SECRET[:20] not in str(refused.value)
