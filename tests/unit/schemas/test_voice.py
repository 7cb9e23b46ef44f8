"""schemas.voice: a voice interaction's rules (its transcript, language and duration), each
refused with the field path, rule and message a client sees."""

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
        "transcript-too-long",
        lambda r: factory.voice(r, transcript="a" * 4001),
        "transcript",
        "string_too_long",
        "must be at most 4000 characters",
    ),
    (
        "language-not-bcp47",
        lambda r: factory.voice(r, language="english"),
        "language",
        "string_pattern_mismatch",
        "must match",
    ),
    (
        "duration-too-long",
        lambda r: factory.voice(r, duration_ms=3_600_001),
        "duration_ms",
        "less_than_equal",
        "must be ≤ 3600000",
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
