"""The part of google-cloud-bigquery's client the code uses: parameterized queries, and load
jobs from a file.

``clients.bigquery_client`` returns the library's client as a ``BigQueryClient``, so mypy
checks the real one against these Protocols; the tests' fakes are checked against them where
they stand in for it. The capture path's inserts do not go through the library
(``ingest.insert_all``).
"""

from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    # Importing the library costs hundreds of milliseconds; only the type checker needs it.
    from google.cloud.bigquery import LoadJobConfig, QueryJobConfig


class BigQueryRow(Protocol):
    """A result row: its columns by name. Values are whatever the column holds (a date, a
    number, a string, a nested record), hence Any."""

    def __getitem__(self, column: str, /) -> Any: ...

    def items(self) -> Iterable[tuple[str, Any]]: ...


class QueryJob(Protocol):
    def result(self) -> Iterable[BigQueryRow]:
        """The rows, once the query has finished; raises its error if it failed."""
        ...


class Job(Protocol):
    def result(self) -> object:
        """Waits for the job; raises its error if it failed. What it returns is not used."""
        ...


class BigQueryQueries(Protocol):
    """Queries only: what the materializer, the report and the backfill read with."""

    def query(self, sql: str, /, *, job_config: "QueryJobConfig") -> QueryJob: ...


class BigQueryClient(BigQueryQueries, Protocol):
    """Queries and load jobs: the cost guard's archive loader, and every client built here."""

    def load_table_from_file(
        self,
        file_obj: IO[bytes],
        destination: str,
        /,
        *,
        job_id: str,
        job_config: "LoadJobConfig",
        location: str | None,
    ) -> Job: ...

    def get_job(self, job_id: str, /, *, location: str | None) -> Job: ...
