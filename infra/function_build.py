"""What every function of the stack shares: its runtime, how it is built, and its network.

Each is a gen2 function built from its own hash-named source object (``function_source``) by
``capture-build`` into one build repository, and reaches Redis (Memorystore) through the
``vpcConnector`` when one is set.
"""

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.access import IMPERSONATOR
from infra.function_source import SourceArchive
from infra.settings import Settings

# Cloud Functions' Python 3.13, the version every venv of the repository runs.
RUNTIME = "python313"
RUN_INVOKER = "roles/run.invoker"
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
