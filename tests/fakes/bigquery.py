"""A stand-in for google-cloud-bigquery's client as the code sees it
(``platform.bigquery_surface.BigQueryClient``: parameterized queries, load jobs from a file),
which the archive backfill and the cost guard's archive loader take.

It runs no SQL: a query's rows are what ``rows(sql, parameters)`` answers, ``answer`` unless a
test's subclass plays its SQL itself. Load jobs behave as BigQuery's do for the loader: a job id
used again is refused with 409 Conflict, a job is found again by id, and each new job ends with
the next of ``failures``. The capture path's inserts do not go through this client: their
stand-ins are the scripted insertAll client of tests/unit/ingest/sinks/test_bigquery.py and the
sinks of tests/fakes/sinks.py. The same calls run on the BigQuery emulator in tests/integration.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from google.api_core.exceptions import Conflict

if TYPE_CHECKING:
    from google.cloud.bigquery import LoadJobConfig, QueryJobConfig

Rows = list[dict[str, Any]]
Answer = Callable[[str, dict[str, Any]], Rows]


def no_rows(sql: str, parameters: dict[str, Any]) -> Rows:
    return []


@dataclass
class FakeJob:
    """A query's or a load's job: ``result()`` is its rows, or raises its error."""

    rows: Rows = field(default_factory=list)
    error: Exception | None = None
    # A statement's figures, as the library's QueryJob has them (None: not reported).
    total_bytes_processed: int | None = None
    num_dml_affected_rows: int | None = None

    def result(self) -> Rows:
        if self.error is not None:
            raise self.error
        return self.rows


@dataclass
class FakeBigQuery:
    """The client: every query recorded with its parameters, every load with its rows' ids."""

    answer: Answer = no_rows
    # Raised by every query; run once, before the next query (what happens meanwhile).
    error: Exception | None = None
    before_query: Callable[[], None] | None = None
    # Errors of the next new load jobs, in order.
    failures: list[Exception] = field(default_factory=list)
    queries: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # Job ids that exist, and how each ended.
    jobs: dict[str, FakeJob] = field(default_factory=dict)
    loads: list[dict[str, Any]] = field(default_factory=list)
    lookups: list[tuple[str, str | None]] = field(default_factory=list)

    def rows(self, sql: str, parameters: dict[str, Any]) -> Rows:
        return self.answer(sql, parameters)

    def query(self, sql: str, /, *, job_config: QueryJobConfig) -> FakeJob:
        if self.error is not None:
            raise self.error
        if self.before_query is not None:
            hook, self.before_query = self.before_query, None
            hook()
        parameters = {
            p.name: p.values if hasattr(p, "values") else p.value
            for p in job_config.query_parameters
        }
        self.queries.append((sql, parameters))
        return FakeJob(self.rows(sql, parameters))

    def load_table_from_file(
        self,
        file_obj: IO[bytes],
        destination: str,
        /,
        *,
        job_id: str,
        job_config: LoadJobConfig,
        location: str | None,
    ) -> FakeJob:
        if job_id in self.jobs:
            raise Conflict(f"Already Exists: Job {job_id}")  # type: ignore[no-untyped-call]
        # Newline-delimited JSON, one row a line; every table here keys its rows by event_id.
        rows = [json.loads(line) for line in file_obj.read().decode().splitlines()]
        self.loads.append(
            {
                "ref": destination,
                "job_id": job_id,
                "ids": [row["event_id"] for row in rows],
                "config": job_config,
                "location": location,
            }
        )
        job = FakeJob(error=self.failures.pop(0) if self.failures else None)
        self.jobs[job_id] = job
        return job

    def get_job(self, job_id: str, /, *, location: str | None) -> FakeJob:
        self.lookups.append((job_id, location))
        return self.jobs[job_id]
