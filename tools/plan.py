"""``make plan``: what ``pulumi up`` would create, from a mocked run (no CLI, no credentials).

    python -m tools.plan [Pulumi.<stack>.yaml]     # default: Pulumi.example.yaml

Values Google assigns at creation (bucket suffixes, URLs, project number) are placeholders.
"""

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from infra.policy.rules import KEY_PROTECTED_LABELS
from infra.settings import SettingsError
from infra.stack_config import read_stack_config
from tools.mocked_stack import MockedResource, run_mocked

REPO_ROOT = Path(__file__).resolve().parent.parent
DAY_MS = 24 * 60 * 60 * 1000


def _days(ms: float) -> str:
    return f"{ms / DAY_MS:g} days"


def _table(r: MockedResource) -> str:
    p = r.get("timePartitioning") or {}
    return (
        f"{p.get('type')} partitions on {p.get('field')}, expire after "
        f"{_days(p.get('expirationMs', 0))}, partition filter "
        f"{'required' if r.get('requirePartitionFilter') else 'optional'}, clustered by "
        f"{', '.join(r.get('clusterings') or [])}, deletion protection "
        f"{'on' if r.get('deletionProtection') else 'off'}"
    )


def _bucket(r: MockedResource) -> str:
    ages = [rule["condition"]["age"] for rule in r.get("lifecycleRules") or []]
    return (
        f"{r.get('location')}, public access prevention {r.get('publicAccessPrevention')}, "
        f"uniform access {'on' if r.get('uniformBucketLevelAccess') else 'OFF'}, objects "
        f"deleted after {', '.join(f'{a:g}' for a in ages)} days"
    )


def _function(r: MockedResource) -> str:
    s = r.get("serviceConfig") or {}
    labels = r.get("labels") or {}
    key_protected = all(labels.get(k) == v for k, v in KEY_PROTECTED_LABELS.items())
    # Who may invoke it is in its run.invoker grant, listed with the grants.
    auth = "write key checked by the function" if key_protected else "IAM required"
    return (
        f"{r.get('buildConfig.runtime')} entry {r.get('buildConfig.entryPoint')} in "
        f"{r.get('location')}, runs as {s.get('serviceAccountEmail')}, ingress "
        f"{s.get('ingressSettings')} ({auth}), {s.get('minInstanceCount'):g}-"
        f"{s.get('maxInstanceCount'):g} instances x {s.get('availableMemory')}, "
        f"{s.get('maxInstanceRequestConcurrency'):g} concurrent, {s.get('timeoutSeconds'):g} s "
        f"timeout, source {r.get('buildConfig.source.storageSource.object')}"
        + "".join(
            f", {v['key']} from secret {v['secret']}"
            for v in s.get("secretEnvironmentVariables") or []
        )
        + (
            f", triggered by {r.get('eventTrigger.pubsubTopic')} as "
            f"{r.get('eventTrigger.serviceAccountEmail')} ({r.get('eventTrigger.retryPolicy')})"
            if r.get("eventTrigger")
            else ""
        )
    )


def _grant(r: MockedResource) -> str:
    where = next(
        (
            f"{key} {r.get(key)}"
            for key in (
                "tableId",
                "bucket",
                "name",
                "repository",
                "serviceAccountId",
                "topic",
                "secretId",
            )
            if r.get(key)
        ),
        f"project {r.get('project')}",
    )
    return f"{r.get('role')} to {r.get('member')} on {where}"


def _budget(r: MockedResource) -> str:
    amount = r.get("amount.specifiedAmount") or {}
    rules = ", ".join(
        f"{rule['thresholdPercent']:.0%} {rule['spendBasis'].split('_')[0].lower()}"
        for rule in r.get("thresholdRules") or []
    )
    channels = len(r.get("allUpdatesRule.monitoringNotificationChannels") or [])
    return (
        f"{amount.get('units')} {amount.get('currencyCode')} a month; alerts at {rules}; "
        f"{channels} e-mail channels + Pub/Sub"
    )


SUMMARIES: dict[str, Callable[[MockedResource], str]] = {
    "Service": lambda r: r.get("service"),
    "Dataset": lambda r: f"{r.get('datasetId')} in {r.get('location')}",
    "Table": _table,
    "Bucket": _bucket,
    "BucketObject": lambda r: f"{r.get('name')} (content-hash name)",
    "Account": lambda r: f"{r.get('accountId')}, no keys",
    "IAMCustomRole": lambda r: f"{r.get('roleId')}: {', '.join(r.get('permissions'))}",
    "Repository": lambda r: f"{r.get('repositoryId')} ({r.get('format')}) in {r.get('location')}",
    "Function": _function,
    "NotificationChannel": lambda r: f"e-mail {r.get('labels.email_address')}",
    "Topic": lambda r: r.name,
    "Secret": lambda r: (
        f"{r.get('secretId')}, replicated in "
        + ", ".join(replica["location"] for replica in r.get("replication.userManaged.replicas"))
    ),
    # Never the value: it comes from the stack's secret configuration.
    "SecretVersion": lambda r: f"a version of {r.get('secret')} (value hidden)",
    "Budget": _budget,
    "Metric": lambda r: f"{r.get('name')} <- {r.get('valueExtractor') or 'count by status'}",
    "AlertPolicy": lambda r: r.get("displayName"),
    "Dashboard": lambda r: json.loads(r.get("dashboardJson"))["displayName"],
    "Job": lambda r: (
        f"{r.get('schedule')} ({r.get('timeZone')}) in {r.get('region')}, publishes to "
        f"{r.get('pubsubTarget.topicName')}"
    ),
}


def describe(resource: MockedResource) -> str | None:
    kind = resource.type.rsplit(":", 1)[-1]
    if kind.endswith(("IAMMember", "IamMember")):
        return _grant(resource)
    summary = SUMMARIES.get(kind)
    return summary(resource) if summary else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stack_file", nargs="?", default=str(REPO_ROOT / "Pulumi.example.yaml"))
    args = parser.parse_args(argv)
    try:
        stack = run_mocked(read_stack_config(Path(args.stack_file)))
    except (SettingsError, ValueError) as error:
        print(f"{args.stack_file}: {error}", file=sys.stderr)
        return 2
    print(f"pulumi up with {args.stack_file} would create:\n")
    described = [(r, d) for r in stack.resources if (d := describe(r)) is not None]
    width = max(len(f"{r.type.rsplit(':', 1)[-1]} {r.name}") for r, _ in described)
    # Types in the order the program first declares them: APIs, data, identities, ...
    for kind in dict.fromkeys(r.type for r, _ in described):
        for resource, text in described:
            if resource.type == kind:
                label = f"{kind.rsplit(':', 1)[-1]} {resource.name}"
                print(f"  {label:<{width}}  {text}")
    print(f"\n{len(stack.resources)} resources in all (components included).\nOutputs:")
    for name, value in stack.outputs.items():
        print(f"  {name}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
