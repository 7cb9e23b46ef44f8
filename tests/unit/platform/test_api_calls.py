"""A declared API call names a resource the IAM proof can find in the stack."""

import pytest

from event_capture.platform.api_calls import ARCHIVE_BUCKET, PROJECT, ApiCall, query_job


def test_a_call_on_a_resource_the_proof_does_not_know_is_refused() -> None:
    with pytest.raises(ValueError, match="'archive' is none of"):
        ApiCall("storage.objects.insert", "archive")


def test_a_query_job_starts_the_job_reads_its_results_and_reads_its_tables() -> None:
    assert query_job(reads=ARCHIVE_BUCKET) == (
        ApiCall("bigquery.jobs.insert#query", PROJECT),
        ApiCall("bigquery.jobs.getQueryResults", PROJECT),
        ApiCall("bigquery.jobs.insert#reads", ARCHIVE_BUCKET),
    )
