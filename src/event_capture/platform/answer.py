"""A function's answer to one HTTP request: status, JSON body, headers and its one log line."""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import flask


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)
    # The request's log line (platform.log_line writes it, time-stamped).
    log: dict[str, Any] = field(default_factory=dict)


def json_response(
    status: int, body: Mapping[str, Any], headers: Mapping[str, str]
) -> flask.Response:
    payload = json.dumps(body, separators=(",", ":")).encode()
    # An iterator, so that the response counts as streamed: functions-framework then skips its
    # after-request read of whatever is left of the body, a read without size or time bound.
    # The function has read all of the body it will read (see body_reading.read_body).
    response = flask.Response(iter((payload,)), status=status, mimetype="application/json")
    response.headers["Content-Length"] = str(len(payload))
    response.headers.update(headers)
    return response
