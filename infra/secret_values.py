"""A stack setting kept in Secret Manager and read by a function as a secret variable.

What every such secret shares (the Redis URL, the collector's write keys, webhook and user-id
secrets):
replicated only in the stack's region, one version holding the value as a Pulumi secret (so the
state keeps it encrypted), one ``secretAccessor`` grant per reading account on that secret alone,
and a variable that names the version Pulumi created rather than ``latest``, so a new value
redeploys every reader (see ``redis_secret.py``).
"""

import pulumi
import pulumi_gcp as gcp

ACCESSOR = "roles/secretmanager.secretAccessor"


def regional_secret(
    secret_id: str,
    *,
    project: str,
    region: str,
    value: str,
    labels: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> tuple[gcp.secretmanager.Secret, gcp.secretmanager.SecretVersion]:
    """The secret ``secret_id`` and its version, named ``<secret_id>-value``, holding ``value``."""
    secret = gcp.secretmanager.Secret(
        secret_id,
        project=project,
        secret_id=secret_id,
        # Kept where the functions are, like every other piece of data.
        replication=gcp.secretmanager.SecretReplicationArgs(
            user_managed=gcp.secretmanager.SecretReplicationUserManagedArgs(
                replicas=[
                    gcp.secretmanager.SecretReplicationUserManagedReplicaArgs(location=region)
                ]
            )
        ),
        labels=labels,
        opts=opts,
    )
    version = gcp.secretmanager.SecretVersion(
        f"{secret_id}-value",
        secret=secret.id,
        secret_data=pulumi.Output.secret(value),
        opts=opts,
    )
    return secret, version


def accessor_grant(
    name: str,
    *,
    project: str,
    secret: gcp.secretmanager.Secret,
    member: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> gcp.secretmanager.SecretIamMember:
    """``member`` may read this one secret's versions, and no other secret."""
    return gcp.secretmanager.SecretIamMember(
        name,
        project=project,
        secret_id=secret.secret_id,
        role=ACCESSOR,
        member=member,
        opts=opts,
    )


def project_number(project: str) -> pulumi.Output[str]:
    """What a secret variable's ``project_id`` wants: given the id, the API answers with the
    number, which would read as a change on every run."""
    return gcp.organizations.get_project_output(project_id=project).number


def secret_variable(
    key: str,
    *,
    number: pulumi.Input[str],
    secret: gcp.secretmanager.Secret,
    version: gcp.secretmanager.SecretVersion,
) -> gcp.cloudfunctionsv2.FunctionServiceConfigSecretEnvironmentVariableArgs:
    """The variable ``key`` of a function's ``secret_environment_variables``: this version."""
    return gcp.cloudfunctionsv2.FunctionServiceConfigSecretEnvironmentVariableArgs(
        key=key, project_id=number, secret=secret.secret_id, version=version.version
    )
