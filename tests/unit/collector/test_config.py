"""collector.config: the collector reads the capture pipeline's variables and its own."""

from __future__ import annotations

from event_capture.collector.config import CONFIG_VARIABLES, load_collector_config
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
