"""The IAM proof on the whole stack, and its negative controls: each kind of failure made once by
changing one resource of the stack (or one entry of the data) and found by name."""

from dataclasses import replace
from typing import Any

import pytest

from tools.iam_proof import Permissions, declared_calls, prove, report
from tools.mocked_stack import MockedResource, MockedStack
from tools.sample_stacks import PROJECT

CAPTURE = f"serviceAccount:capture-runtime@{PROJECT}.iam.gserviceaccount.com"
APP = "serviceAccount:shop-app@shop.iam.gserviceaccount.com"


def without(stack: MockedStack, name: str) -> MockedStack:
    kept = [r for r in stack.resources if r.name != name]
    assert len(kept) == len(stack.resources) - 1, name
    return MockedStack(resources=kept, outputs=stack.outputs)


def changed(stack: MockedStack, name: str, **inputs: Any) -> MockedStack:
    return MockedStack(
        resources=[
            replace(r, inputs={**r.inputs, **inputs}) if r.name == name else r
            for r in stack.resources
        ],
        outputs=stack.outputs,
    )


def with_grant(stack: MockedStack, resource: MockedResource) -> MockedStack:
    return MockedStack(resources=[*stack.resources, resource], outputs=stack.outputs)


def test_every_need_of_the_whole_stack_is_granted_and_every_grant_needed(
    stack_with_everything: MockedStack,
) -> None:
    proof = prove(stack_with_everything, PROJECT)

    assert proof.failures == []
    capture = proof.accounts[CAPTURE]
    assert {n.why for n in capture.needs} >= {
        "function capture: bigquery.tabledata.insertAll",
        "function capture: storage.objects.insert",
        "function capture: storage.objects.get",
    }
    assert {g.role for g in capture.grants} >= {
        f"projects/{PROJECT}/roles/eventCaptureInserter",
        f"projects/{PROJECT}/roles/eventCaptureDatasetMetadata",
        f"projects/{PROJECT}/roles/eventCaptureObjectWriter",
    }


def test_a_permission_no_grant_covers_fails_naming_account_permission_and_call(
    stack_with_everything: MockedStack,
) -> None:
    """The dataset-level grant insertAll needs (bigquery.datasets.get), taken away."""
    stack = without(stack_with_everything, "runtime-reads-events-dataset-metadata")

    failures = prove(stack, PROJECT).failures

    assert failures == [
        f"{CAPTURE}: bigquery.datasets.get on project/dataset:events is granted by nothing "
        "(function capture: bigquery.tabledata.insertAll)"
    ]


def test_a_role_narrower_than_the_call_fails(stack_with_everything: MockedStack) -> None:
    """Storage Object Creator on the archive: it cannot read back an object after a 412."""
    stack = changed(
        stack_with_everything, "runtime-creates-archive", role="roles/storage.objectCreator"
    )

    failures = prove(stack, PROJECT).failures

    assert failures == [
        f"{CAPTURE}: storage.objects.get on project/bucket:events-archive is granted by nothing "
        "(function capture: storage.objects.get)"
    ]


def test_a_role_that_does_not_exist_fails(stack_with_everything: MockedStack) -> None:
    stack = changed(
        stack_with_everything, "trigger-calls-materializer", role="roles/run.invokerOfAll"
    )

    failures = prove(stack, PROJECT).failures

    assert (
        "trigger-calls-materializer: role roles/run.invokerOfAll exists neither in "
        "infra/iam/roles.json (iam-dataset) nor among the stack's custom roles"
    ) in failures


def test_a_grant_on_a_resource_the_account_never_touches_fails(
    stack_with_everything: MockedStack,
) -> None:
    """The warehouse account's read grants of the _dedup views, which no script reads."""
    [template] = [r for r in stack_with_everything.resources if r.name == "warehouse-reads-orders"]
    extra = replace(
        template,
        name="warehouse-reads-orders_dedup",
        inputs={**template.inputs, "tableId": "orders_dedup"},
    )

    failures = prove(with_grant(stack_with_everything, extra), PROJECT).failures

    assert failures == [
        f"warehouse-reads-orders_dedup: serviceAccount:warehouse-queries@{PROJECT}"
        ".iam.gserviceaccount.com holds roles/bigquery.dataViewer on "
        "project/dataset:events/table:orders_dedup, which nothing it runs touches"
    ]


def test_a_call_no_data_maps_fails(stack_with_everything: MockedStack) -> None:
    data = Permissions.load()
    exceptions = {k: v for k, v in data.exceptions.items() if k != "run.routes.invoke"}

    failures = prove(stack_with_everything, PROJECT, replace(data, exceptions=exceptions)).failures

    assert (
        "the app, calling capture: run.routes.invoke (in neither methods.json nor exceptions.json)"
    ) in failures


def test_a_scheduled_script_needs_reads_of_what_it_names_and_writes_of_its_table(
    stack_with_everything: MockedStack,
) -> None:
    warehouse = f"serviceAccount:warehouse-queries@{PROJECT}.iam.gserviceaccount.com"
    needs = prove(stack_with_everything, PROJECT).accounts[warehouse].needs
    written = {
        n.resource[-1]
        for n in needs
        if n.permission == "bigquery.tables.updateData" and "search_daily" in n.why
    }
    read = {
        n.resource[-1]
        for n in needs
        if n.permission == "bigquery.tables.getData" and "search_daily" in n.why
    }

    assert written == {"table:search_daily"}
    assert {"table:searches", "table:product_interactions"} <= read


def test_the_surplus_of_each_account_is_printed(stack_with_everything: MockedStack) -> None:
    """Token Creator instead of OpenID Token Creator: everything but getOpenIdToken is surplus."""
    stack = changed(
        stack_with_everything, "app-0-acts-as-invoker", role="roles/iam.serviceAccountTokenCreator"
    )

    lines = report(prove(stack, PROJECT))

    block = lines[lines.index(APP) :][:8]
    [surplus] = [line for line in block if line.startswith("  surplus:")]
    assert "iam.serviceAccounts.signBlob" in surplus
    assert "iam.serviceAccounts.getOpenIdToken" not in surplus


def test_the_operators_run_replay_and_need_what_it_calls(
    stack_with_everything: MockedStack,
) -> None:
    operator = "group:data-team@example.com"

    needs = prove(stack_with_everything, PROJECT).accounts[operator].needs

    assert {n.permission for n in needs} >= {
        "bigquery.tables.updateData",
        "bigquery.datasets.get",
        "storage.objects.delete",
        "bigquery.jobs.create",
    }


@pytest.mark.parametrize(
    ("module", "method"),
    [
        ("event_capture.ingest.insert_all", "bigquery.tabledata.insertAll"),
        ("event_capture.cost_guard.archive_load", "bigquery.jobs.insert#load"),
        (
            "event_capture.cost_guard.scheduled_queries",
            "bigquerydatatransfer.projects.locations.transferConfigs.patch",
        ),
    ],
)
def test_a_module_declares_the_calls_it_makes(module: str, method: str) -> None:
    assert method in {call.method for call in declared_calls([module])}
