"""Run the real program under Pulumi's mocks: no CLI, no credentials, no cloud.

Every resource the program registers is recorded with the inputs Pulumi would send to the
provider, its URN and the URNs its aliases stand for, and answered with the few values Google
would compute (account e-mails, bucket names, URLs), so the whole stack can be checked
(``tests/infra``) or printed (``make plan``).
"""

import asyncio
import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import MockCallArgs, MockResourceArgs, Mocks, rpc
from pulumi.runtime.mocks import MockMonitor

from infra.function_source import REPO_ROOT
from infra.settings import KEYS, PROJECT_NAME, settings_from_stack
from infra.stack import build_stack

MOCK_PROJECT_NUMBER = "123456789012"
MOCKED_STACK_NAME = "mocked"
GET_PROJECT = "gcp:organizations/getProject:getProject"
ROOT_STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass(frozen=True, kw_only=True)
class MockedResource:
    type: str
    name: str
    inputs: dict[str, Any]
    urn: str
    # The parent's URN: the root stack's for a resource declared outside any component.
    parent: str
    # The URNs this resource also answers to (``ResourceOptions.aliases``), as the engine would
    # match them against a deployment's state.
    aliases: tuple[str, ...] = ()

    def get(self, path: str, default: Any = None) -> Any:
        """A nested input by dotted path: ``serviceConfig.serviceAccountEmail``."""
        value: Any = self.inputs
        for part in path.split("."):
            if not isinstance(value, Mapping) or part not in value:
                return default
            value = value[part]
        return value


@dataclass
class MockedStack:
    resources: list[MockedResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_: str) -> list[MockedResource]:
        return [r for r in self.resources if r.type == type_]

    def named(self, name: str) -> MockedResource:
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]

    def children(self, parent: MockedResource) -> list[MockedResource]:
        return [r for r in self.resources if r.parent == parent.urn]


def _computed(args: MockResourceArgs, project: str) -> tuple[str, dict[str, Any]]:
    """The id and output properties Google would fill in, for the types the program reads."""
    inputs, name = args.inputs, args.name
    suffix = hashlib.sha256(name.encode()).hexdigest()[:7]
    match args.typ:
        case "gcp:serviceaccount/account:Account":
            email = f"{inputs['accountId']}@{project}.iam.gserviceaccount.com"
            resource_name = f"projects/{project}/serviceAccounts/{email}"
            return resource_name, {"email": email, "name": resource_name}
        case "gcp:storage/bucket:Bucket":
            bucket = inputs.get("name") or f"{name}-{suffix}"
            return bucket, {"name": bucket, "url": f"gs://{bucket}"}
        case "gcp:cloudfunctionsv2/function:Function":
            url = f"https://{inputs['name']}-{suffix}-uc.a.run.app"
            return f"projects/{project}/locations/{inputs['location']}/functions/{name}", {
                "url": url
            }
        case "gcp:billing/budget:Budget":
            budget = f"billingAccounts/{inputs['billingAccount']}/budgets/{suffix}"
            return budget, {"name": budget}
        case "gcp:pubsub/topic:Topic":
            return f"projects/{project}/topics/{name}", {"name": name}
        case "gcp:monitoring/notificationChannel:NotificationChannel":
            channel = f"projects/{project}/notificationChannels/{suffix}"
            return channel, {"name": channel}
        case "gcp:artifactregistry/repository:Repository":
            repo = f"projects/{project}/locations/{inputs['location']}/repositories/"
            return repo + inputs["repositoryId"], {"name": inputs["repositoryId"]}
        case "gcp:projects/iAMCustomRole:IAMCustomRole":
            role = f"projects/{project}/roles/{inputs['roleId']}"
            return role, {"name": role}
        case "gcp:bigquery/dataTransferConfig:DataTransferConfig":
            # Google names a config by the project's number and a generated id.
            config = (
                f"projects/{MOCK_PROJECT_NUMBER}/locations/{inputs['location']}"
                f"/transferConfigs/{suffix}"
            )
            return config, {"name": config}
        case "gcp:logging/projectSink:ProjectSink":
            # A unique writer identity: a Google-managed account of Logging's, per sink.
            agent = f"service-{MOCK_PROJECT_NUMBER}@gcp-sa-logging.iam.gserviceaccount.com"
            writer = f"serviceAccount:{agent}"
            return f"projects/{project}/sinks/{inputs['name']}", {"writerIdentity": writer}
        case "gcp:secretmanager/secret:Secret":
            secret = f"projects/{project}/secrets/{inputs['secretId']}"
            return secret, {"name": secret}
        case "gcp:secretmanager/secretVersion:SecretVersion":
            version = f"{inputs['secret']}/versions/1"
            return version, {"name": version, "version": "1"}
    return f"{name}-id", {}


class GoogleMocks(Mocks):
    """Answers each registration and call with the values Google would fill in."""

    def __init__(self, project: str) -> None:
        self._project = project

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        resource_id, computed = _computed(args, self._project)
        return resource_id, {**args.inputs, **computed}

    def call(self, args: MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        # No failures is [], not None: the SDK's mock monitor iterates the list.
        if args.token == GET_PROJECT:
            return {"number": MOCK_PROJECT_NUMBER, "projectId": args.args.get("projectId")}, []
        return {}, []


class RecordingMonitor(MockMonitor):
    """The SDK's mock engine, recording each registration with what ``Mocks`` is not shown.

    ``MockResourceArgs`` carries neither the parent nor the aliases; the request does.
    """

    def __init__(self, mocks: Mocks, stack: MockedStack) -> None:
        super().__init__(mocks)
        self._stack = stack

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # As the engine does (the SDK's mock does not): the root stack is no part of a type.
        if parent.split("::")[2:3] == [ROOT_STACK_TYPE]:
            parent = ""
        return super().make_urn(parent, type_, name)

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the engine's RPC name
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != ROOT_STACK_TYPE:
            self._stack.resources.append(
                MockedResource(
                    type=request.type,
                    name=request.name,
                    inputs=dict(rpc.deserialize_properties(request.object)),
                    urn=response.urn,
                    parent=request.parent,
                    aliases=tuple(self._alias_urn(request, alias) for alias in request.aliases),
                )
            )
        return response

    def _alias_urn(self, request: Any, alias: Any) -> str:
        """The URN an alias spec stands for; unset parts are the resource's own."""
        if alias.WhichOneof("alias") == "urn":
            return str(alias.urn)
        spec = alias.spec
        if spec.stack or spec.project:
            raise NotImplementedError("aliases to another stack or project are not mocked")
        parent = "" if spec.noParent else spec.parentUrn or request.parent
        return self.make_urn(parent, spec.type or request.type, spec.name or request.name)


def use_mocks(
    stack: MockedStack, project: str, config: Mapping[str, str], plain: Collection[str] = ()
) -> None:
    """Route the next program run to mocks that record into ``stack``, with this config, each
    secret key (``Key.secret``) set as ``pulumi config set --secret`` sets it but those named in
    ``plain``."""
    # Pulumi's test runner needs a current event loop; an earlier asyncio.run() in the same
    # process (an async test, an app) leaves none, so each run gets a fresh one.
    asyncio.set_event_loop(asyncio.new_event_loop())
    mocks = GoogleMocks(project)
    pulumi.runtime.set_mocks(
        mocks,
        project=PROJECT_NAME,
        stack=MOCKED_STACK_NAME,
        preview=False,
        monitor=RecordingMonitor(mocks, stack),
    )
    secrets = [k.qualified for k in KEYS if k.secret and k.qualified not in plain]
    pulumi.runtime.set_all_config(dict(config), secrets)


def run_mocked(
    config: Mapping[str, str], source_root: Path = REPO_ROOT, plain: Collection[str] = ()
) -> MockedStack:
    """Run the program with this stack configuration (``key: value``, as in Pulumi.<stack>.yaml),
    archiving the functions' sources from ``source_root``.

    Raises the program's own error (for example a ``SettingsError`` naming a key).
    """
    stack = MockedStack()
    use_mocks(stack, config.get("gcp:project", "unset-project"), config, plain)

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def program() -> pulumi.Output[Any]:
        values = build_stack(settings_from_stack(), source_root).as_dict()
        return pulumi.Output.from_input(values).apply(stack.outputs.update)

    program()
    return stack
