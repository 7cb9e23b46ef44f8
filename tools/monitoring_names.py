"""Every metric type, monitored resource type and label the stack's alert policies, dashboard,
log-based metrics, log sink and log exclusions filter on, checked against Google's published names
(``infra/monitoring/google_names.json``) and the stack's own log-based metrics, so an alert
cannot silently watch a metric, a resource or a label that does not exist.

A Google metric must be listed, on the resource type the filter names, with the labels it
filters or groups by; a log-based metric (``logging.googleapis.com/user/<name>``) must be one
the stack defines, with those labels among its label extractors, on the resource type its own
filter selects. A resource's labels must be the resource type's. PromQL in the dashboard is
read the same way, through Google's mapping of metric types to PromQL names.

    python -m tools.monitoring_names
"""

import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.function_source import REPO_ROOT
from tools.mocked_stack import MockedStack, run_mocked
from tools.sample_stacks import WITH_EVERYTHING

NAMES = REPO_ROOT / "infra" / "monitoring" / "google_names.json"
USER_PREFIX = "logging.googleapis.com/user/"
METRIC = re.compile(r'metric\.type\s*=\s*"([^"]+)"')
RESOURCE = re.compile(r'resource\.type\s*=\s*"([^"]+)"')
METRIC_LABEL = re.compile(r'metric\.labels?\."?(\w+)"?')
RESOURCE_LABEL = re.compile(r'resource\.labels?\."?(\w+)"?')
PROMQL_SERIES = re.compile(r"([a-zA-Z_][\w]*:[\w]+)\s*\{([^}]*)\}")
PROMQL_MATCHER = re.compile(r'(\w+)\s*[=!]~?\s*"')
# PromQL names a distribution metric's parts with these suffixes.
PROMQL_SUFFIXES = ("", "_sum", "_count", "_bucket")


@dataclass(frozen=True)
class Reference:
    where: str
    metrics: frozenset[str] = frozenset()
    resources: frozenset[str] = frozenset()
    metric_labels: frozenset[str] = frozenset()
    resource_labels: frozenset[str] = frozenset()


@dataclass(frozen=True)
class LogMetric:
    labels: frozenset[str]
    resources: frozenset[str]


@dataclass
class Names:
    metrics: Mapping[str, Mapping[str, Any]]
    resources: Mapping[str, Mapping[str, Any]]
    log_metrics: dict[str, LogMetric] = field(default_factory=dict)

    @classmethod
    def of(cls, stack: MockedStack) -> "Names":
        published = json.loads(NAMES.read_text())
        names = cls(published["metrics"], published["resources"])
        for metric in stack.of_type("gcp:logging/metric:Metric"):
            labels = metric.get("metricDescriptor.labels", [])
            names.log_metrics[USER_PREFIX + metric.inputs["name"]] = LogMetric(
                labels=frozenset(label["key"] for label in labels),
                resources=frozenset(RESOURCE.findall(metric.inputs["filter"])),
            )
        return names

    def promql(self) -> dict[str, str]:
        """Each known metric type by its PromQL name: ``run.googleapis.com/request_count`` is
        ``run_googleapis_com:request_count`` (the domain's dots and the path's slashes become
        underscores, the first slash a colon)."""
        found = {}
        for metric in [*self.metrics, *self.log_metrics]:
            domain, _, path = metric.partition("/")
            name = f"{domain.replace('.', '_')}:{path.replace('/', '_')}"
            for suffix in PROMQL_SUFFIXES:
                found[name + suffix] = metric
        return found


def _from_filter(where: str, text: str, group_by: list[str]) -> Reference:
    fields = " ".join([text, *group_by])
    return Reference(
        where,
        frozenset(METRIC.findall(text)),
        frozenset(RESOURCE.findall(text)),
        frozenset(METRIC_LABEL.findall(fields)),
        frozenset(RESOURCE_LABEL.findall(fields)),
    )


def _group_by(value: Any) -> list[str]:
    """Every groupByFields entry under ``value``."""
    found: list[str] = []
    if isinstance(value, Mapping):
        for key, inner in value.items():
            found += list(inner) if key == "groupByFields" else _group_by(inner)
    elif isinstance(value, list):
        for inner in value:
            found += _group_by(inner)
    return found


def _walk(where: str, value: Any, names: Names) -> Iterator[Reference]:
    """The references in a resource's inputs: each filter with the group-by fields beside it
    (a denominator with its own), and each PromQL query."""
    if isinstance(value, Mapping):
        if isinstance(value.get("filter"), str):
            rest = {k: v for k, v in value.items() if not k.startswith("denominator")}
            yield _from_filter(where, value["filter"], _group_by(rest))
        if isinstance(value.get("denominatorFilter"), str):
            group_by = _group_by(value.get("denominatorAggregations", []))
            yield _from_filter(f"{where} (denominator)", value["denominatorFilter"], group_by)
        for key, inner in value.items():
            if key in ("prometheusQuery", "query") and isinstance(inner, str):
                yield from _promql(where, inner, names)
            elif key not in ("filter", "denominatorFilter"):
                yield from _walk(where, inner, names)
    elif isinstance(value, list):
        for inner in value:
            yield from _walk(where, inner, names)


def _promql(where: str, query: str, names: Names) -> Iterator[Reference]:
    by_name = names.promql()
    for series, matchers in PROMQL_SERIES.findall(query):
        labels = set(PROMQL_MATCHER.findall(matchers))
        resource = re.findall(r'monitored_resource\s*=\s*"([^"]+)"', matchers)
        labels.discard("monitored_resource")
        metric = by_name.get(series, f"(PromQL {series}, no known metric)")
        # PromQL flattens metric and resource labels into one set.
        resource_labels = {
            label
            for label in labels
            for r in resource
            if label in names.resources.get(r, {}).get("labels", [])
        }
        yield Reference(
            f"{where} (PromQL)",
            frozenset({metric}),
            frozenset(resource),
            frozenset(labels - resource_labels),
            frozenset(resource_labels),
        )


def references(stack: MockedStack, names: Names) -> list[Reference]:
    found: list[Reference] = []
    for resource in stack.resources:
        kind = resource.type.split(":")[-1]
        inputs: Any = resource.inputs
        if resource.type == "gcp:monitoring/dashboard:Dashboard":
            inputs = json.loads(resource.inputs["dashboardJson"])
        elif resource.type not in (
            "gcp:monitoring/alertPolicy:AlertPolicy",
            "gcp:logging/metric:Metric",
            "gcp:logging/projectSink:ProjectSink",
            "gcp:logging/projectExclusion:ProjectExclusion",
        ):
            continue
        found += _walk(f"{kind} {resource.name}", inputs, names)
    return found


def check(reference: Reference, names: Names) -> list[str]:
    problems = []
    resource_labels: set[str] = set()
    for resource in reference.resources:
        if resource not in names.resources:
            problems.append(f"resource type {resource} is not a monitored resource type")
        else:
            resource_labels |= set(names.resources[resource]["labels"])
    if reference.resources:
        for label in sorted(reference.resource_labels - resource_labels):
            problems.append(
                f"resource label {label} is not a label of {_names(reference.resources)}"
            )
    for metric in reference.metrics:
        if metric in names.log_metrics:
            log_metric = names.log_metrics[metric]
            labels, resources = log_metric.labels, log_metric.resources
            what = f"log-based metric {metric}"
        elif metric in names.metrics:
            labels = frozenset(names.metrics[metric]["labels"])
            resources = frozenset(names.metrics[metric]["resource_types"])
            what = f"metric {metric}"
        else:
            problems.append(
                f"metric {metric} is neither Google's nor a log-based metric of the stack"
            )
            continue
        for label in sorted(reference.metric_labels - labels):
            problems.append(f"metric label {label} is not a label of {what}")
        for resource in sorted(reference.resources - resources):
            problems.append(f"{what} is not written on resource type {resource}")
        if not reference.resources and reference.resource_labels - _labels_of(resources, names):
            extra = sorted(reference.resource_labels - _labels_of(resources, names))
            problems.append(
                f"resource labels {', '.join(extra)} are not labels of {what}'s resources"
            )
    return [f"{reference.where}: {problem}" for problem in problems]


def _labels_of(resources: frozenset[str], names: Names) -> set[str]:
    return {label for r in resources for label in names.resources.get(r, {}).get("labels", [])}


def _names(values: frozenset[str]) -> str:
    return " or ".join(sorted(values))


def main() -> int:
    stack = run_mocked(WITH_EVERYTHING)
    names = Names.of(stack)
    found = references(stack, names)
    failures = [problem for reference in found for problem in check(reference, names)]
    metrics = {m for r in found for m in r.metrics}
    resources = {t for r in found for t in r.resources}
    labels = sum(len(r.metric_labels) + len(r.resource_labels) for r in found)
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    print(
        f"Monitoring names: {len(found)} filters and queries, {len(metrics)} metric types, "
        f"{len(resources)} resource types, {labels} label uses, {len(failures)} failures"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
