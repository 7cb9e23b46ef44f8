"""The warehouse layer: the analytics dataset, the views, and the tables the scheduled queries fill.

Everything is declared from ``event_capture.warehouse.catalog`` and its SQL files, rendered by
``event_capture.warehouse.render`` as the emulator tests render them. User-level objects
(``_dedup`` views, feature tables) live in the events dataset and expire with it; the analytics
dataset holds only aggregates without user or session ids, and its views read the events
dataset as authorized views, so an analyst granted the analytics dataset sees no raw event.
"""

import json
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from event_capture.warehouse.catalog import (
    DEDUP_VIEWS,
    EVENTS,
    SCHEDULED_TABLES,
    VIEWS,
    ScheduledTable,
    View,
)
from event_capture.warehouse.render import Datasets, view_sql
from infra.apis import after
from infra.policy.rules import NO_PERSONAL_DATA, PERSONAL_DATA_LABEL

DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True, kw_only=True)
class WarehouseArgs:
    project: str
    location: str
    events_dataset_id: str
    analytics_dataset_id: str
    min_users: int
    deletion_protection: bool
    labels: dict[str, str]
    events_dataset: gcp.bigquery.Dataset
    event_tables: dict[str, gcp.bigquery.Table]


class Warehouse(pulumi.ComponentResource):
    analytics: gcp.bigquery.Dataset
    tables: dict[str, gcp.bigquery.Table]
    datasets: Datasets

    def __init__(
        self,
        name: str,
        args: WarehouseArgs,
        *,
        apis: list[gcp.projects.Service],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("event-capture:warehouse:Warehouse", name, None, opts)
        child = after(apis, self)
        self._args = args
        self.analytics = gcp.bigquery.Dataset(
            "analytics",
            project=args.project,
            dataset_id=args.analytics_dataset_id,
            location=args.location,
            description="Aggregates without user or session ids, dashboards, data quality.",
            labels={**args.labels, PERSONAL_DATA_LABEL: NO_PERSONAL_DATA},
            delete_contents_on_destroy=not args.deletion_protection,
            opts=child.merge(pulumi.ResourceOptions(protect=args.deletion_protection)),
        )
        events_id = args.events_dataset.dataset_id
        self._dataset_ids = {EVENTS: events_id, "analytics": self.analytics.dataset_id}
        # The SQL names datasets in full; both ids are known from config before anything exists.
        self.datasets = Datasets(
            events=f"{args.project}.{args.events_dataset_id}",
            analytics=f"{args.project}.{args.analytics_dataset_id}",
            min_users=args.min_users,
        )
        # Views read the raw tables; they can only be created once those exist.
        view_opts = child.merge(pulumi.ResourceOptions(depends_on=list(args.event_tables.values())))
        self.views: dict[str, gcp.bigquery.Table] = {}
        for view in VIEWS:
            self.views[view.name] = self._view(view, view_opts)
        self.tables = {spec.name: self._table(spec, child) for spec in SCHEDULED_TABLES}
        for view in VIEWS:
            if view.dataset != EVENTS:
                self._authorize(view, child)
        self.register_outputs(
            {"analytics_dataset_id": self.analytics.dataset_id, "views": list(self.views)}
        )

    def dataset_id(self, role: str) -> pulumi.Output[str]:
        return self._dataset_ids[role]

    def _view(self, view: View, opts: pulumi.ResourceOptions) -> gcp.bigquery.Table:
        # A view can read any view declared before it (the dashboard views read the _dedup
        # views and events_sessionized), so BigQuery must have those first.
        reads = [] if view in DEDUP_VIEWS else list(self.views.values())
        return gcp.bigquery.Table(
            f"view-{view.name}",
            project=self._args.project,
            dataset_id=self.dataset_id(view.dataset),
            table_id=view.name,
            description=view.description,
            view=gcp.bigquery.TableViewArgs(
                query=view_sql(view, self.datasets), use_legacy_sql=False
            ),
            labels=self._args.labels,
            deletion_protection=False,  # holds no data; recreated from SQL
            opts=opts.merge(pulumi.ResourceOptions(depends_on=reads)),
        )

    def _table(self, spec: ScheduledTable, opts: pulumi.ResourceOptions) -> gcp.bigquery.Table:
        expiration = spec.expiration_days * DAY_MS if spec.expiration_days else None
        personal = "user-level" if spec.personal_data else NO_PERSONAL_DATA
        return gcp.bigquery.Table(
            spec.name,
            project=self._args.project,
            dataset_id=self.dataset_id(spec.dataset),
            table_id=spec.name,
            description=spec.description,
            schema=json.dumps([column.api_repr() for column in spec.columns]),
            time_partitioning=gcp.bigquery.TableTimePartitioningArgs(
                type="DAY", field=spec.partition_field, expiration_ms=expiration
            ),
            require_partition_filter=True,
            labels={**self._args.labels, PERSONAL_DATA_LABEL: personal},
            deletion_protection=self._args.deletion_protection,
            opts=opts.merge(pulumi.ResourceOptions(protect=self._args.deletion_protection)),
        )

    def _authorize(self, view: View, opts: pulumi.ResourceOptions) -> None:
        """Let an analytics view read the events dataset on its readers' behalf."""
        target = self.views[view.name]
        gcp.bigquery.DatasetAccess(
            f"authorize-{view.name}",
            project=self._args.project,
            dataset_id=self.dataset_id(EVENTS),
            view=gcp.bigquery.DatasetAccessViewArgs(
                project_id=self._args.project,
                dataset_id=target.dataset_id,
                table_id=target.table_id,
            ),
            opts=opts,
        )
