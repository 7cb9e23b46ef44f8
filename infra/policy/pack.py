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

from infra.policy.rules import RESOURCE_RULES, STACK_RULES, ResourceRule, StackRule

PACK_NAME = "event-capture-security"


def resource_validation(
    rule: ResourceRule,
) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in rule.check(args.resource_type, args.props):
            report_violation(message, None)

    return validate


def stack_validation(rule: StackRule) -> Callable[[StackValidationArgs, ReportViolation], None]:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources: list[tuple[str, Any]] = [(r.resource_type, r.props) for r in args.resources]
        for message in rule.check(resources):
            report_violation(message, None)

    return validate


def policies() -> list[Any]:
    return [
        *(
            ResourceValidationPolicy(
                name=rule.name, description=rule.description, validate=resource_validation(rule)
            )
            for rule in RESOURCE_RULES
        ),
        *(
            StackValidationPolicy(
                name=rule.name, description=rule.description, validate=stack_validation(rule)
            )
            for rule in STACK_RULES
        ),
    ]


def policy_pack() -> PolicyPack:
    return PolicyPack(
        name=PACK_NAME, enforcement_level=EnforcementLevel.MANDATORY, policies=policies()
    )
