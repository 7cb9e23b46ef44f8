"""Entry point for ``pulumi preview --policy-pack infra/policy``.

Pulumi runs this with ``infra/policy/.venv``'s Python (``PulumiPolicy.yaml``), whose
``event-capture.pth`` (written by ``make deploy-venvs``) puts the repository root on the path, so
the rules import as ``infra.policy.rules``, as the tests import them. Nothing else of the program
is imported, so the pack needs only pulumi-policy.
"""

from infra.policy.pack import policy_pack

policy_pack()
