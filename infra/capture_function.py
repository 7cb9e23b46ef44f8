"""The capture function: Cloud Functions gen2, HTTP, IAM-authenticated, runs as its own account.

The source object is named by the archive's content hash (see ``function_source``), so the
function is rebuilt when and only when its code or an ``event_capture`` package it ships changes.
"""

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from event_capture.ingest.config import MAX_REQUEST_DEADLINE_SECONDS
from infra.apis import after
from infra.function_source import SourceArchive
from infra.settings import Settings

# Cloud Functions' Python 3.13, the version every venv of the repository runs.
RUNTIME = "python313"
ENTRY_POINT = "capture"
FUNCTION_NAME = "capture"
RUN_INVOKER = "roles/run.invoker"
# Build images pile up with every deploy; keep the few a rollback could use.
KEPT_IMAGE_VERSIONS = 5
OLD_IMAGE_SECONDS = 30 * 24 * 3600


@dataclass(frozen=True, kw_only=True)
class CaptureFunctionArgs:
    settings: Settings
    source: SourceArchive
    source_bucket: pulumi.Input[str]
    archive_bucket: pulumi.Input[str]
    dead_letter_bucket: pulumi.Input[str]
    runtime_account_email: pulumi.Input[str]
    build_account_id: pulumi.Input[str]
    build_repository: gcp.artifactregistry.Repository
    invoker_member: pulumi.Input[str]
    # Grants the build and the runtime need before the first deploy.
    grants: list[pulumi.Resource]
    labels: dict[str, str]


# What a request needs besides the sinks' budget: reading its body (the function's read
# timeout) and answering.
REQUEST_MARGIN_SECONDS = 15


def request_deadline_seconds(settings: Settings) -> int:
    """The function's per-request budget: its timeout less the margin, at most what the
    function accepts (a longer timeout only gives a slow body more time)."""
    budget = settings.function_timeout_seconds - REQUEST_MARGIN_SECONDS
    return min(budget, int(MAX_REQUEST_DEADLINE_SECONDS))


def environment(args: CaptureFunctionArgs) -> dict[str, pulumi.Input[str]]:
    """The function's variables (see the README's Configuration table), from the settings."""
    settings = args.settings
    env: dict[str, pulumi.Input[str]] = {
        "GCP_PROJECT": settings.project,
        "BIGQUERY_ENABLED": str(settings.bigquery_enabled).lower(),
        "BIGQUERY_DATASET": settings.dataset_id,
        "GCS_ENABLED": str(settings.gcs_enabled).lower(),
        "GCS_BUCKET": args.archive_bucket,
        "DEAD_LETTER_BUCKET": args.dead_letter_bucket,
        "REDIS_ENABLED": str(settings.redis_enabled).lower(),
        # functions-framework serves this many requests at once per instance.
        "THREADS": str(settings.function_concurrency),
        # Every sink's wait shares this budget, so the 503 with Retry-After always comes
        # before Cloud Run's own timeout would turn it into a gateway error.
        "REQUEST_DEADLINE_SECONDS": str(request_deadline_seconds(settings)),
    }
    if settings.redis_enabled:
        env["REDIS_URL"] = pulumi.Output.secret(settings.redis_url)
    return env


def build_repository(
    *, settings: Settings, labels: dict[str, str], opts: pulumi.ResourceOptions
) -> gcp.artifactregistry.Repository:
    """Where Cloud Build puts the function's images (instead of the shared default repository)."""
    return gcp.artifactregistry.Repository(
        "capture-builds",
        project=settings.project,
        location=settings.region,
        repository_id="capture-builds",
        format="DOCKER",
        description="Images Cloud Build makes from the capture function's source.",
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


class CaptureFunction(pulumi.ComponentResource):
    function: gcp.cloudfunctionsv2.Function
    source_object: gcp.storage.BucketObject
    url: pulumi.Output[str]
    invoker_grant: gcp.cloudrunv2.ServiceIamMember

    def __init__(
        self,
        name: str,
        args: CaptureFunctionArgs,
        *,
        apis: list[gcp.projects.Service],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("event-capture:function:CaptureFunction", name, None, opts)
        child = after(apis, self)
        settings = args.settings
        self.source_object = gcp.storage.BucketObject(
            "capture-source",
            bucket=args.source_bucket,
            name=args.source.object_name,
            source=pulumi.FileAsset(str(args.source.write())),
            content_type="application/zip",
            opts=child,
        )
        self.function = gcp.cloudfunctionsv2.Function(
            FUNCTION_NAME,
            project=settings.project,
            location=settings.region,
            name=FUNCTION_NAME,
            description="Validates app events and streams them to BigQuery and Cloud Storage.",
            build_config=gcp.cloudfunctionsv2.FunctionBuildConfigArgs(
                runtime=RUNTIME,
                entry_point=ENTRY_POINT,
                service_account=args.build_account_id,
                docker_repository=args.build_repository.id,
                source=gcp.cloudfunctionsv2.FunctionBuildConfigSourceArgs(
                    storage_source=gcp.cloudfunctionsv2.FunctionBuildConfigSourceStorageSourceArgs(
                        bucket=args.source_bucket,
                        object=self.source_object.name,
                    )
                ),
            ),
            service_config=gcp.cloudfunctionsv2.FunctionServiceConfigArgs(
                service_account_email=args.runtime_account_email,
                # Reachable from the app wherever it runs; every request still needs an ID
                # token of an account holding run.invoker (see access.py).
                ingress_settings="ALLOW_ALL",
                max_instance_count=settings.function_max_instances,
                min_instance_count=settings.function_min_instances,
                available_memory=settings.function_memory,
                available_cpu=settings.function_cpu,
                max_instance_request_concurrency=settings.function_concurrency,
                timeout_seconds=settings.function_timeout_seconds,
                environment_variables=environment(args),
                vpc_connector=settings.vpc_connector or None,
                vpc_connector_egress_settings="PRIVATE_RANGES_ONLY"
                if settings.vpc_connector
                else None,
                all_traffic_on_latest_revision=True,
            ),
            labels=args.labels,
            opts=child.merge(pulumi.ResourceOptions(depends_on=args.grants)),
        )
        # The only way in: an ID token of the invoker account (no allUsers, ever).
        self.invoker_grant = gcp.cloudrunv2.ServiceIamMember(
            "invoker-calls-capture",
            project=settings.project,
            location=settings.region,
            name=self.function.name,
            role=RUN_INVOKER,
            member=args.invoker_member,
            opts=child,
        )
        self.url = self.function.url
        self.register_outputs({"url": self.url, "source_object": self.source_object.name})
