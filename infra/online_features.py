"""Online features (``redisEnabled``): the features function the app calls, and the materializer
that loads each night's feature snapshot into Redis when the last feature query has run.

| who | what | where |
| --- | --- | --- |
| the app (``capture-invoker``) | invoke | the features function |
| features-runtime | read the Redis URL | the ``redis-url`` secret (``redis_secret.py``) |
| materializer-runtime | read | each of the four feature tables |
| materializer-runtime | run the queries that read them (jobs exist only project-wide) | project |
| materializer-runtime | read the Redis URL | the ``redis-url`` secret |
| materializer-trigger | invoke (deliver a run notification) | the materializer only |
| Pub/Sub's service agent | mint materializer-trigger's ID tokens | that account |
| the Data Transfer Service's agent | publish run notifications | the topic (scheduled_queries.py) |

Neither function holds any Cloud Storage grant, and the features function no BigQuery grant:
it reads Redis and nothing else.
"""

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from event_capture.warehouse.catalog import FEATURE_TABLES
from infra.access import DATA_VIEWER, JOB_USER, account_member
from infra.apis import after
from infra.function_build import (
    RUN_INVOKER,
    FunctionBuild,
    PubsubFunction,
    build_config,
    pubsub_function,
    pubsub_signs_as,
    upload_source,
    vpc_connector,
    vpc_egress,
)
from infra.function_source import SourceArchive
from infra.redis_secret import RedisSecret
from infra.service_accounts import FeatureAccounts
from infra.settings import Settings

# The features function answers from Redis in milliseconds (its Redis timeout is 0.1 s), so a
# small instance serves many requests at once, and a request still running after 10 s is stuck.
FEATURES_MEMORY = "256Mi"
FEATURES_CPU = "1"
FEATURES_CONCURRENCY = 16
FEATURES_TIMEOUT_SECONDS = 10
# One load at a time: two loads of the same snapshot would rewrite each other's keys. A load
# holds the snapshot in memory and writes it in chunks of 1,000 fields, each given the
# materializer's REDIS_TIMEOUT_SECONDS (its default, 10 s).
MATERIALIZER_MEMORY = "512Mi"
MATERIALIZER_TIMEOUT_SECONDS = 300


@dataclass(frozen=True, kw_only=True)
class OnlineFeaturesArgs:
    settings: Settings
    build: FunctionBuild
    features_source: SourceArchive
    materializer_source: SourceArchive
    accounts: FeatureAccounts
    redis_secret: RedisSecret
    # The warehouse's scheduled tables by name; the materializer reads the feature tables.
    warehouse_tables: dict[str, gcp.bigquery.Table]
    # The app: the account that may call the capture function may call this one.
    invoker_member: pulumi.Input[str]
    # Grants the build needs before the first deploy (access.py).
    build_grants: list[pulumi.Resource]
    labels: dict[str, str]


class OnlineFeatures(pulumi.ComponentResource):
    # The last feature query announces each of its runs here (scheduled_queries.py).
    topic: gcp.pubsub.Topic
    features: gcp.cloudfunctionsv2.Function
    materializer: gcp.cloudfunctionsv2.Function
    url: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: OnlineFeaturesArgs,
        *,
        apis: list[gcp.projects.Service],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("event-capture:features:OnlineFeatures", name, None, opts)
        child = after(apis, self)
        settings, accounts, secret = args.settings, args.accounts, args.redis_secret
        project = settings.project
        materializer = account_member(accounts.materializer)

        self.topic = gcp.pubsub.Topic(
            "feature-runs", project=project, labels=args.labels, opts=child
        )
        grants: list[pulumi.Resource] = [
            gcp.bigquery.IamMember(
                f"materializer-reads-{spec.name}",
                project=project,
                dataset_id=args.warehouse_tables[spec.name].dataset_id,
                table_id=args.warehouse_tables[spec.name].table_id,
                role=DATA_VIEWER,
                member=materializer,
                opts=child,
            )
            for spec in FEATURE_TABLES
        ]
        grants.append(
            gcp.projects.IAMMember(
                "materializer-runs-queries",
                project=project,
                role=JOB_USER,
                member=materializer,
                opts=child,
            )
        )
        pubsub_signs_as(
            "pubsub-agent-acts-as-trigger", project=project, trigger=accounts.trigger, opts=child
        )

        features_object = upload_source(args.build, args.features_source, child)
        self.features = gcp.cloudfunctionsv2.Function(
            args.features_source.function.name,
            project=project,
            location=settings.region,
            name=args.features_source.function.name,
            description="Serves a user's features and a product's similar products from Redis.",
            build_config=build_config(args.build, args.features_source, features_object),
            service_config=gcp.cloudfunctionsv2.FunctionServiceConfigArgs(
                service_account_email=accounts.features.email,
                # As the capture function: callable from wherever the app runs, with an ID token.
                ingress_settings="ALLOW_ALL",
                max_instance_count=settings.function_max_instances,
                min_instance_count=0,
                available_memory=FEATURES_MEMORY,
                available_cpu=FEATURES_CPU,
                max_instance_request_concurrency=FEATURES_CONCURRENCY,
                timeout_seconds=FEATURES_TIMEOUT_SECONDS,
                environment_variables={"THREADS": str(FEATURES_CONCURRENCY)},
                secret_environment_variables=[secret.variable()],
                vpc_connector=vpc_connector(settings),
                vpc_connector_egress_settings=vpc_egress(settings),
                all_traffic_on_latest_revision=True,
            ),
            labels=args.labels,
            opts=child.merge(
                pulumi.ResourceOptions(
                    depends_on=[
                        *args.build_grants,
                        secret.grants[args.features_source.function.name],
                    ]
                )
            ),
        )
        gcp.cloudrunv2.ServiceIamMember(
            "invoker-calls-features",
            project=project,
            location=settings.region,
            name=self.features.name,
            role=RUN_INVOKER,
            member=args.invoker_member,
            opts=child,
        )

        self.materializer = pubsub_function(
            args.build,
            args.materializer_source,
            PubsubFunction(
                description="Loads each night's feature snapshot from BigQuery into Redis.",
                runtime=accounts.materializer,
                memory=MATERIALIZER_MEMORY,
                timeout_seconds=MATERIALIZER_TIMEOUT_SECONDS,
                environment={
                    "GCP_PROJECT": project,
                    "BIGQUERY_DATASET": settings.dataset_id,
                },
                secrets=[secret.variable()],
                through_vpc=True,
                topic=self.topic.id,
                trigger=accounts.trigger,
                # A load that failed (BigQuery or Redis unreachable) is delivered again, with
                # backoff, for as long as Pub/Sub keeps the message (a day); loading is
                # idempotent, and a message the function cannot read is dropped, not retried.
                retried=True,
            ),
            project=project,
            settings=settings,
            labels=args.labels,
            depends_on=[
                *args.build_grants,
                *grants,
                secret.grants[args.materializer_source.function.name],
            ],
            opts=child,
        )
        self.url = self.features.url
        self.register_outputs({"url": self.url, "topic": self.topic.id})
