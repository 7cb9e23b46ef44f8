"""What each scheduled function shares (the archive backfill, the forget run): a Cloud Scheduler
job that publishes to a topic of its own, the grant that lets Cloud Scheduler's service agent
publish to that topic only, and the crontab of an interval.
"""

import base64
from collections.abc import Sequence

import pulumi
import pulumi_gcp as gcp

PUBLISHER = "roles/pubsub.publisher"
# Cloud Scheduler reads its schedule in this zone; UTC, so a daylight-saving change neither
# skips nor repeats a run. The zone must be a tz database name (pulumi-gcp
# cloudscheduler.Job ``time_zone``).
SCHEDULE_TIME_ZONE = "Etc/UTC"


def cron_every(minutes: int, *, constant: str = "BACKFILL_EVERY_MINUTES") -> str:
    """The crontab schedule of a run every ``minutes``: a divisor of an hour, or a whole number
    of hours that divides a day, so every interval is the same length."""
    if 0 < minutes < 60 and 60 % minutes == 0:
        return f"*/{minutes} * * * *"
    if minutes % 60 == 0 and 0 < minutes <= 24 * 60 and (24 * 60) % minutes == 0:
        hours = minutes // 60
        return {1: "0 * * * *", 24: "0 0 * * *"}.get(hours, f"0 */{hours} * * *")
    raise ValueError(
        f"{constant}: must divide an hour or be whole hours dividing a day, got {minutes}"
    )


def message_data(text: str) -> str:
    """A job's message: its content is not read, but Cloud Scheduler needs non-empty data or an
    attribute (pulumi-gcp JobPubsubTarget ``data``, base64)."""
    return base64.b64encode(text.encode()).decode()


def scheduler_publishes(
    name: str, *, project: str, topic: gcp.pubsub.Topic, opts: pulumi.ResourceOptions
) -> gcp.pubsub.TopicIAMMember:
    """Cloud Scheduler publishes as its service agent, whose Google-granted role reaches every
    topic of the project; this grant names the one topic it needs, so the stack says so (and
    the IAM proof can trace the publish to a grant)."""
    number = gcp.organizations.get_project_output(project_id=project).number
    return gcp.pubsub.TopicIAMMember(
        name,
        project=project,
        topic=topic.name,
        role=PUBLISHER,
        member=number.apply(
            lambda n: f"serviceAccount:service-{n}@gcp-sa-cloudscheduler.iam.gserviceaccount.com"
        ),
        opts=opts,
    )


def scheduled_job(
    name: str,
    *,
    project: str,
    region: str,
    description: str,
    schedule: str,
    topic: gcp.pubsub.Topic,
    data: str,
    depends_on: Sequence[pulumi.Resource],
    opts: pulumi.ResourceOptions,
) -> gcp.cloudscheduler.Job:
    """The job, named ``name`` (``gcloud scheduler jobs run <name>`` runs it now); made once the
    function and the publish grant exist (``depends_on``), so the first message has a taker."""
    return gcp.cloudscheduler.Job(
        name,
        project=project,
        region=region,
        name=name,
        description=description,
        schedule=schedule,
        time_zone=SCHEDULE_TIME_ZONE,
        # No attempt_deadline: Cloud Scheduler ignores it for Pub/Sub targets, and setting
        # it leaves a diff that never resolves (pulumi-gcp cloudscheduler.Job).
        pubsub_target=gcp.cloudscheduler.JobPubsubTargetArgs(topic_name=topic.id, data=data),
        opts=opts.merge(pulumi.ResourceOptions(depends_on=list(depends_on))),
    )
