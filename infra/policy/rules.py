"""The stack's security rules as plain functions over a resource's type and input properties.

They run in two places: the CrossGuard pack in this folder (``pulumi preview --policy-pack
infra/policy``) and the whole-stack tests under ``tests/infra``, which feed them every resource
of a mocked run. Properties use Pulumi's names (``publicAccessPrevention``). A value still unknown
at preview time arrives as None and is not judged.

This module imports nothing from the program, so the pack installs on its own.
"""

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})
# The one public grant the stack may make: anyone may invoke a service that authenticates each
# call itself (the collector, whose callers' SDKs cannot send Google ID tokens). Such a service
# says so with this label and reads its keys from Secret Manager, as a variable named *WRITE_KEYS.
PUBLIC_INVOKER = "allUsers"
INVOKER_ROLES = frozenset({"roles/run.invoker", "roles/cloudfunctions.invoker"})
KEY_PROTECTED_LABELS = {"auth": "write-key"}
WRITE_KEYS_SUFFIX = "WRITE_KEYS"
RUN_SERVICE = "gcp:cloudrunv2/service:Service"
# Cloud Run's request log: every caller's address and user agent. A public service's must be
# excluded (a project exclusion, which applies to the _Default sink).
REQUEST_LOG = "run.googleapis.com/requests"
LOG_EXCLUSION = "gcp:logging/projectExclusion:ProjectExclusion"
# Each grant on one service, with the property that names the service.
SERVICE_INVOKER_GRANTS = {
    "gcp:cloudrunv2/serviceIamMember:ServiceIamMember": "name",
    "gcp:cloudrunv2/serviceIamBinding:ServiceIamBinding": "name",
    "gcp:cloudfunctionsv2/functionIamMember:FunctionIamMember": "cloudFunction",
    "gcp:cloudfunctionsv2/functionIamBinding:FunctionIamBinding": "cloudFunction",
}
PRIMITIVE_ROLES = frozenset({"roles/owner", "roles/editor", "roles/viewer"})
DEFAULT_ACCOUNT_SUFFIXES = (
    "-compute@developer.gserviceaccount.com",
    "@appspot.gserviceaccount.com",
)
MAX_RETENTION_DAYS = 90
MAX_RETENTION_MS = MAX_RETENTION_DAYS * 24 * 60 * 60 * 1000
# A table labelled so declares it holds no personal data (aggregates): it may be kept longer.
PERSONAL_DATA_LABEL = "personal-data"
NO_PERSONAL_DATA = "none"
# A device's anonymous id follows one browser or phone for months: as identifying as a user id.
IDENTIFYING_COLUMNS = frozenset({"user_id", "anonymous_id", "session_id", "event_id"})

BUCKET = "gcp:storage/bucket:Bucket"
TABLE = "gcp:bigquery/table:Table"
DATASET = "gcp:bigquery/dataset:Dataset"
# Deleted means gone soon. BigQuery keeps a dataset's deleted and changed rows readable through
# time travel for max_time_travel_hours, 48 at least and 168 by default (pulumi-gcp
# bigquery.Dataset ``max_time_travel_hours``, a string, "from 48 to 168 hours";
# cloud.google.com/bigquery/docs/time-travel), then 7 days of fail-safe that no setting shortens.
MIN_TIME_TRAVEL_HOURS = 48
# Cloud Storage keeps a deleted or replaced object 7 days by default (soft delete); a retention
# of 0 turns it off (pulumi-gcp storage.Bucket ``soft_delete_policy.retention_duration_seconds``:
# "To disable the soft delete policy on a bucket, This field must be set to 0";
# cloud.google.com/storage/docs/soft-delete). Object versioning would keep replaced objects as
# noncurrent versions: off as well.
SOFT_DELETE_OFF_SECONDS = 0
FUNCTION = "gcp:cloudfunctionsv2/function:Function"
SERVICE_ACCOUNT_KEY = "gcp:serviceaccount/key:Key"
PROJECT_GRANTS = frozenset(
    {
        "gcp:projects/iAMMember:IAMMember",
        "gcp:projects/iAMBinding:IAMBinding",
        "gcp:projects/iAMPolicy:IAMPolicy",
    }
)
# BigQuery jobs exist only on the project: an account that runs queries needs this role there.
# A job reads only what its account may read (tables are granted one by one); what the role
# does allow is queries billed to the project.
PROJECT_ONLY_ROLES = frozenset({"roles/bigquery.jobUser"})
# Scheduled queries (transfer configs) have no IAM of their own either: a custom role holding
# only these may be granted on the project too (the cost guard pauses the queries).
PROJECT_ONLY_PERMISSIONS = frozenset({"bigquery.transfers.update"})
# What the stack's custom roles may hold: insertAll on a table and the metadata it reads, a load
# into a table, creating objects and reading them back, and that switch. None deletes, lists or
# reads rows.
CUSTOM_ROLE_PERMISSIONS = (
    frozenset(
        {
            "bigquery.tables.updateData",
            "bigquery.tables.get",
            "bigquery.tables.update",
            "bigquery.datasets.get",
            "storage.objects.create",
            "storage.objects.get",
        }
    )
    | PROJECT_ONLY_PERMISSIONS
)
CUSTOM_ROLE = "gcp:projects/iAMCustomRole:IAMCustomRole"
SECRET_MANAGER_ROLES = "roles/secretmanager."  # noqa: S105 - a role prefix
# A variable of these names, or one whose name says it holds a secret, belongs in Secret
# Manager (secretEnvironmentVariables), never in a function's plain environment, which anyone
# who may view the function reads.
SECRET_VARIABLES = frozenset({"REDIS_URL"})
SECRET_NAME_PARTS = (
    "SECRET",
    "TOKEN",
    "PASSWORD",
    "PASSWD",
    "CREDENTIAL",
    "API_KEY",
    "PRIVATE_KEY",
    "WRITE_KEY",
    "HMAC",
    "SIGNING",
)
# scheme://user[:password]@host, or a URL whose query carries a password, token or key.
_URL_WITH_CREDENTIALS = re.compile(
    r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#@\s]*@"
    r"|[A-Za-z][A-Za-z0-9+.-]*://[^\s]*[?&](?:password|passwd|pass|token|key|secret|auth)="
    r"[^&\s]",
    re.IGNORECASE,
)
# How Pulumi marks a secret value in a resource's properties.
_SECRET_SIG = "4dabf18193072939515e22adb298388d"  # noqa: S105 - a marker, not a value

Props = Mapping[str, Any]


@dataclass(frozen=True)
class ResourceRule:
    name: str
    description: str
    check: Callable[[str, Props], list[str]]


@dataclass(frozen=True)
class StackRule:
    name: str
    description: str
    check: Callable[[Iterable[tuple[str, Props]]], list[str]]


def _bindings(props: Props) -> list[Mapping[str, Any]]:
    """The bindings of an ``*IamPolicy``'s ``policyData``."""
    policy = props.get("policyData")
    if not isinstance(policy, str):
        return []
    try:
        bindings = json.loads(policy).get("bindings") or []
    except (ValueError, AttributeError):
        return []
    return [b for b in bindings if isinstance(b, Mapping)] if isinstance(bindings, list) else []


def _dataset_entries(props: Props) -> list[Mapping[str, Any]]:
    """A dataset's access entries: a ``DatasetAccess`` is one, a ``Dataset`` lists its own."""
    accesses = props.get("accesses")
    entries = [e for e in accesses if isinstance(e, Mapping)] if isinstance(accesses, list) else []
    return [props, *entries]


def _members(props: Props) -> list[str]:
    """Every principal a resource grants to, whatever the resource calls the field (an
    ``*IamPolicy``'s are in the bindings of its ``policyData``, a dataset's in its access
    entries, where ``specialGroup: allAuthenticatedUsers`` is as public as a member)."""
    found: list[str] = []
    for key in ("member", "members", "entity"):
        value = props.get(key)
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, Sequence):
            found.extend(v for v in value if isinstance(v, str))
    for binding in _bindings(props):
        found.extend(m for m in binding.get("members") or [] if isinstance(m, str))
    for entry in _dataset_entries(props):
        if isinstance(member := entry.get("iamMember"), str):
            found.append(member)
        if entry.get("specialGroup") in PUBLIC_MEMBERS:
            found.append(str(entry["specialGroup"]))
    return found


def _roles(props: Props) -> list[str]:
    """Every role a resource grants: its own ``role``, and those of a policy's bindings."""
    roles = [props["role"]] if isinstance(props.get("role"), str) else []
    return roles + [b["role"] for b in _bindings(props) if isinstance(b.get("role"), str)]


def _is_public_invoker_grant(resource_type: str, props: Props, member: str) -> bool:
    """``allUsers`` may invoke one service: the stack rule below decides whether it may."""
    return (
        member == PUBLIC_INVOKER
        and resource_type in SERVICE_INVOKER_GRANTS
        and props.get("role") in INVOKER_ROLES
    )


def no_public_members(resource_type: str, props: Props) -> list[str]:
    return [
        f"grants to {member}: nothing in this stack may be public"
        for member in _members(props)
        if member in PUBLIC_MEMBERS and not _is_public_invoker_grant(resource_type, props, member)
    ]


def no_primitive_roles(resource_type: str, props: Props) -> list[str]:
    return [
        f"uses {role}: grant a predefined or custom role with only what is needed"
        for role in _roles(props)
        if role in PRIMITIVE_ROLES
    ]


def grants_name_their_members(resource_type: str, props: Props) -> list[str]:
    """A member hidden as a Pulumi secret can never be judged: it might be allUsers."""
    problems = []
    for key in ("member", "members", "iamMember", "userByEmail", "groupByEmail"):
        value = props.get(key)
        values = value if isinstance(value, list) else [value]
        if any(_is_secret(v) for v in values):
            problems.append(f"{key} is a Pulumi secret: a grant's member must be plain")
    return problems


def buckets_are_private(resource_type: str, props: Props) -> list[str]:
    if resource_type != BUCKET:
        return []
    problems = []
    # Absent is Google's default ("inherited"): public if the organisation allows it. A value
    # still unknown at preview (None) is judged at `up`.
    if "publicAccessPrevention" not in props or props.get("publicAccessPrevention") not in (
        "enforced",
        None,
    ):
        problems.append("publicAccessPrevention must be 'enforced'")
    if props.get("uniformBucketLevelAccess") is not True:
        problems.append("uniformBucketLevelAccess must be true (IAM only, no object ACLs)")
    return problems


def buckets_expire(resource_type: str, props: Props) -> list[str]:
    """Objects are deleted within 90 days. A rule that deletes only archived (noncurrent)
    versions leaves the live objects forever, so it counts only for a bucket labelled as
    holding no personal data (the cost guard's control bucket, whose one live object must
    never expire)."""
    if resource_type != BUCKET:
        return []
    anonymous = _labelled_anonymous(props)
    for rule in props.get("lifecycleRules") or []:
        action = (rule.get("action") or {}).get("type")
        condition = {k: v for k, v in (rule.get("condition") or {}).items() if v not in (None, [])}
        age = condition.get("age")
        live_too = condition.get("withState") in (None, "", "ANY", "LIVE")
        within = age is not None and 0 < age <= MAX_RETENTION_DAYS
        # Any other condition (a prefix, a storage class, a creation date) narrows the rule
        # to objects that may never exist: only age alone proves every object goes.
        only_age = set(condition) <= {"age", "withState"}
        if action == "Delete" and within and only_age and (live_too or anonymous):
            return []
    return [f"needs a lifecycle rule deleting objects within {MAX_RETENTION_DAYS} days"]


def tables_expire_and_need_a_partition_filter(resource_type: str, props: Props) -> list[str]:
    if resource_type != TABLE or props.get("view") or props.get("materializedView"):
        return []
    problems = []
    partitioning = props.get("timePartitioning") or {}
    expiration = partitioning.get("expirationMs")
    expires_in_time = isinstance(expiration, int | float) and 0 < expiration <= MAX_RETENTION_MS
    if not partitioning:
        problems.append("needs time partitioning (timePartitioning)")
    # An identifier-free table may be kept longer (anonymous_tables_hold_no_identifiers).
    elif not (expires_in_time or _labelled_anonymous(props)):
        problems.append(
            f"partitions must expire within {MAX_RETENTION_DAYS} days "
            f"(timePartitioning.expirationMs), got {expiration}"
        )
    if True not in (
        props.get("requirePartitionFilter"),
        partitioning.get("requirePartitionFilter"),
    ):
        problems.append("requirePartitionFilter must be true (no accidental full scans)")
    return problems


def _number_is(value: Any, expected: int) -> bool:
    """Whether ``value`` is ``expected``, as Pulumi passes it: a number (a float through the
    engine), or a string where the provider's argument is one (``maxTimeTravelHours``)."""
    try:
        return not isinstance(value, bool) and float(value) == expected
    except (TypeError, ValueError):
        return False


def datasets_keep_the_shortest_time_travel(resource_type: str, props: Props) -> list[str]:
    """A dataset that may hold user ids keeps deleted rows the shortest time BigQuery allows."""
    if resource_type != DATASET or _labelled_anonymous(props):
        return []
    hours = props.get("maxTimeTravelHours")
    if hours is None and "maxTimeTravelHours" in props:
        return []  # unknown at preview: judged at `up`
    if not _number_is(hours, MIN_TIME_TRAVEL_HOURS):
        return [
            f"maxTimeTravelHours must be {MIN_TIME_TRAVEL_HOURS} (the minimum) unless labelled "
            f"{PERSONAL_DATA_LABEL}={NO_PERSONAL_DATA}, got {hours} (absent: 168)"
        ]
    return []


def buckets_keep_no_deleted_objects(resource_type: str, props: Props) -> list[str]:
    """A bucket that may hold events or user ids keeps no copy of what is deleted or replaced:
    soft delete off, no object versioning."""
    if resource_type != BUCKET or _labelled_anonymous(props):
        return []
    problems = []
    # Absent is Google's default, 7 days; a value unknown at preview (None) is judged at `up`.
    policy = props.get("softDeletePolicy", {})
    seconds = (
        policy.get("retentionDurationSeconds", "absent") if isinstance(policy, Mapping) else None
    )
    if seconds is not None and not _number_is(seconds, SOFT_DELETE_OFF_SECONDS):
        problems.append(
            "softDeletePolicy.retentionDurationSeconds must be 0 (soft delete off) unless labelled "
            f"{PERSONAL_DATA_LABEL}={NO_PERSONAL_DATA}, got {seconds} (absent: 7 days)"
        )
    if ((props.get("versioning") or {}).get("enabled")) is True:
        problems.append(
            "versioning must be off: noncurrent versions keep what was deleted or replaced"
        )
    return problems


def _labelled_anonymous(props: Props) -> bool:
    return (props.get("labels") or {}).get(PERSONAL_DATA_LABEL) == NO_PERSONAL_DATA


def _column_names(fields: list[Any]) -> set[str]:
    names: set[str] = set()
    for column in fields:
        names.add(column.get("name"))
        names |= _column_names(column.get("fields") or [])
    return names


def anonymous_tables_hold_no_identifiers(resource_type: str, props: Props) -> list[str]:
    if resource_type != TABLE or not _labelled_anonymous(props):
        return []
    schema = props.get("schema")
    if not isinstance(schema, str):
        return ["a table labelled personal-data=none needs a declared schema to be checked"]
    found = sorted(_column_names(json.loads(schema)) & IDENTIFYING_COLUMNS)
    return [f"labelled personal-data=none but has column {name}" for name in found]


def _own_account(props: Props, section: str, field: str) -> bool:
    config = props.get(section) or {}
    if field in config and config[field] is None:
        return True  # computed, not known until the account exists: judged at `up`
    account = config.get(field) or ""
    return bool(account) and not account.endswith(DEFAULT_ACCOUNT_SUFFIXES)


def functions_run_as_their_own_accounts(resource_type: str, props: Props) -> list[str]:
    if resource_type != FUNCTION:
        return []
    problems = []
    if not _own_account(props, "serviceConfig", "serviceAccountEmail"):
        problems.append("serviceConfig.serviceAccountEmail must name the function's own account")
    if not _own_account(props, "buildConfig", "serviceAccount"):
        problems.append("buildConfig.serviceAccount must name a build account, not the default")
    # Without one, Eventarc delivers events as the default compute account.
    if props.get("eventTrigger") and not _own_account(props, "eventTrigger", "serviceAccountEmail"):
        problems.append("eventTrigger.serviceAccountEmail must name the trigger's own account")
    return problems


# Eventarc's pushes reach a function as internal traffic: an event-triggered function has no
# caller on the internet, so none may reach it from there.
INTERNAL_ONLY = "ALLOW_INTERNAL_ONLY"


def event_functions_take_internal_traffic_only(resource_type: str, props: Props) -> list[str]:
    if resource_type != FUNCTION or not props.get("eventTrigger"):
        return []
    config = props.get("serviceConfig") or {}
    # Absent is Google's default, ALLOW_ALL; unknown at preview (None) is judged at `up`.
    if "ingressSettings" not in config or config["ingressSettings"] not in (INTERNAL_ONLY, None):
        return [
            f"serviceConfig.ingressSettings must be {INTERNAL_ONLY}: an event-triggered function "
            f"is called by its trigger alone, got {config.get('ingressSettings')}"
        ]
    return []


def _is_secret(value: Any) -> bool:
    return isinstance(value, Mapping) and _SECRET_SIG in value


def functions_keep_secrets_in_secret_manager(resource_type: str, props: Props) -> list[str]:
    if resource_type != FUNCTION:
        return []
    problems = []
    for section in ("serviceConfig", "buildConfig"):
        config = props.get(section) or {}
        if _is_secret(config):
            # A Pulumi secret among the plain settings: the function's configuration shows it.
            problems.append(f"{section} holds a Pulumi secret: pass it through Secret Manager")
            continue
        variables = config.get("environmentVariables") or {}
        if _is_secret(variables):
            problems.append(
                f"{section}.environmentVariables holds a Pulumi secret: pass it through "
                "Secret Manager (secretEnvironmentVariables)"
            )
            continue
        for name, value in variables.items():
            where = f"{section}.environmentVariables.{name}"
            if name in SECRET_VARIABLES or any(part in name.upper() for part in SECRET_NAME_PARTS):
                problems.append(f"{where} is a secret: use secretEnvironmentVariables")
            elif _is_secret(value):
                problems.append(f"{where} holds a Pulumi secret: use secretEnvironmentVariables")
            elif isinstance(value, str) and _URL_WITH_CREDENTIALS.search(value):
                problems.append(
                    f"{where} is a URL with credentials: use secretEnvironmentVariables"
                )
    return problems


def secret_access_is_per_secret(resource_type: str, props: Props) -> list[str]:
    if resource_type not in PROJECT_GRANTS:
        return []
    return [
        f"{role} on the project reaches every secret: grant it on one secret"
        for role in _roles(props)
        if role.startswith(SECRET_MANAGER_ROLES)
    ]


def custom_roles_are_narrow(resource_type: str, props: Props) -> list[str]:
    if resource_type != CUSTOM_ROLE:
        return []
    extra = set(props.get("permissions") or []) - CUSTOM_ROLE_PERMISSIONS
    if extra:
        return [f"custom role {props.get('roleId')} holds {', '.join(sorted(extra))}"]
    return []


def no_service_account_keys(resource_type: str, props: Props) -> list[str]:
    if resource_type == SERVICE_ACCOUNT_KEY:
        return ["creates a service account key: use impersonation or attached accounts"]
    return []


RESOURCE_RULES = (
    ResourceRule(
        "no-public-members",
        "No IAM grant to allUsers or allAuthenticatedUsers, but allUsers invoking a service, "
        "which public-invokers-only-on-key-protected-services judges.",
        no_public_members,
    ),
    ResourceRule(
        "no-primitive-roles",
        "No owner, editor or viewer role, as a grant's role or in a policy's bindings.",
        no_primitive_roles,
    ),
    ResourceRule(
        "grants-name-their-members",
        "A grant's member is never a Pulumi secret, which no rule could judge.",
        grants_name_their_members,
    ),
    ResourceRule(
        "buckets-are-private",
        "Buckets enforce public access prevention and uniform access.",
        buckets_are_private,
    ),
    ResourceRule(
        "buckets-expire",
        "Buckets delete objects within 90 days (only noncurrent versions, if labelled "
        "personal-data=none).",
        buckets_expire,
    ),
    ResourceRule(
        "buckets-keep-no-deleted-objects",
        "Buckets that may hold events or user ids (not labelled personal-data=none) have soft "
        "delete off and no object versioning.",
        buckets_keep_no_deleted_objects,
    ),
    ResourceRule(
        "datasets-keep-the-shortest-time-travel",
        "Datasets that may hold user ids (not labelled personal-data=none) keep deleted rows "
        "for the shortest time travel, 48 hours.",
        datasets_keep_the_shortest_time_travel,
    ),
    ResourceRule(
        "tables-expire-and-need-a-partition-filter",
        "Tables are partitioned, require a partition filter and expire within 90 days "
        "unless labelled personal-data=none.",
        tables_expire_and_need_a_partition_filter,
    ),
    ResourceRule(
        "anonymous-tables-hold-no-identifiers",
        "Tables kept beyond 90 days (personal-data=none) have no user, device, session or "
        "event id.",
        anonymous_tables_hold_no_identifiers,
    ),
    ResourceRule(
        "functions-run-as-their-own-accounts",
        "Functions run and build as dedicated service accounts, never the defaults.",
        functions_run_as_their_own_accounts,
    ),
    ResourceRule(
        "event-functions-take-internal-traffic-only",
        "A function with an event trigger accepts internal traffic only (its trigger's pushes).",
        event_functions_take_internal_traffic_only,
    ),
    ResourceRule("no-service-account-keys", "No service account keys.", no_service_account_keys),
    ResourceRule(
        "custom-roles-are-narrow",
        "Custom roles hold only insertAll on a table and the scheduled-query switch.",
        custom_roles_are_narrow,
    ),
    ResourceRule(
        "functions-keep-secrets-in-secret-manager",
        "No function has a secret (by name, Pulumi secret or URL credentials) as a plain "
        "environment variable.",
        functions_keep_secrets_in_secret_manager,
    ),
    ResourceRule(
        "secret-access-is-per-secret",
        "Secret Manager roles are granted on a secret, never on the project.",
        secret_access_is_per_secret,
    ),
)


def _runtime_accounts(resources: list[tuple[str, Props]]) -> dict[str, list[str]]:
    """Each function runtime account's member, with the functions that run as it."""
    accounts: dict[str, list[str]] = defaultdict(list)
    for resource_type, props in resources:
        config = (props.get("serviceConfig") or {}) if resource_type == FUNCTION else {}
        if email := config.get("serviceAccountEmail"):
            accounts[f"serviceAccount:{email}"].append(str(props.get("name")))
    return accounts


def runtime_accounts_have_no_project_grants(
    resources: Iterable[tuple[str, Props]],
) -> list[str]:
    """A function's runtime account is granted on tables, buckets and secrets, never the
    project, except for the roles that exist nowhere else (``PROJECT_ONLY_ROLES``)."""
    resources = list(resources)
    runtime_members = _runtime_accounts(resources)
    project_only = PROJECT_ONLY_ROLES | {
        f"projects/{props.get('project')}/roles/{props.get('roleId')}"
        for resource_type, props in resources
        if resource_type == CUSTOM_ROLE
        and set(props.get("permissions") or []) <= PROJECT_ONLY_PERMISSIONS
    }
    return [
        f"{props.get('role')} is granted project-wide to {member}, a function's runtime account"
        for resource_type, props in resources
        if resource_type in PROJECT_GRANTS and props.get("role") not in project_only
        for member in _members(props)
        if member in runtime_members
    ]


# Roles that let a principal act as a service account: a function's runtime account holding one
# would gain every grant of that account (the build account's, the invoker's).
IMPERSONATION_ROLES = frozenset(
    {
        "roles/iam.serviceAccountTokenCreator",
        "roles/iam.serviceAccountOpenIdTokenCreator",
        "roles/iam.serviceAccountUser",
        "roles/iam.workloadIdentityUser",
    }
)
SERVICE_ACCOUNT_GRANTS = frozenset(
    {
        "gcp:serviceaccount/iAMMember:IAMMember",
        "gcp:serviceaccount/iAMBinding:IAMBinding",
        "gcp:serviceaccount/iAMPolicy:IAMPolicy",
    }
)


def runtime_accounts_impersonate_nothing(resources: Iterable[tuple[str, Props]]) -> list[str]:
    """No function's runtime account may act as another account, on one or on the project."""
    resources = list(resources)
    runtime_members = _runtime_accounts(resources)
    return [
        f"{member}, a function's runtime account, holds {role} on "
        f"{props.get('serviceAccountId') or 'the project'}"
        for resource_type, props in resources
        if resource_type in SERVICE_ACCOUNT_GRANTS | PROJECT_GRANTS
        for role in _roles(props)
        if role in IMPERSONATION_ROLES
        for member in _members(props)
        if member in runtime_members
    ]


def functions_have_distinct_runtime_accounts(
    resources: Iterable[tuple[str, Props]],
) -> list[str]:
    """Each function runs as an account of its own, so each one's grants are its own."""
    return [
        f"functions {', '.join(sorted(functions))} share the runtime account {member}"
        for member, functions in _runtime_accounts(list(resources)).items()
        if len(functions) > 1
    ]


def _service_name(value: Any) -> str | None:
    """A service or function by its short name, whether given short or as a resource path."""
    return value.rsplit("/", 1)[-1] if isinstance(value, str) and value else None


def _secret_variables(resource_type: str, props: Props) -> list[str]:
    """The names of the variables a function or Cloud Run service reads from Secret Manager."""
    if resource_type == FUNCTION:
        config = props.get("serviceConfig") or {}
        return [v.get("key") for v in config.get("secretEnvironmentVariables") or []]
    containers = (props.get("template") or {}).get("containers") or []
    return [
        env.get("name")
        for container in containers
        for env in container.get("envs") or []
        if (env.get("valueSource") or {}).get("secretKeyRef")
    ]


def _key_protected_services(resources: list[tuple[str, Props]]) -> set[str]:
    """Services labelled as authenticating each call by key, that do read keys from Secret
    Manager: a label alone, copied onto another function, makes nothing key-protected."""
    protected: set[str] = set()
    for resource_type, props in resources:
        if resource_type not in (FUNCTION, RUN_SERVICE):
            continue
        labels = props.get("labels") or {}
        if any(labels.get(k) != v for k, v in KEY_PROTECTED_LABELS.items()):
            continue
        reads_keys = any(
            isinstance(name, str) and name.upper().endswith(WRITE_KEYS_SUFFIX)
            for name in _secret_variables(resource_type, props)
        )
        if reads_keys and (name := _service_name(props.get("name"))):
            protected.add(name)
    return protected


def public_invokers_only_on_key_protected_services(
    resources: Iterable[tuple[str, Props]],
) -> list[str]:
    """``allUsers`` may invoke a service only when that service checks a key on every call:
    labelled ``auth: write-key`` and reading its write keys from Secret Manager."""
    resources = list(resources)
    protected = _key_protected_services(resources)
    problems = []
    for resource_type, props in resources:
        for member in _members(props):
            if not _is_public_invoker_grant(resource_type, props, member):
                continue
            service = _service_name(props.get(SERVICE_INVOKER_GRANTS[resource_type]))
            if service not in protected:
                problems.append(
                    f"grants {props.get('role')} to {member} on {service}, which is not "
                    "key-protected: only a service labelled "
                    + ", ".join(f"{k}={v}" for k, v in KEY_PROTECTED_LABELS.items())
                    + f" that reads its *{WRITE_KEYS_SUFFIX} from Secret Manager may be public"
                )
    return problems


def _excluded_request_logs(resources: list[tuple[str, Props]]) -> set[str]:
    """The services whose request logs an enabled project exclusion drops."""
    excluded = set()
    for resource_type, props in resources:
        text = props.get("filter")
        if resource_type != LOG_EXCLUSION or props.get("disabled") or not isinstance(text, str):
            continue
        if f'log_id("{REQUEST_LOG}")' in text:
            excluded |= set(re.findall(r'resource\.labels\.service_name\s*=\s*"([^"]+)"', text))
    return excluded


def public_services_log_no_callers(resources: Iterable[tuple[str, Props]]) -> list[str]:
    """A service anyone may invoke has its platform request log (callers' addresses and user
    agents) excluded, as personal data is kept out of every log."""
    resources = list(resources)
    excluded = _excluded_request_logs(resources)
    public = {
        _service_name(props.get(SERVICE_INVOKER_GRANTS[resource_type]))
        for resource_type, props in resources
        for member in _members(props)
        if _is_public_invoker_grant(resource_type, props, member)
    }
    return [
        f"{service} is public, but its request log ({REQUEST_LOG}, with every caller's address) "
        f'is not excluded: add a ProjectExclusion of log_id("{REQUEST_LOG}") AND '
        f'resource.labels.service_name="{service}"'
        for service in sorted(s for s in public if s and s not in excluded)
    ]


STACK_RULES = (
    StackRule(
        "runtime-accounts-have-no-project-grants",
        "A function's runtime account is never granted a role on the project, except BigQuery's "
        "jobUser and a custom role of scheduled-query updates, which exist only there.",
        runtime_accounts_have_no_project_grants,
    ),
    StackRule(
        "public-services-log-no-callers",
        "A service allUsers may invoke has its Cloud Run request log, which records every "
        "caller's address and user agent, excluded by a project exclusion.",
        public_services_log_no_callers,
    ),
    StackRule(
        "runtime-accounts-impersonate-nothing",
        "No function's runtime account may act as another service account (Token Creator, "
        "OpenID Token Creator, Service Account User, Workload Identity User).",
        runtime_accounts_impersonate_nothing,
    ),
    StackRule(
        "functions-have-distinct-runtime-accounts",
        "No two functions run as the same account.",
        functions_have_distinct_runtime_accounts,
    ),
    StackRule(
        "public-invokers-only-on-key-protected-services",
        "allUsers may invoke only a function or Cloud Run service labelled auth=write-key that "
        "reads its write keys from Secret Manager.",
        public_invokers_only_on_key_protected_services,
    ),
)


def stack_violations(resources: Iterable[tuple[str, Props]]) -> list[tuple[str, str]]:
    """(rule name, message) for every stack rule the resources break."""
    resources = list(resources)
    return [(rule.name, message) for rule in STACK_RULES for message in rule.check(resources)]


def resource_violations(resource_type: str, props: Props) -> list[tuple[str, str]]:
    """(rule name, message) for every rule this resource breaks."""
    return [
        (rule.name, message)
        for rule in RESOURCE_RULES
        for message in rule.check(resource_type, props)
    ]
