"""Faults on the real emulators, under load: nothing acknowledged is lost or read twice.

The quick version of ``bench/faults.py`` (the harness is ``fault_harness/``): on the session's
cloud, with a dataset and bucket of its own, several threads send uniquely identified events as
a well-behaved client would (the same body again after a 503 or a connection error) while
BigQuery is frozen past its deadline, the function's worker is killed mid-request, and both
backends are down for longer than a request's whole budget. After replay every acknowledged
event must be in the ``_dedup`` views exactly once, and after the archive's backfill every one
must have a line in the archive; the lines killed workers lost are the backfill's to write.
Raw duplicates and duplicate archive lines are only counted. How long
requests wait while a backend is down is the benchmark's figure; here it is held only to the
deployed request timeout (60 s).
"""

from pathlib import Path

import pytest

from event_capture.ingest.answer import capture_answer
from fault_harness.check import check_archive, check_stored
from fault_harness.run import run_scenario
from fault_harness.scenarios import Scenario, bigquery_frozen, both_down, worker_killed
from fault_harness.senders import ACKNOWLEDGED, Batch, Load
from fault_harness.target import Target, prepare
from localcloud.cloud import LocalCloud
from localcloud.sample_events import sample_batch

# Deadlines of a second keep each outage, and so the whole module, short.
QUICK_ENV = {
    "BIGQUERY_DEADLINE_SECONDS": "1",
    "GCS_DEADLINE_SECONDS": "1",
    "REQUEST_DEADLINE_SECONDS": "3",
    "CIRCUIT_COOLDOWN_SECONDS": "1",
}
LOAD = Load(events=100, batch_size=5, senders=4, lead_seconds=0.5, tail_seconds=0.5)
SCENARIOS = [
    bigquery_frozen(frozen_seconds=2.5),
    worker_killed(kills=2, gap_seconds=0.5),
    both_down(beyond_budget_seconds=1.0),
]


@pytest.fixture(scope="module")
def target(cloud: LocalCloud) -> Target:
    return prepare(cloud)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_every_acknowledged_event_is_read_once_after_the_fault_and_replay(
    cloud: LocalCloud, target: Target, scenario: Scenario, tmp_path: Path
) -> None:
    report = run_scenario(
        cloud,
        target,
        scenario,
        load=LOAD,
        function_env=QUICK_ENV,
        log_path=tmp_path / "function.log",
    )

    assert report.problems() == [], report.summary()
    assert report.check.acknowledged == report.check.sent == LOAD.events
    assert report.fault_seen, f"the fault never showed: {report.summary()}"
    if scenario.name == "worker-killed":
        assert any(a.status is None for a in report.attempts), report.notes
        # Each kill lost the lines its worker held: missing until the backfill wrote them.
        assert report.archive.backfilled > 0, report.summary()


def test_the_check_sees_a_lost_event_and_a_raw_copy(cloud: LocalCloud, target: Target) -> None:
    # The negative control: a check that cannot fail would pass the test above as well.
    events = sample_batch(6, users=1)
    search = next(e for e in events if e["event_type"] == "search")
    assert (
        capture_answer(cloud.pipeline(**target.env()).handle(events, batch=True)).status
        in ACKNOWLEDGED
    )
    client = cloud.bigquery_client()
    table = f"{target.datasets.events}.searches"
    [row] = cloud.rows("searches", [search["event_id"]], dataset=target.dataset)
    # A second raw copy without an insertId, as a resend after the de-duplication window.
    schema = client.get_table(table).schema
    assert client.insert_rows(table, [row], selected_fields=schema, row_ids=[None]) == []
    never_stored = sample_batch(1)
    batches = [
        Batch(index=0, events=events, release_at=0, status=200),
        Batch(index=1, events=never_stored, release_at=0, status=200),
    ]

    check = check_stored(cloud, target, batches)

    assert check.missing == [never_stored[0]["event_id"]]
    assert check.raw_duplicates == 1
    assert check.repeated_in_views == []


def test_the_archive_check_sees_a_missing_line_and_a_duplicate_one(
    cloud: LocalCloud, target: Target
) -> None:
    # The archive's negative control: an acknowledged event without a line, and a line twice.
    events = sample_batch(4, users=1)
    pipeline = cloud.pipeline(**target.env())
    assert capture_answer(pipeline.handle(events, batch=True)).status in ACKNOWLEDGED
    pipeline.flush_archive()
    [(name, text)] = [
        (n, t)
        for n, t in cloud.objects("archive/", target.bucket).items()
        if events[0]["event_id"] in t
    ]
    copy = f"{name.removesuffix('.ndjson')}-copy.ndjson"
    cloud.bucket(target.bucket).blob(copy).upload_from_string(text.splitlines()[0] + "\n")
    never_archived = sample_batch(1)
    batches = [
        Batch(index=0, events=events, release_at=0, status=200),
        Batch(index=1, events=never_archived, release_at=0, status=200),
    ]

    check = check_archive(cloud, target, batches, backfilled=0)

    assert check.missing == [never_archived[0]["event_id"]]
    assert check.duplicates == 1
