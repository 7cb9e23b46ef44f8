"""The stack's own identities. None has a key: each is used by a Google service or impersonated.

- ``capture-runtime``: what the capture function runs as.
- ``capture-invoker``: the only identity allowed to call the function (the app).
- ``capture-build``: what Cloud Build uses to build the functions, instead of the default
  compute account, which holds Editor on the project in many organisations.

With online features (``redisEnabled``), one account per job of theirs:

- ``features-runtime``: what the features function runs as (it reads Redis only).
- ``materializer-runtime``: what the materializer runs as (feature tables to Redis).
- ``materializer-trigger``: what delivers the feature-run notifications to the materializer.

With the cost guard (``costGuardEnabled``):

- ``cost-guard-runtime``: what the cost guard runs as (capture's mode, the queries' switch,
  the archive's load).
- ``cost-guard-trigger``: what delivers the budget notifications to the cost guard.

With the scheduled archive backfill (``archiveBackfillEnabled``):

- ``archive-backfill-runtime``: what the backfill runs as (reads the event tables, lists,
  reads and creates archive objects).
- ``archive-backfill-trigger``: what delivers the hourly schedule's messages to the backfill,
  only.

With the forget run (``forgetEnabled``):

- ``forget-runtime``: what the forget function runs as (deletes a user's rows, archive and
  dead-letter lines and Redis keys; reads and removes the filed requests, writes receipts and
  the suppression list).
- ``forget-trigger``: what delivers the hourly schedule's messages to the forget function, only.

With the collector (``collectorEnabled``):

- ``collector-runtime``: what the collector runs as; it writes what capture writes.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.apis import after

# What insertAll needs on the table (Google's streaming page, "Required permissions"): write its
# rows and read its metadata; no read of its rows, no delete, no schema change.
INSERT_PERMISSIONS = ["bigquery.tables.get", "bigquery.tables.updateData"]
# ... and on its dataset, which no table-level grant can give: the dataset's metadata.
DATASET_METADATA_PERMISSIONS = ["bigquery.datasets.get"]
# What the archive and dead-letter writers do to a bucket: create objects, and read one back to
# tell a retry of their own upload from another's after a 412 (ingest/sinks/gcs_objects.py).
# Storage Object Creator cannot read; Object User could also replace and delete.
OBJECT_WRITER_PERMISSIONS = ["storage.objects.create", "storage.objects.get"]


def custom_role(
    name: str,
    role_id: str,
    *,
    project: str,
    title: str,
    description: str,
    permissions: Sequence[str],
    opts: pulumi.ResourceOptions,
) -> gcp.projects.IAMCustomRole:
    """A role of the project's holding exactly ``permissions``."""
    return gcp.projects.IAMCustomRole(
        name,
        project=project,
        role_id=role_id,
        title=title,
        description=description,
        permissions=list(permissions),
        opts=opts,
    )


@dataclass(frozen=True, kw_only=True)
class ServiceAccountsArgs:
    project: str
    online_features: bool
    collector: bool
    cost_guard: bool = False
    archive_backfill: bool = False
    forget: bool = False


@dataclass(frozen=True, kw_only=True)
class FeatureAccounts:
    features: gcp.serviceaccount.Account
    materializer: gcp.serviceaccount.Account
    trigger: gcp.serviceaccount.Account


@dataclass(frozen=True, kw_only=True)
class GuardAccounts:
    guard: gcp.serviceaccount.Account
    trigger: gcp.serviceaccount.Account


@dataclass(frozen=True, kw_only=True)
class ScheduledAccounts:
    """A scheduled function's: what it runs as, and what delivers its schedule's messages."""

    runtime: gcp.serviceaccount.Account
    trigger: gcp.serviceaccount.Account


BackfillAccounts = ScheduledAccounts
ForgetAccounts = ScheduledAccounts


class ServiceAccounts(pulumi.ComponentResource):
    runtime: gcp.serviceaccount.Account
    invoker: gcp.serviceaccount.Account
    build: gcp.serviceaccount.Account
    inserter_role: gcp.projects.IAMCustomRole
    dataset_metadata_role: gcp.projects.IAMCustomRole
    object_writer_role: gcp.projects.IAMCustomRole
    features: FeatureAccounts | None
    collector: gcp.serviceaccount.Account | None
    cost_guard: GuardAccounts | None
    archive_backfill: BackfillAccounts | None
    forget: ForgetAccounts | None

    def __init__(
        self,
        name: str,
        args: ServiceAccountsArgs,
        *,
        apis: list[gcp.projects.Service],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("event-capture:identity:ServiceAccounts", name, None, opts)
        child = after(apis, self)

        def account(account_id: str, *, description: str) -> gcp.serviceaccount.Account:
            return gcp.serviceaccount.Account(
                account_id,
                project=args.project,
                account_id=account_id,
                display_name=account_id,
                description=description,
                opts=child,
            )

        self.runtime = account("capture-runtime", description="Runs the capture function.")
        self.invoker = account(
            "capture-invoker", description="The app: may only invoke the function."
        )
        self.build = account("capture-build", description="Builds the functions' images.")
        # Role definitions, not grants: access.py grants each on one table, dataset or bucket.
        self.inserter_role = custom_role(
            "event-inserter",
            "eventCaptureInserter",
            project=args.project,
            title="Event capture inserter",
            description="Stream rows into a table (insertAll) and nothing else.",
            permissions=INSERT_PERMISSIONS,
            opts=child,
        )
        self.dataset_metadata_role = custom_role(
            "event-dataset-metadata",
            "eventCaptureDatasetMetadata",
            project=args.project,
            title="Event capture dataset metadata",
            description="Read a dataset's metadata, as insertAll needs; no table, no row.",
            permissions=DATASET_METADATA_PERMISSIONS,
            opts=child,
        )
        self.object_writer_role = custom_role(
            "event-object-writer",
            "eventCaptureObjectWriter",
            project=args.project,
            title="Event capture object writer",
            description="Create objects and read them back; never replace or delete one.",
            permissions=OBJECT_WRITER_PERMISSIONS,
            opts=child,
        )
        self.features = (
            FeatureAccounts(
                features=account(
                    "features-runtime", description="Runs the features function: reads Redis."
                ),
                materializer=account(
                    "materializer-runtime",
                    description="Runs the materializer: loads the feature tables into Redis.",
                ),
                trigger=account(
                    "materializer-trigger",
                    description="Delivers feature-run notifications to the materializer, only.",
                ),
            )
            if args.online_features
            else None
        )
        self.collector = (
            account(
                "collector-runtime",
                description="Runs the collector function: writes what the capture function writes.",
            )
            if args.collector
            else None
        )
        self.cost_guard = (
            GuardAccounts(
                guard=account(
                    "cost-guard-runtime",
                    description="Runs the cost guard: switches capture to archive-only and back.",
                ),
                trigger=account(
                    "cost-guard-trigger",
                    description="Delivers budget notifications to the cost guard, only.",
                ),
            )
            if args.cost_guard
            else None
        )
        self.archive_backfill = (
            BackfillAccounts(
                runtime=account(
                    "archive-backfill-runtime",
                    description="Runs the archive backfill: archives what the archive lacks.",
                ),
                trigger=account(
                    "archive-backfill-trigger",
                    description="Delivers the hourly schedule to the archive backfill, only.",
                ),
            )
            if args.archive_backfill
            else None
        )
        self.forget = (
            ForgetAccounts(
                runtime=account(
                    "forget-runtime",
                    description="Runs the forget function: erases the users asked for.",
                ),
                trigger=account(
                    "forget-trigger",
                    description="Delivers the hourly schedule to the forget function, only.",
                ),
            )
            if args.forget
            else None
        )
        self.register_outputs(
            {
                "runtime": self.runtime.email,
                "invoker": self.invoker.email,
                "build": self.build.email,
            }
        )
