"""The cost guard in the mocked stack (``costGuardEnabled``, on by default): its accounts and
grants, the control bucket, the function's environment and trigger, capture following the
mode; none of it when off; the policy pack failing a wider custom role; the quota alerts."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from event_capture.contracts import log_fields
from event_capture.cost_guard.config import load_guard_config
from event_capture.ingest.config import load_config
from event_capture.tables.definitions import load_table_definitions
from event_capture.warehouse.catalog import SCHEDULED_TABLES
from infra.function_source import ARCHIVE_BACKFILL, CAPTURE, COLLECTOR, COST_GUARD
from infra.monitoring.log_metrics import QUOTA_EXCEEDED, capture_log_filter
from infra.monitoring.quota_alerts import streaming_limits
from infra.policy import rules
from infra.settings import SettingsError, load_settings
from tests.infra.test_budget_and_monitoring import (
    PAYLOAD_FIELD,
    QUOTA_REASON,
    field_exists,
    real_log_line,
)
from tests.infra.test_stack_security import grants
from tools import mocked_stack
from tools.mocked_stack import MOCK_PROJECT_NUMBER, GoogleMocks, MockedStack, run_mocked
from tools.sample_stacks import PROJECT, REQUIRED_CONFIG, WITH_COLLECTOR

BUCKET = "gcp:storage/bucket:Bucket"
BUCKET_GRANT = "gcp:storage/bucketIAMMember:BucketIAMMember"
TABLE_GRANT = "gcp:bigquery/iamMember:IamMember"
PROJECT_GRANT = "gcp:projects/iAMMember:IAMMember"
ACCOUNT_GRANT = "gcp:serviceaccount/iAMMember:IAMMember"
RUN_GRANT = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
FUNCTION = "gcp:cloudfunctionsv2/function:Function"
TRANSFER = "gcp:bigquery/dataTransferConfig:DataTransferConfig"
POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"

GUARD = f"cost-guard-runtime@{PROJECT}.iam.gserviceaccount.com"
TRIGGER = f"cost-guard-trigger@{PROJECT}.iam.gserviceaccount.com"
BACKFILL_TRIGGER = f"archive-backfill-trigger@{PROJECT}.iam.gserviceaccount.com"
CAPTURE_RUNTIME = f"capture-runtime@{PROJECT}.iam.gserviceaccount.com"
COLLECTOR_RUNTIME = f"collector-runtime@{PROJECT}.iam.gserviceaccount.com"
PUBSUB_AGENT = f"serviceAccount:service-{MOCK_PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com"
LOADER = f"projects/{PROJECT}/roles/eventCaptureLoader"
SWITCH = f"projects/{PROJECT}/roles/eventCaptureQuerySwitch"
QUOTA_POLICIES = ("streaming-rows-near-quota", "streaming-bytes-near-quota")
REFUSED_POLICY = "streaming-quota-exceeded"

OFF = {"event-capture:costGuardEnabled": "false"}
GUARD_PERCENT = {"event-capture:costGuardPercent": "80"}
REGIONAL = {
    **REQUIRED_CONFIG,
    "event-capture:region": "europe-west1",
    "event-capture:datasetLocation": "europe-west1",
}
EVENT_TABLES = sorted(d["table_id"] for d in load_table_definitions())


@dataclass(frozen=True)
class Answered:
    """A mocked stack, with what the mocks answered for each resource: the values Google
    computes (a bucket's name, a transfer config's), which no input holds."""

    stack: MockedStack
    answers: dict[tuple[str, str], dict[str, Any]]

    def computed(self, type_: str, name: str, field: str) -> Any:
        return self.answers[(type_, name)][field]


def run_answered(config: dict[str, str]) -> Answered:
    answers: dict[tuple[str, str], dict[str, Any]] = {}

    class AnsweringMocks(GoogleMocks):
        def new_resource(self, args: Any) -> tuple[str | None, dict[Any, Any]]:
            resource_id, state = super().new_resource(args)
            answers[(args.typ, args.name)] = state
            return resource_id, state

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mocked_stack, "GoogleMocks", AnsweringMocks)
        stack = run_mocked(config)
    return Answered(stack, answers)


@pytest.fixture(scope="module")
def guarded() -> Answered:
    """The defaults, the guard acting at 80 % of the budget."""
    return run_answered({**REQUIRED_CONFIG, **GUARD_PERCENT})


@pytest.fixture(scope="module")
def unguarded() -> MockedStack:
    return run_mocked({**REQUIRED_CONFIG, **OFF})


@pytest.fixture(scope="module")
def unguarded_collector() -> MockedStack:
    return run_mocked({**WITH_COLLECTOR, **OFF})


@pytest.fixture(scope="module")
def regional() -> MockedStack:
    """The dataset in a region, where the streaming quota is lower than in a multi-region."""
    return run_mocked(REGIONAL)


def stack_of(request: pytest.FixtureRequest, fixture: str) -> MockedStack:
    found = request.getfixturevalue(fixture)
    return found.stack if isinstance(found, Answered) else found


def control_bucket(guarded: Answered) -> str:
    return str(guarded.computed(BUCKET, "capture-control", "name"))


def held_by(stack: MockedStack, email: str) -> list[tuple[str, str, str]]:
    """(type, role, what) of every grant to the account, a duplicate listed twice."""
    member = f"serviceAccount:{email}"
    return sorted(
        (
            g.type,
            g.get("role"),
            g.get("bucket")
            or g.get("tableId")
            or g.get("name")
            or g.get("serviceAccountId")
            or f"project {g.get('project')}",
        )
        for g in grants(stack)
        if member in (g.get("members") or [g.get("member")])
    )


def env(stack: MockedStack, function: str) -> dict[str, str]:
    return dict(stack.named(function).get("serviceConfig.environmentVariables"))


# The guard's account, its role, and what capture gains.


def test_the_guard_holds_exactly_its_grants_each_where_it_is_needed(guarded: Answered) -> None:
    stack = guarded.stack

    assert held_by(stack, GUARD) == sorted(
        [
            # It writes capture's mode...
            (BUCKET_GRANT, "roles/storage.objectUser", control_bucket(guarded)),
            # ...reads the archive back...
            (BUCKET_GRANT, "roles/storage.objectViewer", stack.outputs["archiveBucket"]),
            # ...loads it into each event table and reads what is already there...
            *((TABLE_GRANT, LOADER, table) for table in EVENT_TABLES),
            *((TABLE_GRANT, "roles/bigquery.dataViewer", table) for table in EVENT_TABLES),
            # ...and, on the project because jobs and transfer configs have no IAM of their own,
            # runs the load jobs and switches the scheduled queries.
            (PROJECT_GRANT, "roles/bigquery.jobUser", f"project {PROJECT}"),
            (PROJECT_GRANT, SWITCH, f"project {PROJECT}"),
        ]
    )
    tables = [g for g in grants(stack) if g.type == TABLE_GRANT and g.get("member").endswith(GUARD)]
    assert {g.get("datasetId") for g in tables} == {"events"}


def test_the_switch_role_holds_exactly_the_transfer_update_permission(
    guarded: Answered,
) -> None:
    role = guarded.stack.named("scheduled-query-switch")

    assert (role.get("project"), role.get("roleId")) == (PROJECT, "eventCaptureQuerySwitch")
    assert role.get("permissions") == ["bigquery.transfers.update"]


@pytest.mark.parametrize(
    ("fixture", "without", "accounts"),
    [
        ("guarded", "unguarded", (CAPTURE_RUNTIME,)),
        ("stack_with_collector", "unguarded_collector", (CAPTURE_RUNTIME, COLLECTOR_RUNTIME)),
    ],
    ids=["default", "collector"],
)
def test_capture_and_the_collector_gain_a_read_of_the_control_bucket_and_nothing_else(
    fixture: str, without: str, accounts: tuple[str, ...], request: pytest.FixtureRequest
) -> None:
    stack = stack_of(request, fixture)
    before: MockedStack = request.getfixturevalue(without)

    read_mode = (BUCKET_GRANT, "roles/storage.objectViewer", stack.outputs["captureControlBucket"])

    for account in accounts:
        assert held_by(stack, account) == sorted([*held_by(before, account), read_mode]), account


# The control bucket.


def test_the_control_bucket_is_private_versioned_and_never_deletes_the_live_mode(
    guarded: Answered,
) -> None:
    bucket = guarded.stack.named("capture-control")

    assert bucket.get("publicAccessPrevention") == "enforced"
    assert bucket.get("uniformBucketLevelAccess") is True
    assert bucket.get("location") == "us-central1"
    assert bucket.get("versioning") == {"enabled": True}
    # Only old generations (ARCHIVED: noncurrent) are deleted. An age rule on the live object
    # would delete capture's mode document once it is that old, a mode that has not changed in
    # a month being the normal case; capture reads a missing document as "stream", so a stack
    # tripped to archive-only would silently start streaming again, past the budget.
    [rule] = bucket.get("lifecycleRules")
    assert rule["action"] == {"type": "Delete"}
    assert rule["condition"].get("withState") == "ARCHIVED"
    assert set(rule["condition"]) == {"age", "withState"}
    assert guarded.stack.outputs["captureControlBucket"] == control_bucket(guarded)


# The function.


def test_the_guard_is_told_every_scheduled_query_its_threshold_and_the_control_bucket(
    guarded: Answered,
) -> None:
    stack = guarded.stack
    configs = [c.name for c in stack.of_type(TRANSFER)]
    names = [guarded.computed(TRANSFER, name, "name") for name in configs]
    variables = env(stack, COST_GUARD.name)
    capture = load_config(env(stack, CAPTURE.name))

    assert sorted(configs) == sorted(f"schedule-{spec.name}" for spec in SCHEDULED_TABLES)
    assert sorted(variables["SCHEDULED_QUERIES"].split(",")) == sorted(names)
    budget_id = guarded.computed("gcp:billing/budget:Budget", "monthly-budget", "name").split("/")[
        -1
    ]
    assert variables == {
        "GCP_PROJECT": PROJECT,
        # The guard acts on this budget's notifications only.
        "BUDGET_ID": budget_id,
        "BIGQUERY_DATASET": "events",
        # Its load jobs are looked up by id there (a regional dataset's are nowhere else).
        "BIGQUERY_LOCATION": "US",
        "GCS_BUCKET": stack.outputs["archiveBucket"],
        "CAPTURE_MODE_BUCKET": control_bucket(guarded),
        "SCHEDULED_QUERIES": variables["SCHEDULED_QUERIES"],
        "GUARD_THRESHOLD": "0.8",
        # It waits out capture's instances with capture's own numbers.
        "CAPTURE_MODE_TTL_SECONDS": f"{capture.capture_mode_ttl_seconds:g}",
        "REQUEST_DEADLINE_SECONDS": f"{capture.request_deadline_seconds:g}",
    }
    # What the function reads from them.
    config = load_guard_config(variables)
    assert config.settings.threshold == 0.8
    assert sorted(config.settings.queries) == sorted(names)
    assert config.capture_mode_bucket == control_bucket(guarded)
    assert config.gcs_bucket == stack.outputs["archiveBucket"]
    assert config.bigquery_location == "US"
    assert config.budget_id == budget_id
    assert stack.outputs["scheduledQueries"] == variables["SCHEDULED_QUERIES"]


@pytest.mark.parametrize(
    ("fixture", "threshold"), [("stack", "1"), ("guarded", "0.8")], ids=["100", "80"]
)
def test_the_threshold_is_costguardpercent_as_a_share_of_the_budget(
    fixture: str, threshold: str, request: pytest.FixtureRequest
) -> None:
    stack = stack_of(request, fixture)

    assert env(stack, COST_GUARD.name)["GUARD_THRESHOLD"] == threshold


def test_the_guard_runs_on_each_budget_notification_with_retries_one_at_a_time(
    guarded: Answered,
) -> None:
    stack = guarded.stack
    function = stack.named(COST_GUARD.name)
    service = function.get("serviceConfig")

    assert function.get("buildConfig.entryPoint") == COST_GUARD.entry_point
    assert function.get("buildConfig.runtime") == "python313"
    assert service["serviceAccountEmail"] == GUARD
    assert service["ingressSettings"] == "ALLOW_INTERNAL_ONLY"
    assert (service["maxInstanceCount"], service["maxInstanceRequestConcurrency"]) == (1, 1)
    assert function.get("eventTrigger") == {
        "eventType": "google.cloud.pubsub.topic.v1.messagePublished",
        "pubsubTopic": stack.outputs["budgetTopic"],
        "serviceAccountEmail": TRIGGER,
        "retryPolicy": "RETRY_POLICY_RETRY",
    }
    # The topic the budget publishes to.
    budget_rule = stack.named("monthly-budget").get("allUpdatesRule")
    assert budget_rule["pubsubTopic"] == stack.outputs["budgetTopic"]


def test_only_the_trigger_account_may_invoke_the_guard_and_it_may_do_nothing_else(
    guarded: Answered,
) -> None:
    stack = guarded.stack
    invokers = [
        (g.get("member"), g.get("location"))
        for g in grants(stack)
        if g.get("role") in ("roles/run.invoker", "roles/cloudfunctions.invoker")
        and g.get("name") == COST_GUARD.name
    ]

    assert invokers == [(f"serviceAccount:{TRIGGER}", "us-central1")]
    assert held_by(stack, TRIGGER) == [(RUN_GRANT, "roles/run.invoker", COST_GUARD.name)]
    # Pub/Sub's agent signs the push as the trigger account, and as the archive backfill's and
    # the forget function's (tests/infra/test_forget_stack.py): those accounts only.
    assert sorted(
        (g.get("serviceAccountId"), g.get("role"))
        for g in grants(stack)
        if g.get("member") == PUBSUB_AGENT
    ) == [
        (f"projects/{PROJECT}/serviceAccounts/{account}", "roles/iam.serviceAccountTokenCreator")
        for account in (
            BACKFILL_TRIGGER,
            TRIGGER,
            f"forget-trigger@{PROJECT}.iam.gserviceaccount.com",
        )
    ]


@pytest.mark.parametrize(
    ("fixture", "functions"),
    [("guarded", (CAPTURE.name,)), ("stack_with_collector", (CAPTURE.name, COLLECTOR.name))],
    ids=["default", "collector"],
)
def test_capture_and_the_collector_read_their_mode_from_the_control_bucket(
    fixture: str, functions: tuple[str, ...], request: pytest.FixtureRequest
) -> None:
    stack = stack_of(request, fixture)
    writer = stack.named("guard-writes-capture-mode").get("bucket")

    assert writer == stack.outputs["captureControlBucket"]
    for function in functions:
        assert env(stack, function)["CAPTURE_MODE_BUCKET"] == writer, function


# Off.


@pytest.mark.parametrize(
    ("fixture", "with_guard"),
    [("unguarded", "guarded"), ("unguarded_collector", "stack_with_collector")],
    ids=["default", "collector"],
)
def test_without_the_guard_there_is_no_guard_no_control_bucket_and_capture_always_streams(
    fixture: str, with_guard: str, request: pytest.FixtureRequest
) -> None:
    stack: MockedStack = request.getfixturevalue(fixture)
    guarded_stack = stack_of(request, with_guard)
    names = {r.name for r in stack.resources}

    assert COST_GUARD.name not in {f.name for f in stack.of_type(FUNCTION)}
    assert "capture-control" not in {b.name for b in stack.of_type(BUCKET)}
    assert not names & {
        "cost-guard-runtime",
        "cost-guard-trigger",
        "scheduled-query-switch",
        "cost_guard_switches",
        "cost-guard-switched",
    }
    assert not [r for r in stack.resources if r.type == "event-capture:cost:CostGuard"]
    assert not {"captureControlBucket", "scheduledQueries"} & set(stack.outputs)
    # The archive backfill reads BigQuery and writes the archive whatever capture's mode.
    pipeline = [f.name for f in stack.of_type(FUNCTION) if f.name != ARCHIVE_BACKFILL.name]
    assert CAPTURE.name in pipeline
    for function in pipeline:
        # Everything else as with the guard.
        expected = env(guarded_stack, function)
        del expected["CAPTURE_MODE_BUCKET"]
        assert env(stack, function) == expected, function
    # The quota alerts do not depend on the guard.
    assert {p.name for p in stack.of_type(POLICY)} >= {*QUOTA_POLICIES, REFUSED_POLICY}


@pytest.mark.parametrize("sink", ["gcsEnabled", "bigqueryEnabled"])
def test_the_guard_with_a_sink_off_is_refused_naming_the_key(sink: str) -> None:
    config = {**REQUIRED_CONFIG, f"event-capture:{sink}": "false"}

    with pytest.raises(SettingsError, match=re.escape("event-capture:costGuardEnabled: ")):
        load_settings(config)
    with pytest.raises(SettingsError, match="costGuardEnabled"):
        run_mocked(config)
    # Off, the same sink setting is fine.
    assert load_settings({**config, **OFF}).cost_guard_enabled is False


# The policy pack: the stack passes; a wider role, or a project grant of one, fails.


def policy_violations(resources: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Every rule, resource and stack, that the resources break, by name."""
    found = [
        name
        for resource_type, props in resources
        for name, _ in rules.resource_violations(resource_type, props)
    ]
    return sorted(found + [name for name, _ in rules.stack_violations(resources)])


def changed(
    stack: MockedStack, name: str, change: Callable[[dict[str, Any]], dict[str, Any]]
) -> list[tuple[str, dict[str, Any]]]:
    return [(r.type, change(r.inputs) if r.name == name else r.inputs) for r in stack.resources]


def with_permission(permission: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda props: {**props, "permissions": [*props["permissions"], permission]}


def test_the_guarded_stack_passes_the_policy_pack(guarded: Answered) -> None:
    stack = guarded.stack

    assert policy_violations([(r.type, r.inputs) for r in stack.resources]) == []


def test_the_inserter_role_with_an_extra_permission_fails(guarded: Answered) -> None:
    resources = changed(guarded.stack, "event-inserter", with_permission("bigquery.tables.delete"))

    assert policy_violations(resources) == ["custom-roles-are-narrow"]


def test_the_switch_role_with_an_extra_permission_fails_and_its_project_grant_too(
    guarded: Answered,
) -> None:
    """Wider than transfer updates, it is no longer a role that exists only on the project."""
    resources = changed(
        guarded.stack, "scheduled-query-switch", with_permission("bigquery.tables.delete")
    )

    assert policy_violations(resources) == [
        "custom-roles-are-narrow",
        "runtime-accounts-have-no-project-grants",
    ]
    assert rules.runtime_accounts_have_no_project_grants(resources) == [
        f"{SWITCH} is granted project-wide to serviceAccount:{GUARD}, a function's runtime account"
    ]


@pytest.mark.parametrize(
    "permissions",
    [["bigquery.tables.getData"], ["bigquery.transfers.update", "bigquery.tables.getData"]],
    ids=["getData", "switch-and-getData"],
)
@pytest.mark.parametrize("account", [CAPTURE_RUNTIME, GUARD], ids=["capture", "guard"])
def test_a_project_grant_of_a_custom_role_that_reads_tables_to_a_runtime_account_fails(
    guarded: Answered, permissions: list[str], account: str
) -> None:
    role = f"projects/{PROJECT}/roles/eventCaptureReader"
    resources = [
        *((r.type, r.inputs) for r in guarded.stack.resources),
        (
            rules.CUSTOM_ROLE,
            {"project": PROJECT, "roleId": "eventCaptureReader", "permissions": permissions},
        ),
        (PROJECT_GRANT, {"project": PROJECT, "role": role, "member": f"serviceAccount:{account}"}),
    ]

    assert policy_violations(resources) == [
        "custom-roles-are-narrow",
        "runtime-accounts-have-no-project-grants",
    ]
    assert rules.runtime_accounts_have_no_project_grants(resources) == [
        f"{role} is granted project-wide to serviceAccount:{account}, a function's runtime account"
    ]


# The quota alerts.


@pytest.mark.parametrize(("fixture", "location"), [("stack", "US"), ("regional", "europe-west1")])
def test_the_quota_alerts_fire_at_half_the_streaming_limits_of_the_datasets_location(
    fixture: str, location: str, request: pytest.FixtureRequest
) -> None:
    stack: MockedStack = request.getfixturevalue(fixture)
    policies = {p.name: p for p in stack.of_type(POLICY)}
    rows, bytes_ = streaming_limits(location)

    assert stack.named("events").get("location") == location
    thresholds = {
        name: policies[name].get("conditions")[0]["conditionThreshold"]
        for name in (*QUOTA_POLICIES, REFUSED_POLICY)
    }
    assert {name: t["thresholdValue"] for name, t in thresholds.items()} == {
        "streaming-rows-near-quota": rows / 2,
        "streaming-bytes-near-quota": bytes_ / 2,
        REFUSED_POLICY: 0,
    }
    assert thresholds["streaming-rows-near-quota"]["filter"].startswith(
        'metric.type="bigquery.googleapis.com/storage/insertall_inserted_rows"'
    )
    assert thresholds["streaming-bytes-near-quota"]["filter"].startswith(
        'metric.type="bigquery.googleapis.com/storage/insertall_inserted_bytes"'
    )
    assert thresholds[REFUSED_POLICY]["filter"] == (
        f'metric.type="logging.googleapis.com/user/{QUOTA_EXCEEDED}" '
        'AND resource.type="cloud_run_revision" AND resource.labels.service_name="capture"'
    )
    assert f"{rows:,} rows/s" in policies["streaming-rows-near-quota"].get("documentation.content")


def test_a_region_has_a_lower_row_limit_than_a_multi_region() -> None:
    """So the regional stack above checks the other branch."""
    assert streaming_limits("europe-west1")[0] < streaming_limits("US")[0]
    assert streaming_limits("eu") == streaming_limits("US")


@pytest.mark.parametrize(
    ("fixture", "services"),
    [("stack", (CAPTURE.name,)), ("stack_with_collector", (CAPTURE.name, COLLECTOR.name))],
    ids=["default", "collector"],
)
def test_the_quota_metric_counts_the_pipelines_request_lines_with_a_quota_refusal(
    fixture: str, services: tuple[str, ...], request: pytest.FixtureRequest
) -> None:
    stack: MockedStack = request.getfixturevalue(fixture)
    metric = stack.named(QUOTA_EXCEEDED)
    field = f"{log_fields.BIGQUERY_ERROR_REASONS}.{QUOTA_REASON}"

    # The field is the one the pipeline logs (log_fields), not a copy of its name.
    assert metric.get("filter") == f"{capture_log_filter(services)} AND jsonPayload.{field}>0"
    assert PAYLOAD_FIELD.findall(metric.get("filter")) == ["message", field]
    assert field_exists(real_log_line(), field)
    if services == (CAPTURE.name,):
        assert metric.get("filter").startswith(
            'resource.type="cloud_run_revision" AND resource.labels.service_name="capture" '
            f'AND jsonPayload.message="{log_fields.CAPTURE_MESSAGE}" AND '
        )
    # The alert's text points at the same field.
    documentation = stack.named(REFUSED_POLICY).get("documentation.content")
    assert f"`jsonPayload.{log_fields.BIGQUERY_ERROR_REASONS}`" in documentation
