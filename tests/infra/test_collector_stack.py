"""The collector in the mocked stack: off by default; when on, its own account with capture's
grants, its secrets in Secret Manager only, invoked by the app's account or, when public, by
anyone, bounded by its own cap; the policy pack passing each configuration and failing the
public grant anywhere else."""

import json
from pathlib import Path
from typing import Any

import pytest

from event_capture.collector.auth import WriteKeys
from event_capture.collector.config import load_collector_config
from event_capture.collector.handler import Collector, CollectorRequest
from event_capture.collector.identity import Unproven, UserIdProofs
from event_capture.collector.limits import Edge
from event_capture.contracts import log_fields
from event_capture.cost.flood import FLOOD_SHARE, default_caps
from event_capture.schemas import user_proof
from infra.collector_function import (
    ALLOWED_ORIGINS_VARIABLE,
    DAILY_EVENTS_VARIABLE,
    DAILY_REQUESTS_VARIABLE,
    USER_ID_SECRETS_SECRET,
    USER_ID_SECRETS_VARIABLE,
    WEBHOOK_SECRETS_SECRET,
    WEBHOOK_SECRETS_VARIABLE,
    WRITE_KEYS_SECRET,
    WRITE_KEYS_VARIABLE,
    flood_day,
    unproven_user_ids_warning,
)
from infra.function_source import (
    ARCHIVE_BACKFILL,
    COLLECTOR,
    COST_GUARD,
    FORGET,
    build_source_archive,
)
from infra.monitoring.budget import budget_warnings
from infra.monitoring.log_metrics import (
    ARCHIVE_LINES_BACKFILLED,
    EDGE_REFUSALS,
    FORGET_RUNS_LEAVING_REQUESTS,
    MOSTLY_REJECTED,
    unproven_metric,
)
from infra.policy.rules import PUBLIC_MEMBERS, resource_violations, stack_violations
from infra.redis_secret import SECRET_ID as REDIS_SECRET
from infra.settings import SettingsError, load_settings
from tests.infra.test_budget_and_monitoring import (
    GUARD_METRICS,
    PAYLOAD_FIELD,
    backend_breakers,
    field_exists,
    quota_refused_pipeline,
)
from tests.infra.test_online_features import SECRET_GRANT, grants_to
from tests.infra.test_stack_security import BACKFILL_TRIGGER, FORGET_TRIGGER, INVOKER, grants
from tests.unit.collector import calls
from tests.unit.event_factory import RECEIVED_AT
from tools.mocked_stack import MOCK_PROJECT_NUMBER, MockedResource, MockedStack, run_mocked
from tools.plan import describe
from tools.plan import main as plan
from tools.sample_stacks import (
    ORIGINS,
    PROJECT,
    REQUIRED_CONFIG,
    USER_ID_SECRET,
    WEBHOOK_SECRET,
    WITH_COLLECTOR,
    WITH_EVERYTHING,
    WRITE_KEYS,
)

CAPTURE_RUNTIME = f"capture-runtime@{PROJECT}.iam.gserviceaccount.com"
COLLECTOR_RUNTIME = f"collector-runtime@{PROJECT}.iam.gserviceaccount.com"
GUARD_TRIGGER = f"serviceAccount:cost-guard-trigger@{PROJECT}.iam.gserviceaccount.com"
ACCESSOR = "roles/secretmanager.secretAccessor"
RUN_MEMBER = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
FUNCTION = "gcp:cloudfunctionsv2/function:Function"
SECRET_VALUES = (*WRITE_KEYS, WEBHOOK_SECRET, USER_ID_SECRET)
PUBLIC = {**WITH_COLLECTOR, "event-capture:collectorPublic": "true"}


@pytest.fixture(scope="module")
def public_stack() -> MockedStack:
    """Public, without webhook secrets or Redis: the smallest public collector."""
    return run_mocked(PUBLIC)


def invoker_grants(stack: MockedStack) -> list[tuple[str, str, str]]:
    return sorted(
        (g.name, g.get("name"), g.get("member"))
        for g in grants(stack)
        if g.get("role") == "roles/run.invoker"
    )


def public_grants(stack: MockedStack) -> list[MockedResource]:
    return [g for g in grants(stack) if PUBLIC_MEMBERS & set(g.get("members") or [g.get("member")])]


def policy_violations(resources: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, str]]:
    found = [
        v for resource_type, props in resources for v in resource_violations(resource_type, props)
    ]
    return found + stack_violations(resources)


def as_resources(stack: MockedStack) -> list[tuple[str, dict[str, Any]]]:
    return [(r.type, r.inputs) for r in stack.resources]


# Off by default.


@pytest.mark.parametrize("fixture", ["stack", "stack_with_principals", "stack_with_redis"])
def test_without_collector_enabled_there_is_no_trace_of_it(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    stack: MockedStack = request.getfixturevalue(fixture)

    assert [r for r in stack.resources if "collector" in r.name] == []
    assert not [r for r in stack.of_type(FUNCTION) if r.name == COLLECTOR.name]
    assert "collectorUrl" not in stack.outputs
    # The metrics read capture's lines exactly as deployed before the collector existed.
    assert stack.named("capture_events_accepted").get("filter") == (
        'resource.type="cloud_run_revision" AND resource.labels.service_name="capture" '
        'AND jsonPayload.message="capture" AND jsonPayload.events_accepted>=0'
    )


# The function.


@pytest.mark.parametrize("fixture", ["stack_with_collector", "stack_with_everything"])
def test_the_collector_is_a_gen2_function_built_from_its_own_source_as_its_own_account(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    stack: MockedStack = request.getfixturevalue(fixture)
    function = stack.named(COLLECTOR.name)
    archive = build_source_archive(COLLECTOR)

    assert function.get("buildConfig.entryPoint") == "collector"
    assert function.get("buildConfig.runtime") == "python313"
    assert function.get("buildConfig.serviceAccount") == (
        f"projects/{PROJECT}/serviceAccounts/capture-build@{PROJECT}.iam.gserviceaccount.com"
    )
    assert function.get("buildConfig.source.storageSource.object") == archive.object_name
    assert archive.object_name.startswith("collector/")
    assert function.get("serviceConfig.serviceAccountEmail") == COLLECTOR_RUNTIME
    assert function.get("labels") == {
        "app": "event-capture",
        "managed-by": "pulumi",
        "auth": "write-key",
    }
    assert stack.outputs["collectorUrl"].startswith("https://collector-")


def test_its_instances_are_capped_by_their_own_setting_and_none_kept_warm() -> None:
    config = {
        **WITH_COLLECTOR,
        "event-capture:collectorMaxInstances": "5",
        "event-capture:functionMinInstances": "1",
    }
    stack = run_mocked(config)
    collector = stack.named(COLLECTOR.name).get("serviceConfig")
    capture = stack.named("capture").get("serviceConfig")

    assert (collector["minInstanceCount"], collector["maxInstanceCount"]) == (0, 5)
    assert (capture["minInstanceCount"], capture["maxInstanceCount"]) == (1, 3)
    # Sized as capture: it runs the same pipeline, with the same budget per request.
    for field in (
        "availableMemory",
        "availableCpu",
        "maxInstanceRequestConcurrency",
        "timeoutSeconds",
        "ingressSettings",
    ):
        assert collector[field] == capture[field], field


def test_the_default_cap_is_two_instances(stack_with_collector: MockedStack) -> None:
    assert stack_with_collector.named(COLLECTOR.name).get("serviceConfig.maxInstanceCount") == 2


def test_its_plain_variables_are_captures_the_origins_and_its_share_of_the_caps(
    stack_with_collector: MockedStack,
) -> None:
    collector = stack_with_collector.named(COLLECTOR.name).get("serviceConfig.environmentVariables")
    capture = stack_with_collector.named("capture").get("serviceConfig.environmentVariables")
    # Two client keys (a key given alone is one), two instances: each takes half of each cap.
    caps = default_caps(budget=5, client_keys=2)

    assert collector == {
        **capture,
        ALLOWED_ORIGINS_VARIABLE: ",".join(ORIGINS),
        DAILY_REQUESTS_VARIABLE: str(caps.requests // 2),
        DAILY_EVENTS_VARIABLE: str(caps.events // 2),
    }


def test_every_client_key_at_its_default_caps_costs_a_tenth_of_the_budget_a_day() -> None:
    for budget in ("5", "50", "500"):
        config = {**WITH_COLLECTOR, "event-capture:budgetAmount": budget}
        settings = load_settings(config)
        day = flood_day(settings)

        assert day.usd <= int(budget) * FLOOD_SHARE
        assert day.usd >= int(budget) * FLOOD_SHARE * 0.99


def test_caps_set_above_a_tenth_of_the_budget_are_warned_of_at_deploy() -> None:
    config = {**WITH_COLLECTOR, "event-capture:collectorDailyRequests": "10000000"}
    settings = load_settings(config)

    [warning] = budget_warnings(settings, flood_day(settings))

    assert warning.startswith("collectorDailyRequests and collectorDailyEvents let a flood")
    assert (
        budget_warnings(load_settings(WITH_COLLECTOR), flood_day(load_settings(WITH_COLLECTOR)))
        == []
    )


def test_without_origins_no_browser_is_configured() -> None:
    config = {k: v for k, v in WITH_COLLECTOR.items() if "AllowedOrigins" not in k}
    env = run_mocked(config).named(COLLECTOR.name).get("serviceConfig.environmentVariables")

    assert ALLOWED_ORIGINS_VARIABLE not in env


def test_the_deployed_variables_start_the_collector(stack_with_everything: MockedStack) -> None:
    """Its own configuration loader accepts what the stack sets, the secrets as Cloud Run
    resolves them; both write keys are accepted, and the user-id secret proves user ids."""
    deployed = stack_with_everything.named(COLLECTOR.name)
    samples = {
        WRITE_KEYS_VARIABLE: ",".join(WRITE_KEYS),
        WEBHOOK_SECRETS_VARIABLE: WEBHOOK_SECRET,
        USER_ID_SECRETS_VARIABLE: USER_ID_SECRET,
        "REDIS_URL": "redis://10.0.0.3:6379/0",
    }
    env = dict(deployed.get("serviceConfig.environmentVariables"))
    for secret in deployed.get("serviceConfig.secretEnvironmentVariables"):
        env[secret["key"]] = samples[secret["key"]]

    config = load_collector_config(env)
    assert all(config.write_keys.accepts(key) for key in WRITE_KEYS)
    assert not config.write_keys.accepts(WEBHOOK_SECRET)
    assert config.user_id_secrets == (USER_ID_SECRET,)
    assert config.redis_enabled is True


# Secrets.


def secret_variable(secret_id: str, key: str) -> dict[str, str]:
    return {"key": key, "projectId": MOCK_PROJECT_NUMBER, "secret": secret_id, "version": "1"}


def test_the_write_keys_are_a_secret_variable_pinned_to_their_version(
    stack_with_collector: MockedStack,
) -> None:
    function = stack_with_collector.named(COLLECTOR.name)

    # No webhook secrets configured: no secret, and the collector refuses every webhook.
    assert function.get("serviceConfig.secretEnvironmentVariables") == [
        secret_variable(WRITE_KEYS_SECRET, WRITE_KEYS_VARIABLE)
    ]
    assert [
        s.get("secretId") for s in stack_with_collector.of_type("gcp:secretmanager/secret:Secret")
    ] == [WRITE_KEYS_SECRET]


def test_with_everything_it_reads_four_secrets(stack_with_everything: MockedStack) -> None:
    function = stack_with_everything.named(COLLECTOR.name)

    assert sorted(
        function.get("serviceConfig.secretEnvironmentVariables"), key=lambda v: v["key"]
    ) == [
        secret_variable(USER_ID_SECRETS_SECRET, USER_ID_SECRETS_VARIABLE),
        secret_variable(WRITE_KEYS_SECRET, WRITE_KEYS_VARIABLE),
        secret_variable(WEBHOOK_SECRETS_SECRET, WEBHOOK_SECRETS_VARIABLE),
        secret_variable(REDIS_SECRET, "REDIS_URL"),
    ]


@pytest.mark.parametrize(
    ("secret_id", "value"),
    [
        (WRITE_KEYS_SECRET, json.dumps(list(WRITE_KEYS))),
        (WEBHOOK_SECRETS_SECRET, WEBHOOK_SECRET),
        (USER_ID_SECRETS_SECRET, USER_ID_SECRET),
    ],
)
def test_each_secret_is_kept_in_the_region_as_a_pulumi_secret(
    stack_with_everything: MockedStack, secret_id: str, value: str
) -> None:
    secret = stack_with_everything.named(secret_id)
    version = stack_with_everything.named(f"{secret_id}-value")

    assert secret.get("replication") == {"userManaged": {"replicas": [{"location": "us-central1"}]}}
    assert version.get("secret") == f"projects/{PROJECT}/secrets/{secret_id}"
    # Output.secret arrives wrapped: Pulumi encrypts it in the state.
    assert version.get("secretData.value") == value
    assert len(version.get("secretData")) == 2


@pytest.mark.parametrize("fixture", ["stack_with_collector", "stack_with_everything"])
def test_no_secret_value_is_in_any_other_resource_or_the_plan(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    stack: MockedStack = request.getfixturevalue(fixture)
    versions = {r.name for r in stack.of_type("gcp:secretmanager/secretVersion:SecretVersion")}
    elsewhere = [r for r in stack.resources if r.name not in versions]
    plan_text = "\n".join(text for r in stack.resources if (text := describe(r)))

    for value in SECRET_VALUES:
        assert [r.name for r in elsewhere if value in json.dumps(r.inputs, default=str)] == []
        assert value not in plan_text
        assert value not in json.dumps(stack.outputs, default=str)


# Grants.


OBJECT_WRITER = f"projects/{PROJECT}/roles/eventCaptureObjectWriter"


def data_grants(stack: MockedStack, email: str) -> set[tuple[str, str, str]]:
    return {g for g in grants_to(stack, email) if g[0] != SECRET_GRANT}


@pytest.mark.parametrize("fixture", ["stack_with_collector", "stack_with_everything"])
def test_the_collector_may_write_exactly_what_capture_may_write(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    stack: MockedStack = request.getfixturevalue(fixture)
    collector_grants = [g for g in grants(stack) if g.get("member").endswith(COLLECTOR_RUNTIME)]

    assert data_grants(stack, COLLECTOR_RUNTIME) == data_grants(stack, CAPTURE_RUNTIME)
    assert {(g.type, g.get("role")) for g in collector_grants if g.type != SECRET_GRANT} == {
        ("gcp:bigquery/iamMember:IamMember", f"projects/{PROJECT}/roles/eventCaptureInserter"),
        ("gcp:storage/bucketIAMMember:BucketIAMMember", OBJECT_WRITER),
        # Capture's mode, which the cost guard writes (tests/infra/test_cost_guard_stack.py).
        ("gcp:storage/bucketIAMMember:BucketIAMMember", "roles/storage.objectViewer"),
    }
    assert {(g.get("role"), g.get("bucket")) for g in collector_grants if "storage" in g.type} == {
        (OBJECT_WRITER, stack.outputs["archiveBucket"]),
        (OBJECT_WRITER, stack.outputs["deadLetterBucket"]),
        ("roles/storage.objectViewer", stack.outputs["captureControlBucket"]),
    }


def test_the_collector_reads_its_own_secrets_only(stack_with_collector: MockedStack) -> None:
    secret_grants = stack_with_collector.of_type(SECRET_GRANT)

    assert {
        g for g in grants_to(stack_with_collector, COLLECTOR_RUNTIME) if g[0] == SECRET_GRANT
    } == {(SECRET_GRANT, ACCESSOR, WRITE_KEYS_SECRET)}
    assert [(g.get("secretId"), g.get("member")) for g in secret_grants] == [
        (WRITE_KEYS_SECRET, f"serviceAccount:{COLLECTOR_RUNTIME}")
    ]


def test_with_everything_each_secret_is_read_by_exactly_its_functions(
    stack_with_everything: MockedStack,
) -> None:
    readers: dict[str, set[str]] = {}
    for grant in stack_with_everything.of_type(SECRET_GRANT):
        assert grant.get("role") == ACCESSOR
        readers.setdefault(grant.get("secretId"), set()).add(
            grant.get("member").removeprefix("serviceAccount:").split("@")[0]
        )

    assert readers == {
        WRITE_KEYS_SECRET: {"collector-runtime"},
        WEBHOOK_SECRETS_SECRET: {"collector-runtime"},
        USER_ID_SECRETS_SECRET: {"collector-runtime"},
        REDIS_SECRET: {
            "capture-runtime",
            "features-runtime",
            "materializer-runtime",
            "collector-runtime",
            "forget-runtime",
        },
    }
    # Nothing of Secret Manager on the project or any other resource.
    assert not [
        g
        for g in grants(stack_with_everything)
        if "secretmanager" in g.get("role") and g.type != SECRET_GRANT
    ]


def test_the_collector_holds_nothing_project_wide_and_runs_nothing_else(
    stack_with_everything: MockedStack,
) -> None:
    assert not [
        g
        for g in grants_to(stack_with_everything, COLLECTOR_RUNTIME)
        if g[0].startswith("gcp:projects/")
    ]
    runs_as = [
        f.name
        for f in stack_with_everything.of_type(FUNCTION)
        if f.get("serviceConfig.serviceAccountEmail") == COLLECTOR_RUNTIME
    ]
    assert runs_as == [COLLECTOR.name]


# Who may call it.


def test_private_only_the_apps_account_may_call_it(stack_with_collector: MockedStack) -> None:
    assert invoker_grants(stack_with_collector) == [
        ("invoker-calls-capture", "capture", INVOKER),
        ("invoker-calls-collector", "collector", INVOKER),
        ("trigger-calls-archive-backfill", ARCHIVE_BACKFILL.name, BACKFILL_TRIGGER),
        ("trigger-calls-cost-guard", COST_GUARD.name, GUARD_TRIGGER),
        ("trigger-calls-forget", FORGET.name, FORGET_TRIGGER),
    ]
    assert public_grants(stack_with_collector) == []


@pytest.mark.parametrize("fixture", ["public_stack", "stack_with_everything"])
def test_public_anyone_may_call_the_collector_and_nothing_else_is_public(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    stack: MockedStack = request.getfixturevalue(fixture)

    [public] = public_grants(stack)
    assert (public.type, public.name, public.get("role"), public.get("member")) == (
        RUN_MEMBER,
        "anyone-calls-collector",
        "roles/run.invoker",
        "allUsers",
    )
    assert (public.get("name"), public.get("location")) == (COLLECTOR.name, "us-central1")
    # allUsers includes the app: no grant of its own on the collector; capture unchanged.
    assert [g for g in invoker_grants(stack) if g[1] != "features" and g[1] != "materializer"] == [
        ("anyone-calls-collector", "collector", "allUsers"),
        ("invoker-calls-capture", "capture", INVOKER),
        ("trigger-calls-archive-backfill", ARCHIVE_BACKFILL.name, BACKFILL_TRIGGER),
        ("trigger-calls-cost-guard", COST_GUARD.name, GUARD_TRIGGER),
        ("trigger-calls-forget", FORGET.name, FORGET_TRIGGER),
    ]


# The policy pack, on the whole stack.


@pytest.mark.parametrize(
    "fixture", ["stack", "stack_with_collector", "public_stack", "stack_with_everything"]
)
def test_the_policy_pack_passes_the_whole_stack(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    stack: MockedStack = request.getfixturevalue(fixture)

    assert policy_violations(as_resources(stack)) == []


def _changed(
    stack: MockedStack, name: str, change: dict[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    """The stack's resources, one of them with some inputs replaced."""
    return [
        (r.type, {**r.inputs, **change} if r.name == name else r.inputs) for r in stack.resources
    ]


def test_the_capture_function_made_public_fails(public_stack: MockedStack) -> None:
    resources = _changed(public_stack, "anyone-calls-collector", {"name": "capture"})

    # Capture's request log is kept, too: it was never meant to be public.
    assert [rule for rule, _ in policy_violations(resources)] == [
        "public-services-log-no-callers",
        "public-invokers-only-on-key-protected-services",
    ]


def test_the_capture_function_with_the_collectors_label_made_public_still_fails(
    public_stack: MockedStack,
) -> None:
    """The label alone protects nothing: capture reads no write keys."""
    labels = public_stack.named(COLLECTOR.name).get("labels")
    resources = _changed(public_stack, "capture", {"labels": labels})
    resources.append(
        (RUN_MEMBER, {"name": "capture", "role": "roles/run.invoker", "member": "allUsers"})
    )

    assert [rule for rule, _ in policy_violations(resources)] == [
        "public-services-log-no-callers",
        "public-invokers-only-on-key-protected-services",
    ]


def test_the_public_collector_without_its_request_log_exclusion_fails(
    public_stack: MockedStack,
) -> None:
    resources = [
        (r.type, r.inputs) for r in public_stack.resources if r.name != "collector-request-logs"
    ]

    assert [rule for rule, _ in policy_violations(resources)] == ["public-services-log-no-callers"]


def test_the_collector_without_its_label_may_not_be_public(public_stack: MockedStack) -> None:
    resources = _changed(public_stack, COLLECTOR.name, {"labels": {"app": "event-capture"}})

    assert [rule for rule, _ in policy_violations(resources)] == [
        "public-invokers-only-on-key-protected-services"
    ]


@pytest.mark.parametrize(
    ("type_", "props"),
    [
        (
            "gcp:storage/bucketIAMMember:BucketIAMMember",
            {
                "bucket": "events-archive",
                "role": "roles/storage.objectViewer",
                "member": "allUsers",
            },
        ),
        (
            SECRET_GRANT,
            {"secretId": WRITE_KEYS_SECRET, "role": ACCESSOR, "member": "allUsers"},
        ),
        (
            "gcp:bigquery/iamMember:IamMember",
            {"tableId": "orders", "role": "roles/bigquery.dataViewer", "member": "allUsers"},
        ),
        (
            RUN_MEMBER,
            {"name": "collector", "role": "roles/run.invoker", "member": "allAuthenticatedUsers"},
        ),
    ],
    ids=["bucket", "secret", "table", "all-authenticated"],
)
def test_a_public_grant_anywhere_else_fails(
    public_stack: MockedStack, type_: str, props: dict[str, Any]
) -> None:
    resources = [*as_resources(public_stack), (type_, props)]

    assert [rule for rule, _ in policy_violations(resources)] == ["no-public-members"]


# Settings, the plan.


def test_the_collector_needs_its_write_keys() -> None:
    config = {k: v for k, v in WITH_COLLECTOR.items() if k != "event-capture:collectorWriteKeys"}

    with pytest.raises(SettingsError, match="event-capture:collectorWriteKeys: required"):
        run_mocked(config)


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        # One character short of the collector's own minimum: it would not start.
        (json.dumps(["u" * 31]), "32 to 256"),
        (json.dumps([USER_ID_SECRET, USER_ID_SECRET + "2", USER_ID_SECRET + "3"]), "at most 2"),
        (json.dumps([USER_ID_SECRET, USER_ID_SECRET]), "the same value twice"),
        (json.dumps([USER_ID_SECRET + ",x"]), "without spaces, commas"),
    ],
)
def test_a_user_id_secret_the_collector_would_refuse_stops_the_program(
    value: str, rule: str
) -> None:
    config = {**WITH_COLLECTOR, "event-capture:collectorUserIdSecrets": value}

    with pytest.raises(SettingsError, match=r"^event-capture:collectorUserIdSecrets") as error:
        load_settings(config)

    assert rule in str(error.value)
    assert USER_ID_SECRET not in str(error.value) and "u" * 31 not in str(error.value)


def test_the_stacks_minimum_is_the_collectors(stack_with_everything: MockedStack) -> None:
    """What the stack accepts, the collector starts with; one character less, neither does."""
    env = dict(
        stack_with_everything.named(COLLECTOR.name).get("serviceConfig.environmentVariables")
    )
    env[WRITE_KEYS_VARIABLE] = WRITE_KEYS[0]
    shortest = "u" * 32
    config = {**WITH_COLLECTOR, "event-capture:collectorUserIdSecrets": json.dumps([shortest])}

    assert load_settings(config).collector_user_id_secrets == (shortest,)
    assert load_collector_config({**env, USER_ID_SECRETS_VARIABLE: shortest}).user_id_secrets
    with pytest.raises(ValueError, match="at least 32 characters"):
        load_collector_config({**env, USER_ID_SECRETS_VARIABLE: shortest[1:]})


def test_the_user_id_secrets_are_a_secret_variable_read_by_the_collector_alone(
    stack_with_everything: MockedStack,
) -> None:
    secret = stack_with_everything.named(USER_ID_SECRETS_SECRET)
    [grant] = [
        g
        for g in stack_with_everything.of_type(SECRET_GRANT)
        if g.get("secretId") == USER_ID_SECRETS_SECRET
    ]

    assert secret.get("secretId") == USER_ID_SECRETS_SECRET
    assert (grant.name, grant.get("role"), grant.get("member")) == (
        f"collector-reads-{USER_ID_SECRETS_SECRET}",
        ACCESSOR,
        f"serviceAccount:{COLLECTOR_RUNTIME}",
    )
    env = stack_with_everything.named(COLLECTOR.name).get("serviceConfig.environmentVariables")
    assert USER_ID_SECRETS_VARIABLE not in env


def test_two_user_id_secrets_while_rotating_reach_the_collector_as_one_variable() -> None:
    second = "uid_" + "0123456789abcdef" * 4
    config = {
        **WITH_COLLECTOR,
        "event-capture:collectorUserIdSecrets": json.dumps([USER_ID_SECRET, second]),
    }
    deployed = run_mocked(config)
    value = deployed.named(f"{USER_ID_SECRETS_SECRET}-value").get("secretData.value")
    env = dict(deployed.named(COLLECTOR.name).get("serviceConfig.environmentVariables"))

    assert value == f"{USER_ID_SECRET},{second}"
    loaded = load_collector_config(
        {**env, WRITE_KEYS_VARIABLE: WRITE_KEYS[0], USER_ID_SECRETS_VARIABLE: value}
    )
    assert loaded.user_id_secrets == (USER_ID_SECRET, second)


def test_client_keys_without_a_user_id_secret_are_warned_of_at_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = load_settings(WITH_COLLECTOR)
    warning = unproven_user_ids_warning(settings)

    # The sample keys are plain strings: client keys, with ids derived from them.
    assert warning is not None
    assert warning.startswith("collectorUserIdSecrets is not set, so calls with the client keys")
    assert all(key_id in warning for key_id in settings.collector_key_classes)
    for value in WRITE_KEYS:
        assert value not in warning
    with caplog.at_level("WARNING"):
        run_mocked(WITH_COLLECTOR)
    assert warning in caplog.text


@pytest.mark.parametrize(
    "config",
    [
        {**WITH_COLLECTOR, "event-capture:collectorUserIdSecrets": json.dumps([USER_ID_SECRET])},
        # Server keys are the backend's: their user ids are trusted without a proof.
        {
            **WITH_COLLECTOR,
            "event-capture:collectorWriteKeys": json.dumps(
                [{"id": "backend", "class": "server", "key": WRITE_KEYS[0]}]
            ),
        },
        REQUIRED_CONFIG,
    ],
    ids=["with-secret", "server-keys-only", "no-collector"],
)
def test_no_warning_when_every_user_id_can_be_kept(config: dict[str, str]) -> None:
    assert unproven_user_ids_warning(load_settings(config)) is None


def test_make_plan_shows_the_public_collector_without_its_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Plain values only here: the plan reads no encrypted ones (a real stack sets --secret).
    stack_file = tmp_path / "Pulumi.collector.yaml"
    config = {**WITH_EVERYTHING, **REQUIRED_CONFIG}
    stack_file.write_text(
        "config:\n" + "".join(f"  {key}: {json.dumps(value)}\n" for key, value in config.items())
    )

    assert plan([str(stack_file)]) == 0
    out = capsys.readouterr().out

    assert "Function collector" in out and "python313 entry collector" in out
    assert f"runs as {COLLECTOR_RUNTIME}" in out
    assert "0-2 instances" in out
    assert "write key checked by the function" in out
    assert f"{WRITE_KEYS_VARIABLE} from secret {WRITE_KEYS_SECRET}" in out
    assert "roles/run.invoker to allUsers on name collector" in out
    assert "collectorUrl:" in out
    for value in SECRET_VALUES:
        assert value not in out


# Monitoring: the collector's line feeds the same metrics, alerts and dashboard.


def batch_request(batch: list[dict[str, Any]], key: str) -> CollectorRequest:
    """A Segment batch as an SDK posts it, under ``key``."""
    body = json.dumps({"batch": batch}).encode()
    return CollectorRequest(
        method="POST",
        path="/v1/batch",
        mimetype="application/json",
        content_length=len(body),
        content_encoding=None,
        authorization=calls.basic(key),
        body=body,
    )


def from_a_page(call: dict[str, Any], proof_secret: str = USER_ID_SECRET) -> dict[str, Any]:
    """``call`` as a browser sends it: its device's anonymous id, and its user id's proof made
    with ``proof_secret`` by the app's backend."""
    proof = user_proof.user_proof(proof_secret, call["userId"])
    return {
        **call,
        "anonymousId": "anon-7d1c",
        "integrations": {user_proof.INTEGRATION: {user_proof.FIELD: proof}},
    }


def collector_log_line() -> dict[str, Any]:
    """The collector's own log line for a batch from a page whose rows BigQuery refuses for
    quota (dead-lettered), with a circuit breaker per backend and the user-id secret as the
    deployed function has them: a proven call, a proven identify (a link) and a call whose user
    id is someone else's, proven with another secret."""
    pipeline = quota_refused_pipeline(backend_breakers())
    collector = Collector(
        pipeline=pipeline,
        write_keys=WriteKeys.parse(",".join(WRITE_KEYS)),
        user_id_proofs=UserIdProofs((USER_ID_SECRET,)),
        clock=lambda: RECEIVED_AT,
    )
    forged = calls.track("Product Viewed", calls.PRODUCT, userId="victim-1")
    batch = [
        from_a_page(calls.track("Product Viewed", calls.PRODUCT)),
        from_a_page(calls.identify()),
        from_a_page(forged, proof_secret="not-the-stacks-secret-" + "0" * 16),
    ]
    answer = collector.handle(batch_request(batch, WRITE_KEYS[1]))
    assert answer.status == 200, answer.body
    assert answer.log[log_fields.EVENTS_DEAD_LETTERED] > 0
    assert answer.log[log_fields.USER_IDS_UNPROVEN] == {Unproven.MISMATCH: 1}
    return answer.log


def test_the_edge_refusals_metric_reads_the_rule_of_a_real_refusal_line(
    stack_with_collector: MockedStack,
) -> None:
    metric = stack_with_collector.named(EDGE_REFUSALS)
    collector = Collector(
        pipeline=quota_refused_pipeline(backend_breakers()),
        write_keys=WriteKeys.parse(",".join(WRITE_KEYS)),
        edge=Edge(
            address_rate=1e-9,
            address_burst=1,
            in_flight=1,
            key_rate=1.0,
            key_burst=1,
            daily_requests=0,
            daily_events=0,
        ),
    )
    request = batch_request([calls.track("Product Viewed", calls.PRODUCT)], WRITE_KEYS[0])
    collector.handle(request)

    line = collector.handle(request).log

    assert line["rule"] == log_fields.ADDRESS_RATE_LIMITED
    assert f'jsonPayload.message="{line["message"]}"' in metric.get("filter")
    assert f'"{line["rule"]}"' in metric.get("filter")
    assert metric.get("labelExtractors") == {"rule": "EXTRACT(jsonPayload.rule)"}


def test_every_metric_reads_the_collectors_line_as_it_reads_captures(
    stack_with_collector: MockedStack,
) -> None:
    line = collector_log_line()
    metrics = stack_with_collector.of_type("gcp:logging/metric:Metric")
    # The cost guard's switches and the backfill's runs are counted on their own lines:
    # tests/infra/test_budget_and_monitoring; the edge's refusals and the mostly rejected
    # batches on the collector's alone (below).
    assert {m.name for m in metrics if m.name in GUARD_METRICS} == GUARD_METRICS
    own_lines = {*GUARD_METRICS, ARCHIVE_LINES_BACKFILLED, FORGET_RUNS_LEAVING_REQUESTS}
    collector_only = {EDGE_REFUSALS, MOSTLY_REJECTED, *map(unproven_metric, Unproven)}
    metrics = [m for m in metrics if m.name not in {*own_lines, *collector_only}]

    assert len(metrics) >= 4
    for metric in metrics:
        text = " ".join(
            [
                metric.get("filter"),
                metric.get("valueExtractor") or "",
                *(metric.get("labelExtractors") or {}).values(),
            ]
        )
        assert 'resource.labels.service_name=("capture" OR "collector")' in text, metric.name
        assert f'jsonPayload.message=("capture" OR "{line["message"]}")' in text, metric.name
        for field in PAYLOAD_FIELD.findall(text):
            if field != "message":
                assert field_exists(line, field), f"{metric.name}: jsonPayload.{field}"


def test_the_alerts_judge_each_function_on_its_own(stack_with_collector: MockedStack) -> None:
    policies = [
        p
        for p in stack_with_collector.of_type("gcp:monitoring/alertPolicy:AlertPolicy")
        if p.name in ("bigquery-insert-failures", "dead-letters-growing", "function-5xx")
    ]

    assert len(policies) == 3
    for policy in policies:
        condition = policy.get("conditions")[0]["conditionThreshold"]
        assert 'service_name=one_of("capture", "collector")' in condition["filter"], policy.name
        for key in ("aggregations", "denominatorAggregations"):
            for aggregation in condition.get(key) or []:
                assert aggregation["groupByFields"] == ["resource.label.service_name"]


def test_the_dashboard_charts_both_functions_and_splits_accepted_events(
    stack_with_collector: MockedStack, stack: MockedStack
) -> None:
    layout = json.loads(stack_with_collector.named("capture-dashboard").get("dashboardJson"))
    text = json.dumps(layout)
    titles = [tile["widget"]["title"] for tile in layout["mosaicLayout"]["tiles"]]
    before = json.loads(stack.named("capture-dashboard").get("dashboardJson"))

    assert 'service_name=~\\"capture|collector\\"' in text
    assert 'one_of(\\"capture\\", \\"collector\\")' in text
    assert "sum by (service_name)" in text
    assert titles == [
        before["mosaicLayout"]["tiles"][0]["widget"]["title"],
        "Events accepted per minute, per function",
        *(tile["widget"]["title"] for tile in before["mosaicLayout"]["tiles"][1:]),
    ]
    assert "collector" not in json.dumps(before)


def test_a_client_key_at_its_daily_cap_raises_an_alert_with_the_collector_only(
    stack: MockedStack, stack_with_collector: MockedStack
) -> None:
    def alerts(of: MockedStack) -> dict[str, MockedResource]:
        return {r.name: r for r in of.of_type("gcp:monitoring/alertPolicy:AlertPolicy")}

    capped = alerts(stack_with_collector)["collector-daily-cap-reached"]

    condition = capped.get("conditions")[0]["conditionThreshold"]["filter"]
    assert f'metric.label.rule="{log_fields.DAILY_CAP_REACHED}"' in condition
    assert "collector-daily-cap-reached" not in alerts(stack)


def test_a_batch_mostly_rejected_is_counted_by_key_and_alerts_with_the_collector_only(
    stack: MockedStack, stack_with_collector: MockedStack
) -> None:
    metric = stack_with_collector.named(MOSTLY_REJECTED)
    collector = Collector(
        pipeline=quota_refused_pipeline(backend_breakers()),
        write_keys=WriteKeys.parse(",".join(WRITE_KEYS)),
    )
    bad = calls.track("Product Viewed", {**calls.PRODUCT, "category": "a & b"})
    line = collector.handle(batch_request([bad, bad], WRITE_KEYS[0])).log

    assert line[log_fields.MOSTLY_REJECTED] is True and line[log_fields.HTTP_STATUS] == 200
    assert f'jsonPayload.message="{line["message"]}"' in metric.get("filter")
    assert f"jsonPayload.{log_fields.MOSTLY_REJECTED}=true" in metric.get("filter")
    assert metric.get("labelExtractors") == {"key_id": "EXTRACT(jsonPayload.key_id)"}
    assert line["key_id"]

    def alerts(of: MockedStack) -> dict[str, MockedResource]:
        return {r.name: r for r in of.of_type("gcp:monitoring/alertPolicy:AlertPolicy")}

    alert = alerts(stack_with_collector)["collector-calls-mostly-rejected"]
    condition = alert.get("conditions")[0]["conditionThreshold"]["filter"]
    assert MOSTLY_REJECTED in condition
    assert "collector-calls-mostly-rejected" not in alerts(stack)


def test_user_ids_not_kept_are_counted_by_reason_and_key_with_the_collector_only(
    stack: MockedStack, stack_with_collector: MockedStack
) -> None:
    line = collector_log_line()
    metrics = {reason: stack_with_collector.named(unproven_metric(reason)) for reason in Unproven}

    for reason, metric in metrics.items():
        assert f'jsonPayload.message="{line["message"]}"' in metric.get("filter")
        assert f"jsonPayload.{log_fields.USER_IDS_UNPROVEN}.{reason}>0" in metric.get("filter")
        assert metric.get("labelExtractors") == {"key_id": "EXTRACT(jsonPayload.key_id)"}
        assert 'resource.labels.service_name="collector"' in metric.get("filter")
    # The forged call's reason is a field of the real line, as the metric's filter reads it.
    assert field_exists(line, f"{log_fields.USER_IDS_UNPROVEN}.{Unproven.MISMATCH}")
    assert not field_exists(line, f"{log_fields.USER_IDS_UNPROVEN}.{Unproven.MISSING}")
    assert not [r for r in stack.resources if r.name.startswith("collector_user_ids")]


def test_a_user_id_proven_with_another_secret_alerts_with_the_collector_only(
    stack: MockedStack, stack_with_collector: MockedStack
) -> None:
    def alerts(of: MockedStack) -> dict[str, MockedResource]:
        return {r.name: r for r in of.of_type("gcp:monitoring/alertPolicy:AlertPolicy")}

    alert = alerts(stack_with_collector)["collector-user-id-proof-mismatch"]
    condition = alert.get("conditions")[0]["conditionThreshold"]

    assert unproven_metric(Unproven.MISMATCH) in condition["filter"]
    # Only a mismatch: a missing proof is what every anonymous page sends.
    for reason in set(Unproven) - {Unproven.MISMATCH}:
        assert unproven_metric(reason) not in condition["filter"]
    assert condition["aggregations"][0]["alignmentPeriod"] == "3600s"
    assert condition["thresholdValue"] == 0
    assert "collector-user-id-proof-mismatch" not in alerts(stack)
