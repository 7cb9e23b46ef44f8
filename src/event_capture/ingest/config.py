"""The capture function's configuration: the capture pipeline's (``contracts.capture_config``),
read once at start-up."""

from collections.abc import Mapping

from event_capture.contracts.capture_config import CaptureConfig
from event_capture.platform.config import ConfigError, load

__all__ = ["CONFIG_VARIABLES", "Config", "ConfigError", "load_config"]

Config = CaptureConfig

# Every variable load_config reads: the local cloud keeps a shell's leftovers of these out of
# the functions it starts.
CONFIG_VARIABLES = CaptureConfig.variables()


def load_config(env: Mapping[str, str] | None = None) -> CaptureConfig:
    return load(CaptureConfig, env)
