"""The forget function's configuration: where capture writes (``contracts.capture_config``, read
as capture reads it: the project, the dataset, the buckets, Redis, the emulators), and the forget
bucket the requests are filed in."""

from collections.abc import Mapping

from event_capture.contracts.capture_config import CaptureConfig
from event_capture.platform.config import load, variable


class ForgetConfig(CaptureConfig):
    TITLE = "The forget function's"

    forget_bucket: str = variable(
        "FORGET_BUCKET",
        default="",
        description="The bucket the app files requests to forget a user in, and their receipts "
        "(contracts/forget.py); empty: no requests are read.",
    )


CONFIG_VARIABLES = ForgetConfig.variables()


def load_forget_config(env: Mapping[str, str] | None = None) -> ForgetConfig:
    return load(ForgetConfig, env)
