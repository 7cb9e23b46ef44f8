"""The CrossGuard policy pack: ``rules`` wrapped as Pulumi resource and stack validations."""

from collections.abc import Callable
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from infra.policy.rules import (
    RESOURCE_RULES,
    ResourceRule,
    runtime_accounts_have_no_project_grants,
)

PACK_NAME = "event-capture-security"


def resource_validation(
    rule: ResourceRule,
) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in rule.check(args.resource_type, args.props):
            report_violation(message, None)

    return validate


def validate_stack(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    resources: list[tuple[str, Any]] = [(r.resource_type, r.props) for r in args.resources]
    for message in runtime_accounts_have_no_project_grants(resources):
        report_violation(message, None)


def policies() -> list[Any]:
    return [
        *(
            ResourceValidationPolicy(
                name=rule.name, description=rule.description, validate=resource_validation(rule)
            )
            for rule in RESOURCE_RULES
        ),
        StackValidationPolicy(
            name="runtime-accounts-have-no-project-grants",
            description="A function's runtime account is never granted a role on the project.",
            validate=validate_stack,
        ),
    ]


def policy_pack() -> PolicyPack:
    return PolicyPack(
        name=PACK_NAME, enforcement_level=EnforcementLevel.MANDATORY, policies=policies()
    )
