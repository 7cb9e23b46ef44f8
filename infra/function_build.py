"""What every function of the stack shares: its runtime, how it is built, and its network.

Each is a gen2 function built from its own hash-named source object (``function_source``) by
``capture-build`` into one build repository, and reaches Redis (Memorystore) through the
``vpcConnector`` when one is set.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.access import IMPERSONATOR, account_member
from infra.function_source import SourceArchive
from infra.settings import Settings

# Cloud Functions' Python 3.13, the version every venv of the repository runs.
RUNTIME = "python313"
RUN_INVOKER = "roles/run.invoker"
# The event type of a Pub/Sub-triggered function (Eventarc).
PUBSUB_MESSAGE = "google.cloud.pubsub.topic.v1.messagePublished"
# Build images pile up with every deploy; keep the few a rollback could use (per function:
# each one's images are a package of their own in the repository).
KEPT_IMAGE_VERSIONS = 5
OLD_IMAGE_SECONDS = 30 * 24 * 3600


@dataclass(frozen=True, kw_only=True)
class FunctionBuild:
    """Where every function's source is uploaded, who builds it and where the image goes."""

    source_bucket: pulumi.Input[str]
    build_account_id: pulumi.Input[str]
    repository: gcp.artifactregistry.Repository


def build_repository(
    *, settings: Settings, labels: dict[str, str], opts: pulumi.ResourceOptions
) -> gcp.artifactregistry.Repository:
    """Where Cloud Build puts the functions' images (instead of the shared default repository)."""
    return gcp.artifactregistry.Repository(
        "capture-builds",
        project=settings.project,
        location=settings.region,
        repository_id="capture-builds",
        format="DOCKER",
        description="Images Cloud Build makes from the functions' sources.",
        cleanup_policies=[
            gcp.artifactregistry.RepositoryCleanupPolicyArgs(
                id="keep-recent",
                action="KEEP",
                most_recent_versions=gcp.artifactregistry.RepositoryCleanupPolicyMostRecentVersionsArgs(
                    keep_count=KEPT_IMAGE_VERSIONS
                ),
            ),
            gcp.artifactregistry.RepositoryCleanupPolicyArgs(
                id="delete-old",
                action="DELETE",
                condition=gcp.artifactregistry.RepositoryCleanupPolicyConditionArgs(
                    older_than=f"{OLD_IMAGE_SECONDS}s"
                ),
            ),
        ],
        labels=labels,
        opts=opts,
    )


def upload_source(
    build: FunctionBuild, archive: SourceArchive, opts: pulumi.ResourceOptions
) -> gcp.storage.BucketObject:
    return gcp.storage.BucketObject(
        f"{archive.function.name}-source",
        bucket=build.source_bucket,
        name=archive.object_name,
        source=pulumi.FileAsset(str(archive.write())),
        content_type="application/zip",
        opts=opts,
    )


def build_config(
    build: FunctionBuild, archive: SourceArchive, source_object: gcp.storage.BucketObject
) -> gcp.cloudfunctionsv2.FunctionBuildConfigArgs:
    return gcp.cloudfunctionsv2.FunctionBuildConfigArgs(
        runtime=RUNTIME,
        entry_point=archive.function.entry_point,
        service_account=build.build_account_id,
        docker_repository=build.repository.id,
        source=gcp.cloudfunctionsv2.FunctionBuildConfigSourceArgs(
            storage_source=gcp.cloudfunctionsv2.FunctionBuildConfigSourceStorageSourceArgs(
                bucket=build.source_bucket,
                object=source_object.name,
            )
        ),
    )


def vpc_connector(settings: Settings) -> str | None:
    return settings.vpc_connector or None


def vpc_egress(settings: Settings) -> str | None:
    # Only Memorystore's private addresses go through the connector; Google's APIs stay direct.
    return "PRIVATE_RANGES_ONLY" if settings.vpc_connector else None


def pubsub_signs_as(
    name: str, *, project: str, trigger: gcp.serviceaccount.Account, opts: pulumi.ResourceOptions
) -> gcp.serviceaccount.IAMMember:
    """Pub/Sub's service agent may mint ``trigger``'s ID tokens, which sign each push of an
    event trigger. Projects whose agent dates from before April 2021 lack the role this
    needs; newer ones hold it anyway."""
    number = gcp.organizations.get_project_output(project_id=project).number
    return gcp.serviceaccount.IAMMember(
        name,
        service_account_id=trigger.name,
        role=IMPERSONATOR,
        member=number.apply(
            lambda n: f"serviceAccount:service-{n}@gcp-sa-pubsub.iam.gserviceaccount.com"
        ),
        opts=opts,
    )


@dataclass(frozen=True, kw_only=True)
class PubsubFunction:
    """A function run by the messages of one topic, one at a time (the materializer, the cost
    guard, the archive backfill): what differs between them."""

    description: str
    runtime: gcp.serviceaccount.Account
    memory: str
    timeout_seconds: int
    environment: Mapping[str, pulumi.Input[str]]
    topic: pulumi.Input[str]
    trigger: gcp.serviceaccount.Account
    # Whether Pub/Sub delivers a message again after a failed run (each caller says why).
    retried: bool
    secrets: Sequence[gcp.cloudfunctionsv2.FunctionServiceConfigSecretEnvironmentVariableArgs] = ()
    # Reaches Memorystore through the stack's VPC connector.
    through_vpc: bool = False


def pubsub_function(
    build: FunctionBuild,
    archive: SourceArchive,
    spec: PubsubFunction,
    *,
    project: str,
    settings: Settings,
    labels: Mapping[str, str],
    depends_on: Sequence[pulumi.Resource],
    opts: pulumi.ResourceOptions,
) -> gcp.cloudfunctionsv2.Function:
    """The function, internal only, and the grant that lets its trigger account (and nothing
    else) invoke it."""
    source_object = upload_source(build, archive, opts)
    function = gcp.cloudfunctionsv2.Function(
        archive.function.name,
        project=project,
        location=settings.region,
        name=archive.function.name,
        description=spec.description,
        build_config=build_config(build, archive, source_object),
        service_config=gcp.cloudfunctionsv2.FunctionServiceConfigArgs(
            service_account_email=spec.runtime.email,
            # Only its trigger calls it: Eventarc's Pub/Sub pushes count as internal.
            ingress_settings="ALLOW_INTERNAL_ONLY",
            max_instance_count=1,
            min_instance_count=0,
            available_memory=spec.memory,
            available_cpu="1",
            max_instance_request_concurrency=1,
            timeout_seconds=spec.timeout_seconds,
            environment_variables=dict(spec.environment),
            secret_environment_variables=list(spec.secrets) or None,
            vpc_connector=vpc_connector(settings) if spec.through_vpc else None,
            vpc_connector_egress_settings=vpc_egress(settings) if spec.through_vpc else None,
            all_traffic_on_latest_revision=True,
        ),
        event_trigger=gcp.cloudfunctionsv2.FunctionEventTriggerArgs(
            event_type=PUBSUB_MESSAGE,
            pubsub_topic=spec.topic,
            service_account_email=spec.trigger.email,
            retry_policy="RETRY_POLICY_RETRY" if spec.retried else "RETRY_POLICY_DO_NOT_RETRY",
        ),
        labels=dict(labels),
        opts=opts.merge(pulumi.ResourceOptions(depends_on=list(depends_on))),
    )
    # The function's Cloud Run service carries its name.
    gcp.cloudrunv2.ServiceIamMember(
        f"trigger-calls-{archive.function.name}",
        project=project,
        location=settings.region,
        name=function.name,
        role=RUN_INVOKER,
        member=account_member(spec.trigger),
        opts=opts,
    )
    return function
