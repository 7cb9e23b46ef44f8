"""schemas.search: a search event's rules (its query, filters, intent and counts), each refused
with the field path, rule and message a client sees."""

from __future__ import annotations

from event_capture.ingest.validation import validate_events
from tests.unit import event_factory as factory

# The shared rejection tests, run on this module's REJECTIONS (tests/unit/conftest.py).
from tests.unit.schemas.rejections import (  # noqa: F401
    Case,
    test_rejection_in_a_batch_names_path_rule_and_message,
    test_rejection_of_a_single_event_has_no_events_prefix,
    without,
)

LONG_QUERY = "q" * 513


def _filters(count: int) -> list[dict[str, str]]:
    return [{"name": f"facet_{i}", "value": f"v{i}"} for i in range(count)]


REJECTIONS: list[Case] = [
    (
        "missing-field",
        lambda r: without(factory.search(r), "query"),
        "query",
        "missing",
        "is required",
    ),
    (
        "unknown-nested-field",
        lambda r: factory.search(r, filters=[{"name": "brand", "value": "oatly", "op": "eq"}]),
        "filters[0].op",
        "extra_forbidden",
        "is not a known field",
    ),
    (
        "string-for-int",
        lambda r: factory.search(r, result_count="5"),
        "result_count",
        "int_type",
        "must be an integer",
    ),
    (
        "float-for-int",
        lambda r: factory.search(r, result_count=5.0),
        "result_count",
        "int_type",
        "must be an integer",
    ),
    (
        "string-for-float",
        lambda r: factory.search(r, intent_confidence="0.9"),
        "intent_confidence",
        "float_type",
        "must be a number",
    ),
    (
        "number-for-string",
        lambda r: factory.search(r, query=42),
        "query",
        "string_type",
        "must be a string",
    ),
    (
        "query-too-long",
        lambda r: factory.search(r, query=LONG_QUERY),
        "query",
        "string_too_long",
        "must be at most 512 characters",
    ),
    (
        "empty-query",
        lambda r: factory.search(r, query=""),
        "query",
        "string_too_short",
        "must be at least 1 characters",
    ),
    (
        "filter-name-not-a-label",
        lambda r: factory.search(r, filters=[{"name": "Max Price", "value": "5"}]),
        "filters[0].name",
        "string_pattern_mismatch",
        "must match",
    ),
    (
        "confidence-above-1",
        lambda r: factory.search(r, intent_confidence=1.01),
        "intent_confidence",
        "less_than_equal",
        "must be ≤ 1",
    ),
    (
        "confidence-below-0",
        lambda r: factory.voice(r, intent_confidence=-0.01),
        "intent_confidence",
        "greater_than_equal",
        "must be ≥ 0",
    ),
    (
        "confidence-nan",
        lambda r: factory.search(r, intent_confidence=float("nan")),
        "intent_confidence",
        "less_than_equal",
        "must be ≤ 1",
    ),
    (
        "negative-result-count",
        lambda r: factory.search(r, result_count=-1),
        "result_count",
        "greater_than_equal",
        "must be ≥ 0",
    ),
    (
        "too-many-filters",
        lambda r: factory.search(r, filters=_filters(21)),
        "filters",
        "too_long",
        "must have at most 20 items",
    ),
    (
        "filters-not-a-list",
        lambda r: factory.search(r, filters="dairy"),
        "filters",
        "list_type",
        "must be an array",
    ),
    (
        "filter-not-an-object",
        lambda r: factory.search(r, filters=["dairy"]),
        "filters[0]",
        "model_type",
        "must be an object",
    ),
    (
        "query-unpaired-surrogate",
        lambda r: factory.search(r, query="oat \ud800 milk"),
        "query",
        "string_unicode",
        "valid Unicode",
    ),
]


def test_filter_values_are_scrubbed_as_the_query_is() -> None:
    filters = [
        {"name": "seller", "value": "jane.doe@example.com"},
        {"name": "payment", "value": "4111 1111 1111 1111"},
        {"name": "brand", "value": "oatly"},
    ]
    event = factory.search(factory.RECEIVED_AT, filters=filters)

    rows, rejections = validate_events([event], factory.RECEIVED_AT)

    assert rejections == []
    assert [f["value"] for f in rows[0].data["filters"]] == ["[EMAIL]", "[CARD]", "oatly"]
