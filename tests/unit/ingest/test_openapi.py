"""Tests for event_capture.ingest.openapi: the committed document, its shape, and that it
describes what the function really takes and answers.

jsonschema is not a dependency of the test venv, so a small validator below covers exactly the
keywords the document uses; a test fails if the document starts using another one, and a
negative control shows the validator can fail. `make fuzz` validates with jsonschema and
openapi-spec-validator as well (fuzz/schemathesis_run.py).
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from event_capture.ingest import openapi
from event_capture.ingest.answer import capture_answer
from event_capture.ingest.body import parse_body
from event_capture.ingest.function import CaptureFunction
from event_capture.ingest.limits import MAX_EVENTS_PER_REQUEST, MAX_REQUEST_BYTES
from event_capture.ingest.pipeline import CapturePipeline
from event_capture.platform.http_error import HttpError
from event_capture.platform.request_checks import check_request
from event_capture.schemas.families import FAMILIES, MODEL_BY_EVENT_TYPE, event_types
from localcloud.sample_events import sample_event
from tests.fakes.sinks import FakeSink, always
from tests.unit import event_factory as factory

R = factory.RECEIVED_AT
DOCUMENT = openapi.openapi_document()
SCHEMAS: dict[str, Any] = DOCUMENT["components"]["schemas"]
OPERATION: dict[str, Any] = DOCUMENT["paths"]["/"]["post"]


# --------------------------------------------------------------------------------------------
# A validator for the document's subset of JSON Schema 2020-12
# --------------------------------------------------------------------------------------------

ANNOTATIONS = {"title", "description", "examples", "default", "discriminator"}
ASSERTIONS = {
    "$ref",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minItems",
    "maxItems",
    "enum",
    "const",
    "oneOf",
    "anyOf",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "format",
}
_TYPES: dict[str, Any] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _format_ok(name: str, value: str) -> bool:
    if name == "uuid":
        try:
            uuid.UUID(value)
        except ValueError:
            return False
        return True
    if name == "date-time":
        try:
            return datetime.fromisoformat(value).tzinfo is not None
        except ValueError:
            return False
    raise AssertionError(f"format {name!r} is not covered by this test's validator")


def _resolve(ref: str) -> dict[str, Any]:
    assert ref.startswith("#/"), ref
    node: Any = DOCUMENT
    for part in ref[2:].split("/"):
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
        node = node[part]
    assert isinstance(node, dict), ref
    return node


def errors(schema: dict[str, Any], value: Any, path: str = "$") -> list[str]:
    """Every rule ``value`` breaks, as ``path: keyword``; empty when it conforms."""
    found: list[str] = []
    if "$ref" in schema:
        found += errors(_resolve(schema["$ref"]), value, path)
    if "type" in schema and not _TYPES[schema["type"]](value):
        return [*found, f"{path}: type {schema['type']}"]
    if "const" in schema and value != schema["const"]:
        found.append(f"{path}: const")
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{path}: enum")
    for keyword, count in (("oneOf", 1), ("anyOf", None)):
        if keyword in schema:
            matches = sum(not errors(branch, value, path) for branch in schema[keyword])
            if (matches != count) if count else not matches:
                found.append(f"{path}: {keyword} ({matches} branches match)")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        found += [
            f"{path}.{key}: required" for key in schema.get("required", ()) if key not in value
        ]
        for key, item in value.items():
            if key in properties:
                found += errors(properties[key], item, f"{path}.{key}")
            elif schema.get("additionalProperties") is False:
                found.append(f"{path}.{key}: additionalProperties")
            elif isinstance(schema.get("additionalProperties"), dict):
                found += errors(schema["additionalProperties"], item, f"{path}.{key}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            found.append(f"{path}: minItems")
        if len(value) > schema.get("maxItems", math.inf):
            found.append(f"{path}: maxItems")
        if "items" in schema:
            for index, item in enumerate(value):
                found += errors(schema["items"], item, f"{path}[{index}]")
    if isinstance(value, str):
        if not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", math.inf):
            found.append(f"{path}: length")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            found.append(f"{path}: pattern")
        if "format" in schema and not _format_ok(schema["format"], value):
            found.append(f"{path}: format {schema['format']}")
    low, high = schema.get("minimum", -math.inf), schema.get("maximum", math.inf)
    if _TYPES["number"](value) and not low <= value <= high:
        found.append(f"{path}: range")
    return found


def _subschemas(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield schema
    children: list[Any] = [*schema.get("properties", {}).values()]
    children += [schema[k] for k in ("items", "additionalProperties") if k in schema]
    children += [*schema.get("oneOf", ()), *schema.get("anyOf", ())]
    for child in children:
        if isinstance(child, dict):
            yield from _subschemas(child)


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            elif key == "mapping":
                yield from value.values()
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _request_errors(body: Any) -> list[str]:
    schema = OPERATION["requestBody"]["content"]["application/json"]["schema"]
    return errors(schema, body)


def _response_errors(status: int, body: Any) -> list[str]:
    responses = OPERATION["responses"]
    assert str(status) in responses, f"status {status} is not documented"
    return errors(responses[str(status)]["content"]["application/json"]["schema"], body)


# --------------------------------------------------------------------------------------------
# The committed document
# --------------------------------------------------------------------------------------------


def test_the_committed_document_is_what_the_generator_makes() -> None:
    committed = openapi.DOCUMENT_PATH.read_text()
    assert committed == openapi.render(DOCUMENT), (
        f"{openapi.DOCUMENT_PATH} drifted from the models; "
        "run .venv/bin/python -m event_capture.ingest.openapi and commit it"
    )
    assert openapi.main(["--check"]) == 0


def test_check_reports_drift_without_writing(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "openapi.json"
    stale.write_text("{}\n")
    monkeypatch.setattr(openapi, "DOCUMENT_PATH", stale)

    assert openapi.main(["--check"]) == 1
    assert "out of date" in capsys.readouterr().out
    assert stale.read_text() == "{}\n"
    assert openapi.main([]) == 0
    assert json.loads(stale.read_text()) == DOCUMENT


# --------------------------------------------------------------------------------------------
# Its shape
# --------------------------------------------------------------------------------------------


def test_the_document_is_openapi_3_1_with_one_operation() -> None:
    assert DOCUMENT["openapi"].startswith("3.1.")
    assert {"title", "version"} <= set(DOCUMENT["info"])
    assert list(DOCUMENT["paths"]) == ["/"]
    assert list(DOCUMENT["paths"]["/"]) == ["post"]
    assert OPERATION["requestBody"]["required"] is True
    assert list(OPERATION["requestBody"]["content"]) == ["application/json"]
    for status, response in OPERATION["responses"].items():
        assert re.fullmatch(r"[1-5][0-9][0-9]", status)
        assert response["description"]
        assert list(response["content"]) == ["application/json"], status


def test_every_ref_resolves() -> None:
    refs = set(_refs(DOCUMENT))
    assert refs
    for ref in refs:
        _resolve(ref)


def test_the_schemas_use_only_keywords_the_validator_here_checks() -> None:
    for name, schema in SCHEMAS.items():
        for sub in _subschemas(schema):
            unknown = set(sub) - ANNOTATIONS - ASSERTIONS
            assert not unknown, f"{name} uses {unknown}: teach this test's validator"


def test_each_family_has_its_event_types_and_the_union_maps_every_type() -> None:
    for model in FAMILIES:
        event_type = SCHEMAS[model.__name__]["properties"]["event_type"]
        assert tuple(event_type.get("enum", [event_type.get("const")])) == event_types(model)
    union = SCHEMAS["Event"]
    assert union["oneOf"] == [{"$ref": f"#/components/schemas/{m.__name__}"} for m in FAMILIES]
    assert union["discriminator"] == {
        "propertyName": "event_type",
        "mapping": {
            event_type: f"#/components/schemas/{model.__name__}"
            for event_type, model in sorted(MODEL_BY_EVENT_TYPE.items())
        },
    }


def test_a_batch_holds_1_to_500_events_and_nothing_else() -> None:
    events = SCHEMAS["EventBatch"]["properties"]["events"]
    assert (events["minItems"], events["maxItems"]) == (1, MAX_EVENTS_PER_REQUEST)
    assert SCHEMAS["EventBatch"]["additionalProperties"] is False
    assert SCHEMAS["EventBatch"]["required"] == ["events"]


# --------------------------------------------------------------------------------------------
# What the function takes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", sorted(MODEL_BY_EVENT_TYPE))
def test_a_sample_event_of_every_type_conforms_alone_and_in_a_batch(event_type: str) -> None:
    event = sample_event(event_type)
    assert _request_errors(event) == []
    assert _request_errors({"events": [event, sample_event(event_type)]}) == []


def test_negative_control_what_the_function_refuses_the_document_refuses() -> None:
    event = sample_event("search")
    assert _request_errors(event | {"price": 1})
    assert _request_errors(event | {"event_type": "order_placed"})
    assert _request_errors({k: v for k, v in event.items() if k != "user_id"})
    assert _request_errors(event | {"intent_confidence": 1.5})
    assert _request_errors(event | {"event_id": "not-a-uuid"})
    assert _request_errors({"events": []})
    assert _request_errors({"events": [event] * (MAX_EVENTS_PER_REQUEST + 1)})
    assert _request_errors({"events": [event], "sent_at": "now"})
    assert _request_errors([event])


# --------------------------------------------------------------------------------------------
# What the function answers
# --------------------------------------------------------------------------------------------


# BigQuery storing every row in one request, and BigQuery unreachable after two retries.
def _stores_all() -> FakeSink:
    return FakeSink(api_requests=1)


def _unreachable() -> FakeSink:
    return FakeSink(loses=always, error="connection refused", retries=2, api_requests=3)


def _pipeline(bigquery: FakeSink) -> CapturePipeline:
    return CapturePipeline(
        bigquery=bigquery, dead_letter=None, archive=None, redis=None, clock=lambda: R
    )


def _events(count: int) -> list[dict[str, Any]]:
    return [factory.search(R) for _ in range(count)]


@pytest.mark.parametrize(
    ("bigquery", "events", "status"),
    [
        (_stores_all(), _events(2), 200),
        (_stores_all(), [*_events(1), {"event_type": "search"}, "not an object"], 207),
        (_stores_all(), [{"event_type": "nope"}], 400),
        (_unreachable(), _events(2), 503),
    ],
    ids=["all-accepted", "some-rejected", "none-valid", "not-durable"],
)
def test_the_pipelines_answers_conform(bigquery: FakeSink, events: list[Any], status: int) -> None:
    result = capture_answer(_pipeline(bigquery).handle(events, batch=True))

    assert result.status == status
    assert _response_errors(result.status, result.body) == []
    for name in result.headers:
        assert name in OPERATION["responses"][str(status)].get("headers", {}), name


@pytest.mark.parametrize(
    "refused",
    [
        check_request("GET", "application/json", None, limit=MAX_REQUEST_BYTES),
        check_request("POST", "text/plain", None, limit=MAX_REQUEST_BYTES),
        check_request("POST", "application/json", 10**9, limit=MAX_REQUEST_BYTES),
        parse_body(b"{not json"),
        parse_body(b'{"events": {}}'),
        parse_body(json.dumps({"events": [{}] * (MAX_EVENTS_PER_REQUEST + 1)}).encode()),
    ],
    ids=["405", "415", "413-length", "400-json", "400-shape", "413-count"],
)
def test_the_refusals_conform(refused: HttpError | Any) -> None:
    assert isinstance(refused, HttpError)
    answer = CaptureFunction(_pipeline(_stores_all()), read_timeout_seconds=1).refusal(refused)
    assert _response_errors(answer.status, answer.body) == []
    for name, _ in refused.headers:
        assert name in OPERATION["responses"][str(refused.status)].get("headers", {}), name


def test_negative_control_a_wrong_answer_does_not_conform() -> None:
    assert _response_errors(200, {"request_id": "r", "received": 1})
    assert _response_errors(413, {"message": "too large"})
    answer = capture_answer(_pipeline(_stores_all()).handle(_events(1), batch=True)).body
    assert _response_errors(200, answer | {"rejections": [{"index": 0, "errors": []}]})
    assert _response_errors(200, answer | {"sinks": {"bigquery": {"status": "lost"}}})


def test_a_timestamp_outside_the_window_is_the_functions_rule_not_the_documents() -> None:
    # The document is a superset where a rule is code: such an event conforms and is rejected.
    old = factory.search(R, occurred_at=factory.iso(R - timedelta(days=400)))
    assert _request_errors(old) == []
    assert capture_answer(_pipeline(_stores_all()).handle([old], batch=False)).status == 400
