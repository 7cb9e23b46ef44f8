"""The forget function's configuration: where capture writes (``contracts.capture_config``, read
as capture reads it: the project, the dataset, the buckets, Redis, the emulators), and the forget
bucket the requests are filed in."""

from collections.abc import Mapping

from event_capture.contracts.capture_config import CaptureConfig
from event_capture.contracts.forget import BATCH_HOURS
from event_capture.platform.config import Number, load, variable


class ForgetConfig(CaptureConfig):
    TITLE = "The forget function's"

    forget_bucket: str = variable(
        "FORGET_BUCKET",
        default="",
        description="The bucket the app files requests to forget a user in, and their receipts "
        "(contracts/forget.py); empty: no requests are read.",
    )
    forget_batch_hours: Number = variable(
        "FORGET_BATCH_HOURS",
        default=BATCH_HOURS,
        ge=0.0,
        le=720.0,
        description="How long after a run first sees a request its user is erased, with every "
        "other request due by then: each erasure reads the user-level tables whole, so a "
        "week's requests share one read. Suppression takes effect at once. At most 30 days "
        "(GDPR Art. 12(3): within one month).",
    )


CONFIG_VARIABLES = ForgetConfig.variables()


def load_forget_config(env: Mapping[str, str] | None = None) -> ForgetConfig:
    return load(ForgetConfig, env)
