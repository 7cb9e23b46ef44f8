"""The BigQuery dataset and one table per event family, from ``event_capture/tables/*.json``.

The JSON files are generated from the pydantic models and are the only copy of each schema;
partitioning, expiry, the partition filter and clustering come from the same files. A schema
change the additive-change test allows is updated in place, rows kept; any other would replace
the table, which ``protect`` refuses (docs/deploy.md, Table schema changes).
"""

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gcp as gcp

from event_capture.tables.definitions import load_table_definitions
from infra.apis import after
from infra.policy.rules import MIN_TIME_TRAVEL_HOURS


@dataclass(frozen=True, kw_only=True)
class EventTablesArgs:
    project: str
    dataset_id: str
    location: str
    deletion_protection: bool
    labels: dict[str, str]


# Not "warehouse": that is the SQL layer over these tables (``warehouse.py``). Deployments made
# before the rename hold this component under FORMER_TYPE, which ``stack.py`` aliases.
TYPE = "event-capture:tables:EventTables"
FORMER_TYPE = "event-capture:warehouse:EventTables"


class EventTables(pulumi.ComponentResource):
    dataset: gcp.bigquery.Dataset
    tables: dict[str, gcp.bigquery.Table]

    def __init__(
        self,
        name: str,
        args: EventTablesArgs,
        *,
        apis: list[gcp.projects.Service],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(TYPE, name, None, opts)
        child = after(apis, self)
        self.dataset = gcp.bigquery.Dataset(
            "events",
            project=args.project,
            dataset_id=args.dataset_id,
            location=args.location,
            description="Raw capture events, one table per event family.",
            # Rows deleted (a user forgotten) stay readable through time travel for this long,
            # then 7 days of fail-safe: the shortest BigQuery allows (policy/rules.py).
            max_time_travel_hours=str(MIN_TIME_TRAVEL_HOURS),
            labels=args.labels,
            delete_contents_on_destroy=not args.deletion_protection,
            opts=child.merge(pulumi.ResourceOptions(protect=args.deletion_protection)),
        )
        self.tables = {
            definition["table_id"]: self._table(args, definition, child)
            for definition in load_table_definitions()
        }
        self.register_outputs(
            {
                "dataset_id": self.dataset.dataset_id,
                "table_ids": list(self.tables),
            }
        )

    def _table(
        self, args: EventTablesArgs, definition: dict[str, Any], child: pulumi.ResourceOptions
    ) -> gcp.bigquery.Table:
        partitioning = definition["time_partitioning"]
        return gcp.bigquery.Table(
            definition["table_id"],
            project=args.project,
            dataset_id=self.dataset.dataset_id,
            table_id=definition["table_id"],
            description=f"{definition['description']} Schema {definition['schema_version']}.",
            schema=json.dumps(definition["schema"]["fields"]),
            time_partitioning=gcp.bigquery.TableTimePartitioningArgs(
                type=partitioning["type"],
                field=partitioning["field"],
                expiration_ms=partitioning["expiration_ms"],
            ),
            require_partition_filter=definition["require_partition_filter"],
            clusterings=definition["clustering"]["fields"],
            labels={**args.labels, "schema-version": definition["schema_version"]},
            deletion_protection=args.deletion_protection,
            opts=child.merge(pulumi.ResourceOptions(protect=args.deletion_protection)),
        )
