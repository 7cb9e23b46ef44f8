"""Forgetting users in the mocked stack (``forgetEnabled``, on by default): the forget bucket,
the hourly schedule, topic and function, its accounts and their grants, the app's and the
operators' grants on the bucket, its alerts; none of it when off; what the IAM proof traces."""

import json
import re
from dataclasses import replace

import pytest

from event_capture.contracts import log_fields as log
from event_capture.contracts.timing import MODE_TTL_SECONDS
from event_capture.forget.config import load_forget_config
from event_capture.tables.definitions import load_table_definitions
from event_capture.warehouse.catalog import USER_LEVEL_TABLES
from infra.forget import (
    BUCKET_NAME,
    FORGET_EVERY_MINUTES,
    SCHEDULE_NAME,
    TOPIC_NAME,
)
from infra.function_source import FORGET, REPO_ROOT
from infra.monitoring.forget_alerts import FORGET_FAILED, FORGET_PENDING, PENDING_SECONDS
from infra.monitoring.log_metrics import FORGET_RUNS_LEAVING_REQUESTS
from infra.settings import SettingsError, load_settings
from tests.infra.test_archive_backfill_stack import held_by
from tests.infra.test_iam_proof import without
from tests.infra.test_stack_security import grants
from tools.iam_proof import prove
from tools.mocked_stack import MOCK_PROJECT_NUMBER, MockedStack, run_mocked
from tools.sample_stacks import PROJECT, REQUIRED_CONFIG

RUNTIME = f"forget-runtime@{PROJECT}.iam.gserviceaccount.com"
TRIGGER = f"forget-trigger@{PROJECT}.iam.gserviceaccount.com"
APP = "serviceAccount:shop-app@shop.iam.gserviceaccount.com"
OPERATOR = "group:data-team@example.com"
PUBSUB_AGENT = f"serviceAccount:service-{MOCK_PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com"
FUNCTION = "gcp:cloudfunctionsv2/function:Function"
TABLE_GRANT = "gcp:bigquery/iamMember:IamMember"
BUCKET_GRANT = "gcp:storage/bucketIAMMember:BucketIAMMember"
EVENT_TABLES = sorted(d["table_id"] for d in load_table_definitions())
ROW_EDITOR = f"projects/{PROJECT}/roles/eventCaptureRowEditor"
OFF = {"event-capture:forgetEnabled": "false"}
FORGET_ONLY = {
    FORGET.name,
    SCHEDULE_NAME,
    TOPIC_NAME,
    BUCKET_NAME,
    "forget-runtime",
    "forget-trigger",
    FORGET_FAILED,
    FORGET_PENDING,
    FORGET_RUNS_LEAVING_REQUESTS,
}


def permissions(stack: MockedStack, member: str, bucket: str) -> set[str]:
    """Every permission ``member``'s grants on ``bucket`` hold."""
    roles = json.loads((REPO_ROOT / "infra/iam/roles.json").read_text())
    held: set[str] = set()
    for g in grants(stack):
        if g.type == BUCKET_GRANT and g.get("member") == member and g.get("bucket") == bucket:
            held |= set(roles[g.get("role")])
    return held


def test_the_schedule_publishes_hourly_to_the_topic_the_function_is_triggered_by(
    stack: MockedStack,
) -> None:
    job = stack.named(SCHEDULE_NAME)
    function = stack.named(FORGET.name)

    assert job.get("schedule") == "0 * * * *"
    assert FORGET_EVERY_MINUTES == 60
    assert job.get("pubsubTarget.topicName") == f"projects/{PROJECT}/topics/{TOPIC_NAME}"
    assert job.get("attemptDeadline") is None
    assert function.get("eventTrigger") == {
        "eventType": "google.cloud.pubsub.topic.v1.messagePublished",
        "pubsubTopic": job.get("pubsubTarget.topicName"),
        "serviceAccountEmail": TRIGGER,
        "retryPolicy": "RETRY_POLICY_DO_NOT_RETRY",
    }


def test_the_function_runs_once_at_a_time_for_540_s_with_where_capture_writes(
    stack: MockedStack,
) -> None:
    function = stack.named(FORGET.name)
    service = function.get("serviceConfig")
    capture = stack.named("capture").get("serviceConfig.environmentVariables")

    assert function.get("buildConfig.entryPoint") == "forget_users" == FORGET.entry_point
    assert service["serviceAccountEmail"] == RUNTIME
    assert service["ingressSettings"] == "ALLOW_INTERNAL_ONLY"
    assert (service["maxInstanceCount"], service["maxInstanceRequestConcurrency"]) == (1, 1)
    assert service["timeoutSeconds"] == 540
    assert service["environmentVariables"] == {
        **{
            name: capture[name]
            for name in (
                "GCP_PROJECT",
                "BIGQUERY_DATASET",
                "GCS_BUCKET",
                "DEAD_LETTER_BUCKET",
                "CAPTURE_MODE_BUCKET",
                # Capture's, so a suppression is waited out as long as capture takes to see it.
                "REQUEST_DEADLINE_SECONDS",
            )
        },
        # Capture reads the control documents this often (its default, which it is not given).
        "CAPTURE_MODE_TTL_SECONDS": f"{MODE_TTL_SECONDS:g}",
        "FORGET_BUCKET": stack.outputs["forgetBucket"],
        "REDIS_ENABLED": "false",
    }
    assert "secretEnvironmentVariables" not in service
    # What the function reads at start-up accepts it (build_forget's checks included).
    config = load_forget_config(service["environmentVariables"])
    assert (config.forget_bucket, config.redis_enabled) == (stack.outputs["forgetBucket"], False)


def test_with_redis_it_reads_the_url_from_secret_manager_through_the_connector(
    stack_with_redis: MockedStack,
) -> None:
    service = stack_with_redis.named(FORGET.name).get("serviceConfig")
    capture = stack_with_redis.named("capture").get("serviceConfig")

    assert service["environmentVariables"]["REDIS_ENABLED"] == "true"
    assert "REDIS_URL" not in service["environmentVariables"]
    assert service["secretEnvironmentVariables"] == capture["secretEnvironmentVariables"]
    assert service["vpcConnector"] == capture["vpcConnector"]
    assert service["vpcConnectorEgressSettings"] == "PRIVATE_RANGES_ONLY"


def test_the_runtime_is_granted_exactly_its_stores_table_by_table_and_bucket_by_bucket(
    stack: MockedStack,
) -> None:
    outputs = stack.outputs
    user_tables = sorted(spec.name for spec in USER_LEVEL_TABLES)
    buckets = (
        outputs["archiveBucket"],
        outputs["deadLetterBucket"],
        outputs["forgetBucket"],
        outputs["captureControlBucket"],
    )

    assert held_by(stack, RUNTIME) == sorted(
        [
            *(
                (TABLE_GRANT, role, table)
                for table in [*EVENT_TABLES, *user_tables]
                for role in ("roles/bigquery.dataViewer", ROW_EDITOR)
            ),
            ("gcp:projects/iAMMember:IAMMember", "roles/bigquery.jobUser", "project"),
            *((BUCKET_GRANT, "roles/storage.objectUser", bucket) for bucket in buckets),
        ]
    )
    # Aggregates (no user id) are not touched.
    assert "user_daily" in user_tables
    assert "product_recommendations" not in user_tables
    [role] = [
        r
        for r in stack.of_type("gcp:projects/iAMCustomRole:IAMCustomRole")
        if r.get("roleId") == "eventCaptureRowEditor"
    ]
    assert role.get("permissions") == ["bigquery.tables.updateData"]


def test_the_app_may_only_file_a_request_and_the_operators_file_and_read(
    stack_with_principals: MockedStack,
) -> None:
    bucket = stack_with_principals.outputs["forgetBucket"]
    app = permissions(stack_with_principals, APP, bucket)
    operator = permissions(stack_with_principals, OPERATOR, bucket)

    assert "storage.objects.create" in app
    assert not app & {"storage.objects.get", "storage.objects.list", "storage.objects.delete"}
    assert {"storage.objects.create", "storage.objects.get", "storage.objects.list"} <= operator
    assert "storage.objects.delete" not in operator
    # Runs it now by publishing to its topic: Cloud Scheduler has no IAM per job.
    [run_now] = [g for g in grants(stack_with_principals) if g.name == "operator-0-runs-forget"]
    assert (run_now.get("topic"), run_now.get("role")) == (TOPIC_NAME, "roles/pubsub.publisher")


def test_a_grant_of_object_user_to_the_app_would_be_caught(
    stack_with_principals: MockedStack,
) -> None:
    """The negative control: the role a careless change might grant the app instead."""
    [grant] = [g for g in grants(stack_with_principals) if g.name == "app-0-files-forget-requests"]
    wider = replace(grant, inputs={**grant.inputs, "role": "roles/storage.objectUser"})
    stack = MockedStack(
        resources=[wider if r is grant else r for r in stack_with_principals.resources],
        outputs=stack_with_principals.outputs,
    )

    assert "storage.objects.get" in permissions(
        stack, APP, stack_with_principals.outputs["forgetBucket"]
    )


def test_only_its_trigger_may_invoke_it_and_only_pubsub_signs_as_the_trigger(
    stack: MockedStack,
) -> None:
    assert held_by(stack, TRIGGER) == [
        ("gcp:cloudrunv2/serviceIamMember:ServiceIamMember", "roles/run.invoker", FORGET.name)
    ]
    signers = [g for g in grants(stack) if g.get("serviceAccountId", "").endswith(f"/{TRIGGER}")]
    assert [(g.get("member"), g.get("role")) for g in signers] == [
        (PUBSUB_AGENT, "roles/iam.serviceAccountTokenCreator")
    ]


def test_the_iam_proof_holds_the_deletes_to_the_user_level_tables(
    stack_with_principals: MockedStack,
) -> None:
    """No grant missing, none surplus; without the grant on user_daily (which the feature
    tables' resource would have missed) the proof fails naming it."""
    assert prove(stack_with_principals, PROJECT).failures == []

    failures = prove(
        without(stack_with_principals, "forget-deletes-rows-user_daily"), PROJECT
    ).failures

    assert failures == [
        f"serviceAccount:{RUNTIME}: bigquery.tables.updateData on "
        "project/dataset:events/table:user_daily is granted by nothing "
        "(function forget: bigquery.jobs.insert#dml)"
    ]


def test_the_iam_proof_traces_the_apps_and_the_operators_grants_to_their_calls(
    stack_with_principals: MockedStack,
) -> None:
    for name in ("app-0-files-forget-requests", "operator-0-reads-forget-requests"):
        failures = prove(without(stack_with_principals, name), PROJECT).failures
        assert failures and all("forget-requests" in f for f in failures), name


def test_a_failed_run_alerts_on_any_error_entry_of_its_service(stack: MockedStack) -> None:
    policy = stack.named(FORGET_FAILED)
    [condition] = policy.get("conditions")

    assert condition["conditionMatchedLog"]["filter"] == (
        'resource.type="cloud_run_revision" AND resource.labels.service_name="forget" '
        "AND severity>=ERROR"
    )
    assert policy.get("notificationChannels")
    assert TOPIC_NAME in policy.get("documentation.content")


def test_requests_left_by_every_run_for_a_day_alert(stack: MockedStack) -> None:
    metric = stack.named(FORGET_RUNS_LEAVING_REQUESTS)
    policy = stack.named(FORGET_PENDING)
    [condition] = policy.get("conditions")
    threshold = condition["conditionThreshold"]

    assert metric.get("filter") == (
        'resource.type="cloud_run_revision" AND resource.labels.service_name="forget" '
        f'AND jsonPayload.message="{log.FORGET_MESSAGE}" AND jsonPayload.{log.FORGET_LEFT}>0'
    )
    assert f"logging.googleapis.com/user/{FORGET_RUNS_LEAVING_REQUESTS}" in threshold["filter"]
    assert threshold["aggregations"][0]["alignmentPeriod"] == "3600s"
    assert (threshold["comparison"], threshold["thresholdValue"]) == ("COMPARISON_GT", 0)
    # The first window's hour and 23 more: a day of runs, each leaving requests.
    assert threshold["duration"] == f"{PENDING_SECONDS}s" == "82800s"
    assert policy.get("notificationChannels")


def test_the_forget_bucket_is_a_stack_output(stack: MockedStack) -> None:
    assert stack.outputs["forgetBucket"].startswith(f"{BUCKET_NAME}-")
    bucket = stack.named(BUCKET_NAME)
    assert bucket.get("labels")["purpose"] == "forget-requests"
    assert bucket.get("lifecycleRules")[0]["condition"]["age"] == 90


# Off.


@pytest.fixture(scope="module")
def unforgetting() -> MockedStack:
    return run_mocked({**REQUIRED_CONFIG, **OFF})


def test_off_there_is_no_bucket_schedule_function_account_or_alert(
    unforgetting: MockedStack, stack: MockedStack
) -> None:
    names = {r.name for r in unforgetting.resources}

    assert not names & FORGET_ONLY
    assert "forgetBucket" not in unforgetting.outputs
    # The negative control: the default stack has each of them.
    assert {r.name for r in stack.resources} >= FORGET_ONLY


def test_without_the_cost_guard_it_is_left_out_unless_asked_for_which_fails_naming_the_key() -> (
    None
):
    config = {**REQUIRED_CONFIG, "event-capture:costGuardEnabled": "false"}

    assert load_settings(config).forget_enabled is False
    assert not [f for f in run_mocked(config).of_type(FUNCTION) if f.name == FORGET.name]
    with pytest.raises(
        SettingsError,
        match=re.escape("event-capture:forgetEnabled: true needs costGuardEnabled true"),
    ):
        load_settings({**config, "event-capture:forgetEnabled": "true"})
    assert load_settings(REQUIRED_CONFIG).forget_enabled is True
