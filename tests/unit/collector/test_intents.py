"""Which voice-agent intents are stored as they are."""

import pytest

from event_capture.collector.intents import MAX_INTENT_WORDS, OTHER_INTENT, storable_intent
from event_capture.warehouse.catalog import KNOWN_INTENTS


@pytest.mark.parametrize("label", [*KNOWN_INTENTS, OTHER_INTENT, "track_order", "add_to_cart"])
def test_the_app_s_own_intents_are_stored(label: str) -> None:
    assert storable_intent(label)


@pytest.mark.parametrize(
    "label",
    ["jane_doe", "deliver_to_elm_street", "order_for_jane", "visit_elm_road"],
)
def test_a_word_outside_the_intent_words_makes_it_other(label: str) -> None:
    assert not storable_intent(label)


def test_more_words_than_a_label_has_make_it_other() -> None:
    assert storable_intent("_".join(["order"] * MAX_INTENT_WORDS))
    assert not storable_intent("_".join(["order"] * (MAX_INTENT_WORDS + 1)))
