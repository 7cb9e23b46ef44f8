"""What the body tests of the capture function share: a body from a document, and the two
outcomes of parsing one."""

from __future__ import annotations

import json
from typing import Any

from event_capture.ingest.body import ParsedBody
from event_capture.platform.http_error import HttpError


def refused(result: ParsedBody | HttpError | bytes | None) -> HttpError:
    assert isinstance(result, HttpError), result
    return result


def parsed(result: ParsedBody | HttpError) -> ParsedBody:
    assert isinstance(result, ParsedBody), result
    return result


def encoded(document: Any) -> bytes:
    return json.dumps(document).encode()
