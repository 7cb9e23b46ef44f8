"""The collector (``collectorEnabled``): the Segment tracking API and ElevenLabs post-call
webhooks in front of the capture pipeline. Cloud Functions gen2, HTTP, its own account.

| who | what | where |
| --- | --- | --- |
| collector-runtime | insertAll (``access.py``, as capture-runtime) | each event table |
| collector-runtime | create objects (``access.py``) | archive and dead-letter buckets |
| collector-runtime | read the write keys, the webhook and user-id secrets | those secrets only |
| collector-runtime | read the Redis URL (``redisEnabled``) | the ``redis-url`` secret |
| ``allUsers`` (``collectorPublic``), else capture-invoker | invoke | the collector only |

Its Cloud Run request log, which records each caller's address and user agent, is excluded.

Browser and mobile SDKs cannot mint Google ID tokens, so with ``collectorPublic`` anyone may
reach the collector, which then authenticates every call itself: a Segment write key, or an
ElevenLabs signature. The function is labelled ``auth: write-key`` to say so, and the policy pack
allows a public invoker on no function without that label and a write-key secret variable.
Anyone may then also run up its bill: ``collectorMaxInstances`` bounds it.
"""

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from event_capture.collector.auth import KeyClass
from event_capture.cost.flood import Caps, FloodDay, default_caps, instance_share, stored_day
from infra.access import account_member
from infra.apis import after
from infra.capture_function import pipeline_environment, pipeline_service_config
from infra.function_build import RUN_INVOKER, FunctionBuild, build_config, upload_source
from infra.function_source import COLLECTOR, SourceArchive
from infra.policy.rules import KEY_PROTECTED_LABELS, PUBLIC_INVOKER, REQUEST_LOG
from infra.secret_values import accessor_grant, project_number, regional_secret, secret_variable
from infra.settings import Settings

FUNCTION_NAME = COLLECTOR.name
# The collector's variables beside the capture pipeline's (capture_function.py); each list is
# comma-separated, the write keys and webhook secrets from Secret Manager only.
WRITE_KEYS_VARIABLE = "COLLECTOR_WRITE_KEYS"
WEBHOOK_SECRETS_VARIABLE = "ELEVENLABS_WEBHOOK_SECRETS"
USER_ID_SECRETS_VARIABLE = "COLLECTOR_USER_ID_SECRETS"
ALLOWED_ORIGINS_VARIABLE = "COLLECTOR_ALLOWED_ORIGINS"
DAILY_REQUESTS_VARIABLE = "COLLECTOR_DAILY_REQUESTS"
DAILY_EVENTS_VARIABLE = "COLLECTOR_DAILY_EVENTS"
WRITE_KEYS_SECRET = "collector-write-keys"  # noqa: S105 - the secret's name
WEBHOOK_SECRETS_SECRET = "elevenlabs-webhook-secrets"  # noqa: S105 - the secret's name
USER_ID_SECRETS_SECRET = "collector-user-id-secrets"  # noqa: S105 - the secret's name
# A public endpoint with warm instances would be billed while anyone, or no one, calls it.
MIN_INSTANCES = 0


def request_log_filter(service: str) -> str:
    """Cloud Run's request log of one service, in Logging's query language."""
    return (
        f'resource.type="cloud_run_revision" AND resource.labels.service_name="{service}" '
        f'AND log_id("{REQUEST_LOG}")'
    )


@dataclass(frozen=True, kw_only=True)
class CollectorFunctionArgs:
    settings: Settings
    source: SourceArchive
    build: FunctionBuild
    archive_bucket: pulumi.Input[str]
    dead_letter_bucket: pulumi.Input[str]
    # The cost guard's control bucket (cost_guard.py); None: always streams.
    capture_mode_bucket: pulumi.Input[str] | None
    runtime_account: gcp.serviceaccount.Account
    # Who may call it while it is not public: the app's account, as for capture.
    invoker_member: pulumi.Input[str]
    # REDIS_URL from Secret Manager, when the Redis sink is on (redis_secret.py).
    redis_url: gcp.cloudfunctionsv2.FunctionServiceConfigSecretEnvironmentVariableArgs | None
    # Grants the build and the runtime need before the first deploy (access.py, the Redis URL's).
    grants: list[pulumi.Resource]
    labels: dict[str, str]


def collector_caps(settings: Settings) -> Caps:
    """Each client key's daily caps: as configured, else sized from the budget (its amount
    taken as USD, the prices' currency) so that every client key at both caps for a whole day
    costs at most a tenth of it (``event_capture.cost.flood``)."""
    clients = sum(1 for c in settings.collector_key_classes.values() if c == KeyClass.CLIENT)
    sized = default_caps(settings.budget_amount, clients)
    return Caps(
        requests=settings.collector_daily_requests or sized.requests,
        events=settings.collector_daily_events or sized.events,
    )


def flood_day(settings: Settings) -> FloodDay:
    """Every client key at both its caps for a whole day: what it stores and costs."""
    caps = collector_caps(settings)
    clients = sum(1 for c in settings.collector_key_classes.values() if c == KeyClass.CLIENT)
    return stored_day(caps.requests * clients, caps.events * clients)


def unproven_user_ids_warning(settings: Settings) -> str | None:
    """What ``pulumi up`` warns of when client keys exist but no user-id secret does: the
    collector then keeps no user id from a page or an app (``collector.identity``). A warning,
    not an error: anonymous journeys are a valid choice, and a stack deployed before the secret
    existed must still update; the collector counts each such call (``no_secret_configured``)."""
    if not settings.collector_enabled or settings.collector_user_id_secrets:
        return None
    clients = sorted(
        key_id for key_id, c in settings.collector_key_classes.items() if c == KeyClass.CLIENT
    )
    if not clients:
        return None
    return (
        f"collectorUserIdSecrets is not set, so calls with the client keys {', '.join(clients)} "
        "keep no user id (they are stored under their anonymous id only). Set it with "
        "`pulumi config set --secret collectorUserIdSecrets` (docs/deploy.md)."
    )


def collector_environment(args: CollectorFunctionArgs) -> dict[str, pulumi.Input[str]]:
    """The capture pipeline's plain variables, each instance's share of the client keys' daily
    caps, and the CORS origins when there are any (none: no browser may call it)."""
    settings = args.settings
    origins = settings.collector_allowed_origins
    caps = collector_caps(settings)
    instances = settings.collector_max_instances
    return {
        **pipeline_environment(
            settings,
            archive_bucket=args.archive_bucket,
            dead_letter_bucket=args.dead_letter_bucket,
            capture_mode_bucket=args.capture_mode_bucket,
        ),
        DAILY_REQUESTS_VARIABLE: str(instance_share(caps.requests, instances)),
        DAILY_EVENTS_VARIABLE: str(instance_share(caps.events, instances)),
        **({ALLOWED_ORIGINS_VARIABLE: ",".join(origins)} if origins else {}),
    }


class CollectorFunction(pulumi.ComponentResource):
    function: gcp.cloudfunctionsv2.Function
    source_object: gcp.storage.BucketObject
    # The secrets it reads, by secret id; the webhook and user-id secrets only when configured.
    secrets: dict[str, gcp.secretmanager.Secret]
    url: pulumi.Output[str]
    invoker_grant: gcp.cloudrunv2.ServiceIamMember

    def __init__(
        self,
        name: str,
        args: CollectorFunctionArgs,
        *,
        apis: list[gcp.projects.Service],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("event-capture:function:CollectorFunction", name, None, opts)
        child = after(apis, self)
        settings = args.settings
        project = settings.project
        runtime = account_member(args.runtime_account)
        number = project_number(project)

        self.secrets = {}
        variables = [args.redis_url] if args.redis_url else []
        secret_grants: list[pulumi.Resource] = []
        for secret_id, variable, value in (
            (WRITE_KEYS_SECRET, WRITE_KEYS_VARIABLE, settings.collector_write_keys),
            (
                WEBHOOK_SECRETS_SECRET,
                WEBHOOK_SECRETS_VARIABLE,
                ",".join(settings.elevenlabs_webhook_secrets),
            ),
            (
                USER_ID_SECRETS_SECRET,
                USER_ID_SECRETS_VARIABLE,
                ",".join(settings.collector_user_id_secrets),
            ),
        ):
            # No webhook secrets: the collector refuses every webhook; no user-id secrets: it
            # keeps no user id from a client key (warned of below).
            if not value:
                continue
            secret, version = regional_secret(
                secret_id,
                project=project,
                region=settings.region,
                value=value,
                labels=args.labels,
                opts=child,
            )
            secret_grants.append(
                accessor_grant(
                    f"{FUNCTION_NAME}-reads-{secret_id}",
                    project=project,
                    secret=secret,
                    member=runtime,
                    opts=child,
                )
            )
            variables.append(
                secret_variable(variable, number=number, secret=secret, version=version)
            )
            self.secrets[secret_id] = secret

        if warning := unproven_user_ids_warning(settings):
            pulumi.log.warn(warning, resource=self)

        self.source_object = upload_source(args.build, args.source, child)
        self.function = gcp.cloudfunctionsv2.Function(
            FUNCTION_NAME,
            project=project,
            location=settings.region,
            name=FUNCTION_NAME,
            description=(
                "Accepts Segment and RudderStack SDK calls and ElevenLabs webhooks into the "
                "capture pipeline; authenticates each call by write key or signature."
            ),
            build_config=build_config(args.build, args.source, self.source_object),
            service_config=pipeline_service_config(
                settings,
                account_email=args.runtime_account.email,
                max_instances=settings.collector_max_instances,
                min_instances=MIN_INSTANCES,
                environment=collector_environment(args),
                secrets=variables,
            ),
            # It checks a write key on every call, public or not.
            labels={**args.labels, **KEY_PROTECTED_LABELS},
            opts=child.merge(pulumi.ResourceOptions(depends_on=[*args.grants, *secret_grants])),
        )
        # The function's Cloud Run service carries its name. Given as the literal name, so the
        # policy pack can match the grant to the function's label at preview already.
        public = settings.collector_public
        self.invoker_grant = gcp.cloudrunv2.ServiceIamMember(
            "anyone-calls-collector" if public else "invoker-calls-collector",
            project=project,
            location=settings.region,
            name=FUNCTION_NAME,
            role=RUN_INVOKER,
            member=PUBLIC_INVOKER if public else args.invoker_member,
            opts=child.merge(pulumi.ResourceOptions(depends_on=[self.function])),
        )
        # Cloud Run logs every request with the caller's address and user agent; the collector's
        # callers are the app's users, so its request log is dropped before any storage (a
        # project exclusion applies to the _Default sink: cloud.google.com/logging/docs/
        # reference/v2/rest/v2/projects.exclusions). Its own request line has no address.
        self.request_log_exclusion = gcp.logging.ProjectExclusion(
            "collector-request-logs",
            project=project,
            name="collector-request-logs",
            description="The collector's Cloud Run request log: every caller's address.",
            filter=request_log_filter(FUNCTION_NAME),
            opts=child,
        )
        self.url = self.function.url
        self.register_outputs({"url": self.url, "source_object": self.source_object.name})
