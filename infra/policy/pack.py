"""The CrossGuard policy pack: ``rules`` wrapped as Pulumi resource and stack validations."""

from collections.abc import Callable, Mapping, Sequence
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
from pulumi_policy.proxy import UnknownValueError

from infra.policy.rules import RESOURCE_RULES, STACK_RULES, ResourceRule, StackRule

PACK_NAME = "event-capture-security"


def plain(value: Any) -> Any:
    """Properties as the rules read them: dicts and lists, None for a value still unknown at
    preview (not judged, as ``rules`` says).

    Pulumi hands validators proxies that raise on reading an unknown value, which would stop a
    rule for the whole resource, or for a stack rule the whole stack, as soon as one grant's
    member is the e-mail of an account not created yet; and its lists are no ``list``.
    """
    if isinstance(value, Mapping):
        return {key: _read(value, key) for key in value}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_read(value, index) for index in range(len(value))]
    return value


def _read(container: Any, key: Any) -> Any:
    try:
        return plain(container[key])
    except UnknownValueError:
        return None


def resource_validation(
    rule: ResourceRule,
) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        for message in rule.check(args.resource_type, plain(args.props)):
            report_violation(message, None)

    return validate


def stack_validation(rule: StackRule) -> Callable[[StackValidationArgs, ReportViolation], None]:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [(r.resource_type, plain(r.props)) for r in args.resources]
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
