"""schemas.product_interaction: a product view, click or cart change refused by rule, with the
field path, rule and message a client sees."""

from __future__ import annotations

from tests.unit import event_factory as factory

# The shared rejection tests, run on this module's REJECTIONS (tests/unit/conftest.py).
from tests.unit.schemas.rejections import (  # noqa: F401
    Case,
    test_rejection_in_a_batch_names_path_rule_and_message,
    test_rejection_of_a_single_event_has_no_events_prefix,
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
