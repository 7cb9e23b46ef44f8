"""Exactly once over HTTP: every accepted event is in BigQuery or in the dead-letter area, once.

Concurrent batches of every family go to a real function on the session's cloud; the last
request is sent again on purpose, as a client that never saw the answer would, and its
insertIds must keep it from being stored twice. The function answers 200 only once an event is
durable in one of the two places (a BigQuery insert that runs past its deadline is
dead-lettered), so an accepted event that is in neither is lost.
"""

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from event_capture.ingest.sinks import dead_letter
from event_capture.schemas.families import FAMILIES, MODEL_BY_EVENT_TYPE
from localcloud.cloud import LocalCloud
from localcloud.processes import Service
from localcloud.sample_events import sample_batch, sample_event

BATCHES = 8
BATCH_SIZE = 40


@pytest.fixture(scope="module")
def function(cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    log_path: Path = tmp_path_factory.mktemp("exactly-once") / "function.log"
    service = cloud.start_function(log_path=log_path, env={"WORKERS": "1", "THREADS": "8"})
    try:
        yield service
    finally:
        service.stop()


def post(url: str, batch: list[dict[str, Any]]) -> int:
    with requests.Session() as session:
        response = session.post(url, json={"events": batch}, timeout=120)
        return response.status_code


def by_table(events: list[dict[str, Any]]) -> dict[str, set[str]]:
    ids: dict[str, set[str]] = {}
    for event in events:
        ids.setdefault(MODEL_BY_EVENT_TYPE[event["event_type"]].TABLE, set()).add(event["event_id"])
    return ids


def misplaced(cloud: LocalCloud, accepted: dict[str, set[str]]) -> dict[str, dict[str, set[str]]]:
    """Per table, the accepted event ids stored more than once in BigQuery, and those neither
    in BigQuery nor in the dead-letter area; empty when every one is stored exactly once."""
    dead_lettered = {
        (entry.row.table, entry.row.event_id)
        for text in cloud.objects("dead-letter/").values()
        for entry in dead_letter.decode(text)
    }
    found = {}
    for table, ids in accepted.items():
        copies = Counter(row["event_id"] for row in cloud.rows(table, sorted(ids)))
        duplicated = {event_id for event_id, count in copies.items() if count > 1}
        missing = {i for i in ids if i not in copies and (table, i) not in dead_lettered}
        if duplicated or missing:
            found[table] = {"duplicated": duplicated, "missing": missing}
    return found


def test_accepted_events_are_stored_once_even_when_the_last_request_is_resent(
    cloud: LocalCloud, function: Service
) -> None:
    events = sample_batch(BATCHES * BATCH_SIZE, users=25)
    # Links too: every seventh event a device's login.
    events[::7] = [sample_event("identify", event["user_id"]) for event in events[::7]]
    batches = [events[start : start + BATCH_SIZE] for start in range(0, len(events), BATCH_SIZE)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(lambda batch: post(function.url, batch), batches))
    resent = post(function.url, batches[-1])

    assert statuses == [200] * BATCHES and resent == 200
    accepted = by_table(events)
    assert set(accepted) == {model.TABLE for model in FAMILIES}
    assert misplaced(cloud, accepted) == {}


def test_the_check_sees_a_lost_event_and_a_second_copy(
    cloud: LocalCloud, function: Service
) -> None:
    # The negative control: without it, a check that can never fail would pass the test above.
    events = sample_batch(2, users=1)
    assert post(function.url, events) == 200
    search = next(e for e in events if e["event_type"] == "search")
    client = cloud.bigquery_client()
    table = f"{cloud.settings.project}.{cloud.settings.dataset}.searches"
    [row] = cloud.rows("searches", [search["event_id"]])
    # A copy without an insertId, as a retry after the de-duplication window would store.
    schema = client.get_table(table).schema
    assert client.insert_rows(table, [row], selected_fields=schema, row_ids=[None]) == []
    never_sent = "00000000-0000-4000-8000-000000000001"
    accepted = by_table(events) | {"orders": {never_sent}}

    assert misplaced(cloud, accepted) == {
        "searches": {"duplicated": {search["event_id"]}, "missing": set()},
        "orders": {"duplicated": set(), "missing": {never_sent}},
    }
