"""Every permission the deployed code needs, traced to a grant of a real role; every grant,
traced to a need.

The Pulumi program runs under mocks with every option on (``tools.mocked_stack``). Each account
it creates or names is matched with what runs as it: a function's code (the ``API_CALLS`` of
every module its ``main.py`` reaches), the operators' replay tool, and what Google's services do
as an account the stack configures (a scheduled query's reads and writes, a Pub/Sub push, a
build, a Logging sink, a secret mounted into a function, a Cloud Scheduler job's publish). Each
call becomes permissions on resources through the public iam-dataset and the documented
exceptions (``infra/iam/``); each grant becomes permissions on a resource through the role's
definition (the dataset's, or the stack's custom role).

It fails on a permission needed that no grant covers (on the resource or a parent of it), on a
role that does not exist, on a call no data maps, and on a grant on a resource its account never
touches; it prints each account's surplus: permissions granted and never needed.

    python -m tools.iam_proof            # the proof, a block per account
"""

import importlib
import json
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from event_capture.contracts.forget import RUNS_TOPIC
from event_capture.platform import api_calls
from event_capture.platform.api_calls import ApiCall
from event_capture.warehouse.catalog import EVENT_TABLES, EVENTS, FEATURE_TABLES, USER_LEVEL_TABLES
from infra.function_source import FUNCTIONS, REPO_ROOT, imported_modules
from tools.mocked_stack import MOCK_PROJECT_NUMBER, MockedResource, MockedStack, run_mocked
from tools.sample_stacks import PROJECT as SAMPLE_PROJECT
from tools.sample_stacks import WITH_EVERYTHING

DATA = REPO_ROOT / "infra" / "iam"
Path_ = tuple[str, ...]  # ("project", "dataset:events", "table:searches")
PROJECT: Path_ = ("project",)
# What the operators run, as the stack grants it (infra/access.py): replay re-inserts through
# the BigQuery sink and rewrites dead letters through the dead-letter writer.
OPERATOR_CODE = (
    "tools.replay",
    "event_capture.ingest.insert_all",
    "event_capture.ingest.write_api",
    "event_capture.ingest.sinks.dead_letter",
)
# Run under an identity the stack does not grant (an analyst's, an operator's own): their
# needs are printed, not checked.
UNGRANTED_TOOLS = ("tools.backfill_archive", "tools.purge")
# Permissions checked on a parent of the resource called: a table's dataset.
ON_DATASET = frozenset({"bigquery.datasets.get"})
BUCKETS = {
    api_calls.ARCHIVE_BUCKET: "events-archive",
    api_calls.DEAD_LETTER_BUCKET: "events-dead-letter",
    api_calls.CONTROL_BUCKET: "capture-control",
    api_calls.FORGET_BUCKET: "forget-requests",
}
# What the app and the operators do with the forget bucket, as the stack grants it
# (infra/forget.py): the app files a request (an upload that never overwrites); the operators
# file one too and read the receipts (list and read).
APP_FORGET_CALLS = (ApiCall("storage.objects.insert", api_calls.FORGET_BUCKET),)
OPERATOR_FORGET_CALLS = (
    *APP_FORGET_CALLS,
    ApiCall("storage.objects.list", api_calls.FORGET_BUCKET),
    ApiCall("storage.objects.get", api_calls.FORGET_BUCKET),
)
# The operators run the forget function now by publishing to its schedule's topic.
FORGET_TOPIC = RUNS_TOPIC
FUNCTION_SOURCE_BUCKET = "function-source"
BACKTICKED = re.compile(r"`([\w-]+)\.(\w+)\.(\w+)`")
WRITTEN = re.compile(r"(?:DELETE FROM|INSERT INTO)\s+`[\w-]+\.(\w+)\.(\w+)`")


@dataclass(frozen=True)
class Need:
    permission: str
    resource: Path_
    why: str  # "capture: storage.objects.insert on archive bucket"


@dataclass(frozen=True)
class Grant:
    name: str  # the Pulumi resource's name
    member: str
    role: str
    resource: Path_


@dataclass
class Account:
    member: str
    runs: list[str] = field(default_factory=list)  # what runs as it
    needs: list[Need] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)


@dataclass(frozen=True)
class Permissions:
    """What a role holds and what a call needs, from the shipped data."""

    roles: Mapping[str, frozenset[str]]
    methods: Mapping[str, frozenset[str]]
    exceptions: Mapping[str, Mapping[str, Any]]

    @classmethod
    def load(cls, data: Path = DATA) -> "Permissions":
        roles = json.loads((data / "roles.json").read_text())
        methods = json.loads((data / "methods.json").read_text())
        return cls(
            roles={name: frozenset(p) for name, p in roles.items()},
            methods={name: frozenset(p) for name, p in methods.items()},
            exceptions=json.loads((data / "exceptions.json").read_text()),
        )

    def of_call(self, method: str) -> frozenset[str]:
        """What a call needs: the documented ``permissions`` where Google's docs give them and
        the dataset does not (a call that is no API method), else the dataset's for the method
        (before any ``#variant``) with the documented ``add`` and ``remove``. KeyError when
        neither knows it."""
        exception = self.exceptions.get(method)
        if exception is not None and "permissions" in exception:
            return frozenset(exception["permissions"])
        base = method.split("#")[0]
        if base not in self.methods:
            raise KeyError(method)
        if exception is None:
            return self.methods[base]
        return (self.methods[base] | frozenset(exception["add"])) - frozenset(exception["remove"])


# --- the stack as resources, grants and accounts --------------------------------------------


def _bucket(physical: str, stack: MockedStack) -> Path_:
    """A grant names a bucket by its physical name: the logical name and Pulumi's suffix."""
    for resource in stack.of_type("gcp:storage/bucket:Bucket"):
        if physical.startswith(f"{resource.name}-"):
            return (*PROJECT, f"bucket:{resource.name}")
    raise ValueError(f"no bucket of the stack is named {physical}")


def _account_email(name: str) -> str:
    """``projects/P/serviceAccounts/EMAIL`` or ``EMAIL`` as the e-mail."""
    return name.rsplit("/", 1)[-1]


def _table(dataset: str, table: str) -> Path_:
    return (*PROJECT, f"dataset:{dataset}", f"table:{table}")


def grants(stack: MockedStack) -> list[Grant]:
    """Every IAM grant of the stack, on the resource it is made on."""
    found: list[Grant] = []

    def add(resource: MockedResource, path: Path_, member: str | None = None) -> None:
        role = resource.inputs["role"]
        found.append(Grant(resource.name, member or resource.inputs["member"], role, path))

    for r in stack.resources:
        kind = r.type.split(":")[-1]
        match r.type:
            case "gcp:bigquery/iamMember:IamMember":
                add(r, _table(r.inputs["datasetId"], r.inputs["tableId"]))
            case "gcp:bigquery/datasetIamMember:DatasetIamMember":
                add(r, (*PROJECT, f"dataset:{r.inputs['datasetId']}"))
            case "gcp:bigquery/datasetAccess:DatasetAccess" if "role" in r.inputs:
                member = _dataset_access_member(r.inputs)
                add(r, (*PROJECT, f"dataset:{r.inputs['datasetId']}"), member)
            case "gcp:storage/bucketIAMMember:BucketIAMMember":
                add(r, _bucket(r.inputs["bucket"], stack))
            case "gcp:projects/iAMMember:IAMMember":
                add(r, PROJECT)
            case "gcp:serviceaccount/iAMMember:IAMMember":
                email = _account_email(r.inputs["serviceAccountId"])
                add(r, (*PROJECT, f"serviceAccount:{email}"))
            case "gcp:secretmanager/secretIamMember:SecretIamMember":
                add(r, (*PROJECT, f"secret:{r.inputs['secretId']}"))
            case "gcp:pubsub/topicIAMMember:TopicIAMMember":
                add(r, (*PROJECT, f"topic:{r.inputs['topic'].rsplit('/', 1)[-1]}"))
            case "gcp:cloudrunv2/serviceIamMember:ServiceIamMember":
                add(r, (*PROJECT, f"service:{r.inputs['name']}"))
            case "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember":
                add(r, (*PROJECT, f"repository:{r.inputs['repository']}"))
            case _ if "iam" in kind.lower() and kind != "IAMCustomRole":
                raise ValueError(f"{r.name}: the proof does not know grants of {r.type}")
    return found


def _dataset_access_member(inputs: Mapping[str, Any]) -> str:
    if "userByEmail" in inputs:
        email = inputs["userByEmail"]
        kind = "serviceAccount" if email.endswith(".gserviceaccount.com") else "user"
        return f"{kind}:{email}"
    if "groupByEmail" in inputs:
        return f"group:{inputs['groupByEmail']}"
    return str(inputs["iamMember"])


def custom_roles(stack: MockedStack, project: str) -> dict[str, frozenset[str]]:
    return {
        f"projects/{project}/roles/{r.inputs['roleId']}": frozenset(r.inputs["permissions"])
        for r in stack.of_type("gcp:projects/iAMCustomRole:IAMCustomRole")
    }


# --- what runs as each account, and what it needs ---------------------------------------------


def declared_calls(modules: Iterable[str]) -> list[ApiCall]:
    """The ``API_CALLS`` of these modules, in order, each once."""
    calls: list[ApiCall] = []
    for name in modules:
        for call in getattr(importlib.import_module(name), "API_CALLS", ()):
            if call not in calls:
                calls.append(call)
    return calls


@dataclass(frozen=True)
class Places:
    """Where each resource role of ``api_calls`` is in the stack."""

    events_dataset: str

    def of(self, role: str) -> list[Path_]:
        if role in (api_calls.PROJECT, api_calls.SCHEDULED_QUERIES):
            # A transfer config has no IAM of its own: it is granted on the project.
            return [PROJECT]
        if role == api_calls.EVENT_TABLES:
            return [_table(self.events_dataset, t) for t in EVENT_TABLES]
        if role == api_calls.FEATURE_TABLES:
            return [_table(self.events_dataset, spec.name) for spec in FEATURE_TABLES]
        if role == api_calls.USER_TABLES:
            # The tables the forget function deletes a user's rows from.
            assert all(spec.dataset == EVENTS for spec in USER_LEVEL_TABLES)
            return [_table(self.events_dataset, spec.name) for spec in USER_LEVEL_TABLES]
        return [(*PROJECT, f"bucket:{BUCKETS[role]}")]


class Needs:
    """Needs by member, built from calls and the data."""

    def __init__(self, permissions: Permissions, places: Places) -> None:
        self.permissions = permissions
        self.places = places
        self.by_member: dict[str, Account] = {}
        self.unmapped: list[str] = []

    def account(self, member: str) -> Account:
        return self.by_member.setdefault(member, Account(member))

    def add(self, member: str, who: str, method: str, resources: Sequence[Path_]) -> None:
        account = self.account(member)
        if who not in account.runs:
            account.runs.append(who)
        try:
            needed = self.permissions.of_call(method)
        except KeyError:
            self.unmapped.append(f"{who}: {method} (in neither methods.json nor exceptions.json)")
            return
        for resource in resources:
            for permission in sorted(needed):
                at = resource[:2] if permission in ON_DATASET else resource
                account.needs.append(Need(permission, at, f"{who}: {method}"))

    def add_calls(self, member: str, who: str, calls: Iterable[ApiCall]) -> None:
        for call in calls:
            self.add(member, who, call.method, self.places.of(call.on))


def needs(stack: MockedStack, permissions: Permissions, project: str) -> Needs:
    [events] = [r for r in stack.of_type("gcp:bigquery/dataset:Dataset") if r.name == "events"]
    found = Needs(permissions, Places(events.inputs["datasetId"]))
    functions = {f.name: f for f in FUNCTIONS}
    number = MOCK_PROJECT_NUMBER
    pubsub_agent = f"serviceAccount:service-{number}@gcp-sa-pubsub.iam.gserviceaccount.com"
    for function in stack.of_type("gcp:cloudfunctionsv2/function:Function"):
        name = function.inputs["name"]
        runtime = f"serviceAccount:{function.get('serviceConfig.serviceAccountEmail')}"
        service: Path_ = (*PROJECT, f"service:{name}")
        modules = imported_modules(functions[name])
        found.add_calls(runtime, f"function {name}", declared_calls(modules))
        for secret in function.get("serviceConfig.secretEnvironmentVariables", []):
            found.add(
                runtime,
                f"function {name} (mounted secret)",
                "secretmanager.projects.secrets.versions.access",
                [(*PROJECT, f"secret:{secret['secret']}")],
            )
        build = f"serviceAccount:{_account_email(function.get('buildConfig.serviceAccount'))}"
        source = _bucket(function.get("buildConfig.source.storageSource.bucket"), stack)
        repository = function.get("buildConfig.dockerRepository").rsplit("/", 1)[-1]
        who = f"build of {name}"
        found.add(build, who, "cloudfunctions.build-from-source", [source])
        found.add(
            build, who, "artifactregistry.docker-push", [(*PROJECT, f"repository:{repository}")]
        )
        found.add(build, who, "logging.entries.write", [PROJECT])
        trigger = function.get("eventTrigger.serviceAccountEmail")
        if trigger is not None:
            found.add(
                f"serviceAccount:{trigger}", f"trigger of {name}", "run.routes.invoke", [service]
            )
            found.add(
                pubsub_agent,
                f"push to {name}",
                "pubsub.push-with-oidc",
                [(*PROJECT, f"serviceAccount:{trigger}")],
            )
        elif _public(stack, name):
            found.add("allUsers", f"anyone (public {name})", "run.routes.invoke", [service])
        else:
            invoker = f"serviceAccount:{_invoker(stack)}"
            found.add(invoker, f"the app, calling {name}", "run.routes.invoke", [service])
    _scheduled_queries(stack, found, number)
    _platform_agents(stack, found)
    for principal in _app_principals(stack):
        found.add(
            principal,
            "the app (an ID token as capture-invoker)",
            "iamcredentials.projects.serviceAccounts.generateIdToken",
            [(*PROJECT, f"serviceAccount:{_invoker(stack)}")],
        )
    forgets = bool([r for r in stack.resources if r.name == BUCKETS[api_calls.FORGET_BUCKET]])
    if forgets:
        for principal in _app_principals(stack):
            found.add_calls(
                principal, "the app (files a request to forget a user)", APP_FORGET_CALLS
            )
    for operator in _operators(stack):
        found.add_calls(operator, "operator: make replay", declared_calls(OPERATOR_CODE))
        if forgets:
            found.add_calls(operator, "operator: make forget", OPERATOR_FORGET_CALLS)
            found.add(
                operator,
                "operator: run the forget function now",
                "pubsub.projects.topics.publish",
                [(*PROJECT, f"topic:{FORGET_TOPIC}")],
            )
    return found


def _invoker(stack: MockedStack) -> str:
    [invoker] = [
        f"{r.inputs['accountId']}@{r.inputs['project']}.iam.gserviceaccount.com"
        for r in stack.of_type("gcp:serviceaccount/account:Account")
        if r.inputs["accountId"] == "capture-invoker"
    ]
    return invoker


def _public(stack: MockedStack, service: str) -> bool:
    return any(
        r.inputs["member"] == "allUsers" and r.inputs["name"] == service
        for r in stack.of_type("gcp:cloudrunv2/serviceIamMember:ServiceIamMember")
    )


def _app_principals(stack: MockedStack) -> list[str]:
    """Who the stack lets mint ID tokens as capture-invoker: the configured app principals."""
    invoker = _invoker(stack)
    return sorted(
        {
            r.inputs["member"]
            for r in stack.of_type("gcp:serviceaccount/iAMMember:IAMMember")
            if _account_email(r.inputs["serviceAccountId"]) == invoker
        }
    )


def _operators(stack: MockedStack) -> list[str]:
    return sorted(
        {
            r.inputs["member"]
            for r in stack.of_type("gcp:projects/iAMMember:IAMMember")
            if r.name.startswith("operator-")
        }
    )


def _scheduled_queries(stack: MockedStack, found: Needs, number: str) -> None:
    """A scheduled query runs its script as its account: a query job that reads what the
    script names and rewrites the table it deletes from and inserts into."""
    agent = f"serviceAccount:service-{number}@gcp-sa-bigquerydatatransfer.iam.gserviceaccount.com"
    for config in stack.of_type("gcp:bigquery/dataTransferConfig:DataTransferConfig"):
        account = f"serviceAccount:{config.inputs['serviceAccountName']}"
        script: str = config.get("params.query")
        who = f"scheduled query {config.name.removeprefix('schedule-')}"
        written = {_table(d, t) for d, t in WRITTEN.findall(script)}
        read = {_table(d, t) for _, d, t in BACKTICKED.findall(script)} - written
        found.add(account, who, "bigquery.jobs.insert#query", [PROJECT])
        found.add(account, who, "bigquery.jobs.insert#reads", sorted(read))
        found.add(account, who, "bigquery.jobs.insert#dml", sorted(written))
        found.add(
            agent,
            f"runs {who}",
            "bigquerydatatransfer.run-as-service-account",
            [(*PROJECT, f"serviceAccount:{config.inputs['serviceAccountName']}")],
        )
        topic = config.inputs.get("notificationPubsubTopic")
        if topic:
            topic_path = (*PROJECT, f"topic:{topic.rsplit('/', 1)[-1]}")
            found.add(
                agent, f"notifies after {who}", "pubsub.projects.topics.publish", [topic_path]
            )


def _platform_agents(stack: MockedStack, found: Needs) -> None:
    from infra.monitoring.budget import BUDGET_PUBLISHER

    for budget in stack.of_type("gcp:billing/budget:Budget"):
        topic = budget.get("allUpdatesRule.pubsubTopic")
        if topic:
            path = (*PROJECT, f"topic:{topic.rsplit('/', 1)[-1]}")
            found.add(
                BUDGET_PUBLISHER, "budget notifications", "pubsub.projects.topics.publish", [path]
            )
    # A Cloud Scheduler job publishes to its topic as Cloud Scheduler's service agent.
    scheduler_agent = (
        f"serviceAccount:service-{MOCK_PROJECT_NUMBER}"
        "@gcp-sa-cloudscheduler.iam.gserviceaccount.com"
    )
    for job in stack.of_type("gcp:cloudscheduler/job:Job"):
        topic = job.get("pubsubTarget.topicName")
        if topic:
            path = (*PROJECT, f"topic:{topic.rsplit('/', 1)[-1]}")
            found.add(
                scheduler_agent,
                f"scheduler job {job.name}",
                "pubsub.projects.topics.publish",
                [path],
            )
    for sink in stack.of_type("gcp:logging/projectSink:ProjectSink"):
        dataset = sink.inputs["destination"].rsplit("/", 1)[-1]
        writer = _sink_writer(stack, dataset)
        path = (*PROJECT, f"dataset:{dataset}")
        found.add(writer, f"log sink {sink.name}", "logging.sink-to-bigquery", [path])


def _sink_writer(stack: MockedStack, dataset: str) -> str:
    """The sink's writer identity (Google's, per sink): the member the stack grants the
    destination dataset to, as the mocked sink answered it."""
    members = {
        r.inputs["member"]
        for r in stack.of_type("gcp:bigquery/datasetIamMember:DatasetIamMember")
        if r.inputs["datasetId"] == dataset
    }
    return sorted(members)[0] if members else f"(the writer of the sink to {dataset})"


# --- the proof --------------------------------------------------------------------------------


@dataclass
class Proof:
    accounts: dict[str, Account]
    failures: list[str]
    roles: Mapping[str, frozenset[str]]

    def granted(self, grant: Grant) -> frozenset[str]:
        return self.roles.get(grant.role, frozenset())

    def surplus(self, account: Account) -> dict[str, list[str]]:
        """By grant: what it gives that no need of the account uses."""
        used = {need.permission for need in account.needs}
        return {
            grant.name: sorted(self.granted(grant) - used)
            for grant in account.grants
            if self.granted(grant) - used
        }


def _under(resource: Path_, grant: Path_) -> bool:
    return resource[: len(grant)] == grant


def prove(stack: MockedStack, project: str, permissions: Permissions | None = None) -> Proof:
    permissions = permissions or Permissions.load()
    custom = custom_roles(stack, project)
    roles = {**permissions.roles, **custom}
    found = needs(stack, permissions, project)
    failures = list(found.unmapped)
    for grant in grants(stack):
        found.account(grant.member).grants.append(grant)
        if grant.role not in roles:
            failures.append(
                f"{grant.name}: role {grant.role} exists neither in infra/iam/roles.json "
                "(iam-dataset) nor among the stack's custom roles"
            )
    proof = Proof(found.by_member, failures, roles)
    for account in found.by_member.values():
        for need in account.needs:
            if not any(
                need.permission in proof.granted(g) and _under(need.resource, g.resource)
                for g in account.grants
            ):
                failures.append(
                    f"{account.member}: {need.permission} on {'/'.join(need.resource)} "
                    f"is granted by nothing ({need.why})"
                )
        for grant in account.grants:
            touched = [n for n in account.needs if _under(n.resource, grant.resource)]
            if not touched:
                failures.append(
                    f"{grant.name}: {account.member} holds {grant.role} on "
                    f"{'/'.join(grant.resource)}, which nothing it runs touches"
                )
    failures[:] = list(dict.fromkeys(failures))
    return proof


def report(proof: Proof) -> list[str]:
    lines: list[str] = []
    for member in sorted(proof.accounts):
        account = proof.accounts[member]
        lines.append(f"{member}")
        lines.append(f"  runs: {'; '.join(account.runs) or 'nothing'}")
        calls = sorted({n.why.split(": ", 1)[1] for n in account.needs})
        lines.append(f"  calls: {', '.join(calls) or 'none'}")
        by_permission: dict[str, set[str]] = defaultdict(set)
        for need in account.needs:
            by_permission[need.permission].add("/".join(need.resource[1:]) or "project")
        for permission in sorted(by_permission):
            lines.append(f"  needs {permission} on {', '.join(sorted(by_permission[permission]))}")
        for grant in account.grants:
            lines.append(f"  granted {grant.role} on {'/'.join(grant.resource)} ({grant.name})")
        surplus = proof.surplus(account)
        unused = sorted({p for ps in surplus.values() for p in ps})
        lines.append(
            f"  surplus: {len(unused)} permissions" + (f": {', '.join(unused)}" if unused else "")
        )
    for tool in UNGRANTED_TOOLS:
        tool_calls = declared_calls([tool])
        lines.append(
            f"{tool} (an identity the stack does not grant): "
            + ", ".join(f"{c.method} on {c.on}" for c in tool_calls)
        )
    return lines


def main() -> int:
    stack = run_mocked(WITH_EVERYTHING)
    proof = prove(stack, SAMPLE_PROJECT)
    for line in report(proof):
        print(line)
    grants_made = sum(len(a.grants) for a in proof.accounts.values())
    print(
        f"IAM: {len(proof.accounts)} principals, {grants_made} grants, "
        f"{len(proof.failures)} failures"
    )
    for failure in proof.failures:
        print(f"FAIL {failure}", file=sys.stderr)
    return 1 if proof.failures else 0


if __name__ == "__main__":
    sys.exit(main())
