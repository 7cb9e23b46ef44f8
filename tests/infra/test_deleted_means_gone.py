"""Deleted means gone soon: every dataset and bucket of the stack that may hold user ids keeps
deleted data the shortest time Google allows (time travel 48 hours; no soft delete, no object
versions), and the policy rules catch a stack that does not."""

from dataclasses import replace
from typing import Any

import pytest

from infra.policy.rules import (
    MIN_TIME_TRAVEL_HOURS,
    NO_PERSONAL_DATA,
    PERSONAL_DATA_LABEL,
    resource_violations,
)
from tools.mocked_stack import MockedResource, MockedStack

DATASET = "gcp:bigquery/dataset:Dataset"
BUCKET = "gcp:storage/bucket:Bucket"
# What holds events or user ids, by the name the program gives it.
USER_ID_DATASETS = {"events"}
USER_ID_BUCKETS = {"events-archive", "events-dead-letter", "forget-requests"}


def labelled_anonymous(resource: MockedResource) -> bool:
    return (resource.get("labels") or {}).get(PERSONAL_DATA_LABEL) == NO_PERSONAL_DATA


def test_the_events_dataset_keeps_deleted_rows_48_hours(stack_with_everything: MockedStack) -> None:
    datasets = {d.name: d for d in stack_with_everything.of_type(DATASET)}

    assert set(datasets) >= USER_ID_DATASETS
    for name in USER_ID_DATASETS:
        assert datasets[name].get("maxTimeTravelHours") == str(MIN_TIME_TRAVEL_HOURS) == "48"
    # Every other dataset says it holds no user id (aggregates, request lines of counts).
    assert {name for name, d in datasets.items() if not labelled_anonymous(d)} == USER_ID_DATASETS


def test_every_bucket_of_events_or_user_ids_keeps_no_deleted_object(
    stack_with_everything: MockedStack,
) -> None:
    buckets = {b.name: b for b in stack_with_everything.of_type(BUCKET)}

    assert set(buckets) >= USER_ID_BUCKETS
    for name in USER_ID_BUCKETS:
        assert buckets[name].get("softDeletePolicy.retentionDurationSeconds") == 0, name
        assert buckets[name].get("versioning.enabled") is False, name
        assert not labelled_anonymous(buckets[name]), name
    # The rest hold code or capture's mode and the suppression list's digests.
    assert {name for name, b in buckets.items() if labelled_anonymous(b)} == {
        "function-source",
        "capture-control",
    }
    # The control bucket keeps old generations a while (the operator's history), but no
    # soft-deleted copy beyond them.
    assert buckets["capture-control"].get("softDeletePolicy.retentionDurationSeconds") == 0


def changed(resource: MockedResource, **inputs: Any) -> MockedResource:
    kept = {k: v for k, v in resource.inputs.items() if k not in inputs}
    return replace(resource, inputs={**kept, **{k: v for k, v in inputs.items() if v is not None}})


@pytest.mark.parametrize(
    ("name", "inputs", "rule"),
    [
        ("events", {"maxTimeTravelHours": None}, "datasets-keep-the-shortest-time-travel"),
        ("events", {"maxTimeTravelHours": "168"}, "datasets-keep-the-shortest-time-travel"),
        ("events-archive", {"softDeletePolicy": None}, "buckets-keep-no-deleted-objects"),
        (
            "events-dead-letter",
            {"softDeletePolicy": {"retentionDurationSeconds": 604800}},
            "buckets-keep-no-deleted-objects",
        ),
        ("forget-requests", {"versioning": {"enabled": True}}, "buckets-keep-no-deleted-objects"),
    ],
)
def test_the_rules_catch_the_stack_with_a_longer_window(
    stack_with_everything: MockedStack, name: str, inputs: dict[str, Any], rule: str
) -> None:
    """The negative controls: the stack's own resource, as passing, then changed."""
    resource = stack_with_everything.named(name)

    assert resource_violations(resource.type, resource.inputs) == []
    assert [
        found for found, _ in resource_violations(resource.type, changed(resource, **inputs).inputs)
    ] == [rule]
