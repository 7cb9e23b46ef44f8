"""The scheduled archive backfill (``archiveBackfillEnabled``, on by default): every
``BACKFILL_EVERY_MINUTES`` a Cloud Scheduler job publishes to a topic, and the backfill function,
triggered by it through Eventarc, archives what BigQuery holds and the archive lacks over the
last ``BACKFILL_LOOKBACK_HOURS`` hours: the lines of an instance killed before its group
commit's flush.

| who | what | where |
| --- | --- | --- |
| archive-backfill-runtime | read | each event table |
| archive-backfill-runtime | run the queries reading them (jobs exist only project-wide) | project |
| archive-backfill-runtime | list and read objects | the archive bucket |
| archive-backfill-runtime | create objects, read them back (never replace, delete) | the archive |
| archive-backfill-trigger | invoke (deliver a scheduled message) | the backfill only |
| Pub/Sub's service agent | mint archive-backfill-trigger's ID tokens | that account |
| Cloud Scheduler's service agent | publish | the topic |

No grant on the dead-letter or control bucket, and none on a dataset: each table is granted.
"""

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from event_capture.contracts.archive_layout import BACKFILL_EVERY_MINUTES
from infra.access import DATA_VIEWER, JOB_USER, OBJECT_VIEWER, account_member
from infra.apis import after
from infra.function_build import (
    FunctionBuild,
    PubsubFunction,
    pubsub_function,
    pubsub_signs_as,
)
from infra.function_source import SourceArchive
from infra.schedule import cron_every, message_data, scheduled_job, scheduler_publishes
from infra.service_accounts import BackfillAccounts
from infra.settings import Settings

# The Cloud Scheduler job (`gcloud scheduler jobs run archive-backfill-schedule` runs it now).
SCHEDULE_NAME = "archive-backfill-schedule"
# One run at a time: two runs that both find the same events missing would each archive them
# under a different name (a name follows from the events one object holds), and the archive
# must hold each event once. Cloud Scheduler delivers at least once, so a second message while a
# run is going is refused (one instance, one request), not run beside it.
BACKFILL_MEMORY = "1Gi"
# The longest an event-driven gen2 function may run (Cloud Functions' "Function timeout": 540 s
# for event-driven functions).
BACKFILL_TIMEOUT_SECONDS = 540
# The message's content is not read: each run covers the hours before it, whenever it runs.
MESSAGE_DATA = message_data("archive-backfill")


@dataclass(frozen=True, kw_only=True)
class ArchiveBackfillArgs:
    settings: Settings
    build: FunctionBuild
    source: SourceArchive
    accounts: BackfillAccounts
    archive_bucket: gcp.storage.Bucket
    event_tables: dict[str, gcp.bigquery.Table]
    # The custom role of create-and-read-back (service_accounts.py), which capture's writers
    # hold on the same bucket.
    object_writer_role: gcp.projects.IAMCustomRole
    build_grants: list[pulumi.Resource]
    labels: dict[str, str]


class ArchiveBackfill(pulumi.ComponentResource):
    topic: gcp.pubsub.Topic
    job: gcp.cloudscheduler.Job
    function: gcp.cloudfunctionsv2.Function

    def __init__(
        self,
        name: str,
        args: ArchiveBackfillArgs,
        *,
        apis: list[gcp.projects.Service],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("event-capture:archive:ArchiveBackfill", name, None, opts)
        child = after(apis, self)
        settings, project = args.settings, args.settings.project
        runtime = account_member(args.accounts.runtime)

        self.topic = gcp.pubsub.Topic(
            "archive-backfill-runs", project=project, labels=args.labels, opts=child
        )
        # Table by table, not the dataset: the events dataset also holds the feature tables, and
        # its grants are access entries, where dataViewer turns into READER and leaves a diff
        # that never resolves (pulumi-gcp bigquery.DatasetAccess ``role``).
        grants: list[pulumi.Resource] = [
            gcp.bigquery.IamMember(
                f"backfill-reads-{table_id}",
                project=project,
                dataset_id=table.dataset_id,
                table_id=table.table_id,
                role=DATA_VIEWER,
                member=runtime,
                opts=child,
            )
            for table_id, table in args.event_tables.items()
        ]
        grants += [
            gcp.projects.IAMMember(
                "backfill-runs-queries", project=project, role=JOB_USER, member=runtime, opts=child
            ),
            # Storage Object Viewer lists and reads; the custom role creates and reads back.
            # Neither holds storage.objects.delete, without which no write can replace an
            # object: the backfill only ever adds to the archive.
            gcp.storage.BucketIAMMember(
                "backfill-reads-archive",
                bucket=args.archive_bucket.name,
                role=OBJECT_VIEWER,
                member=runtime,
                opts=child,
            ),
            gcp.storage.BucketIAMMember(
                "backfill-creates-archive",
                bucket=args.archive_bucket.name,
                role=args.object_writer_role.name,
                member=runtime,
                opts=child,
            ),
        ]
        pubsub_signs_as(
            "pubsub-agent-acts-as-backfill-trigger",
            project=project,
            trigger=args.accounts.trigger,
            opts=child,
        )
        publisher = scheduler_publishes(
            "scheduler-agent-publishes-backfill-runs",
            project=project,
            topic=self.topic,
            opts=child,
        )

        self.function = pubsub_function(
            args.build,
            args.source,
            PubsubFunction(
                description="Archives what BigQuery holds and the archive lacks, every hour.",
                runtime=args.accounts.runtime,
                memory=BACKFILL_MEMORY,
                timeout_seconds=BACKFILL_TIMEOUT_SECONDS,
                # As the capture function's, so the backfill reads the tables capture writes and
                # writes the archive capture writes.
                environment={
                    "GCP_PROJECT": project,
                    "BIGQUERY_DATASET": settings.dataset_id,
                    "GCS_BUCKET": args.archive_bucket.name,
                },
                topic=self.topic.id,
                trigger=args.accounts.trigger,
                # Not retried: a retry would run beside the next hour's run, or after it, and
                # each run looks BACKFILL_LOOKBACK_HOURS back, so the two runs after a failed
                # one cover its hours again. A failure alerts (monitoring/backfill_alerts.py).
                retried=False,
            ),
            project=project,
            settings=settings,
            labels=args.labels,
            depends_on=[*args.build_grants, *grants],
            opts=child,
        )
        self.job = scheduled_job(
            SCHEDULE_NAME,
            project=project,
            region=settings.region,
            description="Runs the archive backfill (the archive-backfill function).",
            schedule=cron_every(BACKFILL_EVERY_MINUTES),
            topic=self.topic,
            data=MESSAGE_DATA,
            depends_on=[self.function, publisher],
            opts=child,
        )
        self.register_outputs({"topic": self.topic.id, "job": self.job.name})
