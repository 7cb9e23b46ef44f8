"""The request log lines reach BigQuery for the analytics report, and nothing else does."""

from event_capture.report import capture_log
from infra.monitoring.log_metrics import capture_log_filter
from infra.scheduled_queries import DATA_EDITOR
from tools.mocked_stack import MockedStack


def test_the_sink_routes_the_pipelines_request_lines_into_a_dataset_of_its_own(
    stack: MockedStack, stack_with_everything: MockedStack
) -> None:
    for mocked, services in (
        (stack, ("capture",)),
        (stack_with_everything, ("capture", "collector")),
    ):
        sink = mocked.named("capture-request-log")

        assert sink.inputs["filter"] == capture_log_filter(services)
        assert sink.inputs["destination"].endswith(f"/datasets/{capture_log.DATASET}")
        assert sink.inputs["uniqueWriterIdentity"] is True
        # One table partitioned by `timestamp`, the table the report reads.
        assert sink.inputs["bigqueryOptions"] == {"usePartitionedTables": True}


def test_the_sinks_writer_may_write_its_dataset_and_nothing_else(stack: MockedStack) -> None:
    writer = "@gcp-sa-logging.iam.gserviceaccount.com"
    granted = [
        (r.type, r.inputs.get("datasetId"), r.inputs.get("role"))
        for r in stack.resources
        if writer in str(r.inputs.get("member", ""))
    ]

    assert granted == [
        ("gcp:bigquery/datasetIamMember:DatasetIamMember", capture_log.DATASET, DATA_EDITOR)
    ]


def test_the_log_dataset_holds_no_personal_data_and_keeps_a_bounded_history(
    stack: MockedStack,
) -> None:
    dataset = stack.named("capture-logs")

    assert dataset.inputs["datasetId"] == capture_log.DATASET
    assert dataset.inputs["labels"]["personal-data"] == "none"
    assert 0 < dataset.inputs["defaultPartitionExpirationMs"] <= 400 * 24 * 3600 * 1000
