"""schemas.product_interaction: a product view, click or cart change refused by rule, with the
field path, rule and message a client sees."""

from __future__ import annotations

import pytest

from tests.unit import event_factory as factory
from tests.unit.schemas.rejections import (
    Builder,
    Case,
    alone,
    assert_named_alone,
    assert_named_in_a_batch,
    in_a_batch,
)

REJECTIONS: list[Case] = [
    (
        "bool-for-int",
        lambda r: factory.product_interaction(r, position=True),
        "position",
        "int_type",
        "must be an integer",
    ),
    (
        "cart-quantity-0",
        lambda r: factory.product_interaction(r, "add_to_cart", quantity=0),
        "quantity",
        "greater_than_equal",
        "must be ≥ 1",
    ),
    (
        "cart-quantity-too-big",
        lambda r: factory.product_interaction(r, "remove_from_cart", quantity=1001),
        "quantity",
        "less_than_equal",
        "must be ≤ 1000",
    ),
    (
        "search-event-id-not-a-uuid",
        lambda r: factory.product_interaction(r, search_event_id="s-1"),
        "search_event_id",
        "uuid_parsing",
        "must be a UUID string",
    ),
]


@pytest.mark.parametrize(("build", "field", "rule", "message"), in_a_batch(REJECTIONS))
def test_rejection_in_a_batch_names_path_rule_and_message(
    build: Builder, field: str, rule: str, message: str
) -> None:
    assert_named_in_a_batch(build, field, rule, message)


@pytest.mark.parametrize(("build", "field", "rule"), alone(REJECTIONS))
def test_rejection_of_a_single_event_has_no_events_prefix(
    build: Builder, field: str, rule: str
) -> None:
    assert_named_alone(build, field, rule)
