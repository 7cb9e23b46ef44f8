"""What every HTTP function here does the same way: JSON answers, the one log line per request,
and the bounded body read (``http_contract.read_body``) on the server's socket."""

import json
import socket
import sys
from datetime import UTC, datetime
from typing import Any

import flask

from event_capture.ingest.http_contract import HttpError, read_body
from event_capture.ingest.limits import MAX_REQUEST_BYTES


def json_response(status: int, body: dict[str, Any], headers: dict[str, str]) -> flask.Response:
    payload = json.dumps(body, separators=(",", ":")).encode()
    # An iterator, so that the response counts as streamed: functions-framework then skips its
    # after-request read of whatever is left of the body, a read without size or time bound.
    # The function has read all of the body it will read (see read_body).
    response = flask.Response(iter((payload,)), status=status, mimetype="application/json")
    response.headers["Content-Length"] = str(len(payload))
    response.headers.update(headers)
    return response


def write_log_line(line: dict[str, Any]) -> None:
    # One line per request on stdout: Cloud Logging parses it into jsonPayload, and takes
    # "time" as the entry's timestamp (so a day's counts are the function's own clock's).
    stamped = {"time": datetime.now(UTC).isoformat().replace("+00:00", "Z"), **line}
    sys.stdout.write(json.dumps(stamped, separators=(",", ":")) + "\n")


def read_request_body(
    request: flask.Request, timeout: float, limit: int = MAX_REQUEST_BYTES
) -> bytes | HttpError:
    """At most ``limit`` + 1 bytes within ``timeout`` seconds, on gunicorn's socket when the
    server exposes it (so a slow body can be cut off)."""
    sock = request.environ.get("gunicorn.socket")
    return read_body(
        request.stream,
        declared_length=request.content_length,
        timeout=timeout,
        sock=sock if isinstance(sock, socket.socket) else None,
        limit=limit,
    )
