"""schemas.voice: a voice interaction's rules (its transcript, language and duration), each
refused with the field path, rule and message a client sees."""

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
