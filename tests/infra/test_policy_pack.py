"""The CrossGuard pack's validators, called directly with good and bad resources."""

import json
from types import SimpleNamespace
from typing import Any

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from infra.collector_function import request_log_filter
from infra.policy import rules
from infra.policy.pack import plain, policies, resource_validation, stack_validation

GOOD_BUCKET = {
    "publicAccessPrevention": "enforced",
    "uniformBucketLevelAccess": True,
    "lifecycleRules": [{"action": {"type": "Delete"}, "condition": {"age": 90}}],
    "softDeletePolicy": {"retentionDurationSeconds": 0},
}
GOOD_DATASET = {"datasetId": "events", "maxTimeTravelHours": "48"}
GOOD_TABLE = {
    "timePartitioning": {
        "type": "DAY",
        "field": "received_at",
        "expirationMs": rules.MAX_RETENTION_MS,
    },
    "requirePartitionFilter": True,
}
GOOD_FUNCTION: dict[str, Any] = {
    "name": "capture",
    "serviceConfig": {
        "serviceAccountEmail": "capture-runtime@p.iam.gserviceaccount.com",
        "environmentVariables": {"GCP_PROJECT": "p", "REQUEST_DEADLINE_SECONDS": "45"},
        "secretEnvironmentVariables": [
            {"key": "REDIS_URL", "projectId": "1", "secret": "redis-url", "version": "1"}
        ],
    },
    "buildConfig": {
        "serviceAccount": "projects/p/serviceAccounts/capture-build@p.iam.gserviceaccount.com"
    },
}
GOOD_EVENT_FUNCTION: dict[str, Any] = {
    **GOOD_FUNCTION,
    "name": "materializer",
    "serviceConfig": {
        "serviceAccountEmail": "materializer-runtime@p.iam.gserviceaccount.com",
        "ingressSettings": "ALLOW_INTERNAL_ONLY",
    },
    "eventTrigger": {
        "eventType": "google.cloud.pubsub.topic.v1.messagePublished",
        "serviceAccountEmail": "materializer-trigger@p.iam.gserviceaccount.com",
    },
}
# How Pulumi marks a secret in a resource's properties (what Output.secret becomes).
SECRET_SIG = "4dabf18193072939515e22adb298388d"


def with_variables(**variables: Any) -> dict[str, Any]:
    return {
        **GOOD_FUNCTION,
        "serviceConfig": {**GOOD_FUNCTION["serviceConfig"], "environmentVariables": variables},
    }


def violations(resource_type: str, props: dict[str, Any]) -> list[str]:
    return [name for name, _ in rules.resource_violations(resource_type, props)]


@pytest.mark.parametrize(
    ("resource_type", "props"),
    [
        (rules.BUCKET, GOOD_BUCKET),
        (rules.TABLE, GOOD_TABLE),
        (rules.FUNCTION, GOOD_FUNCTION),
        (rules.FUNCTION, GOOD_EVENT_FUNCTION),
        # A plain URL without credentials, and names that only look alike, are no secret.
        (rules.FUNCTION, with_variables(API_URL="https://api.example.com/v1", KEYS_PREFIX="a:")),
        (
            "gcp:secretmanager/secretIamMember:SecretIamMember",
            {
                "secretId": "redis-url",
                "role": "roles/secretmanager.secretAccessor",
                "member": "serviceAccount:features-runtime@p.iam.gserviceaccount.com",
            },
        ),
        (
            "gcp:pubsub/topicIAMMember:TopicIAMMember",
            {
                "topic": "feature-runs",
                "role": "roles/pubsub.publisher",
                "member": "serviceAccount:service-1@gcp-sa-bigquerydatatransfer.iam.gservice"
                "account.com",
            },
        ),
        (
            "gcp:projects/iAMMember:IAMMember",
            {"role": "roles/bigquery.jobUser", "member": "user:a@b.c"},
        ),
        (
            "gcp:storage/bucketIAMMember:BucketIAMMember",
            {
                "role": "roles/storage.objectCreator",
                "member": "serviceAccount:a@p.iam.gserviceaccount.com",
            },
        ),
        (rules.TABLE, {"view": {"query": "SELECT 1"}}),  # views hold no data of their own
        (rules.DATASET, GOOD_DATASET),
        # Aggregates and logs of counts: time travel and soft delete as Google sets them.
        (rules.DATASET, {"datasetId": "analytics", "labels": {"personal-data": "none"}}),
        (
            rules.BUCKET,
            {
                **{k: v for k, v in GOOD_BUCKET.items() if k != "softDeletePolicy"},
                "versioning": {"enabled": True},
                "labels": {"personal-data": "none"},
            },
        ),
        (rules.BUCKET, {**GOOD_BUCKET, "versioning": {"enabled": False}}),
    ],
)
def test_compliant_resources_pass(resource_type: str, props: dict[str, Any]) -> None:
    assert violations(resource_type, props) == []


@pytest.mark.parametrize(
    ("resource_type", "props", "rule"),
    [
        # allUsers invoking a service is judged by the stack rule; anything else public is not.
        (
            "gcp:cloudrunv2/serviceIamMember:ServiceIamMember",
            {"name": "collector", "role": "roles/run.invoker", "member": "allAuthenticatedUsers"},
            "no-public-members",
        ),
        (
            "gcp:cloudrunv2/serviceIamMember:ServiceIamMember",
            {"name": "collector", "role": "roles/run.developer", "member": "allUsers"},
            "no-public-members",
        ),
        (
            "gcp:cloudrunv2/serviceIamPolicy:ServiceIamPolicy",
            {
                "name": "collector",
                "policyData": json.dumps(
                    {"bindings": [{"role": "roles/run.invoker", "members": ["allUsers"]}]}
                ),
            },
            "no-public-members",
        ),
        (
            "gcp:cloudfunctionsv2/functionIamMember:FunctionIamMember",
            {
                "cloudFunction": "collector",
                "role": "roles/cloudfunctions.admin",
                "member": "allUsers",
            },
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
            rules.BUCKET,
            {
                **GOOD_BUCKET,
                # Only noncurrent versions expire: the live objects would be kept for good.
                "lifecycleRules": [
                    {
                        "action": {"type": "Delete"},
                        "condition": {"age": 30, "withState": "ARCHIVED"},
                    }
                ],
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
        (
            rules.FUNCTION,
            {**GOOD_EVENT_FUNCTION, "eventTrigger": {"eventType": "x"}},
            "functions-run-as-their-own-accounts",
        ),
        (
            rules.FUNCTION,
            {
                **GOOD_EVENT_FUNCTION,
                "eventTrigger": {"serviceAccountEmail": "1-compute@developer.gserviceaccount.com"},
            },
            "functions-run-as-their-own-accounts",
        ),
        (
            rules.FUNCTION,
            with_variables(REDIS_URL="redis://10.0.0.3:6379/0"),
            "functions-keep-secrets-in-secret-manager",
        ),
        (
            rules.FUNCTION,
            with_variables(WEBHOOK_SECRET="x"),
            "functions-keep-secrets-in-secret-manager",
        ),
        (
            rules.FUNCTION,
            with_variables(API_TOKEN="x"),
            "functions-keep-secrets-in-secret-manager",
        ),
        (
            rules.FUNCTION,
            with_variables(db_password="x"),
            "functions-keep-secrets-in-secret-manager",
        ),
        (
            rules.FUNCTION,
            with_variables(STRIPE_API_KEY="x"),
            "functions-keep-secrets-in-secret-manager",
        ),
        (
            rules.FUNCTION,
            with_variables(CACHE="rediss://:hunter2@10.0.0.3:6378/0"),
            "functions-keep-secrets-in-secret-manager",
        ),
        (
            rules.FUNCTION,
            with_variables(CACHE={SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "value": "x"}),
            "functions-keep-secrets-in-secret-manager",
        ),
        (
            rules.FUNCTION,
            {
                **GOOD_FUNCTION,
                "buildConfig": {
                    **GOOD_FUNCTION["buildConfig"],
                    "environmentVariables": {"GITHUB_TOKEN": "ghp_x"},
                },
            },
            "functions-keep-secrets-in-secret-manager",
        ),
        (
            "gcp:projects/iAMMember:IAMMember",
            {"role": "roles/secretmanager.secretAccessor", "member": "user:a@b.c"},
            "secret-access-is-per-secret",
        ),
        (
            "gcp:projects/iAMBinding:IAMBinding",
            {"role": "roles/secretmanager.admin", "members": ["user:a@b.c"]},
            "secret-access-is-per-secret",
        ),
        (
            "gcp:secretmanager/secretIamMember:SecretIamMember",
            {
                "secretId": "redis-url",
                "role": "roles/secretmanager.secretAccessor",
                "member": "allUsers",
            },
            "no-public-members",
        ),
        (
            "gcp:pubsub/topicIAMMember:TopicIAMMember",
            {
                "topic": "feature-runs",
                "role": "roles/pubsub.publisher",
                "member": "allAuthenticatedUsers",
            },
            "no-public-members",
        ),
        (
            "gcp:pubsub/subscriptionIAMBinding:SubscriptionIAMBinding",
            {"subscription": "s", "role": "roles/pubsub.subscriber", "members": ["allUsers"]},
            "no-public-members",
        ),
        # A dataset made public through its access entries, one resource or the dataset's own.
        (
            "gcp:bigquery/datasetAccess:DatasetAccess",
            {"datasetId": "events", "role": "READER", "specialGroup": "allAuthenticatedUsers"},
            "no-public-members",
        ),
        (
            "gcp:bigquery/datasetAccess:DatasetAccess",
            {"datasetId": "events", "role": "READER", "iamMember": "allUsers"},
            "no-public-members",
        ),
        (
            "gcp:bigquery/dataset:Dataset",
            {**GOOD_DATASET, "accesses": [{"role": "READER", "iamMember": "allUsers"}]},
            "no-public-members",
        ),
        # Roles inside a whole policy count as much as a grant's own.
        (
            "gcp:projects/iAMPolicy:IAMPolicy",
            {
                "policyData": json.dumps(
                    {"bindings": [{"role": "roles/owner", "members": ["user:a@b.c"]}]}
                )
            },
            "no-primitive-roles",
        ),
        (
            "gcp:projects/iAMPolicy:IAMPolicy",
            {
                "policyData": json.dumps(
                    {
                        "bindings": [
                            {
                                "role": "roles/secretmanager.secretAccessor",
                                "members": ["serviceAccount:a@p.iam.gserviceaccount.com"],
                            }
                        ]
                    }
                )
            },
            "secret-access-is-per-secret",
        ),
        # No publicAccessPrevention at all: Google's default, "inherited".
        (
            rules.BUCKET,
            {k: v for k, v in GOOD_BUCKET.items() if k != "publicAccessPrevention"},
            "buckets-are-private",
        ),
        # A delete rule that may never fire: it deletes only objects under a prefix.
        (
            rules.BUCKET,
            {
                **GOOD_BUCKET,
                "lifecycleRules": [
                    {
                        "action": {"type": "Delete"},
                        "condition": {"age": 30, "matchesPrefixes": ["tmp/"]},
                    }
                ],
            },
            "buckets-expire",
        ),
        # Deleted means gone soon: the shortest time travel, no soft delete, no versions.
        (rules.DATASET, {"datasetId": "events"}, "datasets-keep-the-shortest-time-travel"),
        (
            rules.DATASET,
            {**GOOD_DATASET, "maxTimeTravelHours": "168"},
            "datasets-keep-the-shortest-time-travel",
        ),
        (
            rules.DATASET,
            {**GOOD_DATASET, "labels": {"personal-data": "user-ids"}, "maxTimeTravelHours": "72"},
            "datasets-keep-the-shortest-time-travel",
        ),
        (
            rules.BUCKET,
            {k: v for k, v in GOOD_BUCKET.items() if k != "softDeletePolicy"},
            "buckets-keep-no-deleted-objects",
        ),
        (
            rules.BUCKET,
            {**GOOD_BUCKET, "softDeletePolicy": {"retentionDurationSeconds": 604800}},
            "buckets-keep-no-deleted-objects",
        ),
        (
            rules.BUCKET,
            {**GOOD_BUCKET, "softDeletePolicy": {}},
            "buckets-keep-no-deleted-objects",
        ),
        (
            rules.BUCKET,
            {**GOOD_BUCKET, "versioning": {"enabled": True}},
            "buckets-keep-no-deleted-objects",
        ),
        # Secrets under names that say so, and a password in a URL's query.
        (
            rules.FUNCTION,
            with_variables(ELEVENLABS_HMAC="x"),
            "functions-keep-secrets-in-secret-manager",
        ),
        (
            rules.FUNCTION,
            with_variables(REDIS_URI="redis://10.0.0.3:6378/0?password=s3cret"),
            "functions-keep-secrets-in-secret-manager",
        ),
        (
            "gcp:storage/bucketIAMMember:BucketIAMMember",
            {
                "role": "roles/storage.objectViewer",
                "member": {SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "value": "allUsers"},
            },
            "grants-name-their-members",
        ),
    ],
)
def test_each_rule_catches_its_violation(
    resource_type: str, props: dict[str, Any], rule: str
) -> None:
    assert violations(resource_type, props) == [rule]


@pytest.mark.parametrize(
    "service_config",
    [
        {"ingressSettings": "ALLOW_ALL"},
        {"ingressSettings": "ALLOW_INTERNAL_AND_GCLB"},
        {},  # Google's default: ALLOW_ALL
    ],
    ids=["all", "gclb", "absent"],
)
def test_an_event_function_reachable_from_outside_breaks_the_rule(
    service_config: dict[str, Any],
) -> None:
    account = {"serviceAccountEmail": "materializer-runtime@p.iam.gserviceaccount.com"}
    props = {**GOOD_EVENT_FUNCTION, "serviceConfig": {**account, **service_config}}

    assert violations(rules.FUNCTION, props) == ["event-functions-take-internal-traffic-only"]
    # Only a function with a trigger: the capture function takes the app's calls from anywhere.
    assert violations(rules.FUNCTION, {**GOOD_FUNCTION, **{"serviceConfig": {**account}}}) == []


def test_retention_settings_not_known_until_up_are_not_judged_at_preview() -> None:
    assert violations(rules.BUCKET, {**GOOD_BUCKET, "softDeletePolicy": None}) == []
    assert violations(rules.DATASET, {**GOOD_DATASET, "maxTimeTravelHours": None}) == []


def test_an_ingress_not_known_until_up_is_not_judged_at_preview() -> None:
    props = {
        **GOOD_EVENT_FUNCTION,
        "serviceConfig": {**GOOD_EVENT_FUNCTION["serviceConfig"], "ingressSettings": None},
    }

    assert violations(rules.FUNCTION, props) == []


def test_an_account_not_known_until_up_is_not_judged_at_preview() -> None:
    props = {
        "serviceConfig": {"serviceAccountEmail": None},
        "buildConfig": {"serviceAccount": None},
    }

    assert violations(rules.FUNCTION, props) == []


def test_each_violating_variable_is_named() -> None:
    props = with_variables(REDIS_URL="redis://h:6379/0", GCP_PROJECT="p", API_TOKEN="t")

    found = rules.functions_keep_secrets_in_secret_manager(rules.FUNCTION, props)
    assert len(found) == 2
    assert "environmentVariables.REDIS_URL" in found[0]
    assert "environmentVariables.API_TOKEN" in found[1]


def test_a_secret_wrapped_environment_is_caught_whole() -> None:
    """What ``Output.secret`` among the variables makes of them: one secret value."""
    wrapped = {SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "value": {"REDIS_URL": "x"}}
    props = {**GOOD_FUNCTION, "serviceConfig": {**GOOD_FUNCTION["serviceConfig"]}}
    props["serviceConfig"]["environmentVariables"] = wrapped

    assert violations(rules.FUNCTION, props) == ["functions-keep-secrets-in-secret-manager"]


RUNTIME = "serviceAccount:capture-runtime@p.iam.gserviceaccount.com"
MATERIALIZER = "serviceAccount:materializer-runtime@p.iam.gserviceaccount.com"


def project_grant(role: str, member: str) -> tuple[str, dict[str, Any]]:
    return ("gcp:projects/iAMMember:IAMMember", {"role": role, "member": member})


def test_a_runtime_account_with_a_project_grant_breaks_the_stack_rule() -> None:
    resources: list[tuple[str, dict[str, Any]]] = [
        (rules.FUNCTION, GOOD_FUNCTION),
        project_grant("roles/bigquery.dataEditor", RUNTIME),
        project_grant(
            "roles/logging.logWriter", "serviceAccount:capture-build@p.iam.gserviceaccount.com"
        ),
    ]

    found = rules.runtime_accounts_have_no_project_grants(resources)
    assert len(found) == 1 and "roles/bigquery.dataEditor" in found[0]
    assert rules.runtime_accounts_have_no_project_grants(resources[::2]) == []


def test_running_query_jobs_is_the_one_project_grant_a_runtime_account_may_hold() -> None:
    resources: list[tuple[str, dict[str, Any]]] = [
        (rules.FUNCTION, GOOD_EVENT_FUNCTION),
        project_grant("roles/bigquery.jobUser", MATERIALIZER),
    ]
    assert rules.runtime_accounts_have_no_project_grants(resources) == []

    resources.append(project_grant("roles/bigquery.dataViewer", MATERIALIZER))
    found = rules.runtime_accounts_have_no_project_grants(resources)
    assert len(found) == 1 and "roles/bigquery.dataViewer" in found[0]


@pytest.mark.parametrize(
    "role",
    [
        "roles/iam.serviceAccountTokenCreator",
        "roles/iam.serviceAccountOpenIdTokenCreator",
        "roles/iam.serviceAccountUser",
    ],
)
def test_a_runtime_account_that_may_act_as_another_breaks_the_stack_rule(role: str) -> None:
    build = "projects/p/serviceAccounts/capture-build@p.iam.gserviceaccount.com"
    grant = {"serviceAccountId": build, "role": role, "member": RUNTIME}
    app = {**grant, "member": "serviceAccount:shop-app@shop.iam.gserviceaccount.com"}
    acts_as = ("gcp:serviceaccount/iAMMember:IAMMember", grant)

    found = rules.stack_violations([(rules.FUNCTION, GOOD_FUNCTION), acts_as])

    assert found == [
        (
            "runtime-accounts-impersonate-nothing",
            f"{RUNTIME}, a function's runtime account, holds {role} on {build}",
        )
    ]
    assert (
        rules.runtime_accounts_impersonate_nothing(
            [(rules.FUNCTION, GOOD_FUNCTION), ("gcp:serviceaccount/iAMMember:IAMMember", app)]
        )
        == []
    )


def test_two_functions_sharing_a_runtime_account_break_the_stack_rule() -> None:
    features = {**GOOD_FUNCTION, "name": "features"}
    own = {
        **GOOD_FUNCTION,
        "name": "features",
        "serviceConfig": {"serviceAccountEmail": "features-runtime@p.iam.gserviceaccount.com"},
    }

    found = rules.functions_have_distinct_runtime_accounts(
        [(rules.FUNCTION, GOOD_FUNCTION), (rules.FUNCTION, features)]
    )
    assert found == [f"functions capture, features share the runtime account {RUNTIME}"]
    assert (
        rules.functions_have_distinct_runtime_accounts(
            [(rules.FUNCTION, GOOD_FUNCTION), (rules.FUNCTION, own)]
        )
        == []
    )


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
                props={"role": "roles/bigquery.admin", "member": RUNTIME},
            ),
        ]
    )
    for stack_rule in rules.STACK_RULES:
        stack_validation(stack_rule)(stack, report)  # type: ignore[arg-type]

    assert len(reported) == 2
    assert "publicAccessPrevention" in reported[0]
    assert "roles/bigquery.admin" in reported[1]


def test_the_pack_holds_every_rule_and_every_stack_rule() -> None:
    names = [policy.name for policy in policies()]

    assert names == [r.name for r in rules.RESOURCE_RULES] + [r.name for r in rules.STACK_RULES]
    assert "functions-have-distinct-runtime-accounts" in names


# The collector as the program declares it: labelled, its write keys from Secret Manager.
KEY_PROTECTED_FUNCTION: dict[str, Any] = {
    **GOOD_FUNCTION,
    "name": "collector",
    "labels": {"app": "event-capture", **rules.KEY_PROTECTED_LABELS},
    "serviceConfig": {
        "serviceAccountEmail": "collector-runtime@p.iam.gserviceaccount.com",
        "secretEnvironmentVariables": [
            {"key": "COLLECTOR_WRITE_KEYS", "projectId": "1", "secret": "k", "version": "1"}
        ],
    },
}
RUN_MEMBER = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
FUNCTION_MEMBER = "gcp:cloudfunctionsv2/functionIamMember:FunctionIamMember"


def public_invoker(service: str, resource_type: str = RUN_MEMBER) -> tuple[str, dict[str, Any]]:
    field = rules.SERVICE_INVOKER_GRANTS[resource_type]
    return (resource_type, {field: service, "role": "roles/run.invoker", "member": "allUsers"})


def excluded_request_log(service: str, **props: Any) -> tuple[str, dict[str, Any]]:
    return (rules.LOG_EXCLUSION, {"filter": request_log_filter(service), **props})


# Both services' request logs excluded, so that only the rule under test speaks.
EXCLUSIONS = [excluded_request_log("collector"), excluded_request_log("capture")]


def public_violations(resources: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Every rule, resource and stack, that the resources break, by name."""
    resources = [*resources, *EXCLUSIONS]
    found = [
        name for resource_type, props in resources for name in violations(resource_type, props)
    ]
    return found + [name for name, _ in rules.stack_violations(resources)]


@pytest.mark.parametrize(
    "grant",
    [
        public_invoker("collector"),
        public_invoker("projects/p/locations/l/services/collector"),
        public_invoker("collector", FUNCTION_MEMBER),
        (
            "gcp:cloudrunv2/serviceIamBinding:ServiceIamBinding",
            {"name": "collector", "role": "roles/run.invoker", "members": ["allUsers"]},
        ),
    ],
    ids=["short-name", "path", "function-member", "binding"],
)
def test_anyone_may_invoke_a_key_protected_function(grant: tuple[str, dict[str, Any]]) -> None:
    assert public_violations([(rules.FUNCTION, KEY_PROTECTED_FUNCTION), grant]) == []


def test_a_key_protected_cloud_run_service_may_be_public_too() -> None:
    service = {
        "name": "collector",
        "labels": dict(rules.KEY_PROTECTED_LABELS),
        "template": {
            "containers": [
                {
                    "envs": [
                        {"name": "PORT_HINT", "value": "8080"},
                        {
                            "name": "COLLECTOR_WRITE_KEYS",
                            "valueSource": {"secretKeyRef": {"secret": "k", "version": "1"}},
                        },
                    ]
                }
            ]
        },
    }

    assert public_violations([(rules.RUN_SERVICE, service), public_invoker("collector")]) == []


UNLABELLED = {key: value for key, value in KEY_PROTECTED_FUNCTION.items() if key != "labels"}
# The label copied onto a function that holds no write keys: it checks nothing.
LABEL_ONLY = {**KEY_PROTECTED_FUNCTION, "serviceConfig": GOOD_FUNCTION["serviceConfig"]}
# The keys as a plain variable: no Secret Manager, so not key-protected (and a plain secret).
PLAIN_KEYS = {
    **KEY_PROTECTED_FUNCTION,
    "serviceConfig": {
        "serviceAccountEmail": "collector-runtime@p.iam.gserviceaccount.com",
        "environmentVariables": {"COLLECTOR_WRITE_KEYS": "wk_live_0123456789abcdef"},
    },
}


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        # The capture function made public: no label.
        (
            [(rules.FUNCTION, GOOD_FUNCTION), public_invoker("capture")],
            ["public-invokers-only-on-key-protected-services"],
        ),
        # Another function made public beside a key-protected one.
        (
            [
                (rules.FUNCTION, KEY_PROTECTED_FUNCTION),
                (rules.FUNCTION, GOOD_FUNCTION),
                public_invoker("capture", FUNCTION_MEMBER),
            ],
            ["public-invokers-only-on-key-protected-services"],
        ),
        # A service that is not in the stack at all.
        ([public_invoker("collector")], ["public-invokers-only-on-key-protected-services"]),
        (
            [(rules.FUNCTION, UNLABELLED), public_invoker("collector")],
            ["public-invokers-only-on-key-protected-services"],
        ),
        (
            [(rules.FUNCTION, LABEL_ONLY), public_invoker("collector")],
            ["public-invokers-only-on-key-protected-services"],
        ),
        (
            [(rules.FUNCTION, PLAIN_KEYS), public_invoker("collector")],
            [
                "functions-keep-secrets-in-secret-manager",
                "public-invokers-only-on-key-protected-services",
            ],
        ),
        # A key-protected function does not make anything else public.
        (
            [
                (rules.FUNCTION, KEY_PROTECTED_FUNCTION),
                public_invoker("collector"),
                (
                    "gcp:storage/bucketIAMMember:BucketIAMMember",
                    {"bucket": "collector", "role": "roles/run.invoker", "member": "allUsers"},
                ),
            ],
            ["no-public-members"],
        ),
    ],
    ids=[
        "capture",
        "other-function",
        "no-such-service",
        "unlabelled",
        "label-without-keys",
        "plain-keys",
        "bucket",
    ],
)
def test_a_public_invoker_on_anything_not_key_protected_fails(
    resources: list[tuple[str, dict[str, Any]]], expected: list[str]
) -> None:
    assert public_violations(resources) == expected


@pytest.mark.parametrize(
    "exclusions",
    [
        [],
        [excluded_request_log("capture")],
        [excluded_request_log("collector", disabled=True)],
        # Another log of the collector's, not its request log.
        [
            (
                rules.LOG_EXCLUSION,
                {
                    "filter": 'resource.labels.service_name="collector" AND '
                    'log_id("run.googleapis.com/stdout")'
                },
            )
        ],
    ],
    ids=["none", "another-service", "disabled", "another-log"],
)
def test_a_public_service_whose_request_log_is_kept_fails(
    exclusions: list[tuple[str, dict[str, Any]]],
) -> None:
    resources = [(rules.FUNCTION, KEY_PROTECTED_FUNCTION), public_invoker("collector")]

    found = rules.public_services_log_no_callers([*resources, *exclusions])

    assert len(found) == 1 and found[0].startswith("collector is public, but its request log")
    assert (
        rules.public_services_log_no_callers([*resources, excluded_request_log("collector")]) == []
    )


def test_the_public_invoker_message_names_the_service_and_what_it_lacks() -> None:
    [message] = rules.public_invokers_only_on_key_protected_services(
        [(rules.FUNCTION, GOOD_FUNCTION), public_invoker("capture")]
    )

    assert "roles/run.invoker to allUsers on capture" in message
    assert "auth=write-key" in message and "WRITE_KEYS from Secret Manager" in message


def test_the_pack_sees_plain_values_through_pulumis_proxies_with_unknowns_as_none() -> None:
    """What the pack is handed at preview: proxies that raise on an unknown value, lists that
    are no ``list``. An unknown member elsewhere must not stop the stack rule."""
    reported: list[str] = []

    def report(message: str, urn: str | None = None) -> None:
        reported.append(message)

    def resource(resource_type: str, props: dict[str, Any]) -> SimpleNamespace:
        return SimpleNamespace(resource_type=resource_type, props=unknown_checking_proxy(props))

    unknown_member = (
        "gcp:bigquery/iamMember:IamMember",
        {"role": "roles/bigquery.dataViewer", "member": UNKNOWN_STRING_VALUE},
    )
    binding = (
        "gcp:storage/bucketIAMBinding:BucketIAMBinding",
        {"role": "roles/storage.objectViewer", "members": ["user:a@b.c", "allUsers"]},
    )
    stack = SimpleNamespace(
        resources=[
            resource(*unknown_member),
            resource(rules.FUNCTION, GOOD_FUNCTION),
            resource(*public_invoker("capture")),
        ]
    )
    rule = next(r for r in rules.STACK_RULES if r.name.startswith("public-invokers"))
    stack_validation(rule)(stack, report)  # type: ignore[arg-type]
    public = next(r for r in rules.RESOURCE_RULES if r.name == "no-public-members")
    resource_validation(public)(resource(*binding), report)  # type: ignore[arg-type]
    resource_validation(public)(resource(*unknown_member), report)  # type: ignore[arg-type]

    assert len(reported) == 2
    assert "allUsers on capture" in reported[0]
    assert reported[1] == "grants to allUsers: nothing in this stack may be public"
    assert plain(unknown_checking_proxy({"a": [UNKNOWN_STRING_VALUE, {"b": 1}]})) == {
        "a": [None, {"b": 1}]
    }
