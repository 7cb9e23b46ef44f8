"""The daily scheduled queries (BigQuery Data Transfer Service) and the account they run as.

``warehouse-queries`` may run jobs, read the raw tables its scripts name (the scripts inline the
de-duplication rather than read the ``_dedup`` views) and write the tables the queries fill,
each granted on that table alone. Jobs can only be granted on the project: that one grant is
project-wide.

Each query is a script (``event_capture.warehouse.render.scheduled_sql``) that replaces the
partition of the day before its run, so no destination table or dataset-wide write access is
needed.
"""

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from event_capture.warehouse.catalog import (
    SCHEDULED_TABLES,
    USER_RECOMMENDATIONS,
)
from event_capture.warehouse.render import scheduled_sql
from infra.apis import after
from infra.warehouse import Warehouse

JOB_USER = "roles/bigquery.jobUser"
DATA_VIEWER = "roles/bigquery.dataViewer"
DATA_EDITOR = "roles/bigquery.dataEditor"
TOKEN_CREATOR = "roles/iam.serviceAccountTokenCreator"  # noqa: S105 - a role name
PUBLISHER = "roles/pubsub.publisher"


@dataclass(frozen=True, kw_only=True)
class ScheduledQueriesArgs:
    project: str
    location: str
    warehouse: Warehouse
    event_tables: dict[str, gcp.bigquery.Table]
    # Online features: the last feature query announces each run here (online_features.py).
    feature_runs: gcp.pubsub.Topic | None = None


class ScheduledQueries(pulumi.ComponentResource):
    account: gcp.serviceaccount.Account
    configs: dict[str, gcp.bigquery.DataTransferConfig]

    def __init__(
        self,
        name: str,
        args: ScheduledQueriesArgs,
        *,
        apis: list[gcp.projects.Service],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("event-capture:warehouse:ScheduledQueries", name, None, opts)
        child = after(apis, self)
        warehouse = args.warehouse
        self.account = gcp.serviceaccount.Account(
            "warehouse-queries",
            project=args.project,
            account_id="warehouse-queries",
            display_name="warehouse-queries",
            description="Runs the warehouse's daily scheduled queries.",
            opts=child,
        )
        member = self.account.email.apply(lambda email: f"serviceAccount:{email}")
        grants: list[pulumi.Resource] = [
            gcp.projects.IAMMember(
                "warehouse-runs-jobs",
                project=args.project,
                role=JOB_USER,
                member=member,
                opts=child,
            )
        ]

        def table_grant(name: str, *, table: gcp.bigquery.Table, role: str) -> None:
            grants.append(
                gcp.bigquery.IamMember(
                    name,
                    project=args.project,
                    dataset_id=table.dataset_id,
                    table_id=table.table_id,
                    role=role,
                    member=member,
                    opts=child,
                )
            )

        scripts = {spec.name: scheduled_sql(spec, warehouse.datasets) for spec in SCHEDULED_TABLES}
        for table_id, table in args.event_tables.items():
            # Only the raw tables a script names: a new family (identity_links) gets its grant
            # with the first query that reads it, not before (tools/iam_proof.py fails a grant
            # nothing uses).
            if any(f"`{warehouse.datasets.events}.{table_id}`" in s for s in scripts.values()):
                table_grant(f"warehouse-reads-{table_id}", table=table, role=DATA_VIEWER)
        for spec in SCHEDULED_TABLES:
            table_grant(
                f"warehouse-writes-{spec.name}", table=warehouse.tables[spec.name], role=DATA_EDITOR
            )

        # The Data Transfer Service mints this account's tokens through its own service agent.
        number = gcp.organizations.get_project_output(project_id=args.project).number
        transfer_agent = number.apply(
            lambda n: (
                f"serviceAccount:service-{n}@gcp-sa-bigquerydatatransfer.iam.gserviceaccount.com"
            )
        )
        grants.append(
            gcp.serviceaccount.IAMMember(
                "transfer-agent-acts-as-warehouse",
                service_account_id=self.account.name,
                role=TOKEN_CREATOR,
                member=transfer_agent,
                opts=child,
            )
        )
        if args.feature_runs is not None:
            # The same agent publishes the run notifications; granted before a config names it.
            grants.append(
                gcp.pubsub.TopicIAMMember(
                    "transfer-agent-publishes-feature-runs",
                    project=args.project,
                    topic=args.feature_runs.name,
                    role=PUBLISHER,
                    member=transfer_agent,
                    opts=child,
                )
            )

        run_after = child.merge(pulumi.ResourceOptions(depends_on=grants))
        self.configs = {
            spec.name: gcp.bigquery.DataTransferConfig(
                f"schedule-{spec.name}",
                project=args.project,
                location=args.location,
                display_name=f"warehouse: {spec.name}",
                data_source_id="scheduled_query",
                schedule=spec.schedule,
                params={"query": scripts[spec.name]},
                service_account_name=self.account.email,
                # Its run completes the day's feature snapshot, which the materializer loads.
                notification_pubsub_topic=args.feature_runs.id
                if args.feature_runs is not None and spec is USER_RECOMMENDATIONS
                else None,
                opts=run_after,
            )
            for spec in SCHEDULED_TABLES
        }
        self.register_outputs({"account": self.account.email, "configs": list(self.configs)})
