"""What the capture path's API calls go through and what their answers become.

``curl_http.CurlHttp`` is the transport; tests put a recording one in its place. Kept apart
from it so that importing a sink does not import libcurl before a call needs it.
"""

import json
from dataclasses import dataclass
from typing import Any, Protocol


class ApiError(Exception):
    """An answer other than 200, with the status and reasons the retry rules read."""

    def __init__(self, code: int, message: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.errors = errors

    @classmethod
    def from_answer(cls, status: int, data: bytes) -> "ApiError":
        # Google's error body: {"error": {"code", "message", "errors": [{"reason", ...}]}}.
        try:
            error = json.loads(data)["error"]
            errors = [e for e in error.get("errors", []) if isinstance(e, dict)]
            return cls(status, str(error.get("message", ""))[:300], errors)
        except (ValueError, KeyError, TypeError, AttributeError):
            return cls(status, data[:200].decode(errors="replace"), [])


@dataclass(frozen=True, slots=True)
class ApiResponse:
    status: int
    data: bytes


class Transport(Protocol):
    """A POST to a path of one API host: ``CurlHttp``, or a test's recording stand-in."""

    def post(
        self, path: str, body: bytes, headers: dict[str, str], *, timeout: float
    ) -> ApiResponse: ...
