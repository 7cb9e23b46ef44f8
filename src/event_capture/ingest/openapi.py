"""The capture endpoint's OpenAPI document, generated from the event models.

``python -m event_capture.ingest.openapi`` writes ``functions/capture/openapi.json``;
``--check`` only reports drift (CI). The request schemas are the pydantic models' own JSON
schemas, so the document cannot promise a field the function does not accept. It is a
superset of what the function takes only where a rule is code, not schema: the
``occurred_at`` window, currency codes, scrubbing, ``ended_at`` on ``session_end``.
"""

import argparse
import functools
import json
import operator
import sys
from pathlib import Path
from typing import Annotated, Any

from pydantic import ConfigDict, Field, RootModel, TypeAdapter, create_model

from event_capture.ingest.limits import (
    MAX_EVENT_BYTES,
    MAX_EVENTS_PER_REQUEST,
    MAX_REQUEST_BYTES,
    RETRY_AFTER_SECONDS,
)
from event_capture.platform.request_checks import ACCEPTED_ENCODINGS
from event_capture.schemas.envelope import EventEnvelope
from event_capture.schemas.families import FAMILIES
from event_capture.schemas.responses import CaptureResponse, ErrorResponse

DOCUMENT_PATH = Path(__file__).resolve().parents[3] / "functions" / "capture" / "openapi.json"
REF_TEMPLATE = "#/components/schemas/{model}"
JSON = "application/json"

# The discriminated union over every family: a family added to FAMILIES is in the document
# at the next generation, and the drift test says so. Built at run time from the tuple, which
# a type checker cannot follow; hence the Any.
_families: Any = functools.reduce(operator.or_, FAMILIES)
_root: Any = RootModel
Event: type[RootModel[Any]] = create_model(
    "Event",
    __base__=_root[Annotated[_families, Field(discriminator="event_type")]],
    __doc__="One event; event_type selects the family and so the fields it may carry.",
)
_event: Any = Event

EventBatch = create_model(
    "EventBatch",
    __config__=ConfigDict(extra="forbid"),
    __doc__=f"Up to {MAX_EVENTS_PER_REQUEST} events, each validated on its own.",
    events=(
        list[_event],
        Field(min_length=1, max_length=MAX_EVENTS_PER_REQUEST, description="The events."),
    ),
)


def _schemas() -> dict[str, Any]:
    inputs: list[tuple[str, Any, TypeAdapter[Any]]] = [
        ("Event", "validation", TypeAdapter(Event)),
        ("EventBatch", "validation", TypeAdapter(EventBatch)),
        ("CaptureResponse", "serialization", TypeAdapter(CaptureResponse)),
        ("ErrorResponse", "serialization", TypeAdapter(ErrorResponse)),
    ]
    _, definitions = TypeAdapter.json_schemas(inputs, ref_template=REF_TEMPLATE)
    schemas: dict[str, Any] = definitions["$defs"]
    # parse_body tells the two apart by the "events" key; no body matches both, because an
    # event forbids unknown keys and a batch has no other.
    schemas["CaptureRequest"] = {
        "title": "CaptureRequest",
        "description": 'One event object, or {"events": [...]}.',
        "oneOf": [_ref("Event"), _ref("EventBatch")],
    }
    return dict(sorted(schemas.items()))


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF_TEMPLATE.format(model=name)}


def _answer(description: str, schema: dict[str, Any], **headers: str) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        response["headers"] = {name: {"$ref": ref} for name, ref in headers.items()}
    return response


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``POST /``, as committed in functions/capture/openapi.json."""
    capture, error = _ref("CaptureResponse"), _ref("ErrorResponse")
    refused = f"request body over {MAX_REQUEST_BYTES} bytes, or more than {MAX_EVENTS_PER_REQUEST}"
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Event capture",
            "version": EventEnvelope.SCHEMA_VERSION,
            "description": (
                "Captures app events into BigQuery and Cloud Storage. Each event is validated "
                "on its own: one bad event never costs the good ones in its request. At most "
                f"{MAX_REQUEST_BYTES} bytes per request and {MAX_EVENT_BYTES} bytes per stored "
                "event. Generated from the event models by event_capture.ingest.openapi."
            ),
        },
        "paths": {
            "/": {
                "post": {
                    "operationId": "capture",
                    "summary": "Capture one event or a batch of events",
                    "parameters": [
                        {
                            "name": "Content-Encoding",
                            "in": "header",
                            "required": False,
                            "description": (
                                f"{ACCEPTED_ENCODINGS}; a gzip body may inflate to at most "
                                f"{MAX_REQUEST_BYTES} bytes (413 beyond)."
                            ),
                            "schema": {"type": "string", "enum": ["gzip", "x-gzip", "identity"]},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {JSON: {"schema": _ref("CaptureRequest")}},
                    },
                    "responses": {
                        "200": _answer("Every event accepted and durable.", capture),
                        "207": _answer(
                            "Some events rejected (each under rejections), the others accepted.",
                            capture,
                        ),
                        "400": _answer(
                            "Malformed JSON, a wrong body shape, or no valid event (then with "
                            "the rejections).",
                            {"anyOf": [capture, error]},
                        ),
                        "405": _answer("Not POST.", error, Allow="#/components/headers/Allow"),
                        "408": _answer("The body did not arrive in time.", error),
                        "413": _answer(f"The {refused} events.", error),
                        "415": _answer(
                            "Content-Type is not application/json, or Content-Encoding is "
                            f"not {ACCEPTED_ENCODINGS}.",
                            error,
                        ),
                        "503": _answer(
                            "Valid events could not be stored durably: resend the same request "
                            "after Retry-After seconds (event_id de-duplicates).",
                            capture,
                            **{"Retry-After": "#/components/headers/RetryAfter"},
                        ),
                    },
                }
            }
        },
        "components": {
            "schemas": _schemas(),
            "headers": {
                "Allow": {
                    "description": "The one method the endpoint takes.",
                    "schema": {"type": "string", "examples": ["POST"]},
                },
                "RetryAfter": {
                    "description": "Seconds to wait before resending the request.",
                    "required": True,
                    "schema": {
                        "type": "string",
                        "pattern": "^[0-9]+$",
                        "examples": [str(RETRY_AFTER_SECONDS)],
                    },
                },
            },
        },
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the file is out of date")
    args = parser.parse_args(argv)
    text = render(openapi_document())
    current = DOCUMENT_PATH.read_text() if DOCUMENT_PATH.exists() else None
    if current == text:
        return 0
    if args.check:
        print(
            f"{DOCUMENT_PATH}: out of date with the event models; "
            "run python -m event_capture.ingest.openapi"
        )
        return 1
    DOCUMENT_PATH.write_text(text)
    print(f"wrote {DOCUMENT_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
