"""Every IAM grant the stack makes before the function exists, each on a single resource.

| who | what | where |
| --- | --- | --- |
| capture-runtime | insertAll (custom role) | each event table |
| capture-runtime | the dataset's metadata, which insertAll reads (custom role) | events dataset |
| capture-runtime | create objects, read them back (custom role) | archive, dead-letter buckets |
| collector-runtime (``collectorEnabled``) | the same three, granted the same way | the same |
| capture-build | read source | function-source bucket |
| capture-build | push images | the build repository |
| capture-build | write build logs | project (logs can only be granted there) |
| appPrincipals | mint ID tokens as capture-invoker | that service account |
| operators | replay: read, create, delete objects | dead-letter bucket |
| operators | replay: insertAll, and read (which events are already stored) | each event table |
| operators | replay: the dataset's metadata, which insertAll reads | events dataset |
| operators | replay: run the query that reads them (jobs exist only project-wide) | project |

The one grant that needs the function to exist, capture-invoker's ``run.invoker`` on it, is in
``capture_function.py`` (the collector's in ``collector_function.py``). Everything here is in
place before the function's first build.
"""

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.apis import after
from infra.event_buckets import EventBuckets
from infra.event_tables import EventTables
from infra.service_accounts import ServiceAccounts

OBJECT_VIEWER = "roles/storage.objectViewer"
OBJECT_USER = "roles/storage.objectUser"
IMPERSONATOR = "roles/iam.serviceAccountTokenCreator"
# generateIdToken and nothing else: what the app needs of capture-invoker.
ID_TOKEN_CREATOR = "roles/iam.serviceAccountOpenIdTokenCreator"  # noqa: S105 - a role name
REPOSITORY_WRITER = "roles/artifactregistry.writer"
LOG_WRITER = "roles/logging.logWriter"
DATA_VIEWER = "roles/bigquery.dataViewer"
JOB_USER = "roles/bigquery.jobUser"


@dataclass(frozen=True, kw_only=True)
class AccessArgs:
    project: str
    region: str
    accounts: ServiceAccounts
    tables: EventTables
    buckets: EventBuckets
    build_repository: gcp.artifactregistry.Repository
    app_principals: tuple[str, ...]
    operators: tuple[str, ...]


def account_member(account: gcp.serviceaccount.Account) -> pulumi.Output[str]:
    return account.email.apply(lambda email: f"serviceAccount:{email}")


def dataset_access_member(member: str) -> dict[str, str]:
    """An IAM member (``serviceAccount:``, ``user:``, ``group:``, ``domain:``) as a dataset
    access entry's member fields: BigQuery names accounts and users by e-mail."""
    kind, _, value = member.partition(":")
    match kind:
        case "serviceAccount" | "user":
            return {"user_by_email": value}
        case "group":
            return {"group_by_email": value}
        case "domain":
            return {"domain": value}
    return {"iam_member": member}


class Access(pulumi.ComponentResource):
    grants: list[pulumi.Resource]

    def __init__(
        self,
        name: str,
        args: AccessArgs,
        *,
        apis: list[gcp.projects.Service],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("event-capture:identity:Access", name, None, opts)
        child = after(apis, self)
        accounts, buckets = args.accounts, args.buckets
        build = account_member(accounts.build)
        grants: list[pulumi.Resource] = []

        # Every function that runs the capture pipeline writes exactly what capture writes.
        # Capture's grants keep the names they were deployed under ("runtime-...").
        writers = [("runtime", account_member(accounts.runtime))]
        if accounts.collector is not None:
            writers.append(("collector", account_member(accounts.collector)))
        inserters = writers + [
            (f"operator-{i}", pulumi.Output.from_input(m)) for i, m in enumerate(args.operators)
        ]
        for table_id, table in args.tables.tables.items():
            for who, member in inserters:
                grants.append(
                    gcp.bigquery.IamMember(
                        f"{who}-inserts-{table_id}",
                        project=args.project,
                        dataset_id=table.dataset_id,
                        table_id=table.table_id,
                        role=accounts.inserter_role.name,
                        member=member,
                        opts=child,
                    )
                )

        def bucket_grant(
            name: str,
            *,
            bucket: gcp.storage.Bucket,
            role: pulumi.Input[str],
            member: pulumi.Input[str],
        ) -> None:
            grants.append(
                gcp.storage.BucketIAMMember(
                    name, bucket=bucket.name, role=role, member=member, opts=child
                )
            )

        writer_role = accounts.object_writer_role.name
        for who, member in writers:
            bucket_grant(
                f"{who}-creates-archive", bucket=buckets.archive, role=writer_role, member=member
            )
            bucket_grant(
                f"{who}-creates-dead-letter",
                bucket=buckets.dead_letter,
                role=writer_role,
                member=member,
            )
        # A dataset access entry, not a DatasetIamMember: the events dataset authorizes the
        # analytics views through access entries, which an IAM-policy resource would remove.
        readers: list[tuple[str, dict[str, pulumi.Input[str]]]] = [
            ("runtime", {"user_by_email": accounts.runtime.email})
        ]
        if accounts.collector is not None:
            readers.append(("collector", {"user_by_email": accounts.collector.email}))
        readers += [
            (f"operator-{i}", dict(dataset_access_member(m))) for i, m in enumerate(args.operators)
        ]
        for who, fields in readers:
            grants.append(
                gcp.bigquery.DatasetAccess(
                    f"{who}-reads-events-dataset-metadata",
                    project=args.project,
                    dataset_id=args.tables.dataset.dataset_id,
                    role=accounts.dataset_metadata_role.name,
                    user_by_email=fields.get("user_by_email"),
                    group_by_email=fields.get("group_by_email"),
                    domain=fields.get("domain"),
                    iam_member=fields.get("iam_member"),
                    opts=child,
                )
            )
        bucket_grant(
            "build-reads-source", bucket=buckets.function_source, role=OBJECT_VIEWER, member=build
        )
        for i, operator in enumerate(args.operators):
            # Replay asks BigQuery which dead-lettered events a resend already stored.
            for table_id, table in args.tables.tables.items():
                grants.append(
                    gcp.bigquery.IamMember(
                        f"operator-{i}-reads-{table_id}",
                        project=args.project,
                        dataset_id=table.dataset_id,
                        table_id=table.table_id,
                        role=DATA_VIEWER,
                        member=operator,
                        opts=child,
                    )
                )
            grants.append(
                gcp.projects.IAMMember(
                    f"operator-{i}-runs-queries",
                    project=args.project,
                    role=JOB_USER,
                    member=operator,
                    opts=child,
                )
            )
            bucket_grant(
                f"operator-{i}-replays-dead-letter",
                bucket=buckets.dead_letter,
                role=OBJECT_USER,
                member=operator,
            )

        grants.append(
            gcp.artifactregistry.RepositoryIamMember(
                "build-pushes-images",
                project=args.project,
                location=args.region,
                repository=args.build_repository.name,
                role=REPOSITORY_WRITER,
                member=build,
                opts=child,
            )
        )
        grants.append(
            gcp.projects.IAMMember(
                "build-writes-logs", project=args.project, role=LOG_WRITER, member=build, opts=child
            )
        )
        for i, principal in enumerate(args.app_principals):
            grants.append(
                gcp.serviceaccount.IAMMember(
                    f"app-{i}-acts-as-invoker",
                    service_account_id=accounts.invoker.name,
                    role=ID_TOKEN_CREATOR,
                    member=principal,
                    opts=child,
                )
            )
        self.grants = grants
        self.register_outputs({})
