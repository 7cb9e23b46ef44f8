"""Renamed components keep the URNs an existing deployment knows them by.

Pulumi matches a deployment's state to the program by URN (stack, project, parent types, type,
name). A component renamed without an alias is a new one to Pulumi: ``pulumi up`` would delete
the old one and everything under it; for the event tables, the dataset and every row captured.
"""

from event_capture.tables.definitions import load_table_definitions
from infra.settings import PROJECT_NAME
from tools.mocked_stack import MOCKED_STACK_NAME, MockedStack

PREFIX = f"urn:pulumi:{MOCKED_STACK_NAME}::{PROJECT_NAME}::"
# The components' URNs as deployed before the event tables stopped being called "warehouse".
DEPLOYED_COMPONENTS = {
    f"{PREFIX}event-capture:warehouse:EventTables::warehouse",
    f"{PREFIX}event-capture:identity:ServiceAccounts::identity",
    f"{PREFIX}event-capture:warehouse:Warehouse::warehouse-layer",
    f"{PREFIX}event-capture:warehouse:ScheduledQueries::scheduled-queries",
    f"{PREFIX}event-capture:storage:EventBuckets::storage",
    f"{PREFIX}event-capture:function:CaptureFunction::capture-function",
    f"{PREFIX}event-capture:monitoring:AlertPolicies::alerts",
    f"{PREFIX}event-capture:monitoring:LogMetrics::log-metrics",
    f"{PREFIX}event-capture:cost:BudgetAlerts::cost",
    f"{PREFIX}event-capture:identity:Access::access",
}
# Components added since, in the default stack: nothing was deployed under another URN.
ADDED_COMPONENTS = {
    f"{PREFIX}event-capture:cost:CostGuard::guard",
    f"{PREFIX}event-capture:monitoring:CaptureLogSink::capture-log-sink",
    f"{PREFIX}event-capture:archive:ArchiveBackfill::scheduled-backfill",
    f"{PREFIX}event-capture:privacy:Forget::forget-users",
}


def test_the_event_tables_carry_an_alias_to_the_urn_they_were_deployed_under(
    stack: MockedStack,
) -> None:
    tables = stack.named("event-tables")

    assert tables.type == "event-capture:tables:EventTables"
    assert tables.urn == f"{PREFIX}event-capture:tables:EventTables::event-tables"
    assert tables.aliases == (f"{PREFIX}event-capture:warehouse:EventTables::warehouse",)


def test_the_event_tables_children_keep_their_names_and_so_follow_the_alias(
    stack: MockedStack,
) -> None:
    """The engine derives each child's alias from its parent's; names stay what Google sees."""
    children = stack.children(stack.named("event-tables"))

    assert sorted((c.type, c.name) for c in children) == sorted(
        [
            ("gcp:bigquery/dataset:Dataset", "events"),
            *(("gcp:bigquery/table:Table", d["table_id"]) for d in load_table_definitions()),
        ]
    )
    assert all(not c.aliases for c in children)


def test_every_deployed_component_is_still_declared_under_its_urn_or_an_alias(
    stack: MockedStack,
) -> None:
    known = {r.urn for r in stack.resources} | {a for r in stack.resources for a in r.aliases}
    components = [r for r in stack.resources if r.type.startswith("event-capture:")]

    assert known >= DEPLOYED_COMPONENTS
    assert {r.urn for r in components} >= ADDED_COMPONENTS
    assert len(components) == len(DEPLOYED_COMPONENTS) + len(ADDED_COMPONENTS)
    # An alias must not be another resource's current URN: Pulumi would refuse the run.
    assert not {a for r in stack.resources for a in r.aliases} & {r.urn for r in stack.resources}
