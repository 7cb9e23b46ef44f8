"""The stack's security rules as plain functions over a resource's type and input properties.

They run in two places: the CrossGuard pack in this folder (``pulumi preview --policy-pack
infra/policy``) and the whole-stack tests under ``tests/infra``, which feed them every resource
of a mocked run. Properties use Pulumi's names (``publicAccessPrevention``). A value still unknown
at preview time arrives as None and is not judged.

This module imports nothing from the program, so the pack installs on its own.
"""

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})
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
IDENTIFYING_COLUMNS = frozenset({"user_id", "session_id", "event_id"})

BUCKET = "gcp:storage/bucket:Bucket"
TABLE = "gcp:bigquery/table:Table"
FUNCTION = "gcp:cloudfunctionsv2/function:Function"
SERVICE_ACCOUNT_KEY = "gcp:serviceaccount/key:Key"
PROJECT_GRANTS = frozenset(
    {
        "gcp:projects/iAMMember:IAMMember",
        "gcp:projects/iAMBinding:IAMBinding",
        "gcp:projects/iAMPolicy:IAMPolicy",
    }
)

Props = Mapping[str, Any]


@dataclass(frozen=True)
class ResourceRule:
    name: str
    description: str
    check: Callable[[str, Props], list[str]]


def _members(props: Props) -> list[str]:
    """Every principal a resource grants to, whatever the resource calls the field."""
    found: list[str] = []
    for key in ("member", "members", "entity"):
        value = props.get(key)
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, list):
            found.extend(v for v in value if isinstance(v, str))
    return found


def no_public_members(resource_type: str, props: Props) -> list[str]:
    return [
        f"grants to {member}: nothing in this stack may be public"
        for member in _members(props)
        if member in PUBLIC_MEMBERS
    ]


def no_primitive_roles(resource_type: str, props: Props) -> list[str]:
    role = props.get("role")
    if role in PRIMITIVE_ROLES:
        return [f"uses {role}: grant a predefined or custom role with only what is needed"]
    return []


def buckets_are_private(resource_type: str, props: Props) -> list[str]:
    if resource_type != BUCKET:
        return []
    problems = []
    if props.get("publicAccessPrevention") not in ("enforced", None):
        problems.append("publicAccessPrevention must be 'enforced'")
    if props.get("uniformBucketLevelAccess") is not True:
        problems.append("uniformBucketLevelAccess must be true (IAM only, no object ACLs)")
    return problems


def buckets_expire(resource_type: str, props: Props) -> list[str]:
    if resource_type != BUCKET:
        return []
    for rule in props.get("lifecycleRules") or []:
        action = (rule.get("action") or {}).get("type")
        age = (rule.get("condition") or {}).get("age")
        if action == "Delete" and age is not None and 0 < age <= MAX_RETENTION_DAYS:
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
    return problems


def no_service_account_keys(resource_type: str, props: Props) -> list[str]:
    if resource_type == SERVICE_ACCOUNT_KEY:
        return ["creates a service account key: use impersonation or attached accounts"]
    return []


RESOURCE_RULES = (
    ResourceRule(
        "no-public-members", "No IAM grant to allUsers or allAuthenticatedUsers.", no_public_members
    ),
    ResourceRule("no-primitive-roles", "No owner, editor or viewer role.", no_primitive_roles),
    ResourceRule(
        "buckets-are-private",
        "Buckets enforce public access prevention and uniform access.",
        buckets_are_private,
    ),
    ResourceRule("buckets-expire", "Buckets delete objects within 90 days.", buckets_expire),
    ResourceRule(
        "tables-expire-and-need-a-partition-filter",
        "Tables are partitioned, require a partition filter and expire within 90 days "
        "unless labelled personal-data=none.",
        tables_expire_and_need_a_partition_filter,
    ),
    ResourceRule(
        "anonymous-tables-hold-no-identifiers",
        "Tables kept beyond 90 days (personal-data=none) have no user, session or event id.",
        anonymous_tables_hold_no_identifiers,
    ),
    ResourceRule(
        "functions-run-as-their-own-accounts",
        "Functions run and build as dedicated service accounts, never the defaults.",
        functions_run_as_their_own_accounts,
    ),
    ResourceRule("no-service-account-keys", "No service account keys.", no_service_account_keys),
)


def runtime_accounts_have_no_project_grants(
    resources: Iterable[tuple[str, Props]],
) -> list[str]:
    """A function's runtime account is granted on tables and buckets, never the project."""
    resources = list(resources)
    runtime_members = {
        f"serviceAccount:{email}"
        for resource_type, props in resources
        if resource_type == FUNCTION
        and (email := (props.get("serviceConfig") or {}).get("serviceAccountEmail"))
    }
    return [
        f"{props.get('role')} is granted project-wide to {member}, a function's runtime account"
        for resource_type, props in resources
        if resource_type in PROJECT_GRANTS
        for member in _members(props)
        if member in runtime_members
    ]


def resource_violations(resource_type: str, props: Props) -> list[tuple[str, str]]:
    """(rule name, message) for every rule this resource breaks."""
    return [
        (rule.name, message)
        for rule in RESOURCE_RULES
        for message in rule.check(resource_type, props)
    ]
