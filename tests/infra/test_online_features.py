"""Online features in the mocked stack: the Redis secret, the features function and the
materializer, their accounts, grants and trigger; and none of it without ``redisEnabled``."""

import pytest

from event_capture.warehouse.catalog import FEATURE_TABLES, USER_RECOMMENDATIONS
from infra.function_source import (
    ARCHIVE_BACKFILL,
    CAPTURE,
    COST_GUARD,
    FEATURES,
    MATERIALIZER,
    FunctionSource,
)
from infra.redis_secret import SECRET_ID, VARIABLE
from tests.infra.test_stack_security import INVOKER, grants
from tools.mocked_stack import MOCK_PROJECT_NUMBER, MockedStack
from tools.plan import describe
from tools.sample_stacks import PROJECT, REDIS_URL, WITH_REDIS

CAPTURE_RUNTIME = f"capture-runtime@{PROJECT}.iam.gserviceaccount.com"
FEATURES_RUNTIME = f"features-runtime@{PROJECT}.iam.gserviceaccount.com"
MATERIALIZER_RUNTIME = f"materializer-runtime@{PROJECT}.iam.gserviceaccount.com"
TRIGGER = f"materializer-trigger@{PROJECT}.iam.gserviceaccount.com"
GUARD_TRIGGER = f"cost-guard-trigger@{PROJECT}.iam.gserviceaccount.com"
BACKFILL_TRIGGER = f"archive-backfill-trigger@{PROJECT}.iam.gserviceaccount.com"
FORGET_TRIGGER = f"forget-trigger@{PROJECT}.iam.gserviceaccount.com"
FORGET_RUNTIME = f"forget-runtime@{PROJECT}.iam.gserviceaccount.com"
TRANSFER_AGENT = (
    f"serviceAccount:service-{MOCK_PROJECT_NUMBER}@gcp-sa-bigquerydatatransfer"
    ".iam.gserviceaccount.com"
)
TRANSFER = "gcp:bigquery/dataTransferConfig:DataTransferConfig"
SECRET_GRANT = "gcp:secretmanager/secretIamMember:SecretIamMember"


def grants_to(stack: MockedStack, email: str) -> set[tuple[str, str, str]]:
    """(type, role, where) of every grant to the account."""
    return {
        (g.type, g.get("role"), g.get("tableId") or g.get("secretId") or g.get("name") or "project")
        for g in grants(stack)
        if g.get("member") == f"serviceAccount:{email}"
    }


def secret_variable() -> dict[str, str]:
    return {"key": VARIABLE, "projectId": MOCK_PROJECT_NUMBER, "secret": SECRET_ID, "version": "1"}


def test_the_redis_url_is_one_secret_kept_in_the_region(stack_with_redis: MockedStack) -> None:
    [secret] = stack_with_redis.of_type("gcp:secretmanager/secret:Secret")
    [version] = stack_with_redis.of_type("gcp:secretmanager/secretVersion:SecretVersion")

    assert secret.get("secretId") == SECRET_ID
    assert secret.get("replication") == {"userManaged": {"replicas": [{"location": "us-central1"}]}}
    assert version.get("secret") == f"projects/{PROJECT}/secrets/{SECRET_ID}"


def test_the_redis_url_is_a_pulumi_secret_and_in_nothing_else(
    stack_with_redis: MockedStack,
) -> None:
    [version] = stack_with_redis.of_type("gcp:secretmanager/secretVersion:SecretVersion")

    # Output.secret arrives wrapped: Pulumi encrypts it in the state.
    assert version.get("secretData.value") == REDIS_URL
    assert len(version.get("secretData")) == 2
    elsewhere = [r.name for r in stack_with_redis.resources if r is not version]
    assert [
        name for name in elsewhere if REDIS_URL in str(stack_with_redis.named(name).inputs)
    ] == []


@pytest.mark.parametrize("function", [CAPTURE, FEATURES, MATERIALIZER], ids=lambda f: f.name)
def test_every_function_that_talks_to_redis_reads_the_pinned_secret_version(
    stack_with_redis: MockedStack, function: FunctionSource
) -> None:
    deployed = stack_with_redis.named(function.name)

    assert deployed.get("serviceConfig.secretEnvironmentVariables") == [secret_variable()]
    assert VARIABLE not in deployed.get("serviceConfig.environmentVariables")
    # Memorystore is reached through the connector, Google's APIs directly.
    assert deployed.get("serviceConfig.vpcConnector") == WITH_REDIS["event-capture:vpcConnector"]
    assert deployed.get("serviceConfig.vpcConnectorEgressSettings") == "PRIVATE_RANGES_ONLY"


def test_the_capture_function_turns_the_sink_on_and_reads_the_url_from_the_secret(
    stack_with_redis: MockedStack,
) -> None:
    env = stack_with_redis.named("capture").get("serviceConfig.environmentVariables")

    assert env["REDIS_ENABLED"] == "true"
    assert grants_to(stack_with_redis, CAPTURE_RUNTIME) >= {
        (SECRET_GRANT, "roles/secretmanager.secretAccessor", SECRET_ID)
    }


def test_each_secret_grant_is_on_the_secret_and_to_a_reading_function_only(
    stack_with_redis: MockedStack,
) -> None:
    secret_grants = stack_with_redis.of_type(SECRET_GRANT)

    assert sorted(g.get("member") for g in secret_grants) == sorted(
        f"serviceAccount:{a}"
        for a in (CAPTURE_RUNTIME, FEATURES_RUNTIME, MATERIALIZER_RUNTIME, FORGET_RUNTIME)
    )
    assert {(g.get("secretId"), g.get("role")) for g in secret_grants} == {
        (SECRET_ID, "roles/secretmanager.secretAccessor")
    }
    assert not [
        g
        for g in grants(stack_with_redis)
        if "secretmanager" in g.get("role") and g.type != SECRET_GRANT
    ]


def test_the_features_function_reads_redis_only(stack_with_redis: MockedStack) -> None:
    function = stack_with_redis.named("features")

    assert function.get("serviceConfig.serviceAccountEmail") == FEATURES_RUNTIME
    assert function.get("buildConfig.entryPoint") == FEATURES.entry_point
    assert function.get("serviceConfig.environmentVariables") == {"THREADS": "16"}
    assert function.get("eventTrigger") is None
    # No BigQuery, no Cloud Storage, nothing project-wide: the secret is all it may read.
    assert grants_to(stack_with_redis, FEATURES_RUNTIME) == {
        (SECRET_GRANT, "roles/secretmanager.secretAccessor", SECRET_ID)
    }


def test_the_features_function_answers_fast_or_not_at_all(stack_with_redis: MockedStack) -> None:
    service = stack_with_redis.named("features").get("serviceConfig")

    assert service["ingressSettings"] == "ALLOW_ALL"
    assert service["timeoutSeconds"] == 10
    assert service["availableMemory"] == "256Mi"
    assert service["maxInstanceRequestConcurrency"] == 16
    assert (service["minInstanceCount"], service["maxInstanceCount"]) == (0, 3)


def test_only_the_apps_account_may_call_the_features_function_and_only_the_trigger_the_materializer(
    stack_with_redis: MockedStack,
) -> None:
    invokers = [g for g in grants(stack_with_redis) if g.get("role") == "roles/run.invoker"]

    assert sorted((g.get("name"), g.get("member")) for g in invokers) == [
        (ARCHIVE_BACKFILL.name, f"serviceAccount:{BACKFILL_TRIGGER}"),
        ("capture", INVOKER),
        (COST_GUARD.name, f"serviceAccount:{GUARD_TRIGGER}"),
        ("features", INVOKER),
        ("forget", f"serviceAccount:{FORGET_TRIGGER}"),
        ("materializer", f"serviceAccount:{TRIGGER}"),
    ]
    assert grants_to(stack_with_redis, TRIGGER) == {
        ("gcp:cloudrunv2/serviceIamMember:ServiceIamMember", "roles/run.invoker", "materializer")
    }


def test_the_materializer_reads_the_four_feature_tables_runs_queries_and_reads_the_secret(
    stack_with_redis: MockedStack,
) -> None:
    table_grant = "gcp:bigquery/iamMember:IamMember"

    assert grants_to(stack_with_redis, MATERIALIZER_RUNTIME) == {
        *((table_grant, "roles/bigquery.dataViewer", spec.name) for spec in FEATURE_TABLES),
        ("gcp:projects/iAMMember:IAMMember", "roles/bigquery.jobUser", "project"),
        (SECRET_GRANT, "roles/secretmanager.secretAccessor", SECRET_ID),
    }
    assert len(FEATURE_TABLES) == 4
    readers = [
        g
        for g in grants(stack_with_redis)
        if g.name.startswith("materializer-reads-") and g.type == table_grant
    ]
    assert {g.get("datasetId") for g in readers} == {"events"}


def test_the_materializer_runs_on_each_notification_with_retries_one_load_at_a_time(
    stack_with_redis: MockedStack,
) -> None:
    function = stack_with_redis.named("materializer")
    [topic] = [
        t for t in stack_with_redis.of_type("gcp:pubsub/topic:Topic") if t.name == "feature-runs"
    ]

    assert function.get("buildConfig.entryPoint") == MATERIALIZER.entry_point
    assert function.get("serviceConfig.serviceAccountEmail") == MATERIALIZER_RUNTIME
    assert function.get("eventTrigger") == {
        "eventType": "google.cloud.pubsub.topic.v1.messagePublished",
        "pubsubTopic": f"projects/{PROJECT}/topics/{topic.name}",
        "serviceAccountEmail": TRIGGER,
        "retryPolicy": "RETRY_POLICY_RETRY",
    }
    service = function.get("serviceConfig")
    assert service["ingressSettings"] == "ALLOW_INTERNAL_ONLY"
    assert (service["maxInstanceCount"], service["maxInstanceRequestConcurrency"]) == (1, 1)
    assert service["environmentVariables"] == {
        "GCP_PROJECT": PROJECT,
        "BIGQUERY_DATASET": "events",
    }


def test_the_last_feature_query_announces_its_runs_on_the_topic(
    stack_with_redis: MockedStack,
) -> None:
    configs = {c.name.removeprefix("schedule-"): c for c in stack_with_redis.of_type(TRANSFER)}

    assert {n for n, c in configs.items() if c.get("notificationPubsubTopic")} == {
        USER_RECOMMENDATIONS.name
    }
    assert configs[USER_RECOMMENDATIONS.name].get("notificationPubsubTopic") == (
        f"projects/{PROJECT}/topics/feature-runs"
    )
    # Only the Data Transfer Service's agent may publish there, and only there.
    publishers = [g for g in grants(stack_with_redis) if g.get("role") == "roles/pubsub.publisher"]
    assert [
        (g.get("topic"), g.get("member")) for g in publishers if g.get("topic") == "feature-runs"
    ] == [("feature-runs", TRANSFER_AGENT)]
    assert [g.get("topic") for g in publishers if g.get("member") == TRANSFER_AGENT] == [
        "feature-runs"
    ]


def test_user_recommendations_is_the_feature_query_that_runs_last() -> None:
    """The notification must come from the run after which every feature table has its day."""
    assert max(FEATURE_TABLES, key=lambda spec: spec.schedule) is USER_RECOMMENDATIONS
    assert [s for s in FEATURE_TABLES if s.schedule == USER_RECOMMENDATIONS.schedule] == [
        USER_RECOMMENDATIONS
    ]


def test_pubsub_may_sign_as_the_trigger_accounts_and_as_nothing_else(
    stack_with_redis: MockedStack,
) -> None:
    agent = f"serviceAccount:service-{MOCK_PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com"

    # The materializer's trigger, the cost guard's (tests/infra/test_cost_guard_stack.py), the
    # archive backfill's (tests/infra/test_archive_backfill_stack.py) and the forget function's.
    assert sorted(
        (g.get("serviceAccountId"), g.get("role"))
        for g in grants(stack_with_redis)
        if g.get("member") == agent
    ) == [
        (
            f"projects/{PROJECT}/serviceAccounts/{account}",
            "roles/iam.serviceAccountTokenCreator",
        )
        for account in (BACKFILL_TRIGGER, GUARD_TRIGGER, FORGET_TRIGGER, TRIGGER)
    ]


def test_the_features_url_is_a_stack_output(
    stack_with_redis: MockedStack, stack: MockedStack
) -> None:
    assert stack_with_redis.outputs["featuresUrl"].startswith("https://features-")
    assert "featuresUrl" not in stack.outputs


ONLINE_ONLY = (
    "gcp:secretmanager/secret:Secret",
    "gcp:secretmanager/secretVersion:SecretVersion",
    SECRET_GRANT,
    "event-capture:features:OnlineFeatures",
    "event-capture:features:RedisSecret",
)


@pytest.mark.parametrize("fixture", ["stack", "stack_with_principals"])
def test_without_redis_there_is_no_secret_no_features_function_and_no_materializer(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    stack: MockedStack = request.getfixturevalue(fixture)

    assert [r.name for r in stack.resources if r.type in ONLINE_ONLY] == []
    functions = stack.of_type("gcp:cloudfunctionsv2/function:Function")
    # The cost guard and the archive backfill are on by default and independent of Redis.
    assert sorted(f.name for f in functions) == [
        ARCHIVE_BACKFILL.name,
        "capture",
        COST_GUARD.name,
        "forget",
    ]
    assert stack.named("capture").get("serviceConfig.secretEnvironmentVariables") is None
    names = {r.name for r in stack.resources}
    assert not names & {"features-runtime", "materializer-runtime", "materializer-trigger"}
    assert not [r for r in stack.of_type("gcp:pubsub/topic:Topic") if r.name == "feature-runs"]
    assert not [c for c in stack.of_type(TRANSFER) if c.get("notificationPubsubTopic")]


def test_the_plan_describes_the_new_resources_without_the_secret(
    stack_with_redis: MockedStack,
) -> None:
    lines = [text for r in stack_with_redis.resources if (text := describe(r))]
    plan = "\n".join(lines)

    assert REDIS_URL not in plan
    assert "redis-url, replicated in us-central1" in plan
    assert "REDIS_URL from secret redis-url" in plan
    assert f"triggered by projects/{PROJECT}/topics/feature-runs as {TRIGGER}" in plan
    accessor = f"roles/secretmanager.secretAccessor to serviceAccount:{FEATURES_RUNTIME}"
    assert f"{accessor} on secretId redis-url" in plan


def test_the_features_function_and_the_materializer_feed_log_metrics(
    stack_with_redis: MockedStack, stack: MockedStack
) -> None:
    from event_capture.contracts.log_fields import FEATURES_MESSAGE, MATERIALIZE_MESSAGE

    metrics = {m.name: m for m in stack_with_redis.of_type("gcp:logging/metric:Metric")}
    latency, unavailable = metrics["features_latency"], metrics["features_unavailable"]
    runs = metrics["materializer_runs"]
    for metric in (latency, unavailable):
        assert f'service_name="{FEATURES.name}"' in metric.get("filter")
        assert f'jsonPayload.message="{FEATURES_MESSAGE}"' in metric.get("filter")
    assert latency.get("valueExtractor") == "EXTRACT(jsonPayload.latency_ms)"
    assert "jsonPayload.http_status=503" in unavailable.get("filter")
    assert f'service_name="{MATERIALIZER.name}"' in runs.get("filter")
    assert f'jsonPayload.message="{MATERIALIZE_MESSAGE}"' in runs.get("filter")
    assert runs.get("labelExtractors") == {"outcome": "EXTRACT(jsonPayload.outcome)"}
    without = {m.name for m in stack.of_type("gcp:logging/metric:Metric")}
    assert not without & {"features_latency", "features_unavailable", "materializer_runs"}
