"""A SQL statement with its parameters' BigQuery types, declared once: what runs, and what
``make check`` analyzes with BigQuery's own analyzer (``tools/sql_check.py``), so a parameter
typed one way in the check cannot run typed another way.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from event_capture.platform.bigquery_surface import BigQueryQueries

if TYPE_CHECKING:
    from google.cloud.bigquery import QueryJobConfig

# The parameter types the project's statements use, as BigQuery names them.
DATE = "DATE"
TIMESTAMP = "TIMESTAMP"
STRING = "STRING"
STRING_ARRAY = "ARRAY<STRING>"


@dataclass(frozen=True)
class Query:
    sql: str
    # Each named parameter (``@name``) and its BigQuery type.
    parameters: Mapping[str, str] = field(default_factory=dict)

    def job_config(self, **values: Any) -> "QueryJobConfig":
        """The job's configuration with each parameter's value; a value missing or not declared
        raises, naming it."""
        from google.cloud import bigquery

        if set(values) != set(self.parameters):
            raise ValueError(
                f"query parameters: declared {sorted(self.parameters)}, given {sorted(values)}"
            )
        parameters: list[bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter] = []
        for name, type_ in self.parameters.items():
            if type_.startswith("ARRAY<"):
                element = type_.removeprefix("ARRAY<").removesuffix(">")
                items: Iterable[Any] = values[name]
                parameters.append(bigquery.ArrayQueryParameter(name, element, list(items)))
            else:
                parameters.append(bigquery.ScalarQueryParameter(name, type_, values[name]))
        return bigquery.QueryJobConfig(query_parameters=parameters)

    def rows(self, client: BigQueryQueries, **values: Any) -> list[dict[str, Any]]:
        """Run it with these parameter values; its rows as dicts."""
        job = client.query(self.sql, job_config=self.job_config(**values))
        return [dict(row.items()) for row in job.result()]
