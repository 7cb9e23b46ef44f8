"""The identity links (a device's anonymous id linked to the user id it logged in as) in the
mocked stack: a table like every event family's, written by the same accounts, held to the same
policies; and each policy failing the moment the table loses what it checks."""

import json
from typing import Any

import pytest

from event_capture.schemas.retention import RETENTION_MS
from event_capture.tables.definitions import load_table_definitions, table_path
from infra.policy.rules import resource_violations
from tools.mocked_stack import MockedResource, MockedStack
from tools.sample_stacks import PROJECT

LINKS = "identity_links"
TABLE = "gcp:bigquery/table:Table"
TABLE_GRANT = "gcp:bigquery/iamMember:IamMember"
INSERTER = f"projects/{PROJECT}/roles/eventCaptureInserter"
LOADER = f"projects/{PROJECT}/roles/eventCaptureLoader"
VIEWER = "roles/bigquery.dataViewer"


def account(name: str) -> str:
    return f"serviceAccount:{name}@{PROJECT}.iam.gserviceaccount.com"


def links_table(stack: MockedStack) -> MockedResource:
    [table] = [t for t in stack.of_type(TABLE) if t.get("tableId") == LINKS]
    return table


def table_grants(stack: MockedStack, table_id: str) -> set[tuple[str, str]]:
    return {
        (g.get("member"), g.get("role"))
        for g in stack.of_type(TABLE_GRANT)
        if g.get("tableId") == table_id
    }


def test_the_links_table_is_declared_from_its_generated_json(stack: MockedStack) -> None:
    definition = json.loads(table_path(LINKS).read_text())
    table = links_table(stack)

    assert table.get("datasetId") == "events"
    assert json.loads(table.get("schema")) == definition["schema"]["fields"]
    assert {"user_id", "anonymous_id"} <= {c["name"] for c in definition["schema"]["fields"]}
    assert table.get("labels")["schema-version"] == definition["schema_version"]


def test_the_links_expire_after_90_days_and_need_a_partition_filter(stack: MockedStack) -> None:
    table = links_table(stack)

    assert table.get("timePartitioning") == {
        "type": "DAY",
        "field": "received_at",
        "expirationMs": RETENTION_MS,
    }
    assert RETENTION_MS == 90 * 24 * 60 * 60 * 1000
    assert table.get("requirePartitionFilter") is True
    assert table.get("clusterings") == ["user_id", "event_type"]
    assert table.get("deletionProtection") is True


@pytest.mark.parametrize("fixture", ["stack", "stack_with_everything"])
def test_the_links_are_written_and_read_by_exactly_whom_every_family_is(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    """Capture, the collector (which stores the links), operators' replays and the cost guard's
    loads write it as they write every other event table; the warehouse's scripts read it to
    stitch devices to users, as they read the others."""
    stack: MockedStack = request.getfixturevalue(fixture)
    families = {d["table_id"] for d in load_table_definitions()} - {LINKS}
    links = table_grants(stack, LINKS)

    assert (account("capture-runtime"), INSERTER) in links
    assert (account("cost-guard-runtime"), LOADER) in links
    assert (account("warehouse-queries"), VIEWER) in links
    for family in families:
        assert links == table_grants(stack, family), family
    if fixture == "stack_with_everything":
        assert (account("collector-runtime"), INSERTER) in links


def test_the_links_pass_every_policy(stack_with_everything: MockedStack) -> None:
    table = links_table(stack_with_everything)

    assert resource_violations(table.type, table.inputs) == []


def without(props: dict[str, Any], path: str) -> dict[str, Any]:
    """``props`` less the input at the dotted ``path``."""
    copy: dict[str, Any] = json.loads(json.dumps(props))
    *parents, last = path.split(".")
    node: Any = copy
    for part in parents:
        node = node[part]
    del node[last]
    return copy


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: without(p, "timePartitioning.expirationMs"), "partitions must expire"),
        (
            lambda p: {
                **p,
                "timePartitioning": {**p["timePartitioning"], "expirationMs": 91 * 86_400_000},
            },
            "partitions must expire within 90 days",
        ),
        (lambda p: without(p, "timePartitioning"), "needs time partitioning"),
        (lambda p: without(p, "requirePartitionFilter"), "requirePartitionFilter must be true"),
        # Declared identifier-free to be kept longer: its user and device ids say otherwise.
        (
            lambda p: {**p, "labels": {**p["labels"], "personal-data": "none"}},
            "labelled personal-data=none but has column anonymous_id",
        ),
    ],
    ids=["no-expiry", "91-days", "no-partitions", "no-partition-filter", "labelled-anonymous"],
)
def test_the_links_table_without_its_retention_fails_a_policy(
    stack: MockedStack, change: Any, message: str
) -> None:
    table = links_table(stack)

    found = resource_violations(table.type, change(table.inputs))

    assert [m for _, m in found if message in m], found
