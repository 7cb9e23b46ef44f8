"""The archive backfill's configuration: where capture writes (the capture pipeline's
variables, ``contracts.capture_config``: the project, the dataset, the archive's bucket and the
emulators), read as capture reads them."""

from collections.abc import Mapping

from event_capture.contracts.capture_config import CaptureConfig
from event_capture.platform.config import load


class BackfillConfig(CaptureConfig):
    TITLE = "The archive backfill's"


CONFIG_VARIABLES = BackfillConfig.variables()


def load_backfill_config(env: Mapping[str, str] | None = None) -> BackfillConfig:
    return load(BackfillConfig, env)
