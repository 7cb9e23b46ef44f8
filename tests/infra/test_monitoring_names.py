"""The monitoring names check on the whole stack, and its negative controls: a name the alerts or
the dashboard use, changed to one that does not exist (or does not belong where it is used),
found by name."""

import json
from dataclasses import replace

import pytest

from tools.mocked_stack import MockedStack
from tools.monitoring_names import Names, check, references


def failures(stack: MockedStack) -> list[str]:
    names = Names.of(stack)
    return [problem for ref in references(stack, names) for problem in check(ref, names)]


def edited(stack: MockedStack, name: str, old: str, new: str) -> MockedStack:
    """The stack with ``old`` replaced by ``new`` in one resource's inputs."""
    resources = []
    for resource in stack.resources:
        if resource.name == name:
            text = json.dumps(resource.inputs)
            assert old in text, (name, old)
            resource = replace(resource, inputs=json.loads(text.replace(old, new)))
        resources.append(resource)
    return MockedStack(resources=resources, outputs=stack.outputs)


def without(stack: MockedStack, name: str) -> MockedStack:
    return MockedStack(
        resources=[r for r in stack.resources if r.name != name], outputs=stack.outputs
    )


def test_every_name_the_stack_filters_on_exists(stack_with_everything: MockedStack) -> None:
    names = Names.of(stack_with_everything)
    found = references(stack_with_everything, names)

    assert failures(stack_with_everything) == []
    assert {m for r in found for m in r.metrics} >= {
        "run.googleapis.com/request_count",
        "bigquery.googleapis.com/storage/insertall_inserted_rows",
        "logging.googleapis.com/user/capture_sink_bigquery",
    }
    assert any(r.where.endswith("(PromQL)") for r in found)


@pytest.mark.parametrize(
    ("resource", "old", "new", "failure"),
    [
        (
            "function-5xx",
            "run.googleapis.com/request_count",
            "run.googleapis.com/requests_count",
            "AlertPolicy function-5xx: metric run.googleapis.com/requests_count is neither "
            "Google's nor a log-based metric of the stack",
        ),
        (
            "function-5xx",
            "metric.label.response_code_class",
            "metric.label.route_type",
            "AlertPolicy function-5xx: metric label route_type is not a label of metric "
            "run.googleapis.com/request_count",
        ),
        (
            "streaming-rows-near-quota",
            'resource.type=\\"bigquery_project\\"',
            'resource.type=\\"bigquery_dataset\\"',
            "AlertPolicy streaming-rows-near-quota: metric "
            "bigquery.googleapis.com/storage/insertall_inserted_rows is not written on "
            "resource type bigquery_dataset",
        ),
        (
            "function-5xx",
            '"resource.label.service_name"',
            '"resource.label.service"',
            "AlertPolicy function-5xx: resource label service is not a label of cloud_run_revision",
        ),
        (
            "scheduled-query-failed",
            "bigquery_dts_config",
            "bigquery_transfer_config",
            "AlertPolicy scheduled-query-failed: resource type bigquery_transfer_config is not "
            "a monitored resource type",
        ),
        (
            "capture-dashboard",
            "user_capture_events_rejected_sum",
            "user_capture_events_refused_sum",
            "Dashboard capture-dashboard (PromQL): metric (PromQL "
            "logging_googleapis_com:user_capture_events_refused_sum, no known metric) is neither "
            "Google's nor a log-based metric of the stack",
        ),
    ],
)
def test_a_name_that_does_not_exist_where_it_is_used_fails(
    stack_with_everything: MockedStack, resource: str, old: str, new: str, failure: str
) -> None:
    assert failure in failures(edited(stack_with_everything, resource, old, new))


def test_an_alert_on_a_log_based_metric_the_stack_does_not_define_fails(
    stack_with_everything: MockedStack,
) -> None:
    found = failures(without(stack_with_everything, "capture_sink_dead_letter"))

    assert (
        "AlertPolicy dead-letters-growing: metric "
        "logging.googleapis.com/user/capture_sink_dead_letter is neither Google's nor a "
        "log-based metric of the stack"
    ) in found


def test_a_label_the_log_based_metric_does_not_extract_fails(
    stack_with_everything: MockedStack,
) -> None:
    stack = edited(stack_with_everything, "capture_sink_bigquery", '"key": "status"', '"key": "s"')

    assert (
        "AlertPolicy bigquery-insert-failures: metric label status is not a label of "
        "log-based metric logging.googleapis.com/user/capture_sink_bigquery"
    ) in failures(stack)
