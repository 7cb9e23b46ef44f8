"""Stack configuration: required keys, defaults, and errors that name the key."""

import re
from pathlib import Path

import pytest

from event_capture.contracts.timing import MAX_REQUEST_DEADLINE_SECONDS
from event_capture.ingest.config import load_config
from infra.settings import KEYS, SettingsError, load_settings
from infra.stack_config import read_stack_config
from tools.mocked_stack import MockedStack, run_mocked
from tools.sample_stacks import REQUIRED_CONFIG, WITH_COLLECTOR, WITH_REDIS

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("missing", sorted(REQUIRED_CONFIG))
def test_the_program_refuses_to_run_without_a_required_key_and_names_it(missing: str) -> None:
    config = {k: v for k, v in REQUIRED_CONFIG.items() if k != missing}

    with pytest.raises(SettingsError, match=re.escape(f"{missing}: required")):
        run_mocked(config)


@pytest.mark.parametrize(
    ("key", "value", "rule"),
    [
        ("event-capture:billingAccount", "my-account", "must look like"),
        ("event-capture:alertEmails", '["not-an-address"]', "must be an e-mail address"),
        ("event-capture:alertEmails", "[]", "needs 1 to 5 addresses"),
        ("event-capture:alertEmails", '{"a": 1}', "JSON list of strings"),
        ("event-capture:budgetAmount", "five", "whole number"),
        ("event-capture:budgetAmount", "0", "between 1 and"),
        ("event-capture:budgetCurrency", "dollars", "ISO 4217"),
        ("event-capture:functionMemory", "512MB", "512Mi or 1Gi"),
        ("event-capture:functionMaxInstances", "0", "between 1 and"),
        ("event-capture:bigqueryEnabled", "yes please", "true or false"),
        ("event-capture:appPrincipals", '["allUsers"]', "must be an IAM member"),
        ("event-capture:operators", '["allAuthenticatedUsers"]', "must be an IAM member"),
        ("event-capture:redisEnabled", "true", "required when redisEnabled is true"),
        ("event-capture:functionMinInstances", "5", "must not exceed functionMaxInstances"),
        ("gcp:project", "Shop Analytics", "must be a project id"),
        ("event-capture:aggregateMinUsers", "1", "must be between 2 and 1000"),
        ("event-capture:analyticsDatasetId", "events", "must differ from datasetId"),
        ("event-capture:collectorEnabled", "true", "required when collectorEnabled is true"),
        ("event-capture:collectorPublic", "true", "true needs collectorEnabled true"),
        ("event-capture:collectorMaxInstances", "0", "between 1 and 1000"),
        ("event-capture:collectorAllowedOrigins", '["*"]', "must be an origin"),
        ("event-capture:collectorAllowedOrigins", '["https://shop.example.com/"]', "no path"),
        ("event-capture:collectorAllowedOrigins", '["https://Shop.example.com"]', "lower-case"),
    ],
)
def test_an_invalid_value_fails_naming_the_key_and_the_rule(
    key: str, value: str, rule: str
) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings({**REQUIRED_CONFIG, key: value})

    assert str(error.value).startswith(key.split(":")[0])
    assert key.split(":")[1] in str(error.value)
    assert rule in str(error.value)


def test_both_durable_sinks_off_is_refused() -> None:
    with pytest.raises(SettingsError, match="at least one durable sink"):
        load_settings(
            {
                **REQUIRED_CONFIG,
                "event-capture:bigqueryEnabled": "false",
                "event-capture:gcsEnabled": "false",
            }
        )


def test_defaults_are_cheap_private_and_protected() -> None:
    settings = load_settings(REQUIRED_CONFIG)

    assert settings.redis_enabled is False
    assert settings.function_min_instances == 0
    assert settings.function_max_instances == 3
    assert settings.budget_amount == 5
    assert settings.deletion_protection is True
    assert settings.app_principals == ()
    assert settings.alert_emails == ("data-team@example.com", "on-call@example.com")


def test_settings_reach_the_function_as_its_environment(stack: MockedStack) -> None:
    env = stack.named("capture").get("serviceConfig.environmentVariables")

    assert env == {
        "GCP_PROJECT": REQUIRED_CONFIG["gcp:project"],
        "BIGQUERY_ENABLED": "true",
        "BIGQUERY_WRITE_API": "false",
        "BIGQUERY_DATASET": "events",
        "GCS_ENABLED": "true",
        "GCS_BUCKET": stack.outputs["archiveBucket"],
        "DEAD_LETTER_BUCKET": stack.outputs["deadLetterBucket"],
        "REDIS_ENABLED": "false",
        "THREADS": "8",
        # The 60 s timeout less 15 s for reading the body and answering.
        "REQUEST_DEADLINE_SECONDS": "45",
        # The cost guard is on by default: capture reads its mode there.
        "CAPTURE_MODE_BUCKET": stack.outputs["captureControlBucket"],
    }
    service = stack.named("capture").inputs["serviceConfig"]
    assert (service["maxInstanceCount"], service["minInstanceCount"]) == (3, 0)
    assert (service["availableMemory"], service["timeoutSeconds"]) == ("512Mi", 60)
    assert service["maxInstanceRequestConcurrency"] == 8


def test_the_write_api_setting_reaches_both_functions_that_write_to_bigquery() -> None:
    stack = run_mocked({**WITH_COLLECTOR, "event-capture:bigqueryWriteApi": "true"})

    for function in ("capture", "collector"):
        env = stack.named(function).get("serviceConfig.environmentVariables")
        assert env["BIGQUERY_WRITE_API"] == "true", function


def test_the_example_stack_file_runs_and_its_values_arrive() -> None:
    config = read_stack_config(REPO / "Pulumi.example.yaml")
    stack = run_mocked(config)

    assert stack.named("events-archive").get("location") == "europe-west1"
    assert stack.named("events").get("location") == "EU"
    assert stack.named("monthly-budget").get("amount.specifiedAmount.currencyCode") == "EUR"
    assert stack.named("orders").get("deletionProtection") is False
    assert len(stack.of_type("gcp:monitoring/notificationChannel:NotificationChannel")) == 2


def test_the_settings_reference_documents_every_key_with_its_default() -> None:
    page = (REPO / "docs" / "reference" / "pulumi-settings.md").read_text()

    for key in KEYS:
        default = {None: "(required)", "": "(none)"}.get(key.default, f"`{key.default}`")
        row = f"| `{key.name}` | {default} |"
        assert row in page, row


def test_a_long_function_timeout_gives_the_longest_budget_the_function_accepts() -> None:
    config = {**REQUIRED_CONFIG, "event-capture:functionTimeoutSeconds": "3600"}
    env = run_mocked(config).named("capture").get("serviceConfig.environmentVariables")

    # The function refuses a budget above its maximum at start-up (config.py).
    assert env["REQUEST_DEADLINE_SECONDS"] == str(int(MAX_REQUEST_DEADLINE_SECONDS))
    load_config({"GCP_PROJECT": "p", "GCS_BUCKET": "b", **env})


@pytest.mark.parametrize(
    ("key", "value", "rule"),
    [
        ("collectorWriteKeys", '["wk_live_0123456789abcdef", "short"]', "at least 16"),
        ("collectorWriteKeys", '["wk_live:0123456789abcdef"]', "without spaces, ':' or ','"),
        ("collectorWriteKeys", '["wk_live 0123456789abcdef"]', "without spaces, ':' or ','"),
        # Weak keys are refused at `pulumi up`, never quoted.
        ("collectorWriteKeys", '["aaaaaaaaaaaaaaaaaaaaaaaa"]', "too predictable"),
        (
            "collectorWriteKeys",
            '[{"id": "web", "class": "client", "key": "wk_live_0123456789abcdef"},'
            ' {"id": "web", "class": "client", "key": "wk_next_0123456789abcdef"},'
            ' {"id": "web", "class": "client", "key": "wk_old_0123456789abcdef"}]',
            "id web: at most 2",
        ),
        (
            "collectorWriteKeys",
            '[{"id": "app", "class": "mobile", "key": "wk_live_0123456789abcdef"}]',
            "class must be server or client",
        ),
        (
            "collectorWriteKeys",
            '["wk_live_0123456789abcdef", "wk_live_0123456789abcdef"]',
            "the same key twice",
        ),
        ("collectorWriteKeys", '["wk_live_0123456789abcdef"', "JSON list"),
        ("elevenlabsWebhookSecrets", '["wsec_tooshort"]', "16 to 256"),
        ("redisUrl", "http://:s3cret-auth-string@10.0.0.3/0", "required when redisEnabled"),
    ],
)
def test_a_secret_that_is_refused_is_named_but_never_shown(key: str, value: str, rule: str) -> None:
    config = {
        **REQUIRED_CONFIG,
        "event-capture:collectorEnabled": "true",
        "event-capture:collectorWriteKeys": '["wk_live_0123456789abcdef"]',
        "event-capture:redisEnabled": "true",
        "event-capture:redisUrl": "redis://10.0.0.3:6379/0",
        f"event-capture:{key}": value,
    }

    with pytest.raises(SettingsError) as error:
        load_settings(config)

    message = str(error.value)
    assert message.startswith(f"event-capture:{key}")
    assert rule in message
    # No part of a value is shown, but the names of a key's fields.
    for part in set(re.findall(r"[\w:]{5,}", value)) - {"class", "client", "server"}:
        assert part not in message.removeprefix(f"event-capture:{key}"), part


def test_the_collector_is_off_private_and_small_unless_asked() -> None:
    settings = load_settings(REQUIRED_CONFIG)

    assert (settings.collector_enabled, settings.collector_public) == (False, False)
    assert settings.collector_write_keys == ""
    assert settings.collector_key_classes == {}
    assert settings.elevenlabs_webhook_secrets == ()
    assert settings.collector_allowed_origins == ()
    assert settings.collector_max_instances == 2


@pytest.mark.parametrize("key", ["event-capture:collectorWriteKeys", "event-capture:redisUrl"])
def test_a_secret_set_in_plain_text_stops_the_program_naming_it(key: str) -> None:
    config = {**WITH_REDIS, **WITH_COLLECTOR}

    with pytest.raises(
        SettingsError, match=f"^{key}: must be set with `pulumi config set --secret`"
    ):
        run_mocked(config, plain=[key])
