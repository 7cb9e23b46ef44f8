"""The cost guard's entry point in process, through functions-framework's own test client.

Only refusals: a message that is no budget notification is answered and logged before the guard
touches anything, and the module builds its guard at import with every client made on first use,
so no emulator is needed; the endpoints below are unroutable, proving none is reached. A valid
notification needs the control bucket, and runs on the emulators in
tests/integration/test_cost_guard.py.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import flask
import pytest
from functions_framework import create_app

from event_capture.cost_guard.config import GUARD_CONFIG_VARIABLES, load_guard_config
from event_capture.cost_guard.function import build_cost_guard
from event_capture.cost_guard.guard import CostGuard
from event_capture.ingest.config import CONFIG_VARIABLES
from event_capture.platform.config import ConfigError
from localcloud.processes import GUARD_SOURCE

UNROUTABLE = "http://127.0.0.1:9"
# Eventarc's binary-mode CloudEvent for a Pub/Sub message.
HEADERS = {
    "ce-id": "11960935186208443",
    "ce-specversion": "1.0",
    "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
    "ce-source": "//pubsub.googleapis.com/projects/shop-analytics/topics/budget-alerts",
}
ATTRIBUTES = {"billingAccountId": "01D4EE-079462-DFD6EC", "budgetId": "b-1", "schemaVersion": "1.0"}


ENVIRONMENT = {
    "GCP_PROJECT": "in-process",
    "BUDGET_ID": "b-1",
    "GCS_BUCKET": "in-process-events",
    "CAPTURE_MODE_BUCKET": "in-process-control",
    "SCHEDULED_QUERIES": "projects/in-process/locations/eu/transferConfigs/nightly",
    "BIGQUERY_EMULATOR_HOST": UNROUTABLE,
    "STORAGE_EMULATOR_HOST": UNROUTABLE,
    "DATA_TRANSFER_ENDPOINT": UNROUTABLE,
}


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[flask.testing.FlaskClient]:
    for name in CONFIG_VARIABLES | GUARD_CONFIG_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    app = create_app(target="cost_guard", source=str(GUARD_SOURCE))  # type: ignore[no-untyped-call]
    yield app.test_client()


def message(data: bytes, attributes: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "message": {
            "attributes": ATTRIBUTES if attributes is None else attributes,
            "data": base64.b64encode(data).decode(),
            "messageId": "11960935186208443",
        },
        "subscription": "projects/shop-analytics/subscriptions/eventarc-cost-guard",
    }


def notification(**fields: Any) -> bytes:
    return json.dumps(
        {
            "budgetDisplayName": "Event capture",
            "costAmount": 105.35,
            "costIntervalStart": "2026-11-01T07:00:00Z",
            "budgetAmount": 100.0,
            "budgetAmountType": "SPECIFIED_AMOUNT",
            "currencyCode": "USD",
            **fields,
        }
    ).encode()


def test_the_factory_builds_a_guard_without_reaching_any_backend() -> None:
    function = build_cost_guard(load_guard_config(ENVIRONMENT))

    assert isinstance(function.guard, CostGuard)


@pytest.mark.parametrize("budget", [None, ""])
def test_the_function_needs_its_budget_id(budget: str | None) -> None:
    environment = {k: v for k, v in ENVIRONMENT.items() if k != "BUDGET_ID"}
    if budget is not None:
        environment["BUDGET_ID"] = budget

    with pytest.raises(ConfigError, match=r"^BUDGET_ID: required"):
        build_cost_guard(load_guard_config(environment))


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        pytest.param(
            message(notification(costAmount="a lot")),
            "data.costAmount: must be a finite number",
            id="cost-string",
        ),
        pytest.param(
            message(notification(costIntervalStart="2026-11-01T07:00:00")),
            "data.costIntervalStart: must be an RFC 3339 timestamp",
            id="no-offset",
        ),
        pytest.param(
            message(notification(), {**ATTRIBUTES, "schemaVersion": "2.0"}),
            "attributes.schemaVersion: must be '1.0'",
            id="schema-version",
        ),
        pytest.param(
            message(notification(), {**ATTRIBUTES, "budgetId": "someone-elses"}),
            "attributes.budgetId: must be this stack's budget (BUDGET_ID)",
            id="other-budget",
        ),
        pytest.param(
            message(notification(costIntervalStart="9999-12-01T00:00:00Z")),
            "data.costIntervalStart: must be within the last 40 days",
            id="period-far-ahead",
        ),
        pytest.param(
            message(notification(costIntervalStart="2020-01-01T00:00:00Z")),
            "data.costIntervalStart: must be within the last 40 days",
            id="period-long-over",
        ),
        pytest.param(
            {"message": {"data": "not base64!"}},
            "message.data: not a Pub/Sub message with base64 JSON data (Error)",
            id="bad-base64",
        ),
        pytest.param(
            ["not", "a", "message"],
            "message.data: not a Pub/Sub message with base64 JSON data (TypeError)",
            id="event-data-list",
        ),
    ],
)
def test_a_message_that_is_no_budget_notification_is_answered_and_logged_as_refused(
    client: flask.testing.FlaskClient,
    capsys: pytest.CaptureFixture[str],
    data: Any,
    detail: str,
) -> None:
    capsys.readouterr()

    response = client.post("/", json=data, headers=HEADERS)

    captured = capsys.readouterr()
    assert 200 <= response.status_code < 300, response.get_data(as_text=True)
    lines = [json.loads(line) for line in captured.out.splitlines() if line.startswith("{")]
    assert [line.pop("time")[-1] for line in lines] == ["Z"]
    assert lines == [
        {
            "severity": "ERROR",
            "message": "cost_guard",
            "action": "refused",
            "rule": "notification_invalid",
            "detail": detail,
        }
    ]
    assert "Traceback" not in captured.err
