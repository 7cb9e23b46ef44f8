"""Budget notifications as Cloud Billing publishes them, and every shape the guard refuses.

The format is the documented one (programmatic budget notifications, schemaVersion 1.0):
attributes ``billingAccountId``, ``budgetId`` and ``schemaVersion``; JSON data with
``budgetDisplayName``, ``costAmount``, ``costIntervalStart``, ``budgetAmount``,
``budgetAmountType``, ``alertThresholdExceeded`` (only once a threshold is passed) and
``currencyCode``. Eventarc delivers the Pub/Sub message as CloudEvent data
``{"message": {"data": <base64>, "attributes": {...}}, "subscription": ...}``.

The envelopes are built here, not with localcloud.budget_notification, so that a mistake in
that helper cannot hide the same mistake in the parser.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from event_capture.cost_guard.notification import (
    CLOCK_SKEW,
    MAX_PERIOD_AGE,
    SCHEMA_VERSION,
    BudgetNotification,
    NotificationError,
    check_believable,
    parse_notification,
)

BUDGET_ID = "8a7d3c1e-0b5f-4f7e-9a38-2f1c6d0e4b91"
ATTRIBUTES = {
    "billingAccountId": "01D4EE-079462-DFD6EC",
    "budgetId": BUDGET_ID,
    "schemaVersion": "1.0",
}
DROP = object()


def data_fields(**overrides: Any) -> dict[str, Any]:
    """The documented data fields; ``DROP`` leaves one out."""
    fields: dict[str, Any] = {
        "budgetDisplayName": "Event capture",
        "alertThresholdExceeded": 1.0,
        "costAmount": 105.35,
        "costIntervalStart": "2026-11-01T07:00:00Z",
        "budgetAmount": 100.0,
        "budgetAmountType": "SPECIFIED_AMOUNT",
        "currencyCode": "USD",
    }
    fields.update(overrides)
    return {name: value for name, value in fields.items() if value is not DROP}


def encoded(data: bytes) -> str:
    return base64.b64encode(data).decode()


def event(data: Any = None, *, raw: str | None = None, **attributes: Any) -> dict[str, Any]:
    """Eventarc's CloudEvent data for a message whose data is ``data`` as JSON (or ``raw``)."""
    text = raw if raw is not None else json.dumps(data_fields() if data is None else data)
    merged = {**ATTRIBUTES, **attributes}
    return {
        "message": {
            "attributes": {name: value for name, value in merged.items() if value is not DROP},
            "data": encoded(text.encode()),
            "messageId": "11960935186208443",
            "publishTime": "2026-11-20T09:30:41.123Z",
        },
        "subscription": "projects/shop-analytics/subscriptions/eventarc-cost-guard",
    }


def test_a_documented_notification_is_read() -> None:
    parsed = parse_notification(event())

    assert parsed == BudgetNotification(
        budget_id=BUDGET_ID,
        display_name="Event capture",
        cost_amount=105.35,
        budget_amount=100.0,
        currency="USD",
        interval_start=dt.datetime(2026, 11, 1, 7, tzinfo=dt.UTC),
    )
    assert parsed.spent_share == pytest.approx(1.0535)


def test_the_period_start_is_held_in_utc() -> None:
    parsed = parse_notification(event(data_fields(costIntervalStart="2026-11-01T00:00:00-08:00")))

    assert parsed.interval_start == dt.datetime(2026, 11, 1, 8, tzinfo=dt.UTC)
    assert parsed.interval_start.utcoffset() == dt.timedelta(0)


def test_whole_numbers_are_read_as_amounts() -> None:
    parsed = parse_notification(event(data_fields(costAmount=0, budgetAmount=5)))

    assert (parsed.cost_amount, parsed.budget_amount, parsed.spent_share) == (0.0, 5.0, 0.0)


def test_a_notification_before_any_threshold_has_no_alert_threshold_and_is_read() -> None:
    parsed = parse_notification(event(data_fields(alertThresholdExceeded=DROP, costAmount=12.0)))

    assert parsed.spent_share == pytest.approx(0.12)


def test_the_optional_and_unknown_fields_do_not_matter() -> None:
    parsed = parse_notification(
        event(
            data_fields(
                budgetDisplayName=DROP,
                currencyCode=DROP,
                budgetAmountType="LAST_PERIODS_AMOUNT",
                forecastThresholdExceeded=0.9,
            ),
            billingAccountId=DROP,
            someNewAttribute="x",
        )
    )

    assert (parsed.display_name, parsed.currency) == ("", "")
    assert parsed.cost_amount == 105.35


def test_the_same_message_reads_the_same() -> None:
    message = event()

    assert parse_notification(message) == parse_notification(message)


def test_the_schema_version_is_the_documented_one() -> None:
    assert SCHEMA_VERSION == "1.0"


NUMBER = "must be a finite number"
TIMESTAMP = "data.costIntervalStart: must be an RFC 3339 timestamp"
NOT_A_MESSAGE = "message.data: not a Pub/Sub message with base64 JSON data"
DATA_NOT_OBJECT = "message.data: must be a JSON object"
ATTRIBUTES_NOT_OBJECT = "message.attributes: must be a JSON object"
without_data = event()
del without_data["message"]["data"]
bad_base64 = event()
bad_base64["message"]["data"] = "eyJjb3N0QW1vdW50Ijo=!"
attributes_list = event()
attributes_list["message"]["attributes"] = ["budgetId", BUDGET_ID]
not_utf8 = event()
not_utf8["message"]["data"] = encoded(b'{"budgetDisplayName": "\xff"}')
data_number = event()
data_number["message"]["data"] = 12

REFUSALS = [
    # The envelope.
    pytest.param(without_data, f"{NOT_A_MESSAGE} (KeyError)", id="missing-data"),
    pytest.param({"subscription": "s"}, f"{NOT_A_MESSAGE} (KeyError)", id="missing-message"),
    pytest.param(None, f"{NOT_A_MESSAGE} (TypeError)", id="no-event-data"),
    pytest.param(["message"], f"{NOT_A_MESSAGE} (TypeError)", id="event-data-list"),
    pytest.param({"message": "hello"}, f"{NOT_A_MESSAGE} (TypeError)", id="message-string"),
    pytest.param(data_number, f"{NOT_A_MESSAGE} (TypeError)", id="data-number"),
    pytest.param(bad_base64, f"{NOT_A_MESSAGE} (Error)", id="bad-base64"),
    pytest.param(event(raw="costAmount=5"), f"{NOT_A_MESSAGE} (JSONDecodeError)", id="not-json"),
    pytest.param(not_utf8, f"{NOT_A_MESSAGE} (UnicodeDecodeError)", id="not-utf-8"),
    pytest.param(event([1, 2]), DATA_NOT_OBJECT, id="data-array"),
    pytest.param(event("costAmount"), DATA_NOT_OBJECT, id="data-string"),
    pytest.param(attributes_list, ATTRIBUTES_NOT_OBJECT, id="attributes-array"),
    # The attributes.
    pytest.param(
        event(schemaVersion="2.0"), "attributes.schemaVersion: must be '1.0'", id="version-2"
    ),
    pytest.param(
        event(schemaVersion=1.0), "attributes.schemaVersion: must be '1.0'", id="version-number"
    ),
    pytest.param(
        event(schemaVersion=DROP), "attributes.schemaVersion: must be '1.0'", id="no-version"
    ),
    pytest.param(event(budgetId=DROP), "attributes.budgetId: required", id="no-budget-id"),
    pytest.param(event(budgetId=""), "attributes.budgetId: required", id="empty-budget-id"),
    pytest.param(event(budgetId=7), "attributes.budgetId: required", id="budget-id-number"),
    # The amounts.
    pytest.param(event(data_fields(costAmount=DROP)), f"data.costAmount: {NUMBER}", id="no-cost"),
    pytest.param(
        event(data_fields(costAmount="105.35")), f"data.costAmount: {NUMBER}", id="cost-string"
    ),
    pytest.param(event(data_fields(costAmount=True)), f"data.costAmount: {NUMBER}", id="cost-bool"),
    pytest.param(event(data_fields(costAmount=None)), f"data.costAmount: {NUMBER}", id="cost-null"),
    pytest.param(
        event(data_fields(costAmount=math.nan)), f"data.costAmount: {NUMBER}", id="cost-nan"
    ),
    pytest.param(
        event(data_fields(costAmount=math.inf)), f"data.costAmount: {NUMBER}", id="cost-infinity"
    ),
    pytest.param(
        event(raw=json.dumps(data_fields()).replace("105.35", "1e999")),
        f"data.costAmount: {NUMBER}",
        id="cost-overflowing-float",
    ),
    pytest.param(
        event(data_fields(costAmount=-0.01)),
        "data.costAmount: must not be negative",
        id="cost-negative",
    ),
    pytest.param(
        event(data_fields(budgetAmount=0)), "data.budgetAmount: must be above 0", id="budget-0"
    ),
    pytest.param(
        event(data_fields(budgetAmount=-5.0)),
        "data.budgetAmount: must be above 0",
        id="budget-negative",
    ),
    pytest.param(
        event(data_fields(budgetAmount=DROP)), f"data.budgetAmount: {NUMBER}", id="no-budget"
    ),
    pytest.param(
        event(data_fields(budgetAmount=[100])), f"data.budgetAmount: {NUMBER}", id="budget-list"
    ),
    # The period.
    pytest.param(event(data_fields(costIntervalStart=DROP)), TIMESTAMP, id="no-interval"),
    pytest.param(event(data_fields(costIntervalStart=None)), TIMESTAMP, id="interval-null"),
    pytest.param(event(data_fields(costIntervalStart="last month")), TIMESTAMP, id="unparseable"),
    pytest.param(
        event(data_fields(costIntervalStart="2026-11-01T07:00:00")), TIMESTAMP, id="no-offset"
    ),
    pytest.param(event(data_fields(costIntervalStart="2026-11-01")), TIMESTAMP, id="date-only"),
    pytest.param(
        event(data_fields(costIntervalStart=1793516400)), TIMESTAMP, id="interval-epoch-number"
    ),
    pytest.param(
        event(data_fields(costIntervalStart="2026-13-01T00:00:00Z")), TIMESTAMP, id="month-13"
    ),
]


@pytest.mark.parametrize(("message", "refusal"), REFUSALS)
def test_a_refusal_names_the_field_and_the_rule(message: Any, refusal: str) -> None:
    with pytest.raises(NotificationError) as raised:
        parse_notification(message)

    assert str(raised.value) == refusal


def test_a_refusal_never_quotes_the_message() -> None:
    """The data is billing information; the log line carries the rule, not the values."""
    with pytest.raises(NotificationError) as raised:
        parse_notification(event(data_fields(costAmount="SECRET-4242")))

    assert "SECRET-4242" not in str(raised.value)


def test_an_integer_amount_past_float_range_is_refused() -> None:
    huge = "1" + "0" * 400
    raw = json.dumps(data_fields()).replace("105.35", huge)

    with pytest.raises(NotificationError, match=r"^data\.costAmount: "):
        parse_notification(event(raw=raw))


@pytest.mark.parametrize("start", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00"])
def test_a_period_start_that_has_no_utc_time_is_refused(start: str) -> None:
    with pytest.raises(NotificationError, match=r"^data\.costIntervalStart: "):
        parse_notification(event(data_fields(costIntervalStart=start)))


# --------------------------------------------------------------------------------------------
# Anything at all
# --------------------------------------------------------------------------------------------

# Integers within the int64 range JSON producers keep to; one past float range is the known
# failure above.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["1.0", "2026-11-01T00:00:00Z", "2026-11-01T00:00:00+05:30", ""]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
field_names = st.sampled_from(sorted(data_fields())) | st.text(max_size=12)
data_objects = st.dictionaries(field_names, json_values, max_size=8)
attribute_objects = st.dictionaries(
    st.sampled_from(sorted(ATTRIBUTES)) | st.text(max_size=12), json_values, max_size=4
)


def _parses_or_refuses(message: Any) -> None:
    try:
        parsed = parse_notification(message)
    except NotificationError as error:
        assert str(error).split(":")[0] in {
            "message",
            "message.data",
            "attributes.schemaVersion",
            "attributes.budgetId",
            "data.costAmount",
            "data.budgetAmount",
            "data.costIntervalStart",
        }
        return
    assert parsed.budget_amount > 0
    assert parsed.cost_amount >= 0
    assert parsed.interval_start.utcoffset() == dt.timedelta(0)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(data=json_values | data_objects, attributes=attribute_objects)
def test_any_json_data_is_read_or_refused_with_a_notification_error(
    data: Any, attributes: dict[str, Any]
) -> None:
    message = event(data)
    message["message"]["attributes"] = {**ATTRIBUTES, **attributes}

    _parses_or_refuses(message)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(fields=data_objects)
def test_documented_fields_with_any_values_are_read_or_refused(fields: dict[str, Any]) -> None:
    _parses_or_refuses(event(data_fields(**fields)))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(cloud_event_data=json_values, message=json_values, data=st.text(max_size=40))
def test_any_cloud_event_data_is_read_or_refused_with_a_notification_error(
    cloud_event_data: Any, message: Any, data: str
) -> None:
    _parses_or_refuses(cloud_event_data)
    _parses_or_refuses({"message": message})
    _parses_or_refuses({"message": {"data": data, "attributes": ATTRIBUTES}})


NOW = dt.datetime(2026, 12, 7, 6, tzinfo=dt.UTC)


def _of(budget: str, start: dt.datetime) -> BudgetNotification:
    begins = start.isoformat().replace("+00:00", "Z")
    return parse_notification(event(data_fields(costIntervalStart=begins), budgetId=budget))


@pytest.mark.parametrize(
    "start",
    [
        dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC),  # this month's period
        dt.datetime(2026, 11, 1, 7, tzinfo=dt.UTC),  # last month's, still being reported
        NOW + CLOCK_SKEW,  # a clock a day ahead of ours
    ],
)
def test_a_notification_of_this_budget_and_a_current_period_is_believed(start: dt.datetime) -> None:
    check_believable(_of("b-1", start), budget_id="b-1", now=NOW)


@pytest.mark.parametrize(
    ("budget", "start", "refusal"),
    [
        ("b-2", dt.datetime(2026, 12, 1, tzinfo=dt.UTC), "attributes.budgetId: must be this"),
        ("b-1", dt.datetime(9999, 12, 1, tzinfo=dt.UTC), "data.costIntervalStart: must be within"),
        ("b-1", NOW + CLOCK_SKEW + dt.timedelta(seconds=1), "data.costIntervalStart: must be"),
        ("b-1", NOW - MAX_PERIOD_AGE - dt.timedelta(seconds=1), "data.costIntervalStart: must"),
    ],
)
def test_another_budget_or_a_period_not_around_now_is_refused(
    budget: str, start: dt.datetime, refusal: str
) -> None:
    with pytest.raises(NotificationError, match=refusal):
        check_believable(_of(budget, start), budget_id="b-1", now=NOW)
