"""What a sink reports back for one request, for the response and the structured log."""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class SinkStatus(StrEnum):
    OK = "ok"
    PARTIAL = "partial"
    FAILED = "failed"
    DISABLED = "disabled"
    SKIPPED = "skipped"


def status_of(succeeded: int, failed: int) -> SinkStatus:
    """OK when nothing failed, PARTIAL when some rows made it, FAILED when none did."""
    if not failed:
        return SinkStatus.OK
    return SinkStatus.PARTIAL if succeeded else SinkStatus.FAILED


@dataclass(slots=True)
class SinkOutcome:
    status: SinkStatus
    rows: int = 0
    latency_ms: float = 0.0
    retries: int = 0
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "status": self.status.value,
            "rows": self.rows,
            "latency_ms": round(self.latency_ms, 1),
        }
        if self.retries:
            result["retries"] = self.retries
        if self.error:
            result["error"] = self.error
        result.update(self.extra)
        return result
