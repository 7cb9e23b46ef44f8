"""The cost guard's configuration: where capture writes and how long it holds a mode (the
capture pipeline's variables, ``contracts.capture_config``), plus the guard's own."""

import re
from collections.abc import Mapping
from typing import Any

from pydantic import field_validator, model_validator

from event_capture.contracts.capture_config import CaptureConfig
from event_capture.cost_guard.guard import GuardSettings
from event_capture.platform.config import Number, load, variable

TRANSFER_CONFIG = re.compile(r"projects/[^/]+/locations/[^/]+/transferConfigs/[^/]+")
# After switching back: capture's mode TTL, its longest request, and this margin.
SETTLE_MARGIN_SECONDS = 10.0


class GuardConfig(CaptureConfig):
    TITLE = "The cost guard's"

    # Required by the function (function.build_cost_guard), not by the operator's tool, which
    # reads no notification.
    budget_id: str | None = variable(
        "BUDGET_ID",
        default=None,
        default_text="required by the function",
        description="The budget whose notifications the guard acts on; any other is refused.",
    )
    threshold: Number = variable(
        "GUARD_THRESHOLD",
        default=1.0,
        ge=0.01,
        le=100.0,
        description="The share of the budget at which capture goes archive-only (1.0: 100 %).",
    )
    scheduled_queries: tuple[str, ...] = variable(
        "SCHEDULED_QUERIES",
        default=(),
        default_text="none",
        description="The scheduled queries to pause, by full transfer config name, "
        "comma-separated.",
    )
    settle_seconds: Number | None = variable(
        "GUARD_SETTLE_SECONDS",
        default=None,
        default_text="CAPTURE_MODE_TTL_SECONDS + REQUEST_DEADLINE_SECONDS + 10",
        ge=0.0,
        le=480.0,
        description="How long the guard waits after switching back before it loads the archive.",
    )
    # Set only to reach a local stand-in (anonymous calls).
    data_transfer_endpoint: str | None = variable(
        "DATA_TRANSFER_ENDPOINT", default=None, description="The Data Transfer API's address."
    )
    bigquery_location: str | None = variable(
        "BIGQUERY_LOCATION",
        default=None,
        description="The event tables' location, where their load jobs run.",
    )

    @field_validator("scheduled_queries", mode="before")
    @classmethod
    def _queries(cls, raw: Any) -> Any:
        if not isinstance(raw, str):
            return raw
        queries = tuple(q.strip() for q in raw.split(",") if q.strip())
        if not all(TRANSFER_CONFIG.fullmatch(query) for query in queries):
            raise ValueError(
                "each must be projects/<project>/locations/<location>/transferConfigs/<id>"
            )
        return queries

    @model_validator(mode="after")
    def _needs_the_control_bucket(self) -> "GuardConfig":
        if not self.capture_mode_bucket:
            raise ValueError("CAPTURE_MODE_BUCKET: required (the bucket of capture's mode object)")
        return self

    @property
    def control_bucket(self) -> str:
        """CAPTURE_MODE_BUCKET, which the guard requires."""
        assert self.capture_mode_bucket is not None  # _needs_the_control_bucket
        return self.capture_mode_bucket

    @property
    def archive_bucket(self) -> str:
        """GCS_BUCKET, which the capture settings require with the control bucket."""
        assert self.gcs_bucket is not None  # CaptureConfig's rules across variables
        return self.gcs_bucket

    @property
    def settings(self) -> GuardSettings:
        settle = self.settle_seconds
        if settle is None:
            settle = (
                self.capture_mode_ttl_seconds
                + self.request_deadline_seconds
                + SETTLE_MARGIN_SECONDS
            )
        return GuardSettings(
            threshold=self.threshold, queries=self.scheduled_queries, settle_seconds=settle
        )


GUARD_CONFIG_VARIABLES = GuardConfig.variables() - CaptureConfig.variables()


def load_guard_config(env: Mapping[str, str] | None = None) -> GuardConfig:
    return load(GuardConfig, env)
