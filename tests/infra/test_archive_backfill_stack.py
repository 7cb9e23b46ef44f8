"""The scheduled archive backfill in the mocked stack (``archiveBackfillEnabled``, on by
default): its schedule, topic and function, its accounts and their grants, its alert; none of it
when off or with a sink off; what the IAM proof traces to the scheduler's grant."""

import json
import re
from dataclasses import replace

import pytest

from event_capture.contracts import log_fields as log
from event_capture.contracts.archive_layout import BACKFILL_EVERY_MINUTES, BACKFILL_LOOKBACK_HOURS
from event_capture.tables.definitions import load_table_definitions
from infra.archive_backfill import SCHEDULE_NAME
from infra.function_source import ARCHIVE_BACKFILL, REPO_ROOT
from infra.monitoring.backfill_alerts import BACKFILL_FAILED, BACKFILL_NOT_RUNNING
from infra.monitoring.log_metrics import ARCHIVE_LINES_BACKFILLED
from infra.schedule import cron_every
from infra.settings import SettingsError, load_settings
from tests.infra.test_iam_proof import without
from tests.infra.test_stack_security import grants
from tools.iam_proof import prove
from tools.mocked_stack import MOCK_PROJECT_NUMBER, MockedStack, run_mocked
from tools.sample_stacks import PROJECT, REQUIRED_CONFIG

RUNTIME = f"archive-backfill-runtime@{PROJECT}.iam.gserviceaccount.com"
TRIGGER = f"archive-backfill-trigger@{PROJECT}.iam.gserviceaccount.com"
PUBSUB_AGENT = f"serviceAccount:service-{MOCK_PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com"
SCHEDULER_AGENT = (
    f"serviceAccount:service-{MOCK_PROJECT_NUMBER}@gcp-sa-cloudscheduler.iam.gserviceaccount.com"
)
TOPIC = "archive-backfill-runs"
PUBLISHER = "roles/pubsub.publisher"
JOB = "gcp:cloudscheduler/job:Job"
FUNCTION = "gcp:cloudfunctionsv2/function:Function"
POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"
TABLE_GRANT = "gcp:bigquery/iamMember:IamMember"
BUCKET_GRANT = "gcp:storage/bucketIAMMember:BucketIAMMember"
EVENT_TABLES = sorted(d["table_id"] for d in load_table_definitions())
OFF = {"event-capture:archiveBackfillEnabled": "false"}
# The resources only the backfill brings, by name.
BACKFILL_ONLY = {
    ARCHIVE_BACKFILL.name,
    SCHEDULE_NAME,
    TOPIC,
    "archive-backfill-runtime",
    "archive-backfill-trigger",
    BACKFILL_FAILED,
    BACKFILL_NOT_RUNNING,
    ARCHIVE_LINES_BACKFILLED,
}


@pytest.fixture(scope="module")
def unscheduled() -> MockedStack:
    return run_mocked({**REQUIRED_CONFIG, **OFF})


def held_by(stack: MockedStack, email: str) -> list[tuple[str, str, str]]:
    """(type, role, what) of every grant to the account, a duplicate listed twice."""
    return sorted(
        (g.type, g.get("role"), g.get("tableId") or g.get("bucket") or g.get("name") or "project")
        for g in grants(stack)
        if g.get("member") == f"serviceAccount:{email}"
    )


def test_the_schedule_publishes_to_the_topic_the_function_is_triggered_by(
    stack: MockedStack,
) -> None:
    job = stack.named(SCHEDULE_NAME)
    function = stack.named(ARCHIVE_BACKFILL.name)

    assert job.name == SCHEDULE_NAME
    assert job.get("schedule") == "0 * * * *" == cron_every(BACKFILL_EVERY_MINUTES)
    assert (job.get("timeZone"), job.get("region")) == ("Etc/UTC", "us-central1")
    assert job.get("pubsubTarget.topicName") == f"projects/{PROJECT}/topics/{TOPIC}"
    assert job.get("pubsubTarget.data")
    # Ignored for Pub/Sub targets, and a diff that never resolves when set.
    assert job.get("attemptDeadline") is None
    assert function.get("eventTrigger") == {
        "eventType": "google.cloud.pubsub.topic.v1.messagePublished",
        "pubsubTopic": job.get("pubsubTarget.topicName"),
        "serviceAccountEmail": TRIGGER,
        "retryPolicy": "RETRY_POLICY_DO_NOT_RETRY",
    }


def test_a_failed_run_is_covered_by_the_runs_after_it_not_retried() -> None:
    """Not retried: the lookback spans at least two later runs, so one failed run loses
    nothing."""
    assert BACKFILL_LOOKBACK_HOURS * 60 >= 3 * BACKFILL_EVERY_MINUTES


def test_the_function_runs_once_at_a_time_as_its_own_account_with_captures_variables(
    stack: MockedStack,
) -> None:
    function = stack.named(ARCHIVE_BACKFILL.name)
    service = function.get("serviceConfig")

    assert function.get("buildConfig.entryPoint") == ARCHIVE_BACKFILL.entry_point
    assert function.get("buildConfig.runtime") == "python313"
    assert service["serviceAccountEmail"] == RUNTIME
    assert service["ingressSettings"] == "ALLOW_INTERNAL_ONLY"
    assert (service["maxInstanceCount"], service["maxInstanceRequestConcurrency"]) == (1, 1)
    assert (service["minInstanceCount"], service["timeoutSeconds"]) == (0, 540)
    capture = stack.named("capture").get("serviceConfig.environmentVariables")
    assert service["environmentVariables"] == {
        name: capture[name] for name in ("GCP_PROJECT", "BIGQUERY_DATASET", "GCS_BUCKET")
    }
    assert "secretEnvironmentVariables" not in service


def test_the_runtime_reads_each_event_table_and_adds_to_the_archive_and_nothing_else(
    stack: MockedStack,
) -> None:
    archive = stack.outputs["archiveBucket"]
    writer = f"projects/{PROJECT}/roles/eventCaptureObjectWriter"

    assert held_by(stack, RUNTIME) == sorted(
        [
            *((TABLE_GRANT, "roles/bigquery.dataViewer", table) for table in EVENT_TABLES),
            ("gcp:projects/iAMMember:IAMMember", "roles/bigquery.jobUser", "project"),
            (BUCKET_GRANT, "roles/storage.objectViewer", archive),
            (BUCKET_GRANT, writer, archive),
        ]
    )
    # Table by table, in the events dataset: no dataset-wide read, no other dataset.
    readers = [
        g for g in grants(stack) if g.name.startswith("backfill-reads-") and g.type == TABLE_GRANT
    ]
    assert {g.get("datasetId") for g in readers} == {"events"}


# What lets a principal remove or rewrite an archived object: without delete, an upload cannot
# replace an object either.
REWRITING = ("storage.objects.delete", "storage.objects.update", "storage.objects.setIamPolicy")


def archive_permissions(stack: MockedStack) -> dict[str, set[str]]:
    """By member, every permission its grants on the archive bucket hold (infra/iam/roles.json
    for Google's roles, the stack's own for custom ones)."""
    roles = json.loads((REPO_ROOT / "infra/iam/roles.json").read_text())
    roles |= {
        f"projects/{PROJECT}/roles/{r.get('roleId')}": r.get("permissions")
        for r in stack.of_type("gcp:projects/iAMCustomRole:IAMCustomRole")
    }
    archive = stack.named("events-archive")
    held: dict[str, set[str]] = {}
    for g in grants(stack):
        # A grant names the bucket by its physical name: the logical one and a suffix.
        if g.type == BUCKET_GRANT and g.get("bucket").startswith(f"{archive.name}-"):
            held.setdefault(g.get("member"), set()).update(roles[g.get("role")])
    return held


def test_the_runtime_may_list_read_and_create_archive_objects(stack: MockedStack) -> None:
    assert archive_permissions(stack)[f"serviceAccount:{RUNTIME}"] >= {
        "storage.objects.create",
        "storage.objects.get",
        "storage.objects.list",
    }


def test_no_one_but_the_forget_function_may_delete_or_replace_an_archived_object(
    stack_with_everything: MockedStack,
) -> None:
    """The archive only grows (until its lifecycle rule): the backfill, capture, the collector
    and the cost guard add to it or read it; the forget function alone rewrites an object
    without a forgotten user's lines."""
    held = archive_permissions(stack_with_everything)
    forget = f"serviceAccount:forget-runtime@{PROJECT}.iam.gserviceaccount.com"

    assert len(held) == 5
    rewriters = {member: p & set(REWRITING) for member, p in held.items() if p & set(REWRITING)}
    assert set(rewriters) == {forget}


def test_a_grant_of_object_user_on_the_archive_would_be_caught(stack: MockedStack) -> None:
    """The negative control: the role a careless change might grant instead."""
    [grant] = [g for g in grants(stack) if g.name == "backfill-creates-archive"]
    wider = replace(grant, inputs={**grant.inputs, "role": "roles/storage.objectUser"})
    stack = MockedStack(
        resources=[wider if r is grant else r for r in stack.resources], outputs=stack.outputs
    )

    assert "storage.objects.delete" in archive_permissions(stack)[f"serviceAccount:{RUNTIME}"]


def test_only_its_trigger_may_invoke_it_and_only_pubsub_signs_as_the_trigger(
    stack: MockedStack,
) -> None:
    invokers = [
        g.get("member")
        for g in grants(stack)
        if g.get("role") in ("roles/run.invoker", "roles/cloudfunctions.invoker")
        and g.get("name") == ARCHIVE_BACKFILL.name
    ]

    assert invokers == [f"serviceAccount:{TRIGGER}"]
    assert held_by(stack, TRIGGER) == [
        (
            "gcp:cloudrunv2/serviceIamMember:ServiceIamMember",
            "roles/run.invoker",
            "archive-backfill",
        )
    ]
    signers = [g for g in grants(stack) if g.get("serviceAccountId", "").endswith(f"/{TRIGGER}")]
    assert [(g.get("member"), g.get("role")) for g in signers] == [
        (PUBSUB_AGENT, "roles/iam.serviceAccountTokenCreator")
    ]


def test_the_scheduler_agent_may_publish_to_the_scheduled_topics_only(stack: MockedStack) -> None:
    published = [
        (g.get("topic"), g.get("role")) for g in grants(stack) if g.get("member") == SCHEDULER_AGENT
    ]

    assert sorted(published) == [(TOPIC, "roles/pubsub.publisher"), ("forget-runs", PUBLISHER)]


def test_the_iam_proof_traces_the_schedules_publish_to_that_grant(stack: MockedStack) -> None:
    assert prove(stack, PROJECT).failures == []

    failures = prove(without(stack, "scheduler-agent-publishes-backfill-runs"), PROJECT).failures

    assert failures == [
        f"{SCHEDULER_AGENT}: pubsub.topics.publish on project/topic:{TOPIC} is granted by nothing "
        f"(scheduler job {SCHEDULE_NAME}: pubsub.projects.topics.publish)"
    ]


def test_a_failed_run_alerts_on_any_error_entry_of_the_backfills_service(
    stack: MockedStack,
) -> None:
    policy = stack.named(BACKFILL_FAILED)
    [condition] = policy.get("conditions")
    log_filter = condition["conditionMatchedLog"]["filter"]

    assert log_filter == (
        'resource.type="cloud_run_revision" AND resource.labels.service_name="archive-backfill" '
        "AND severity>=ERROR"
    )
    assert policy.get("notificationChannels")
    assert "make backfill-archive" in policy.get("documentation.content")


def test_each_runs_written_lines_feed_a_metric_from_its_own_log_line(stack: MockedStack) -> None:
    metric = stack.named(ARCHIVE_LINES_BACKFILLED)

    assert metric.get("filter") == (
        'resource.type="cloud_run_revision" AND resource.labels.service_name="archive-backfill" '
        f'AND jsonPayload.message="{log.BACKFILL_MESSAGE}" '
        f"AND jsonPayload.{log.BACKFILL_WRITTEN}>=0"
    )
    assert metric.get("valueExtractor") == f"EXTRACT(jsonPayload.{log.BACKFILL_WRITTEN})"


def test_no_successful_run_for_the_lookback_alerts(stack: MockedStack) -> None:
    """What writes no entry at all (a paused schedule, a broken trigger) is seen by the absence
    of the service's 2xx answers, summed over its revisions."""
    policy = stack.named(BACKFILL_NOT_RUNNING)
    [condition] = policy.get("conditions")
    absent = condition["conditionAbsent"]

    assert absent["duration"] == f"{BACKFILL_LOOKBACK_HOURS * 3600}s"
    assert 'resource.labels.service_name="archive-backfill"' in absent["filter"]
    assert 'metric.label.response_code_class="2xx"' in absent["filter"]
    assert absent["aggregations"][0]["groupByFields"] == ["resource.label.service_name"]
    assert policy.get("notificationChannels")
    assert SCHEDULE_NAME in policy.get("documentation.content")


@pytest.mark.parametrize(
    ("minutes", "cron"),
    [
        (60, "0 * * * *"),
        (15, "*/15 * * * *"),
        (1, "*/1 * * * *"),
        (180, "0 */3 * * *"),
        (1440, "0 0 * * *"),
    ],
)
def test_the_schedule_is_a_cron_of_equal_intervals(minutes: int, cron: str) -> None:
    assert cron_every(minutes) == cron


@pytest.mark.parametrize("minutes", [0, 7, 45, 90, 300, 2880])
def test_an_interval_cron_cannot_keep_equal_is_refused_naming_the_constant(minutes: int) -> None:
    with pytest.raises(ValueError, match=re.escape("BACKFILL_EVERY_MINUTES: must divide")):
        cron_every(minutes)


# Off.


def test_off_there_is_no_schedule_topic_function_account_or_alert(
    unscheduled: MockedStack, stack: MockedStack
) -> None:
    names = {r.name for r in unscheduled.resources}

    assert not names & BACKFILL_ONLY
    assert not [j for j in unscheduled.of_type(JOB) if j.name == SCHEDULE_NAME]
    assert not [r for r in unscheduled.resources if r.type.endswith(":ArchiveBackfill")]
    assert not [
        g
        for g in grants(unscheduled)
        if g.get("member") == SCHEDULER_AGENT and g.get("topic") == TOPIC
    ]
    # The negative control: the default stack has each of them.
    assert {r.name for r in stack.resources} >= BACKFILL_ONLY


@pytest.mark.parametrize("sink", ["gcsEnabled", "bigqueryEnabled"])
def test_with_a_sink_off_it_is_left_out_unless_asked_for_which_fails_naming_the_key(
    sink: str,
) -> None:
    config = {
        **REQUIRED_CONFIG,
        "event-capture:costGuardEnabled": "false",
        f"event-capture:{sink}": "false",
    }

    assert load_settings(config).archive_backfill_enabled is False
    assert not run_mocked(config).of_type(JOB)
    with pytest.raises(
        SettingsError,
        match=re.escape(
            "event-capture:archiveBackfillEnabled: true needs bigqueryEnabled and gcsEnabled"
        ),
    ):
        load_settings({**config, "event-capture:archiveBackfillEnabled": "true"})
    assert load_settings(REQUIRED_CONFIG).archive_backfill_enabled is True
