"""The stack's configuration, read once and checked before any resource is declared.

Every key lives in ``KEYS`` with its default and meaning; the docs' reference page
(``docs/reference/pulumi-settings.md``) is generated from it by ``tools/docs_reference.py``. A
missing or invalid key stops the program with a message that names the key.
"""

import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pulumi
from pulumi.runtime.config import is_config_secret

from event_capture.collector.auth import WriteKeyError, WriteKeys
from event_capture.contracts.bigquery_writes import WRITE_API_BY_DEFAULT
from event_capture.schemas import user_proof

PROJECT_NAME = "event-capture"


class SettingsError(pulumi.RunError):
    """A configuration key is missing or invalid; the message names it."""


@dataclass(frozen=True)
class Key:
    name: str
    default: str | None
    meaning: str
    # Set with --secret: an error about it never shows the value.
    secret: bool = False

    @property
    def qualified(self) -> str:
        return self.name if ":" in self.name else f"{PROJECT_NAME}:{self.name}"


REQUIRED = None
KEYS = (
    Key("gcp:project", REQUIRED, "project that holds everything (one stack per project)"),
    Key("billingAccount", REQUIRED, "billing account id for the budget, `XXXXXX-XXXXXX-XXXXXX`"),
    Key("alertEmails", REQUIRED, "JSON list of e-mail addresses for budget and monitoring alerts"),
    Key("region", "us-central1", "region of the function, buckets and build repository"),
    Key("datasetLocation", "US", "BigQuery dataset location"),
    Key("datasetId", "events", "BigQuery dataset of the event tables"),
    Key("analyticsDatasetId", "analytics", "BigQuery dataset of the anonymized aggregates"),
    Key("aggregateMinUsers", "5", "k: search aggregates keep rows with at least k distinct users"),
    Key("budgetAmount", "5", "monthly budget, in whole units of `budgetCurrency`"),
    Key("budgetCurrency", "USD", "currency of the billing account"),
    Key(
        "costGuardEnabled",
        "true",
        "the cost guard: past `costGuardPercent` of the budget, capture goes archive-only and "
        "the scheduled queries pause until the next budget period (needs both sinks enabled)",
    ),
    Key(
        "costGuardPercent",
        "100",
        "share of the budget's actual spend, in percent, at which the cost guard acts",
    ),
    Key(
        "archiveBackfillEnabled",
        "true",
        "the scheduled archive backfill: every hour, archive what BigQuery holds and the archive "
        "lacks (an instance killed before its flush) over the last hours; deployed only with "
        "both sinks enabled",
    ),
    Key(
        "forgetEnabled",
        "true",
        "forgetting users: the forget bucket the app files requests in (create-only), and every "
        "hour the forget function erases each requested user from every store and suppresses "
        "later events when asked; needs the cost guard's control bucket (`costGuardEnabled`), "
        "where the suppression list lives",
    ),
    Key("bigqueryEnabled", "true", "function variable `BIGQUERY_ENABLED`"),
    Key(
        "bigqueryWriteApi",
        str(WRITE_API_BY_DEFAULT).lower(),
        "function variable `BIGQUERY_WRITE_API`: capture and the collector append through the "
        "Storage Write API instead of insertAll (docs/decisions/0006-storage-write-api.md)",
    ),
    Key("gcsEnabled", "true", "function variable `GCS_ENABLED`"),
    Key(
        "redisEnabled",
        "false",
        "the Redis sink (`REDIS_ENABLED`), the features function and the materializer; "
        "needs `redisUrl`",
    ),
    Key(
        "redisUrl",
        "",
        "secret (`--secret`), kept in Secret Manager: the Redis every function uses",
        secret=True,
    ),
    Key(
        "vpcConnector",
        "",
        "Serverless VPC Access connector of every function, to reach Memorystore",
    ),
    Key(
        "functionMaxInstances",
        "3",
        "instance cap of the capture and features functions: bounds cost and BigQuery quota use",
    ),
    Key("functionMinInstances", "0", "warm instances (each one is billed while idle)"),
    Key("functionMemory", "512Mi", "memory per instance"),
    Key("functionCpu", "1", "vCPUs per instance (concurrency above 1 needs at least 1)"),
    Key("functionConcurrency", "8", "requests served at once by one instance"),
    Key("functionTimeoutSeconds", "60", "request timeout; above the sinks' deadlines"),
    Key("deletionProtection", "true", "protect the dataset, tables and buckets from `destroy`"),
    Key("appPrincipals", "[]", "JSON list of members that may mint ID tokens as the invoker"),
    Key("operators", "[]", "JSON list of members that may replay dead letters"),
    Key(
        "collectorEnabled",
        "false",
        "the collector function (Segment and RudderStack SDKs, ElevenLabs webhooks); "
        "needs `collectorWriteKeys`",
    ),
    Key(
        "collectorPublic",
        "false",
        "let anyone invoke the collector (browser and mobile SDKs send no ID token); "
        "its write keys are then its only authentication",
    ),
    Key(
        "collectorWriteKeys",
        "",
        "secret (`--secret`), kept in Secret Manager: JSON list of write keys, each "
        '`{"id": "web", "class": "client", "key": "..."}` (class `server` for the backend\'s '
        "SDKs, `client` for browser and mobile ones; two keys of an id while rotating); a plain "
        "string is a client key",
        secret=True,
    ),
    Key(
        "elevenlabsWebhookSecrets",
        "",
        "secret (`--secret`), kept in Secret Manager: JSON list of 1 or 2 ElevenLabs webhook "
        "secrets; none: webhooks refused",
        secret=True,
    ),
    Key(
        "collectorUserIdSecrets",
        "",
        "secret (`--secret`), kept in Secret Manager: JSON list of 1 or 2 secrets (at least "
        f"{user_proof.MIN_SECRET_LENGTH} characters) the app's backend proves user ids with "
        f"(`{user_proof.PATH}`); none: calls from client keys keep no user id",
        secret=True,
    ),
    Key(
        "collectorAllowedOrigins",
        "[]",
        "JSON list of browser origins (`https://shop.example.com`) the collector answers CORS for",
    ),
    Key(
        "collectorMaxInstances",
        "2",
        "instance cap of the collector: bounds what anyone who calls it can cost",
    ),
    Key(
        "collectorDailyRequests",
        "",
        "requests a day each client key may send (each instance takes its share); empty: sized "
        "from `budgetAmount` so that every client key at both caps for a day costs at most a "
        "tenth of it",
    ),
    Key(
        "collectorDailyEvents",
        "",
        "calls a day each client key may send; empty: sized from `budgetAmount` as above",
    ),
)
KEY_BY_NAME = {key.name: key for key in KEYS}

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_BILLING_ACCOUNT = re.compile(r"[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}")
_PROJECT = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
_MEMBER = re.compile(r"(user|group|serviceAccount|domain|principal|principalSet):\S+")
_PUBLIC = {"allUsers", "allAuthenticatedUsers"}
# A write key is the user name of HTTP Basic auth (it ends at the first colon) and the
# collector reads its keys as one comma-separated variable: neither may occur in one. At least
# 16 characters, so that a public collector's key cannot be guessed (Segment's have 32,
# RudderStack's 27).
MIN_SHARED_SECRET_LENGTH = 16
MAX_SHARED_SECRET_LENGTH = 256
_SHARED_SECRET_FORBIDDEN = (":", ",")
# Two while rotating: the new one added, clients moved to it, the old one removed.
MAX_ACTIVE_SECRETS = 2
# What a browser sends as Origin: scheme, host and a port other than the default; lower case.
_ORIGIN = re.compile(r"https?://[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?")
# A billing budget notifies at most five monitoring channels.
MAX_ALERT_EMAILS = 5


@dataclass(frozen=True)
class Settings:
    project: str
    billing_account: str
    alert_emails: tuple[str, ...]
    region: str
    dataset_location: str
    dataset_id: str
    analytics_dataset_id: str
    aggregate_min_users: int
    budget_amount: int
    budget_currency: str
    cost_guard_enabled: bool
    cost_guard_percent: int
    archive_backfill_enabled: bool
    forget_enabled: bool
    bigquery_enabled: bool
    bigquery_write_api: bool
    gcs_enabled: bool
    redis_enabled: bool
    redis_url: str
    vpc_connector: str
    function_max_instances: int
    function_min_instances: int
    function_memory: str
    function_cpu: str
    function_concurrency: int
    function_timeout_seconds: int
    deletion_protection: bool
    app_principals: tuple[str, ...]
    operators: tuple[str, ...]
    collector_enabled: bool
    collector_public: bool
    # Secrets: they go to Secret Manager only (collector_function.py).
    # The JSON document the collector reads (COLLECTOR_WRITE_KEYS); "" without the collector.
    collector_write_keys: str
    # Each key id and its class: not secret.
    collector_key_classes: dict[str, str]
    elevenlabs_webhook_secrets: tuple[str, ...]
    # What the app's backend proves user ids with (COLLECTOR_USER_ID_SECRETS); none: a client
    # key's calls are kept under their anonymous id only.
    collector_user_id_secrets: tuple[str, ...]
    collector_allowed_origins: tuple[str, ...]
    collector_max_instances: int
    # Per client key and day; None: sized from the budget (collector_function.collector_caps).
    collector_daily_requests: int | None
    collector_daily_events: int | None


class _Reader:
    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = values

    def raw(self, name: str) -> str:
        key = KEY_BY_NAME[name]
        value = self._values.get(key.qualified)
        if value is None or value.strip() == "":
            if key.default is REQUIRED:
                raise SettingsError(f"{key.qualified}: required ({key.meaning})")
            return key.default
        return value.strip()

    def given(self, name: str) -> bool:
        """Whether the stack sets the key (not its default)."""
        value = self._values.get(KEY_BY_NAME[name].qualified)
        return value is not None and value.strip() != ""

    def fail(self, name: str, rule: str) -> SettingsError:
        key = KEY_BY_NAME[name]
        if key.secret:
            return SettingsError(f"{key.qualified}: {rule} (value not shown: a secret)")
        return SettingsError(f"{key.qualified}: {rule}, got {self.raw(name)!r}")

    def matching(self, name: str, pattern: re.Pattern[str], rule: str) -> str:
        value = self.raw(name)
        if not pattern.fullmatch(value):
            raise self.fail(name, rule)
        return value

    def flag(self, name: str) -> bool:
        value = self.raw(name).lower()
        if value not in ("true", "false"):
            raise self.fail(name, "must be true or false")
        return value == "true"

    def integer(self, name: str, low: int, high: int) -> int:
        try:
            value = int(self.raw(name))
        except ValueError:
            raise self.fail(name, "must be a whole number") from None
        if not low <= value <= high:
            raise self.fail(name, f"must be between {low} and {high}")
        return value

    def optional_integer(self, name: str, low: int, high: int) -> int | None:
        return None if self.raw(name) == "" else self.integer(name, low, high)

    def strings(self, name: str, item: Callable[[str], bool], rule: str) -> tuple[str, ...]:
        raw = self.raw(name)
        try:
            parsed = json.loads(raw) if raw[:1] in ("[", "{") else raw.split(",")
        except json.JSONDecodeError:
            raise self.fail(name, "must be a JSON list of strings") from None
        if not isinstance(parsed, list) or not all(isinstance(v, str) for v in parsed):
            raise self.fail(name, "must be a JSON list of strings")
        values = tuple(v.strip() for v in parsed if v.strip())
        key = KEY_BY_NAME[name]
        for position, value in enumerate(values):
            if not item(value):
                shown = " (value not shown: a secret)" if key.secret else f", got {value!r}"
                raise SettingsError(f"{key.qualified}[{position}]: {rule}{shown}")
        return values

    def write_keys(self, name: str) -> tuple[str, dict[str, str]]:
        """The collector's keys as the JSON document it reads, each with its id and class (a
        plain string is a client key), checked as the collector checks them: length, make-up,
        ids and classes. Errors never quote a key."""
        raw = self.raw(name)
        if not raw:
            return "", {}
        if not raw.startswith("["):
            raise self.fail(name, "must be a JSON list of keys")
        try:
            keys = WriteKeys.parse(raw)
        except WriteKeyError as error:
            raise self.fail(name, str(error)) from None
        return raw, {key_id: str(key_class) for key_id, key_class in keys.ids.items()}

    def shared_secrets(
        self, name: str, min_length: int = MIN_SHARED_SECRET_LENGTH
    ) -> tuple[str, ...]:
        """At most two secrets that callers present or prove with (webhook secrets, user-id
        secrets), distinct, each at least ``min_length`` characters."""
        pattern = re.compile(f"[!-~]{{{min_length},{MAX_SHARED_SECRET_LENGTH}}}")
        values = self.strings(
            name,
            lambda v: (
                bool(pattern.fullmatch(v)) and not any(c in v for c in _SHARED_SECRET_FORBIDDEN)
            ),
            f"must be {min_length} to {MAX_SHARED_SECRET_LENGTH} printable ASCII characters "
            "without spaces, commas or colons",
        )
        if len(values) > MAX_ACTIVE_SECRETS:
            raise self.fail(name, f"at most {MAX_ACTIVE_SECRETS} at once (two while rotating)")
        if len(set(values)) != len(values):
            raise self.fail(name, "the same value twice")
        return values


def _is_member(value: str) -> bool:
    return value not in _PUBLIC and bool(_MEMBER.fullmatch(value))


def load_settings(values: Mapping[str, str]) -> Settings:
    """Settings from fully qualified keys (``event-capture:region``, ``gcp:project``)."""
    read = _Reader(values)
    alert_emails = read.strings(
        "alertEmails", lambda v: bool(_EMAIL.fullmatch(v)), "must be an e-mail address"
    )
    if not 1 <= len(alert_emails) <= MAX_ALERT_EMAILS:
        raise read.fail("alertEmails", f"needs 1 to {MAX_ALERT_EMAILS} addresses")
    redis_enabled = read.flag("redisEnabled")
    redis_url = read.raw("redisUrl")
    if redis_enabled and not redis_url.startswith(("redis://", "rediss://")):
        raise SettingsError(
            f"{KEY_BY_NAME['redisUrl'].qualified}: required when redisEnabled is true "
            "(redis:// or rediss://, set with --secret)"
        )
    collector_enabled = read.flag("collectorEnabled")
    collector_public = read.flag("collectorPublic")
    collector_write_keys, collector_key_classes = read.write_keys("collectorWriteKeys")
    if collector_enabled and not collector_write_keys:
        raise read.fail("collectorWriteKeys", "required when collectorEnabled is true")
    # A stale true would make the collector public the day it is enabled again, unasked.
    if collector_public and not collector_enabled:
        raise read.fail("collectorPublic", "true needs collectorEnabled true")
    settings = Settings(
        project=read.matching("gcp:project", _PROJECT, "must be a project id"),
        billing_account=read.matching(
            "billingAccount", _BILLING_ACCOUNT, "must look like 0X0X0X-0X0X0X-0X0X0X"
        ),
        alert_emails=alert_emails,
        region=read.matching("region", re.compile(r"[a-z]+-[a-z]+[0-9]"), "must be a region"),
        dataset_location=read.raw("datasetLocation"),
        dataset_id=read.matching(
            "datasetId", re.compile(r"[A-Za-z0-9_]{1,1024}"), "letters, digits and _ only"
        ),
        analytics_dataset_id=read.matching(
            "analyticsDatasetId", re.compile(r"[A-Za-z0-9_]{1,1024}"), "letters, digits and _ only"
        ),
        aggregate_min_users=read.integer("aggregateMinUsers", 2, 1000),
        budget_amount=read.integer("budgetAmount", 1, 1_000_000),
        budget_currency=read.matching(
            "budgetCurrency", re.compile(r"[A-Z]{3}"), "must be an ISO 4217 code"
        ),
        cost_guard_enabled=read.flag("costGuardEnabled"),
        cost_guard_percent=read.integer("costGuardPercent", 10, 1000),
        archive_backfill_enabled=read.flag("archiveBackfillEnabled"),
        forget_enabled=read.flag("forgetEnabled"),
        bigquery_enabled=read.flag("bigqueryEnabled"),
        bigquery_write_api=read.flag("bigqueryWriteApi"),
        gcs_enabled=read.flag("gcsEnabled"),
        redis_enabled=redis_enabled,
        redis_url=redis_url,
        vpc_connector=read.raw("vpcConnector"),
        function_max_instances=read.integer("functionMaxInstances", 1, 1000),
        function_min_instances=read.integer("functionMinInstances", 0, 100),
        function_memory=read.matching(
            "functionMemory", re.compile(r"[1-9][0-9]*(Mi|Gi)"), "must look like 512Mi or 1Gi"
        ),
        function_cpu=read.matching(
            "functionCpu", re.compile(r"0\.[0-9]+|[1-9][0-9]*"), "must be a vCPU count"
        ),
        function_concurrency=read.integer("functionConcurrency", 1, 1000),
        # At least 30 s: 15 s go to reading the body and answering (capture_function.py).
        function_timeout_seconds=read.integer("functionTimeoutSeconds", 30, 3600),
        deletion_protection=read.flag("deletionProtection"),
        app_principals=read.strings("appPrincipals", _is_member, "must be an IAM member"),
        operators=read.strings("operators", _is_member, "must be an IAM member"),
        collector_enabled=collector_enabled,
        collector_public=collector_public,
        collector_write_keys=collector_write_keys,
        collector_key_classes=collector_key_classes,
        elevenlabs_webhook_secrets=read.shared_secrets("elevenlabsWebhookSecrets"),
        # The collector's own minimum (schemas/user_proof.py): it refuses a shorter secret at
        # start-up, so `pulumi up` stops before deploying a collector that would not start.
        collector_user_id_secrets=read.shared_secrets(
            "collectorUserIdSecrets", min_length=user_proof.MIN_SECRET_LENGTH
        ),
        collector_allowed_origins=read.strings(
            "collectorAllowedOrigins",
            lambda v: bool(_ORIGIN.fullmatch(v)),
            "must be an origin as browsers send it: lower-case http(s)://host[:port], no path",
        ),
        collector_max_instances=read.integer("collectorMaxInstances", 1, 1000),
        collector_daily_requests=read.optional_integer("collectorDailyRequests", 1, 10**10),
        collector_daily_events=read.optional_integer("collectorDailyEvents", 1, 10**12),
    )
    if not (settings.bigquery_enabled or settings.gcs_enabled):
        raise SettingsError(
            f"{KEY_BY_NAME['bigqueryEnabled'].qualified}, {KEY_BY_NAME['gcsEnabled'].qualified}: "
            "at least one durable sink must be enabled"
        )
    if settings.cost_guard_enabled and not (settings.bigquery_enabled and settings.gcs_enabled):
        # Archive-only mode streams nothing and keeps events in the archive alone.
        raise read.fail("costGuardEnabled", "true needs bigqueryEnabled and gcsEnabled true")
    if settings.archive_backfill_enabled and not (
        settings.bigquery_enabled and settings.gcs_enabled
    ):
        # It copies what BigQuery holds into the archive: with a sink off it has nothing to do,
        # so the default leaves it out, and only an explicit true is a mistake.
        if read.given("archiveBackfillEnabled"):
            raise read.fail(
                "archiveBackfillEnabled", "true needs bigqueryEnabled and gcsEnabled true"
            )
        settings = dataclasses.replace(settings, archive_backfill_enabled=False)
    if settings.forget_enabled and not settings.cost_guard_enabled:
        # The suppression list lives beside capture's mode, in the cost guard's control bucket;
        # without it a request to suppress could not be carried out, and would fail each run.
        if read.given("forgetEnabled"):
            raise read.fail("forgetEnabled", "true needs costGuardEnabled true")
        settings = dataclasses.replace(settings, forget_enabled=False)
    if settings.analytics_dataset_id == settings.dataset_id:
        raise read.fail("analyticsDatasetId", "must differ from datasetId")
    if settings.function_min_instances > settings.function_max_instances:
        raise read.fail("functionMinInstances", "must not exceed functionMaxInstances")
    if settings.function_concurrency > 1 and float(settings.function_cpu) < 1:
        raise read.fail("functionConcurrency", "above 1 needs functionCpu of at least 1")
    return settings


def settings_from_stack() -> Settings:
    """Settings from the running stack's configuration (``pulumi config``).

    Read raw, secrets included: each secret key (``Key.secret``) is wrapped as a secret where it
    is used (its Secret Manager version, ``secret_values.py``), and the SDK's typed getters would
    warn about reading a secret synchronously.
    """
    values = {key.qualified: pulumi.runtime.get_config(key.qualified) for key in KEYS}
    for key in KEYS:
        if key.secret and values[key.qualified] and not is_config_secret(key.qualified):
            # In the stack's file for anyone with the repository to read.
            raise SettingsError(
                f"{key.qualified}: must be set with `pulumi config set --secret` (a `secure:` "
                "value in Pulumi.<stack>.yaml), not in plain text"
            )
    return load_settings({k: str(v) for k, v in values.items() if v is not None})
