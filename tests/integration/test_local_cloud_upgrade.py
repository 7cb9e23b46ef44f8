"""make run's data outlives a version: starting the local cloud again brings tables made by an
earlier version to the current definitions in place, as ``pulumi up`` does, rows kept."""

import copy
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from event_capture.tables.definitions import load_table_definitions
from localcloud import bootstrap
from localcloud.cloud import LocalCloud

pytestmark = pytest.mark.integration


def _as_in_1_1_0(definition: dict[str, Any]) -> dict[str, Any]:
    """The table as version 1-1-0 made it: no anonymous_id, a required user and session."""
    old = copy.deepcopy(definition)
    fields = [f for f in old["schema"]["fields"] if f["name"] != "anonymous_id"]
    for field in fields:
        if field["name"] in ("user_id", "session_id"):
            field["mode"] = "REQUIRED"
    old["schema"]["fields"] = fields
    return old


def test_an_earlier_versions_table_is_brought_to_the_current_schema_with_its_rows(
    cloud: LocalCloud,
) -> None:
    client = cloud.bigquery_client()
    dataset = f"upgrade_{uuid.uuid4().hex[:8]}"
    client.create_dataset(dataset)
    [current] = [d for d in load_table_definitions() if d["table_id"] == "searches"]
    table_id = f"{client.project}.{dataset}.searches"
    client.create_table(
        bootstrap.table_from_definition(client.project, dataset, _as_in_1_1_0(current))
    )
    now = datetime.now(UTC).isoformat()
    old_row = {
        "event_id": str(uuid.uuid4()),
        "event_type": "search",
        "user_id": "u_1",
        "session_id": "s_1",
        "occurred_at": now,
        "source": "web",
        "received_at": now,
        "query": "oat milk",
        "intent": "product_lookup",
        "intent_confidence": 0.5,
        "result_count": 3,
    }
    assert client.insert_rows_json(table_id, [old_row]) == []

    bootstrap.create_dataset_and_tables(client, dataset)

    schema = {f.name: f.mode for f in client.get_table(table_id).schema}
    assert (schema["anonymous_id"], schema["user_id"], schema["session_id"]) == ("NULLABLE",) * 3
    new_row = {k: v for k, v in old_row.items() if k not in ("user_id", "session_id", "intent")}
    new_row |= {"event_id": str(uuid.uuid4()), "anonymous_id": "a_1"}
    assert client.insert_rows_json(table_id, [new_row]) == []
    stored = client.query(
        f"SELECT user_id, anonymous_id FROM `{table_id}` WHERE received_at IS NOT NULL "
        "ORDER BY user_id IS NULL"
    ).result()
    assert [(r["user_id"], r["anonymous_id"]) for r in stored] == [("u_1", None), (None, "a_1")]
