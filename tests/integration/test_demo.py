"""``make demo``, scaled down, on a local cloud of its own datasets: the shop goes through a real
collector (both keys, the backend's proofs) and capture function, every call and event is
stored, the last two nights are built, and every query of the report returns rows.
"""

import datetime as dt
from pathlib import Path

from event_capture.report import capture_log
from event_capture.report.queries import Period, Sources, fetch
from event_capture.warehouse.render import Datasets
from localcloud import bootstrap
from localcloud.cloud import LocalCloud
from localcloud.demo_shop import Channel, plan_shop
from localcloud.log_sink import route_files
from localcloud.run import LOCAL_USER_ID_SECRET, LOCAL_WRITE_KEYS
from tests.integration.conftest import PROJECT
from tools.demo import Summary, build_warehouse, send_shop

EVENTS = "demo_events"
# Fifteen users over two nights' days cannot meet the deployed k of 5 (the rule has tests of its own
# in warehouse/); here every query's shape is what is checked.
DATASETS = Datasets(f"{PROJECT}.{EVENTS}", f"{PROJECT}.demo_analytics", min_users=1)


def test_a_small_demo_fills_every_chart_of_the_report(cloud: LocalCloud, tmp_path: Path) -> None:
    client = cloud.bigquery_client()
    bootstrap.create_dataset_and_tables(client, EVENTS)
    own = {"BIGQUERY_DATASET": EVENTS}
    logs = [tmp_path / "capture.log", tmp_path / "collector.log"]
    function = cloud.start_function(env=own, log_path=logs[0])
    collector = cloud.start_collector(
        write_keys=LOCAL_WRITE_KEYS,
        env=own | {"COLLECTOR_USER_ID_SECRETS": LOCAL_USER_ID_SECRET},
        log_path=logs[1],
    )
    today = dt.datetime.now(dt.UTC).date()
    plan = plan_shop(
        end=dt.datetime.combine(today, dt.time(), dt.UTC),
        secret=LOCAL_USER_ID_SECRET,
        users=15,
        days=10,
    )
    summary = Summary(plan=plan)
    send_shop(
        plan,
        collector_url=collector.url,
        function_url=function.url + "/",
        now=lambda: dt.datetime.now(dt.UTC),
        summary=summary,
    )
    calls = sum(1 for send in plan.sends if send.channel is not Channel.CAPTURE)
    tally = summary.collector
    assert (tally.received, tally.accepted, tally.rejected) == (calls, calls, 0), tally
    assert summary.capture_delivered == len(plan.sends) - calls
    assert summary.capture_rejected == 0

    # The last two nights alone: yesterday's daily rows, and a snapshot with the whole history.
    runs, _ = build_warehouse(
        client,
        DATASETS,
        first_run=today - dt.timedelta(days=1),
        last_run=today,
        progress=lambda _: None,
    )
    assert runs == 2
    log_table = capture_log.table_id(PROJECT, "demo_capture_logs")
    assert route_files(client, log_table, logs) > 0
    data = fetch(
        client,
        Sources(datasets=DATASETS, capture_log_table=log_table),
        Period.ending(today, 28),
    )
    assert data.searches and data.zero_results and data.top_products
    assert data.reorder and data.quality and data.capture
    assert all(step["people"] > 0 for step in data.funnel), data.funnel
    # Anonymous visits, some of them on devices that later logged in.
    assert sum(day["linked_devices"] for day in data.journeys) > 0, data.journeys
