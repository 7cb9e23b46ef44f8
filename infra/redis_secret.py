"""``redisUrl`` in Secret Manager, readable by each function that talks to Redis and no one else.

The URL may carry a password (``rediss://:<password>@host``). As a plain environment variable
it would be readable by anyone who may view a function's configuration; as a secret it is
resolved by Cloud Run when an instance starts, and only the accounts granted access to this one
secret can read it.

The functions name the version Pulumi created, not ``latest``. A new ``redisUrl`` makes a new
version, which changes every reading function's configuration, so ``pulumi up`` deploys new
revisions that all start with the new URL; the old version is destroyed after them. With
``latest`` nothing would be redeployed: running instances would keep the old URL and only new
ones would get the new one, a mix that lasts until the last old instance stops.
"""

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra.apis import after
from infra.secret_values import accessor_grant, project_number, regional_secret, secret_variable

SECRET_ID = "redis-url"  # noqa: S105 - the secret's name
VARIABLE = "REDIS_URL"


@dataclass(frozen=True, kw_only=True)
class RedisSecretArgs:
    project: str
    region: str
    redis_url: str
    # The runtime account of each function that reads the URL, by function name.
    readers: dict[str, pulumi.Input[str]]
    labels: dict[str, str]


class RedisSecret(pulumi.ComponentResource):
    secret: gcp.secretmanager.Secret
    version: gcp.secretmanager.SecretVersion
    # Each reading function's grant, by function name: it is deployed once its grant exists.
    grants: dict[str, gcp.secretmanager.SecretIamMember]

    def __init__(
        self,
        name: str,
        args: RedisSecretArgs,
        *,
        apis: list[gcp.projects.Service],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("event-capture:features:RedisSecret", name, None, opts)
        child = after(apis, self)
        self.secret, self.version = regional_secret(
            SECRET_ID,
            project=args.project,
            region=args.region,
            value=args.redis_url,
            labels=args.labels,
            opts=child,
        )
        self.grants = {
            who: accessor_grant(
                f"{who}-reads-{SECRET_ID}",
                project=args.project,
                secret=self.secret,
                member=member,
                opts=child,
            )
            for who, member in args.readers.items()
        }
        self._project_number = project_number(args.project)
        self.register_outputs({"secret": self.secret.id, "version": self.version.version})

    def variable(self) -> gcp.cloudfunctionsv2.FunctionServiceConfigSecretEnvironmentVariableArgs:
        """``REDIS_URL`` for a function's ``secret_environment_variables``."""
        return secret_variable(
            VARIABLE, number=self._project_number, secret=self.secret, version=self.version
        )
