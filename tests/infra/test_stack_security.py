"""Whole-stack security checks on the mocked program: the rules a reviewer would check by hand."""

import json

import pytest

from event_capture.schemas.retention import RETENTION_MS
from event_capture.tables.definitions import load_table_definitions
from infra.policy.rules import (
    PRIMITIVE_ROLES,
    PUBLIC_MEMBERS,
    resource_violations,
    stack_violations,
)
from tools.mocked_stack import MockedResource, MockedStack
from tools.sample_stacks import PROJECT

RUNTIME = f"serviceAccount:capture-runtime@{PROJECT}.iam.gserviceaccount.com"
INVOKER = f"serviceAccount:capture-invoker@{PROJECT}.iam.gserviceaccount.com"
GUARD_TRIGGER = f"serviceAccount:cost-guard-trigger@{PROJECT}.iam.gserviceaccount.com"
BACKFILL_TRIGGER = f"serviceAccount:archive-backfill-trigger@{PROJECT}.iam.gserviceaccount.com"
FORGET_TRIGGER = f"serviceAccount:forget-trigger@{PROJECT}.iam.gserviceaccount.com"
IAM_TYPES_PREFIXES = ("IAMMember", "IamMember", "IAMBinding", "IamBinding")

OBJECT_WRITER = f"projects/{PROJECT}/roles/eventCaptureObjectWriter"


def grants(stack: MockedStack) -> list[MockedResource]:
    return [r for r in stack.resources if r.type.endswith(IAM_TYPES_PREFIXES)]


def test_every_event_table_exists_with_day_partitions_expiring_after_90_days(
    stack: MockedStack,
) -> None:
    event_tables = {d["table_id"] for d in load_table_definitions()}
    tables = {
        t.get("tableId"): t
        for t in stack.of_type("gcp:bigquery/table:Table")
        if t.get("tableId") in event_tables
    }

    assert set(tables) == event_tables
    for table in tables.values():
        assert table.get("timePartitioning.type") == "DAY"
        assert table.get("timePartitioning.field") == "received_at"
        assert table.get("timePartitioning.expirationMs") == RETENTION_MS
        assert table.get("requirePartitionFilter") is True
        assert table.get("clusterings") == ["user_id", "event_type"]
        assert table.get("deletionProtection") is True


def test_table_schemas_are_the_checked_in_json_not_a_copy(stack: MockedStack) -> None:
    for definition in load_table_definitions():
        table = stack.named(definition["table_id"])
        assert json.loads(table.get("schema")) == definition["schema"]["fields"]


def test_every_bucket_is_private_uniform_and_expires_within_90_days(stack: MockedStack) -> None:
    buckets = stack.of_type("gcp:storage/bucket:Bucket")

    # capture-control's one Delete rule is for old generations only: its live object, capture's
    # mode, never expires (tests/infra/test_cost_guard_stack.py).
    assert {b.name for b in buckets} == {
        "events-archive",
        "events-dead-letter",
        "function-source",
        "capture-control",
        "forget-requests",
    }
    for bucket in buckets:
        assert bucket.get("publicAccessPrevention") == "enforced", bucket.name
        assert bucket.get("uniformBucketLevelAccess") is True, bucket.name
        ages = [
            rule["condition"]["age"]
            for rule in bucket.get("lifecycleRules")
            if rule["action"]["type"] == "Delete"
        ]
        assert ages and max(ages) <= 90, bucket.name
    assert stack.named("events-archive").get("lifecycleRules")[0]["condition"]["age"] == 90


@pytest.mark.parametrize(
    "fixture", ["stack", "stack_with_principals", "stack_with_redis", "stack_with_collector"]
)
def test_no_grant_anywhere_is_public_or_primitive(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    stack: MockedStack = request.getfixturevalue(fixture)
    found = grants(stack)

    assert len(found) >= 10
    for grant in found:
        members = grant.get("members") or [grant.get("member")]
        assert not PUBLIC_MEMBERS & set(members), grant.name
        assert grant.get("role") not in PRIMITIVE_ROLES, grant.name


@pytest.mark.parametrize(
    "fixture",
    [
        "stack",
        "stack_with_principals",
        "stack_with_redis",
        "stack_with_collector",
        "stack_with_everything",
    ],
)
def test_every_resource_passes_the_policy_pack_rules(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    stack: MockedStack = request.getfixturevalue(fixture)

    violations = {
        r.name: found for r in stack.resources if (found := resource_violations(r.type, r.inputs))
    }
    assert violations == {}
    assert stack_violations((r.type, r.inputs) for r in stack.resources) == []


def test_runtime_account_has_only_insert_and_create_grants_never_project_wide(
    stack: MockedStack,
) -> None:
    runtime_grants = [g for g in grants(stack) if g.get("member") == RUNTIME]
    by_type: dict[str, set[str]] = {}
    for grant in runtime_grants:
        by_type.setdefault(grant.type, set()).add(grant.get("role"))

    assert by_type == {
        "gcp:bigquery/iamMember:IamMember": {f"projects/{PROJECT}/roles/eventCaptureInserter"},
        "gcp:storage/bucketIAMMember:BucketIAMMember": {
            OBJECT_WRITER,
            # Capture's mode, which the cost guard writes.
            "roles/storage.objectViewer",
        },
    }
    table_grants = [g.get("tableId") for g in runtime_grants if "bigquery" in g.type]
    assert sorted(table_grants) == sorted(d["table_id"] for d in load_table_definitions())
    bucket_grants = {
        (g.get("role"), g.get("bucket")) for g in runtime_grants if "storage" in g.type
    }
    assert bucket_grants == {
        (OBJECT_WRITER, stack.outputs["archiveBucket"]),
        (OBJECT_WRITER, stack.outputs["deadLetterBucket"]),
        ("roles/storage.objectViewer", stack.outputs["captureControlBucket"]),
    }


def test_the_custom_roles_hold_exactly_what_insertall_and_the_object_writes_need(
    stack: MockedStack,
) -> None:
    assert stack.named("event-inserter").get("permissions") == [
        "bigquery.tables.get",
        "bigquery.tables.updateData",
    ]
    assert stack.named("event-dataset-metadata").get("permissions") == ["bigquery.datasets.get"]
    assert stack.named("event-object-writer").get("permissions") == [
        "storage.objects.create",
        "storage.objects.get",
    ]


def test_the_runtime_reads_the_events_datasets_metadata_through_an_access_entry(
    stack: MockedStack,
) -> None:
    """Not a DatasetIamMember: that would drop the access entries authorizing the views."""
    [entry] = [
        r
        for r in stack.of_type("gcp:bigquery/datasetAccess:DatasetAccess")
        if r.get("userByEmail") == RUNTIME.removeprefix("serviceAccount:")
    ]

    assert entry.get("role") == f"projects/{PROJECT}/roles/eventCaptureDatasetMetadata"
    assert entry.get("datasetId") == "events"
    assert stack.of_type("gcp:bigquery/datasetIamMember:DatasetIamMember") != []
    assert all(
        r.get("datasetId") != "events"
        for r in stack.of_type("gcp:bigquery/datasetIamMember:DatasetIamMember")
    )


def test_the_function_runs_and_builds_as_its_own_accounts(stack: MockedStack) -> None:
    function = stack.named("capture")

    assert function.get("serviceConfig.serviceAccountEmail") == RUNTIME.removeprefix(
        "serviceAccount:"
    )
    assert function.get("buildConfig.serviceAccount") == (
        f"projects/{PROJECT}/serviceAccounts/capture-build@{PROJECT}.iam.gserviceaccount.com"
    )
    assert function.get("serviceConfig.ingressSettings") == "ALLOW_ALL"


def test_the_function_runs_on_python_3_13_as_every_venv_of_the_repository(
    stack: MockedStack,
) -> None:
    function = stack.named("capture")

    assert function.get("buildConfig.runtime") == "python313"
    assert function.get("buildConfig.entryPoint") == "capture"


def test_only_the_invoker_account_may_call_the_function(stack: MockedStack) -> None:
    invokers = [
        g
        for g in grants(stack)
        if g.get("role") in ("roles/run.invoker", "roles/cloudfunctions.invoker")
    ]

    # The cost guard, the archive backfill and the forget function are invoked by their trigger
    # accounts alone: tests/infra/test_cost_guard_stack.py, test_archive_backfill_stack.py,
    # test_forget_stack.py
    assert sorted((g.get("member"), g.get("name")) for g in invokers) == [
        (BACKFILL_TRIGGER, "archive-backfill"),
        (INVOKER, "capture"),
        (GUARD_TRIGGER, "cost-guard"),
        (FORGET_TRIGGER, "forget"),
    ]


def test_no_service_account_keys_and_no_default_compute_account(stack: MockedStack) -> None:
    assert stack.of_type("gcp:serviceaccount/key:Key") == []
    for resource in stack.resources:
        assert "-compute@developer.gserviceaccount.com" not in str(resource.inputs), resource.name


def test_configured_principals_get_narrow_grants_only(stack_with_principals: MockedStack) -> None:
    app = "serviceAccount:shop-app@shop.iam.gserviceaccount.com"
    operator = "group:data-team@example.com"
    found = grants(stack_with_principals)

    app_grants = [(g.type, g.get("role")) for g in found if g.get("member") == app]
    # An ID token as the invoker, and filing a request to forget a user (test_forget_stack.py).
    assert sorted(app_grants) == [
        ("gcp:serviceaccount/iAMMember:IAMMember", "roles/iam.serviceAccountOpenIdTokenCreator"),
        ("gcp:storage/bucketIAMMember:BucketIAMMember", "roles/storage.objectCreator"),
    ]
    forget_grants = {g.name for g in found if g.get("member") == operator and "forget" in g.name}
    assert forget_grants == {
        "operator-0-files-forget-requests",
        "operator-0-reads-forget-requests",
        "operator-0-runs-forget",
    }
    operator_grants = {
        (g.type, g.get("role"))
        for g in found
        if g.get("member") == operator and g.name not in forget_grants
    }
    assert operator_grants == {
        ("gcp:bigquery/iamMember:IamMember", f"projects/{PROJECT}/roles/eventCaptureInserter"),
        # Replay reads which dead-lettered events are already stored: per table, and the
        # query job, which only exists project-wide.
        ("gcp:bigquery/iamMember:IamMember", "roles/bigquery.dataViewer"),
        ("gcp:projects/iAMMember:IAMMember", "roles/bigquery.jobUser"),
        ("gcp:storage/bucketIAMMember:BucketIAMMember", "roles/storage.objectUser"),
    }
    readers = [g for g in found if g.get("member") == operator and "dataViewer" in g.get("role")]
    assert sorted(g.get("tableId") for g in readers) == sorted(
        d["table_id"] for d in load_table_definitions()
    )
    replay_bucket = {
        g.get("bucket")
        for g in found
        if g.get("member") == operator and "storage" in g.type and g.name not in forget_grants
    }
    assert replay_bucket == {stack_with_principals.outputs["deadLetterBucket"]}
