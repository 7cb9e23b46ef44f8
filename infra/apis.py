"""The Google APIs the stack uses, enabled first so nothing races their activation."""

import pulumi
import pulumi_gcp as gcp

REQUIRED_APIS = (
    "artifactregistry.googleapis.com",  # the function's build images
    "bigquery.googleapis.com",
    "bigquerydatatransfer.googleapis.com",  # the warehouse's scheduled queries
    "bigquerystorage.googleapis.com",  # capture's appends (the Storage Write API)
    "billingbudgets.googleapis.com",
    "cloudbuild.googleapis.com",  # builds the function from source
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com",  # project number for the budget filter
    "cloudscheduler.googleapis.com",  # the archive backfill's hourly schedule
    "eventarc.googleapis.com",  # the materializer's Pub/Sub trigger (online features)
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",  # gen2 functions run on Cloud Run
    "secretmanager.googleapis.com",  # the Redis URL (online features)
    "storage.googleapis.com",
)


def enable_apis(project: str) -> list[gcp.projects.Service]:
    return [
        gcp.projects.Service(
            f"api-{api.split('.')[0]}",
            project=project,
            service=api,
            # Turning an API off on destroy would break anything else in the project using it.
            disable_on_destroy=False,
        )
        for api in REQUIRED_APIS
    ]


def after(apis: list[gcp.projects.Service], parent: pulumi.Resource) -> pulumi.ResourceOptions:
    """Options for a component's children: parented, and created once the APIs are on."""
    return pulumi.ResourceOptions(parent=parent, depends_on=list(apis))
