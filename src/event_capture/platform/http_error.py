"""A request the function refuses: the status, the rule it broke, a message for the client.

The message is for the client and may quote what it sent (the key it got wrong, the byte that
is not UTF-8); the rule and the position are for the log, which never carries anything the
client sent.
"""

from dataclasses import dataclass
from typing import Any

from event_capture.platform.log_line import POSITION, RULE


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpError:
    status: int
    # Names the broken rule, e.g. nesting_too_deep: what the log and the metrics carry.
    rule: str
    # For the client: may name what it sent.
    message: str
    # Where in the request, without any of its content: "body", "body[char 17]", "events";
    # None for a failure that is not the request's (a bug).
    position: str | None = "request"
    headers: tuple[tuple[str, str], ...] = ()

    def log_fields(self) -> dict[str, Any]:
        """What the structured log line may say about this refusal: rule and position only."""
        if self.position is None:
            return {RULE: self.rule}
        return {RULE: self.rule, POSITION: self.position}


def too_large(limit: int, position: str = "body") -> HttpError:
    return HttpError(
        status=413,
        rule="body_too_large",
        message=f"request body must be at most {limit} bytes",
        position=position,
    )
