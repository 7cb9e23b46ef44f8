"""A stand-in for ``curl_http.CurlHttp``: answers every POST with one answer, records each.

The real transport's calls go to the BigQuery emulator and fake-gcs-server in every
integration test that captures an event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from event_capture.platform.api_transport import ApiResponse


@dataclass
class RecordingTransport:
    answer: ApiResponse
    calls: list[dict[str, Any]] = field(default_factory=list)

    def post(
        self, path: str, body: bytes, headers: dict[str, str], *, timeout: float
    ) -> ApiResponse:
        self.calls.append({"path": path, "body": body, "headers": headers, "timeout": timeout})
        return self.answer
