"""The CrossGuard pack's validators, called directly with good and bad resources."""

from types import SimpleNamespace
from typing import Any

import pytest

from infra.policy import rules
from infra.policy.pack import policies, resource_validation, validate_stack

GOOD_BUCKET = {
    "publicAccessPrevention": "enforced",
    "uniformBucketLevelAccess": True,
    "lifecycleRules": [{"action": {"type": "Delete"}, "condition": {"age": 90}}],
}
GOOD_TABLE = {
    "timePartitioning": {
        "type": "DAY",
        "field": "received_at",
        "expirationMs": rules.MAX_RETENTION_MS,
    },
    "requirePartitionFilter": True,
}
GOOD_FUNCTION = {
    "serviceConfig": {"serviceAccountEmail": "capture-runtime@p.iam.gserviceaccount.com"},
    "buildConfig": {
        "serviceAccount": "projects/p/serviceAccounts/capture-build@p.iam.gserviceaccount.com"
    },
}


def violations(resource_type: str, props: dict[str, Any]) -> list[str]:
    return [name for name, _ in rules.resource_violations(resource_type, props)]


@pytest.mark.parametrize(
    ("resource_type", "props"),
    [
        (rules.BUCKET, GOOD_BUCKET),
        (rules.TABLE, GOOD_TABLE),
        (rules.FUNCTION, GOOD_FUNCTION),
        (
            "gcp:storage/bucketIAMMember:BucketIAMMember",
            {
                "role": "roles/storage.objectCreator",
                "member": "serviceAccount:a@p.iam.gserviceaccount.com",
            },
        ),
        (rules.TABLE, {"view": {"query": "SELECT 1"}}),  # views hold no data of their own
    ],
)
def test_compliant_resources_pass(resource_type: str, props: dict[str, Any]) -> None:
    assert violations(resource_type, props) == []


@pytest.mark.parametrize(
    ("resource_type", "props", "rule"),
    [
        (
            "gcp:cloudrunv2/serviceIamMember:ServiceIamMember",
            {"role": "roles/run.invoker", "member": "allUsers"},
            "no-public-members",
        ),
        (
            "gcp:storage/bucketIAMBinding:BucketIAMBinding",
            {
                "role": "roles/storage.objectViewer",
                "members": ["user:a@b.c", "allAuthenticatedUsers"],
            },
            "no-public-members",
        ),
        (
            "gcp:storage/bucketAccessControl:BucketAccessControl",
            {"entity": "allUsers", "role": "READER"},
            "no-public-members",
        ),
        (
            "gcp:projects/iAMMember:IAMMember",
            {"role": "roles/editor", "member": "user:a@b.c"},
            "no-primitive-roles",
        ),
        (
            "gcp:bigquery/datasetIamMember:DatasetIamMember",
            {"role": "roles/owner", "member": "user:a@b.c"},
            "no-primitive-roles",
        ),
        (
            rules.BUCKET,
            {**GOOD_BUCKET, "publicAccessPrevention": "inherited"},
            "buckets-are-private",
        ),
        (rules.BUCKET, {**GOOD_BUCKET, "uniformBucketLevelAccess": False}, "buckets-are-private"),
        (rules.BUCKET, {**GOOD_BUCKET, "lifecycleRules": []}, "buckets-expire"),
        (
            rules.BUCKET,
            {
                **GOOD_BUCKET,
                "lifecycleRules": [{"action": {"type": "Delete"}, "condition": {"age": 365}}],
            },
            "buckets-expire",
        ),
        (
            rules.TABLE,
            {"requirePartitionFilter": True},
            "tables-expire-and-need-a-partition-filter",
        ),
        (
            rules.TABLE,
            {**GOOD_TABLE, "timePartitioning": {"type": "DAY"}},
            "tables-expire-and-need-a-partition-filter",
        ),
        (
            rules.TABLE,
            {**GOOD_TABLE, "requirePartitionFilter": False},
            "tables-expire-and-need-a-partition-filter",
        ),
        (
            rules.FUNCTION,
            {**GOOD_FUNCTION, "serviceConfig": {}},
            "functions-run-as-their-own-accounts",
        ),
        (
            rules.FUNCTION,
            {
                **GOOD_FUNCTION,
                "serviceConfig": {
                    "serviceAccountEmail": "123-compute@developer.gserviceaccount.com"
                },
            },
            "functions-run-as-their-own-accounts",
        ),
        (
            rules.FUNCTION,
            {**GOOD_FUNCTION, "buildConfig": {}},
            "functions-run-as-their-own-accounts",
        ),
        (rules.SERVICE_ACCOUNT_KEY, {"serviceAccountId": "a"}, "no-service-account-keys"),
    ],
)
def test_each_rule_catches_its_violation(
    resource_type: str, props: dict[str, Any], rule: str
) -> None:
    assert violations(resource_type, props) == [rule]


def test_an_account_not_known_until_up_is_not_judged_at_preview() -> None:
    props = {
        "serviceConfig": {"serviceAccountEmail": None},
        "buildConfig": {"serviceAccount": None},
    }

    assert violations(rules.FUNCTION, props) == []


def test_a_runtime_account_with_a_project_grant_breaks_the_stack_rule() -> None:
    runtime = "serviceAccount:capture-runtime@p.iam.gserviceaccount.com"
    resources: list[tuple[str, dict[str, Any]]] = [
        (rules.FUNCTION, GOOD_FUNCTION),
        (
            "gcp:projects/iAMMember:IAMMember",
            {"role": "roles/bigquery.dataEditor", "member": runtime},
        ),
        (
            "gcp:projects/iAMMember:IAMMember",
            {
                "role": "roles/logging.logWriter",
                "member": "serviceAccount:capture-build@p.iam.gserviceaccount.com",
            },
        ),
    ]

    found = rules.runtime_accounts_have_no_project_grants(resources)
    assert len(found) == 1 and "roles/bigquery.dataEditor" in found[0]
    assert rules.runtime_accounts_have_no_project_grants(resources[::2]) == []


def test_the_pack_reports_through_pulumis_callbacks() -> None:
    reported: list[str] = []

    def report(message: str, urn: str | None = None) -> None:
        reported.append(message)

    bad_bucket = SimpleNamespace(
        resource_type=rules.BUCKET, props={**GOOD_BUCKET, "publicAccessPrevention": "inherited"}
    )
    rule = next(r for r in rules.RESOURCE_RULES if r.name == "buckets-are-private")

    resource_validation(rule)(bad_bucket, report)  # type: ignore[arg-type]
    stack = SimpleNamespace(
        resources=[
            SimpleNamespace(resource_type=rules.FUNCTION, props=GOOD_FUNCTION),
            SimpleNamespace(
                resource_type="gcp:projects/iAMMember:IAMMember",
                props={
                    "role": "roles/bigquery.admin",
                    "member": "serviceAccount:capture-runtime@p.iam.gserviceaccount.com",
                },
            ),
        ]
    )
    validate_stack(stack, report)  # type: ignore[arg-type]

    assert len(reported) == 2
    assert "publicAccessPrevention" in reported[0]
    assert "roles/bigquery.admin" in reported[1]


def test_the_pack_holds_every_rule_and_the_stack_rule() -> None:
    names = [policy.name for policy in policies()]

    assert names == [r.name for r in rules.RESOURCE_RULES] + [
        "runtime-accounts-have-no-project-grants"
    ]
