"""Forgetting users (``forgetEnabled``, on by default): the app files a request in the forget
bucket, and every ``FORGET_EVERY_MINUTES`` a Cloud Scheduler job publishes to a topic whose
messages run the forget function (``functions/forget``), which erases each requested user from
every store, suppresses their later events when asked, and leaves a receipt beside the request
(``event_capture.contracts.forget``).

| who | what | where |
| --- | --- | --- |
| forget-runtime | read; delete rows (DML, custom role) | each event and user-level table |
| forget-runtime | run the queries and statements (jobs exist only project-wide) | project |
| forget-runtime | list, read, rewrite and delete objects | the archive and dead-letter buckets |
| forget-runtime | take requests, write receipts | the forget bucket |
| forget-runtime | read and replace the suppression list | the control bucket |
| forget-runtime | read the Redis URL (``redisEnabled``) | that secret |
| appPrincipals | file a request: create only (no read, list, replace) | the forget bucket |
| operators | file a request and read receipts | the forget bucket |
| operators | run it now: publish (a Scheduler job has no IAM of its own) | the topic |
| forget-trigger | invoke (deliver a scheduled message) | the forget function only |
| Pub/Sub's service agent | mint forget-trigger's ID tokens | that account |
| Cloud Scheduler's service agent | publish | the topic |
"""

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from event_capture.contracts.forget import RUN_EVERY_MINUTES, RUNS_TOPIC
from event_capture.contracts.timing import MODE_TTL_SECONDS
from event_capture.schemas.retention import RETENTION_DAYS
from event_capture.warehouse.catalog import USER_LEVEL_TABLES
from infra.access import DATA_VIEWER, JOB_USER, OBJECT_USER, OBJECT_VIEWER, account_member
from infra.apis import after
from infra.capture_function import request_deadline_seconds
from infra.event_buckets import EventBucketsArgs, private_bucket
from infra.function_build import FunctionBuild, PubsubFunction, pubsub_function, pubsub_signs_as
from infra.function_source import SourceArchive
from infra.schedule import PUBLISHER, cron_every, message_data, scheduled_job, scheduler_publishes
from infra.service_accounts import ForgetAccounts, custom_role
from infra.settings import Settings

OBJECT_CREATOR = "roles/storage.objectCreator"
# The Cloud Scheduler job (`gcloud scheduler jobs run forget-schedule` runs it now, for whoever
# may run jobs on the project; the operators publish to the topic instead).
SCHEDULE_NAME = "forget-schedule"
TOPIC_NAME = RUNS_TOPIC
BUCKET_NAME = "forget-requests"
# Hourly: rows BigQuery cannot delete yet (insertAll's streaming buffer, 30 to 90 minutes,
# cloud.google.com/bigquery/docs/data-manipulation-language#limitations) keep their request
# filed, and the next run takes it again.
FORGET_EVERY_MINUTES = RUN_EVERY_MINUTES
# One run at a time (max one instance, one request), as the archive backfill: two runs would
# rewrite the same archive objects (generation-matched, so one of them would fail).
FORGET_MEMORY = "1Gi"
# The longest an event-driven gen2 function may run (Cloud Functions' "Function timeout").
FORGET_TIMEOUT_SECONDS = 540
MESSAGE_DATA = message_data("forget")
# What a DML statement needs beyond reading its table (Data Viewer): change its rows
# (infra/iam/exceptions.json "bigquery.jobs.insert#dml"). No schema or metadata change.
ROW_EDIT_PERMISSIONS = ("bigquery.tables.updateData",)


@dataclass(frozen=True, kw_only=True)
class ForgetArgs:
    settings: Settings
    build: FunctionBuild
    source: SourceArchive
    accounts: ForgetAccounts
    buckets: EventBucketsArgs
    archive_bucket: gcp.storage.Bucket
    dead_letter_bucket: gcp.storage.Bucket
    # The cost guard's: the suppression list lives beside capture's mode.
    control_bucket: gcp.storage.Bucket
    event_tables: dict[str, gcp.bigquery.Table]
    warehouse_tables: dict[str, gcp.bigquery.Table]
    # REDIS_URL from Secret Manager and its reader grant (redisEnabled), else None.
    redis_url: gcp.cloudfunctionsv2.FunctionServiceConfigSecretEnvironmentVariableArgs | None
    redis_grant: pulumi.Resource | None
    app_principals: tuple[str, ...]
    operators: tuple[str, ...]
    build_grants: list[pulumi.Resource]


class Forget(pulumi.ComponentResource):
    bucket: gcp.storage.Bucket
    topic: gcp.pubsub.Topic
    job: gcp.cloudscheduler.Job
    function: gcp.cloudfunctionsv2.Function

    def __init__(
        self,
        name: str,
        args: ForgetArgs,
        *,
        apis: list[gcp.projects.Service],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("event-capture:privacy:Forget", name, None, opts)
        child = after(apis, self)
        settings, project = args.settings, args.settings.project
        runtime = account_member(args.accounts.runtime)
        labels = args.buckets.labels

        # Requests hold a user id, so the bucket keeps nothing deleted (soft delete off, no
        # versions). After the events' retention every store has dropped the user anyway, so a
        # request or receipt older than that is of no use.
        self.bucket = private_bucket(
            BUCKET_NAME,
            args.buckets,
            delete_after_days=RETENTION_DAYS,
            purpose="forget-requests",
            opts=child,
        )
        self.topic = gcp.pubsub.Topic(TOPIC_NAME, project=project, labels=labels, opts=child)
        row_editor = custom_role(
            "event-row-editor",
            "eventCaptureRowEditor",
            project=project,
            title="Event capture row editor",
            description="Change a table's rows by DML (read access granted apart), nothing else.",
            permissions=ROW_EDIT_PERMISSIONS,
            opts=child,
        )
        # Table by table, not the dataset: its grants are access entries, where dataViewer turns
        # into READER and leaves a diff that never resolves (archive_backfill.py).
        tables = {
            **args.event_tables,
            **{spec.name: args.warehouse_tables[spec.name] for spec in USER_LEVEL_TABLES},
        }
        grants: list[pulumi.Resource] = [
            gcp.bigquery.IamMember(
                f"forget-{action}-{table_id}",
                project=project,
                dataset_id=table.dataset_id,
                table_id=table.table_id,
                role=role,
                member=runtime,
                opts=child,
            )
            for table_id, table in tables.items()
            for action, role in (("reads", DATA_VIEWER), ("deletes-rows", row_editor.name))
        ]
        grants.append(
            gcp.projects.IAMMember(
                "forget-runs-queries", project=project, role=JOB_USER, member=runtime, opts=child
            )
        )
        # Storage Object User: list, read, replace (create and delete) and delete objects, the
        # least of the predefined roles that rewrites an object without a user's lines.
        for who, bucket in (
            ("archive", args.archive_bucket),
            ("dead-letter", args.dead_letter_bucket),
            ("forget-requests", self.bucket),
            ("suppression-list", args.control_bucket),
        ):
            grants.append(
                gcp.storage.BucketIAMMember(
                    f"forget-rewrites-{who}",
                    bucket=bucket.name,
                    role=OBJECT_USER,
                    member=runtime,
                    opts=child,
                )
            )
        # The app's account-deletion flow files a request with nothing but this: it can neither
        # read nor list the requests, nor replace or delete one, its own or another's.
        for i, principal in enumerate(args.app_principals):
            gcp.storage.BucketIAMMember(
                f"app-{i}-files-forget-requests",
                bucket=self.bucket.name,
                role=OBJECT_CREATOR,
                member=principal,
                opts=child,
            )
        for i, operator in enumerate(args.operators):
            for action, role in (("files", OBJECT_CREATOR), ("reads", OBJECT_VIEWER)):
                gcp.storage.BucketIAMMember(
                    f"operator-{i}-{action}-forget-requests",
                    bucket=self.bucket.name,
                    role=role,
                    member=operator,
                    opts=child,
                )
            gcp.pubsub.TopicIAMMember(
                f"operator-{i}-runs-forget",
                project=project,
                topic=self.topic.name,
                role=PUBLISHER,
                member=operator,
                opts=child,
            )
        pubsub_signs_as(
            "pubsub-agent-acts-as-forget-trigger",
            project=project,
            trigger=args.accounts.trigger,
            opts=child,
        )
        publisher = scheduler_publishes(
            "scheduler-agent-publishes-forget-runs", project=project, topic=self.topic, opts=child
        )
        redis = (
            {"REDIS_ENABLED": "true"} if args.redis_url is not None else {"REDIS_ENABLED": "false"}
        )
        self.function = pubsub_function(
            args.build,
            args.source,
            PubsubFunction(
                description="Forgets the users asked for in the forget bucket, every hour.",
                runtime=args.accounts.runtime,
                memory=FORGET_MEMORY,
                timeout_seconds=FORGET_TIMEOUT_SECONDS,
                # Where capture writes (as the backfill reads it), and where the requests and
                # the suppression list are.
                environment={
                    "GCP_PROJECT": project,
                    "BIGQUERY_DATASET": settings.dataset_id,
                    "GCS_BUCKET": args.archive_bucket.name,
                    "DEAD_LETTER_BUCKET": args.dead_letter_bucket.name,
                    "CAPTURE_MODE_BUCKET": args.control_bucket.name,
                    "FORGET_BUCKET": self.bucket.name,
                    # As capture's: a suppression is waited out this long before an erasure.
                    "CAPTURE_MODE_TTL_SECONDS": f"{MODE_TTL_SECONDS:g}",
                    "REQUEST_DEADLINE_SECONDS": str(request_deadline_seconds(settings)),
                    **redis,
                },
                secrets=[args.redis_url] if args.redis_url is not None else [],
                through_vpc=args.redis_url is not None,
                topic=self.topic.id,
                trigger=args.accounts.trigger,
                # Not retried: a retry would run beside the next hour's run. A run that failed
                # leaves its requests filed, so the next one takes them again; a failure alerts
                # (monitoring/forget_alerts.py).
                retried=False,
            ),
            project=project,
            settings=settings,
            labels=labels,
            depends_on=[
                *args.build_grants,
                *grants,
                *([args.redis_grant] if args.redis_grant is not None else []),
            ],
            opts=child,
        )
        self.job = scheduled_job(
            SCHEDULE_NAME,
            project=project,
            region=settings.region,
            description="Runs the forget function over the filed requests.",
            schedule=cron_every(FORGET_EVERY_MINUTES, constant="FORGET_EVERY_MINUTES"),
            topic=self.topic,
            data=MESSAGE_DATA,
            depends_on=[self.function, publisher],
            opts=child,
        )
        self.register_outputs(
            {"bucket": self.bucket.name, "topic": self.topic.id, "job": self.job.name}
        )
