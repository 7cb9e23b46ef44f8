"""An event model's rules as ``validate_events`` reports them: one case per rule, each checked in
a batch, at index 1 between two good events, and as a single event.

Every rejection is checked for the exact field path a client sees, the rule (pydantic's error
type or one of ours) and a human message; the good neighbours show that the index in the path
is right and that one bad event costs the others nothing. Each ``schemas/test_<module>.py``
lists the cases of its model's fields as ``REJECTIONS``, ``ingest/test_validation.py`` those of
validation's own (the event type, which picks the model), and imports the two tests below:
``tests/unit/conftest.py`` parametrizes them from the importing module's ``REJECTIONS``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import pytest

from event_capture.ingest.validation import validate_events
from event_capture.schemas.responses import Rejection
from tests.unit import event_factory as factory

R = factory.RECEIVED_AT

Builder = Callable[[datetime], dict[str, Any]]
# (id, event builder, field path without the events[i] prefix, rule, message fragment)
Case = tuple[str, Builder, str, str, str]


def without(event: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in event.items() if key not in keys}


def only_rejection(rejections: list[Rejection]) -> Rejection:
    assert len(rejections) == 1, rejections
    return rejections[0]


def in_a_batch(cases: Sequence[Case]) -> list[pytest.ParameterSet]:
    """Parameters of ``build, field, rule, message``, one per case, named by its id."""
    return [pytest.param(*case[1:], id=case[0]) for case in cases]


def alone(cases: Sequence[Case]) -> list[pytest.ParameterSet]:
    """Parameters of ``build, field, rule``, one per case, named by its id."""
    return [pytest.param(case[1], case[2], case[3], id=case[0]) for case in cases]


def assert_named_in_a_batch(build: Builder, field: str, rule: str, message: str) -> None:
    bad = build(R)
    good_before, good_after = factory.search(R), factory.order(R)

    rows, rejections = validate_events([good_before, bad, good_after], R, batch=True)

    # The neighbours are unaffected and keep their own indexes.
    assert [(row.index, row.event_id) for row in rows] == [
        (0, good_before["event_id"]),
        (2, good_after["event_id"]),
    ]
    rejection = only_rejection(rejections)
    assert rejection.index == 1
    assert [(e.field, e.rule) for e in rejection.errors] == [(f"events[1].{field}", rule)]
    assert message in rejection.errors[0].message
    # Messages are rewritten for humans; pydantic's "Input should be" wording never leaks.
    assert not rejection.errors[0].message.startswith("Input")


def assert_named_alone(build: Builder, field: str, rule: str) -> None:
    rows, rejections = validate_events([build(R)], R, batch=False)

    assert rows == []
    rejection = only_rejection(rejections)
    assert rejection.index == 0
    assert [(e.field, e.rule) for e in rejection.errors] == [(field, rule)]


def test_rejection_in_a_batch_names_path_rule_and_message(
    build: Builder, field: str, rule: str, message: str
) -> None:
    assert_named_in_a_batch(build, field, rule, message)


def test_rejection_of_a_single_event_has_no_events_prefix(
    build: Builder, field: str, rule: str
) -> None:
    assert_named_alone(build, field, rule)


def parametrize(metafunc: pytest.Metafunc) -> None:
    """The two tests above with the cases of the module that imported them."""
    cases: Sequence[Case] | None = getattr(metafunc.module, "REJECTIONS", None)
    if cases is None:
        return
    name = metafunc.function.__name__
    if name == test_rejection_in_a_batch_names_path_rule_and_message.__name__:
        metafunc.parametrize(("build", "field", "rule", "message"), in_a_batch(cases))
    elif name == test_rejection_of_a_single_event_has_no_events_prefix.__name__:
        metafunc.parametrize(("build", "field", "rule"), alone(cases))
