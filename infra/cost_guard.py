"""The cost guard (``costGuardEnabled``): the budget's notifications switch capture to
archive-only and pause the scheduled queries; the next budget period switches them back.

| who | what | where |
| --- | --- | --- |
| cost-guard-runtime | read and write capture's mode object | the control bucket |
| capture-runtime, collector-runtime | read capture's mode object | the control bucket |
| cost-guard-runtime | read the archive | the archive bucket |
| cost-guard-runtime | load rows (tables.updateData, custom role) and read them | each event table |
| cost-guard-runtime | run the load and look-up jobs (jobs exist only project-wide) | project |
| cost-guard-runtime | update transfer configs (custom role) | project (configs have no IAM) |
| cost-guard-trigger | invoke (deliver a budget notification) | the cost guard only |
| Pub/Sub's service agent | mint cost-guard-trigger's ID tokens | that account |

The budget topic and the budget itself are in ``monitoring/budget.py``.
"""

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from event_capture.contracts.timing import MODE_TTL_SECONDS
from event_capture.cost_guard.scheduled_queries import TRANSFER_PERMISSIONS
from infra.access import (
    DATA_VIEWER,
    JOB_USER,
    OBJECT_USER,
    OBJECT_VIEWER,
    account_member,
)
from infra.apis import after
from infra.capture_function import request_deadline_seconds
from infra.function_build import (
    FunctionBuild,
    PubsubFunction,
    pubsub_function,
    pubsub_signs_as,
)
from infra.function_source import SourceArchive
from infra.policy.rules import SOFT_DELETE_OFF_SECONDS
from infra.service_accounts import GuardAccounts, custom_role
from infra.settings import Settings

# One notification at a time, so two never switch at once; a switch back waits for capture's
# instances (its mode TTL plus its longest request) and then loads the archive-only window.
GUARD_MEMORY = "1Gi"
GUARD_TIMEOUT_SECONDS = 540
# The control bucket holds one small object; old generations are deleted after this.
CONTROL_RETENTION_DAYS = 30


# What the archive loader's load jobs need on each event table they append to (Google's
# batch-loading page, "Required permissions"); its bigquery.tables.create is for a load that
# creates its table, which the loader's CREATE_NEVER rules out.
LOAD_PERMISSIONS = ("bigquery.tables.update", "bigquery.tables.updateData")


@dataclass(frozen=True, kw_only=True)
class CostGuardArgs:
    settings: Settings
    build: FunctionBuild
    source: SourceArchive
    accounts: GuardAccounts
    # The budget and its Pub/Sub topic (monitoring/budget.py): the guard acts on that budget's
    # notifications only.
    budget: gcp.billing.Budget
    budget_topic: gcp.pubsub.Topic
    archive_bucket: gcp.storage.Bucket
    event_tables: dict[str, gcp.bigquery.Table]
    # The scheduled queries it pauses, by table.
    scheduled_queries: dict[str, gcp.bigquery.DataTransferConfig]
    # The accounts of the functions that follow capture's mode (capture, the collector).
    mode_readers: dict[str, pulumi.Input[str]]
    build_grants: list[pulumi.Resource]
    labels: dict[str, str]


class CostGuard(pulumi.ComponentResource):
    control_bucket: gcp.storage.Bucket
    function: gcp.cloudfunctionsv2.Function
    # The transfer configs it pauses, comma-separated full names (SCHEDULED_QUERIES).
    scheduled_queries: pulumi.Output[str]
    # What capture's functions need before they start: their read grant on the control bucket.
    reader_grants: list[pulumi.Resource]

    def __init__(
        self,
        name: str,
        args: CostGuardArgs,
        *,
        apis: list[gcp.projects.Service],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("event-capture:cost:CostGuard", name, None, opts)
        child = after(apis, self)
        settings, project = args.settings, args.settings.project
        guard = account_member(args.accounts.guard)

        self.control_bucket = gcp.storage.Bucket(
            "capture-control",
            project=project,
            location=settings.region,
            storage_class="STANDARD",
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            # Each switch is a new generation: kept a while, for the operator who asks why.
            versioning=gcp.storage.BucketVersioningArgs(enabled=True),
            # The suppression list lives here too (digests of user ids, contracts/forget.py):
            # a lifted suppression's old generations go after CONTROL_RETENTION_DAYS, with no
            # soft-deleted copy kept beyond that.
            soft_delete_policy=gcp.storage.BucketSoftDeletePolicyArgs(
                retention_duration_seconds=SOFT_DELETE_OFF_SECONDS
            ),
            lifecycle_rules=[
                gcp.storage.BucketLifecycleRuleArgs(
                    action=gcp.storage.BucketLifecycleRuleActionArgs(type="Delete"),
                    condition=gcp.storage.BucketLifecycleRuleConditionArgs(
                        age=CONTROL_RETENTION_DAYS, with_state="ARCHIVED"
                    ),
                )
            ],
            # Holds the mode and why, never an event: its live object may outlive 90 days.
            labels={**args.labels, "purpose": "capture-control", "personal-data": "none"},
            force_destroy=True,
            opts=child,
        )
        grants: list[pulumi.Resource] = [
            gcp.storage.BucketIAMMember(
                "guard-writes-capture-mode",
                bucket=self.control_bucket.name,
                role=OBJECT_USER,
                member=guard,
                opts=child,
            ),
            gcp.storage.BucketIAMMember(
                "guard-reads-archive",
                bucket=args.archive_bucket.name,
                role=OBJECT_VIEWER,
                member=guard,
                opts=child,
            ),
            gcp.projects.IAMMember(
                "guard-runs-load-jobs", project=project, role=JOB_USER, member=guard, opts=child
            ),
        ]
        self.reader_grants = [
            gcp.storage.BucketIAMMember(
                f"{function}-reads-capture-mode",
                bucket=self.control_bucket.name,
                role=OBJECT_VIEWER,
                member=member,
                opts=child,
            )
            for function, member in args.mode_readers.items()
        ]
        loader_role = custom_role(
            "event-loader",
            "eventCaptureLoader",
            project=project,
            title="Event capture loader",
            description="Append a load job's rows to a table, and nothing else.",
            permissions=LOAD_PERMISSIONS,
            opts=child,
        )
        for table_id, table in args.event_tables.items():
            for action, role in (("loads", loader_role.name), ("reads", DATA_VIEWER)):
                grants.append(
                    gcp.bigquery.IamMember(
                        f"guard-{action}-{table_id}",
                        project=project,
                        dataset_id=table.dataset_id,
                        table_id=table.table_id,
                        role=role,
                        member=guard,
                        opts=child,
                    )
                )
        switch_role = custom_role(
            "scheduled-query-switch",
            "eventCaptureQuerySwitch",
            project=project,
            title="Event capture scheduled-query switch",
            description="Pause and resume scheduled queries (transfer configs), nothing else.",
            permissions=TRANSFER_PERMISSIONS,
            opts=child,
        )
        grants.append(
            gcp.projects.IAMMember(
                "guard-switches-scheduled-queries",
                project=project,
                role=switch_role.name,
                member=guard,
                opts=child,
            )
        )
        pubsub_signs_as(
            "pubsub-agent-acts-as-guard-trigger",
            project=project,
            trigger=args.accounts.trigger,
            opts=child,
        )

        queries = self.scheduled_queries = pulumi.Output.all(
            *(config.name for _, config in sorted(args.scheduled_queries.items()))
        ).apply(lambda names: ",".join(names))
        self.function = pubsub_function(
            args.build,
            args.source,
            PubsubFunction(
                description="Switches capture to archive-only past the budget, and back.",
                runtime=args.accounts.guard,
                memory=GUARD_MEMORY,
                timeout_seconds=GUARD_TIMEOUT_SECONDS,
                environment={
                    "GCP_PROJECT": project,
                    # billingAccounts/<account>/budgets/<id>: notifications carry the id.
                    "BUDGET_ID": args.budget.name.apply(lambda name: name.rsplit("/", 1)[-1]),
                    "BIGQUERY_DATASET": settings.dataset_id,
                    "BIGQUERY_LOCATION": settings.dataset_location,
                    "GCS_BUCKET": args.archive_bucket.name,
                    "CAPTURE_MODE_BUCKET": self.control_bucket.name,
                    "SCHEDULED_QUERIES": queries,
                    "GUARD_THRESHOLD": f"{settings.cost_guard_percent / 100:g}",
                    # As capture's: the guard waits them out before it loads.
                    "CAPTURE_MODE_TTL_SECONDS": f"{MODE_TTL_SECONDS:g}",
                    "REQUEST_DEADLINE_SECONDS": str(request_deadline_seconds(settings)),
                },
                topic=args.budget_topic.id,
                trigger=args.accounts.trigger,
                # A switch that failed half-way (Cloud Storage, BigQuery or the Data Transfer
                # API unreachable) is delivered again; every step is idempotent, and a message
                # the guard cannot read is dropped with a log line, not retried.
                retried=True,
            ),
            project=project,
            settings=settings,
            labels=args.labels,
            depends_on=[*args.build_grants, *grants],
            opts=child,
        )
        self.register_outputs({"control_bucket": self.control_bucket.name})
