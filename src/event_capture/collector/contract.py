"""The Segment tracking API's request contract: routes, limits and the body's shape.

Reading, inflating and parsing the body are the capture function's (``ingest.http_contract``),
with the collector's byte limit; only what differs lives here.
"""

import re
from dataclasses import dataclass, replace
from typing import Any

from event_capture.platform.http_error import HttpError
from event_capture.platform.request_checks import check_request

# Segment's documented limits (HTTP tracking API): 500 KB per batch and 32 KB per call. The
# batch limit is the whole body, as sent and again once inflated: below the capture function's
# 1 MB, because this function is public and the SDKs already cut their batches below it
# (analytics-python at 475,000 bytes, analytics-node at 480 KB). The call limit applies to
# each mapped call as sent; the stored row then meets the capture path's own 32 KB as well.
MAX_BATCH_BYTES = 500 * 1024
MAX_CALL_BYTES = 32 * 1024
# Segment's limit of calls per batch; the SDKs send at most 100 (the Node SDK 15).
MAX_CALLS_PER_BATCH = 2_500

CALL_TYPES = ("track", "page", "identify", "screen", "group", "alias")
ROUTES = ("batch", *CALL_TYPES)

# The browser SDK (@segment/analytics-next) posts each call to apiHost + "/" + the type's first
# letter, or batches to "/b" (plugins/segmentio/index.ts and batched-dispatcher.ts; its default
# apiHost is api.segment.io/v1).
SHORT_ROUTES = {"b": "batch", **{kind[0]: kind for kind in CALL_TYPES}}
# What the browser SDK sends its JSON as: text/plain, a CORS-safelisted type (createHeaders in
# plugins/segmentio/shared-dispatcher.ts). The body is parsed as JSON whichever it is.
BODY_TYPES = ("application/json", "text/plain")

# /v1/<route> at the end of any path: the Python SDKs append /v1/batch to the host they are
# given (a Cloud Functions URL's /<function> stays in front), the Node SDK replaces the path,
# the browser SDK appends /<letter> to an apiHost that holds the prefix.
_ROUTE = re.compile(r"(?:.*/)?v1/(" + "|".join((*ROUTES, *SHORT_ROUTES)) + r")/?", re.DOTALL)


def route(path: str) -> str | None:
    """``batch`` or a call type for a tracking API path, else None."""
    match = _ROUTE.fullmatch(path)
    return SHORT_ROUTES.get(match.group(1), match.group(1)) if match else None


def request_refusal(
    method: str, mimetype: str, content_length: int | None, content_encoding: str | None
) -> HttpError | None:
    """The capture function's checks before the body, with the collector's body types and
    byte limit."""
    as_json = "application/json" if mimetype in BODY_TYPES else mimetype
    refused = check_request(
        method, as_json, content_length, content_encoding, limit=MAX_BATCH_BYTES
    )
    if refused is not None and refused.rule == "content_type_unsupported":
        message = f"content type must be {' or '.join(BODY_TYPES)}, got {mimetype or 'none'!r}"
        return replace(refused, message=message)
    return refused


@dataclass(frozen=True, slots=True)
class Calls:
    # Each call with the batch's context merged in (the call's own keys win).
    calls: list[Any]
    # The batch's sentAt, for calls without their own.
    sent_at: Any
    # Field paths of errors start with this: "batch[3]." or "" for a single call.
    batched: bool


def write_key_of(document: Any) -> Any:
    return document.get("writeKey") if isinstance(document, dict) else None


def calls_of(document: Any, route_name: str) -> Calls | HttpError:
    """The calls of a parsed body, or the 400 for a body that is not a batch at all."""
    if not isinstance(document, dict):
        return _shape("body must be a JSON object", "body")
    if route_name != "batch":
        return Calls([{**document, "type": route_name}], document.get("sentAt"), batched=False)
    batch = document.get("batch")
    if not isinstance(batch, list):
        return _shape('body must be {"batch": [...]}', "batch", rule="batch_type")
    if len(batch) > MAX_CALLS_PER_BATCH:
        return HttpError(
            status=413,
            rule="too_many_events",
            message=f"batch: at most {MAX_CALLS_PER_BATCH} calls per request",
            position="batch",
        )
    context = document.get("context")
    if isinstance(context, dict) and context:
        batch = [_with_context(call, context) for call in batch]
    return Calls(batch, document.get("sentAt"), batched=True)


def _with_context(call: Any, context: dict[str, Any]) -> Any:
    """A batch's top-level context merged into a call's, as Segment's API does."""
    if not isinstance(call, dict):
        return call
    own = call.get("context")
    if own is None:
        return {**call, "context": context}
    return {**call, "context": {**context, **own}} if isinstance(own, dict) else call


def _shape(message: str, position: str, rule: str = "body_shape") -> HttpError:
    return HttpError(status=400, rule=rule, message=message, position=position)
