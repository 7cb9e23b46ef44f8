"""The capture function: Cloud Functions gen2, HTTP, IAM-authenticated, runs as its own account.

The source object is named by the archive's content hash (see ``function_source``), so the
function is rebuilt when and only when its code or an ``event_capture`` package it ships changes.
"""

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from event_capture.contracts.timing import MAX_REQUEST_DEADLINE_SECONDS
from infra.apis import after
from infra.function_build import (
    RUN_INVOKER,
    FunctionBuild,
    build_config,
    upload_source,
    vpc_connector,
    vpc_egress,
)
from infra.function_source import CAPTURE, SourceArchive
from infra.settings import Settings

FUNCTION_NAME = CAPTURE.name


@dataclass(frozen=True, kw_only=True)
class CaptureFunctionArgs:
    settings: Settings
    source: SourceArchive
    build: FunctionBuild
    archive_bucket: pulumi.Input[str]
    dead_letter_bucket: pulumi.Input[str]
    # The cost guard's control bucket (cost_guard.py); None: always streams.
    capture_mode_bucket: pulumi.Input[str] | None
    runtime_account_email: pulumi.Input[str]
    invoker_member: pulumi.Input[str]
    # REDIS_URL from Secret Manager, when the Redis sink is on (redis_secret.py).
    redis_url: gcp.cloudfunctionsv2.FunctionServiceConfigSecretEnvironmentVariableArgs | None
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


def pipeline_environment(
    settings: Settings,
    *,
    archive_bucket: pulumi.Input[str],
    dead_letter_bucket: pulumi.Input[str],
    capture_mode_bucket: pulumi.Input[str] | None,
) -> dict[str, pulumi.Input[str]]:
    """The plain variables of every function that runs the capture pipeline (capture and the
    collector; see docs/reference/environment.md), from the settings.

    ``REDIS_URL`` is never one of them: it comes from Secret Manager (``redis_secret``).
    """
    mode = {"CAPTURE_MODE_BUCKET": capture_mode_bucket} if capture_mode_bucket else {}
    return {
        **mode,
        "GCP_PROJECT": settings.project,
        "BIGQUERY_ENABLED": str(settings.bigquery_enabled).lower(),
        "BIGQUERY_WRITE_API": str(settings.bigquery_write_api).lower(),
        "BIGQUERY_DATASET": settings.dataset_id,
        "GCS_ENABLED": str(settings.gcs_enabled).lower(),
        "GCS_BUCKET": archive_bucket,
        "DEAD_LETTER_BUCKET": dead_letter_bucket,
        "REDIS_ENABLED": str(settings.redis_enabled).lower(),
        # functions-framework serves this many requests at once per instance.
        "THREADS": str(settings.function_concurrency),
        # Every sink's wait shares this budget, so the 503 with Retry-After always comes
        # before Cloud Run's own timeout would turn it into a gateway error.
        "REQUEST_DEADLINE_SECONDS": str(request_deadline_seconds(settings)),
    }


def environment(args: CaptureFunctionArgs) -> dict[str, pulumi.Input[str]]:
    """The capture function's plain variables."""
    return pipeline_environment(
        args.settings,
        archive_bucket=args.archive_bucket,
        dead_letter_bucket=args.dead_letter_bucket,
        capture_mode_bucket=args.capture_mode_bucket,
    )


def pipeline_service_config(
    settings: Settings,
    *,
    account_email: pulumi.Input[str],
    max_instances: int,
    min_instances: int,
    environment: dict[str, pulumi.Input[str]],
    secrets: list[gcp.cloudfunctionsv2.FunctionServiceConfigSecretEnvironmentVariableArgs],
) -> gcp.cloudfunctionsv2.FunctionServiceConfigArgs:
    """How a function that runs the capture pipeline is served: sized by the ``function*``
    settings, reachable from anywhere (its invoker grant decides who gets in)."""
    return gcp.cloudfunctionsv2.FunctionServiceConfigArgs(
        service_account_email=account_email,
        # Reachable from the app wherever it runs; every request still needs an ID token of
        # an account holding run.invoker, unless the collector is public (collector_function).
        ingress_settings="ALLOW_ALL",
        max_instance_count=max_instances,
        min_instance_count=min_instances,
        available_memory=settings.function_memory,
        available_cpu=settings.function_cpu,
        max_instance_request_concurrency=settings.function_concurrency,
        timeout_seconds=settings.function_timeout_seconds,
        environment_variables=environment,
        secret_environment_variables=secrets or None,
        vpc_connector=vpc_connector(settings),
        vpc_connector_egress_settings=vpc_egress(settings),
        all_traffic_on_latest_revision=True,
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
        self.source_object = upload_source(args.build, args.source, child)
        self.function = gcp.cloudfunctionsv2.Function(
            FUNCTION_NAME,
            project=settings.project,
            location=settings.region,
            name=FUNCTION_NAME,
            description="Validates app events and streams them to BigQuery and Cloud Storage.",
            build_config=build_config(args.build, args.source, self.source_object),
            service_config=pipeline_service_config(
                settings,
                account_email=args.runtime_account_email,
                max_instances=settings.function_max_instances,
                min_instances=settings.function_min_instances,
                environment=environment(args),
                secrets=[args.redis_url] if args.redis_url else [],
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
