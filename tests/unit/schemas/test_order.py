"""schemas.order: an order's rules (its line items, money and currency), each refused with the
field path, rule and message a client sees; money kept exact."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from event_capture.ingest.validation import validate_events
from tests.unit import event_factory as factory

# The shared rejection tests, run on this module's REJECTIONS (tests/unit/conftest.py).
from tests.unit.schemas.rejections import (  # noqa: F401
    Case,
    test_rejection_in_a_batch_names_path_rule_and_message,
    test_rejection_of_a_single_event_has_no_events_prefix,
    without,
)

R = factory.RECEIVED_AT


def _items(count: int, **overrides: Any) -> list[dict[str, Any]]:
    return [factory.line_item(product_id=f"sku_{i}", **overrides) for i in range(count)]


REJECTIONS: list[Case] = [
    (
        "missing-nested-field",
        lambda r: factory.order(
            r, items=[factory.line_item(), without(factory.line_item(), "quantity")]
        ),
        "items[1].quantity",
        "missing",
        "is required",
    ),
    (
        "string-for-nested-int",
        lambda r: factory.order(r, items=[factory.line_item(quantity="5")]),
        "items[0].quantity",
        "int_type",
        "must be an integer",
    ),
    (
        "line-item-quantity-0",
        lambda r: factory.order(r, items=[factory.line_item(), factory.line_item(quantity=0)]),
        "items[1].quantity",
        "greater_than_equal",
        "must be ≥ 1",
    ),
    (
        "negative-total",
        lambda r: factory.order(r, total=-1),
        "total",
        "greater_than_equal",
        "must be ≥ 0",
    ),
    (
        "too-many-items",
        lambda r: factory.order(r, items=_items(201)),
        "items",
        "too_long",
        "must have at most 200 items",
    ),
    (
        "empty-items",
        lambda r: factory.order(r, items=[]),
        "items",
        "too_short",
        "must have at least 1",
    ),
    (
        "unknown-currency",
        lambda r: factory.order(r, currency="XYZ"),
        "currency",
        "currency_code",
        "ISO 4217",
    ),
    (
        "lowercase-currency",
        lambda r: factory.order(r, currency="eur"),
        "currency",
        "currency_code",
        "ISO 4217",
    ),
    (
        "price-4-decimals-string",
        lambda r: factory.order(r, items=[factory.line_item(unit_price="1.2345")]),
        "items[0].unit_price",
        "decimal_max_places",
        "must have at most 3 decimal places",
    ),
    (
        "price-4-decimals-number",
        lambda r: factory.order(r, items=[factory.line_item(unit_price=1.2345)]),
        "items[0].unit_price",
        "decimal_max_places",
        "must have at most 3 decimal places",
    ),
    # Money is a JSON number or a plain decimal in ASCII digits; Python's Decimal reads more.
    ("total-nan", lambda r: factory.order(r, total="NaN"), "total", "decimal_format", "12.50"),
    (
        "total-infinite-number",
        lambda r: factory.order(r, total=float("inf")),
        "total",
        "finite_number",
        "finite",
    ),
    ("total-underscores", lambda r: factory.order(r, total="5_000"), "total", "decimal_format", ""),
    ("total-spaces", lambda r: factory.order(r, total=" 5 "), "total", "decimal_format", ""),
    ("total-arabic-digits", lambda r: factory.order(r, total="٥"), "total", "decimal_format", ""),
    (
        "total-exponent-string",
        lambda r: factory.order(r, total="1e3"),
        "total",
        "decimal_format",
        "",
    ),
    ("total-plus-sign", lambda r: factory.order(r, total="+5"), "total", "decimal_format", ""),
    ("total-bare-point", lambda r: factory.order(r, total="5."), "total", "decimal_format", ""),
    ("total-bool", lambda r: factory.order(r, total=True), "total", "decimal_format", ""),
    (
        "total-negative-string",
        lambda r: factory.order(r, total="-1"),
        "total",
        "greater_than_equal",
        "≥ 0",
    ),
]


def test_money_is_kept_exact_whether_sent_as_number_or_string() -> None:
    event = factory.order(
        R,
        items=[factory.line_item(unit_price=0.1), factory.line_item(unit_price="19.999")],
        total=40.1,
    )

    rows, rejections = validate_events([event], R)

    assert rejections == []
    items = rows[0].data["items"]
    assert Decimal(items[0]["unit_price"]) == Decimal("0.1")
    assert Decimal(items[1]["unit_price"]) == Decimal("19.999")
    assert Decimal(rows[0].data["total"]) == Decimal("40.1")
