"""Cloud Storage: the raw-event archive, the dead-letter area and the function's source.

Every bucket has uniform bucket-level access (IAM only, no object ACLs) and enforced public
access prevention, so no later grant or ACL can make an object public. A bucket that holds
events or user ids keeps no copy of an object once it is deleted or replaced (soft delete off,
no versioning), so that a user forgotten is gone from it at once; the function source, labelled
``personal-data: none``, keeps Google's defaults.
"""

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from event_capture.schemas.retention import RETENTION_DAYS
from infra.apis import after
from infra.policy.rules import NO_PERSONAL_DATA, PERSONAL_DATA_LABEL, SOFT_DELETE_OFF_SECONDS

# Old source archives only matter for a rollback; a month is plenty.
SOURCE_RETENTION_DAYS = 30


@dataclass(frozen=True, kw_only=True)
class EventBucketsArgs:
    project: str
    location: str
    deletion_protection: bool
    labels: dict[str, str]


class EventBuckets(pulumi.ComponentResource):
    archive: gcp.storage.Bucket
    dead_letter: gcp.storage.Bucket
    function_source: gcp.storage.Bucket

    def __init__(
        self,
        name: str,
        args: EventBucketsArgs,
        *,
        apis: list[gcp.projects.Service],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("event-capture:storage:EventBuckets", name, None, opts)
        child = after(apis, self)
        # Raw events follow the same retention as the BigQuery partitions.
        self.archive = private_bucket(
            "events-archive", args, delete_after_days=RETENTION_DAYS, purpose="archive", opts=child
        )
        # Dead letters older than that would land in expired partitions if replayed.
        self.dead_letter = private_bucket(
            "events-dead-letter",
            args,
            delete_after_days=RETENTION_DAYS,
            purpose="dead-letter",
            opts=child,
        )
        self.function_source = private_bucket(
            "function-source",
            args,
            delete_after_days=SOURCE_RETENTION_DAYS,
            purpose="function-source",
            personal_data=False,
            opts=child,
        )
        self.register_outputs(
            {
                "archive": self.archive.name,
                "dead_letter": self.dead_letter.name,
                "function_source": self.function_source.name,
            }
        )


def private_bucket(
    name: str,
    args: EventBucketsArgs,
    *,
    delete_after_days: int,
    purpose: str,
    personal_data: bool = True,
    opts: pulumi.ResourceOptions,
) -> gcp.storage.Bucket:
    """A bucket of the stack: IAM only, never public, its objects deleted after
    ``delete_after_days``; one that holds events or user ids keeps nothing deleted."""
    # No explicit name: Pulumi adds a random suffix, as bucket names are global.
    return gcp.storage.Bucket(
        name,
        project=args.project,
        location=args.location,
        storage_class="STANDARD",
        uniform_bucket_level_access=True,
        public_access_prevention="enforced",
        lifecycle_rules=[
            gcp.storage.BucketLifecycleRuleArgs(
                action=gcp.storage.BucketLifecycleRuleActionArgs(type="Delete"),
                condition=gcp.storage.BucketLifecycleRuleConditionArgs(age=delete_after_days),
            )
        ],
        labels={
            **args.labels,
            "purpose": purpose,
            **({} if personal_data else {PERSONAL_DATA_LABEL: NO_PERSONAL_DATA}),
        },
        force_destroy=not args.deletion_protection,
        # A user forgotten is gone at once: no soft-deleted copy, no noncurrent version (off
        # is Google's default; said here so that a console change is put back).
        soft_delete_policy=gcp.storage.BucketSoftDeletePolicyArgs(
            retention_duration_seconds=SOFT_DELETE_OFF_SECONDS
        )
        if personal_data
        else None,
        versioning=gcp.storage.BucketVersioningArgs(enabled=False) if personal_data else None,
        opts=opts.merge(pulumi.ResourceOptions(protect=args.deletion_protection)),
    )
