"""cost.model: the bill's arithmetic on made-up measurements. The ``make cost`` command is
tests/unit/tools/test_cost.py."""

import dataclasses
from typing import Any

import pytest

from event_capture.contracts.archive_layout import (
    BACKFILL_EVERY_MINUTES,
    BACKFILL_LOOKBACK_HOURS,
    FLUSH_SECONDS,
)
from event_capture.contracts.bigquery_writes import WRITE_API_BY_DEFAULT
from event_capture.contracts.capture_config import CaptureConfig
from event_capture.cost import model, prices
from event_capture.cost.model import (
    Assumptions,
    Bill,
    FunctionSize,
    History,
    Measurements,
    NightlyRead,
    TableSize,
    bill,
)
from event_capture.warehouse.catalog import EVENT_TABLES, SCHEDULED_TABLES

SIZE = FunctionSize(memory_gib=0.5, vcpus=1.0, concurrency=8)
# Each path named, so the tests do not follow the capture function's default.
BASE = Assumptions(capture=SIZE, features=SIZE, materializer=SIZE, bigquery_api="write-api")
INSERT_ALL = BASE.with_(bigquery_api="insert-all")


def measurements(**changes: Any) -> Measurements:
    measured = Measurements(
        measured_on="2026-12-01",
        tables={"search": "searches", "order_placed": "orders"},
        row_bytes={"search": [200, 200], "order_placed": [300, 300]},
        archive_bytes={"search": 400.0, "order_placed": 500.0},
        log_line_bytes=700.0,
        log_line_bytes_per_type=40.0,
        emulator_num_bytes={},
        history=History(
            days=90, events_per_day=1000, users=50, mix={"search": 0.5, "order_placed": 0.5}
        ),
        nightly=[
            NightlyRead(script="user_daily", statement=1, table="events.searches", rows=1, bytes=1)
        ],
        scheduled_tables={
            spec.name: TableSize(rows=10, bytes=1_000, partitions=1) for spec in SCHEDULED_TABLES
        },
    )
    return dataclasses.replace(measured, **changes)


def line(result: Bill, item: str) -> model.Line:
    [found] = [line for line in result.lines if line.usage.item == item]
    return found


# --- ingestion: insertAll ----------------------------------------------------------------------


def test_rows_under_1_kb_are_billed_as_1_kb() -> None:
    small = bill(INSERT_ALL, measurements(row_bytes={"search": [10], "order_placed": [10]}))
    large = bill(INSERT_ALL, measurements(row_bytes={"search": [1000], "order_placed": [1000]}))

    assert line(small, "insertAll rows").gross == line(large, "insertAll rows").gross > 0


def test_the_minimum_applies_per_row_not_to_the_mean() -> None:
    # A mean of 1,024 B, but one row of each pair is under the minimum.
    uneven = bill(
        INSERT_ALL, measurements(row_bytes={"search": [48, 2000], "order_placed": [48, 2000]})
    )
    even = bill(INSERT_ALL, measurements(row_bytes={"search": [1024], "order_placed": [1024]}))

    ratio = line(uneven, "insertAll rows").gross / line(even, "insertAll rows").gross
    assert ratio == pytest.approx((1024 + 2000) / 2 / 1024)


def test_rows_over_1_kb_cost_in_proportion() -> None:
    one = bill(INSERT_ALL, measurements(row_bytes={"search": [1024], "order_placed": [1024]}))
    two = bill(INSERT_ALL, measurements(row_bytes={"search": [2048], "order_placed": [2048]}))

    assert line(two, "insertAll rows").gross == pytest.approx(2 * line(one, "insertAll rows").gross)


def test_streaming_has_no_free_tier() -> None:
    result = bill(INSERT_ALL.with_(users=50), measurements())

    assert line(result, "insertAll rows").free == 0
    assert line(result, "insertAll rows").net == line(result, "insertAll rows").gross > 0


def test_the_mix_weights_the_families() -> None:
    sizes = {"search": [2048], "order_placed": [4096]}
    searches = bill(INSERT_ALL.with_(mix={"search": 1}), measurements(row_bytes=sizes))
    orders = bill(INSERT_ALL.with_(mix={"order_placed": 1}), measurements(row_bytes=sizes))

    assert line(orders, "insertAll rows").gross == pytest.approx(
        2 * line(searches, "insertAll rows").gross
    )


# --- ingestion: the Storage Write API -----------------------------------------------------------


def test_the_bill_writes_through_the_capture_functions_default_path() -> None:
    shipped = Assumptions(capture=SIZE, features=SIZE, materializer=SIZE)
    write_api = CaptureConfig.model_fields["bigquery_write_api"].default

    assert write_api is WRITE_API_BY_DEFAULT
    assert shipped.bigquery_api == ("write-api" if write_api else "insert-all")


def test_the_write_api_bills_the_rows_bytes_without_a_minimum() -> None:
    small = bill(BASE, measurements(row_bytes={"search": [10], "order_placed": [10]}))
    large = bill(BASE, measurements(row_bytes={"search": [1000], "order_placed": [1000]}))

    assert line(large, "Storage Write API rows").usage.quantity == pytest.approx(
        100 * line(small, "Storage Write API rows").usage.quantity
    )
    assert line(small, "Storage Write API rows").usage.price is prices.WRITE_API


def test_the_write_api_free_tier_absorbs_its_first_2_tib() -> None:
    tier = prices.WRITE_API.free
    assert tier is not None and tier.amount == 2 * 1024
    result = bill(BASE.with_(users=500_000), measurements())
    rows = line(result, "Storage Write API rows")

    assert 0 < rows.usage.quantity < tier.amount
    assert rows.net == 0
    huge = bill(BASE.with_(users=500_000, events_per_user_day=10_000), measurements())
    assert line(huge, "Storage Write API rows").free == tier.amount
    assert line(huge, "Storage Write API rows").net > 0


def test_the_write_api_costs_less_than_insert_all_for_the_same_rows() -> None:
    measured = measurements()
    write_api = line(bill(BASE, measured), "Storage Write API rows").gross
    insert_all = line(bill(INSERT_ALL, measured), "insertAll rows").gross

    # 250 B rows: insertAll bills 1 KB each at twice the price per GiB.
    assert insert_all == pytest.approx(write_api * 1024 / 250 * 2)


def test_an_unknown_bigquery_api_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="bigquery_api: must be one of write-api, insert-all"):
        bill(BASE.with_(bigquery_api="tabledata"), measurements())


def test_a_mix_naming_an_unmeasured_event_type_is_refused() -> None:
    with pytest.raises(ValueError, match="session_start"):
        bill(BASE.with_(mix={"session_start": 1}), measurements())


# --- free tiers --------------------------------------------------------------------------------


def _requests(users: int) -> model.Line:
    return line(
        bill(BASE.with_(users=users, batch=1.0), measurements()), "capture function: requests"
    )


def test_a_free_tier_absorbs_all_of_a_smaller_use() -> None:
    small = _requests(50)
    tier = prices.CLOUD_RUN_REQUESTS.free
    assert tier is not None

    assert 0 < small.usage.quantity < tier.amount
    assert small.free == small.usage.quantity
    assert small.net == 0


def test_a_free_tier_absorbs_exactly_its_size_of_a_larger_use() -> None:
    large = _requests(500_000)
    tier = prices.CLOUD_RUN_REQUESTS.free
    assert tier is not None

    assert large.free == tier.amount
    assert large.net == pytest.approx(
        (large.usage.quantity - tier.amount) * prices.CLOUD_RUN_REQUESTS.usd_per_unit
    )


def test_prices_sharing_a_free_tier_share_its_amount() -> None:
    tier = prices.BIGQUERY_STORAGE_FREE
    usages = [
        model.Usage(component="c", item=str(n), price=price, quantity=8, detail="")
        for n, price in enumerate((prices.ACTIVE_STORAGE, prices.LONG_TERM_STORAGE))
    ]

    lines, tiers = model.absorb(usages)

    assert [line.free for line in lines] == [8, tier.amount - 8]
    assert [(use.used, use.absorbed) for use in tiers] == [(16, tier.amount)]


def test_the_bill_adds_up() -> None:
    result = bill(BASE.with_(users=500_000, redis=True), measurements())

    assert result.net == pytest.approx(result.gross - result.free_usd)
    assert result.net == pytest.approx(sum(result.by_component().values()))
    assert all(0 <= line.free <= line.usage.quantity for line in result.lines)


# --- scaling -----------------------------------------------------------------------------------


def test_volumes_scale_with_users() -> None:
    one, ten = (bill(BASE.with_(users=n, batch=1.0), measurements()) for n in (1_000, 10_000))

    for item in ("Storage Write API rows", "raw event tables", "NDJSON objects stored"):
        assert line(ten, item).usage.quantity == pytest.approx(10 * line(one, item).usage.quantity)
    assert ten.traffic.scale == pytest.approx(10 * one.traffic.scale)


def test_nightly_reads_scale_linearly_above_the_per_table_minimum() -> None:
    megabytes = 100 * prices.MIB
    measured = measurements(
        nightly=[
            NightlyRead(script="s", statement=1, table="events.searches", rows=1, bytes=megabytes)
        ]
    )

    assert model.nightly_bytes(measured, 3.0) == pytest.approx(3 * megabytes)


def test_small_reads_cost_the_minimum_once_per_table_and_statement() -> None:
    tiny = prices.QUERY_MIN_BYTES_PER_TABLE // 10
    reads = [
        # The same table twice in one statement: one minimum.
        NightlyRead(script="a", statement=1, table="events.searches", rows=1, bytes=tiny),
        NightlyRead(script="a", statement=1, table="events.searches", rows=1, bytes=tiny),
        # Another statement of the same script, and another table: one minimum each.
        NightlyRead(script="a", statement=2, table="events.searches", rows=1, bytes=tiny),
        NightlyRead(script="a", statement=1, table="events.orders", rows=1, bytes=tiny),
    ]

    night = model.nightly_bytes(measurements(nightly=reads), 1.0)

    assert night == 3 * prices.QUERY_MIN_BYTES_PER_TABLE


def test_query_bytes_round_up_to_the_megabyte() -> None:
    minimum = prices.QUERY_MIN_BYTES_PER_TABLE
    assert model.billed_query_bytes(1) == minimum
    assert model.billed_query_bytes(minimum + 1) == minimum + prices.QUERY_ROUNDING_BYTES


def test_raw_reads_follow_the_mix() -> None:
    reads = [
        NightlyRead(script="a", statement=1, table="events.orders", rows=1, bytes=100 * prices.MIB)
    ]
    measured = measurements(nightly=reads)
    history_mix = bill(BASE.with_(users=50), measured)
    fewer_orders = bill(BASE.with_(users=50, mix={"search": 3, "order_placed": 1}), measured)

    night = line(history_mix, "nightly scheduled scripts").usage.quantity
    # A quarter of the events are orders instead of half.
    assert line(fewer_orders, "nightly scheduled scripts").usage.quantity == pytest.approx(
        night / 2
    )


def test_a_price_change_changes_its_line(monkeypatch: pytest.MonkeyPatch) -> None:
    before = bill(INSERT_ALL, measurements())
    monkeypatch.setattr(prices, "STREAMING_INSERTS", prices.STREAMING_INSERTS.with_usd(0.10))
    after = bill(INSERT_ALL, measurements())

    assert line(after, "insertAll rows").gross == pytest.approx(
        2 * line(before, "insertAll rows").gross
    )
    assert line(after, "raw event tables").gross == line(before, "raw event tables").gross


# --- requests and instances --------------------------------------------------------------------


def test_the_client_batches_what_arrives_while_it_lingers() -> None:
    rate = 50.0  # events a second
    assert model.batch(BASE, rate) == pytest.approx(1 + rate * BASE.client_linger_seconds)
    assert model.batch(BASE.with_(app_processes=5), rate) == pytest.approx(
        1 + rate / 5 * BASE.client_linger_seconds
    )
    assert model.batch(BASE, 1e9) == BASE.client_max_batch
    assert model.batch(BASE.with_(batch=7.0), rate) == 7.0


def test_more_app_processes_make_more_requests() -> None:
    one = bill(BASE.with_(users=500_000), measurements())
    four = bill(BASE.with_(users=500_000, app_processes=4), measurements())

    assert four.traffic.requests_per_month > one.traffic.requests_per_month
    assert (
        line(four, "capture function: requests").gross
        > line(one, "capture function: requests").gross
    )


# --- the archive: objects per instance and interval ---------------------------------------------

INTERVALS = prices.SECONDS_PER_MONTH / FLUSH_SECONDS


def test_a_busy_instance_writes_one_archive_object_per_interval() -> None:
    result = bill(BASE.with_(users=500_000), measurements())

    assert result.traffic.requests_per_month > 100 * INTERVALS
    assert result.path.instances == 1
    assert line(result, "object uploads (Class A)").usage.quantity == pytest.approx(INTERVALS)


def test_rare_requests_write_at_most_an_object_each() -> None:
    result = bill(BASE.with_(users=5, batch=1.0), measurements())
    objects = line(result, "object uploads (Class A)").usage.quantity

    assert objects <= result.traffic.requests_per_month
    # Some intervals hold two requests or more: fewer objects than requests.
    assert objects > 0.5 * result.traffic.requests_per_month


def test_more_instances_write_more_objects() -> None:
    # A request of 20 s keeps far more than one instance's concurrency busy.
    slow = bill(BASE.with_(users=500_000, request_seconds=20.0), measurements())

    assert slow.path.instances > 1
    assert line(slow, "object uploads (Class A)").usage.quantity == pytest.approx(
        slow.path.instances * INTERVALS, rel=1e-3
    )


def test_archive_only_writes_an_object_per_request_and_waits_for_it() -> None:
    measured = measurements()
    steady = bill(BASE.with_(users=500_000), measured)
    tripped = bill(BASE.with_(users=500_000, archive_only_share=1.0), measured)

    assert line(tripped, "object uploads (Class A)").usage.quantity == pytest.approx(
        tripped.traffic.requests_per_month
    )
    assert tripped.path.seconds == pytest.approx(
        steady.path.plain_seconds - BASE.bigquery_seconds + BASE.gcs_write_seconds
    )


def test_an_archive_only_share_outside_0_to_1_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="archive_only_share: must be from 0 to 1"):
        bill(BASE.with_(archive_only_share=1.5), measurements())


# --- the request's wall time -------------------------------------------------------------------


def test_a_request_waits_for_its_own_time_and_a_bigquery_write() -> None:
    result = bill(BASE.with_(users=5_000, batch=10.0), measurements())
    own = (BASE.own_ms_per_request + 10 * BASE.own_us_per_event / 1000) / 1000

    assert result.path.plain_seconds == pytest.approx(own + BASE.bigquery_seconds)


def test_a_flushing_request_waits_for_the_slower_of_bigquery_and_the_archive() -> None:
    measured = measurements()
    slow_archive = bill(BASE.with_(users=50, gcs_write_seconds=1.0), measured)
    fast_archive = bill(BASE.with_(users=50, gcs_write_seconds=0.001), measured)

    assert slow_archive.path.flush_share > 0
    extra = slow_archive.path.flush_share * (1.0 - BASE.bigquery_seconds)
    assert slow_archive.path.seconds == pytest.approx(slow_archive.path.plain_seconds + extra)
    # An archive write faster than BigQuery's hides beside it.
    assert fast_archive.path.seconds == pytest.approx(fast_archive.path.plain_seconds)


def test_redis_adds_its_round_trip_after_the_durable_writes() -> None:
    off = bill(BASE, measurements())
    on = bill(BASE.with_(redis=True), measurements())

    assert on.path.plain_seconds == pytest.approx(off.path.plain_seconds + BASE.redis_seconds)


def test_a_given_request_time_replaces_the_derived_one() -> None:
    result = bill(BASE.with_(request_seconds=0.7), measurements())

    assert result.path.seconds == result.path.plain_seconds == 0.7


# --- the collector -----------------------------------------------------------------------------


def test_events_through_the_collector_leave_capture() -> None:
    measured = measurements()
    alone = bill(BASE.with_(users=5_000), measured)
    shared = bill(BASE.with_(users=5_000, collector_share=0.5, collector_batch=10.0), measured)
    t = shared.traffic

    assert t.events_per_month == alone.traffic.events_per_month
    assert t.capture_events_per_month == pytest.approx(t.events_per_month / 2)
    assert t.collector_requests_per_month == pytest.approx(t.events_per_month / 2 / 10)
    assert t.requests_per_month < alone.traffic.requests_per_month
    # The same rows land in BigQuery whichever way they came.
    assert line(shared, "Storage Write API rows").usage.quantity == pytest.approx(
        line(alone, "Storage Write API rows").usage.quantity
    )


def test_the_collector_is_billed_as_a_function_of_its_own() -> None:
    measured = measurements()
    alone = bill(BASE.with_(users=500_000), measured)
    shared = bill(BASE.with_(users=500_000, collector_share=0.5), measured)

    assert alone.collector is None
    assert "collector function: vCPU" not in {line.usage.item for line in alone.lines}
    assert shared.collector is not None
    assert line(shared, "collector function: requests").usage.quantity == pytest.approx(
        shared.traffic.collector_requests_per_month
    )
    # Its instances write archive objects of their own.
    assert line(shared, "object uploads (Class A)").usage.quantity == pytest.approx(
        shared.path.archive_objects + shared.collector.archive_objects
    )
    assert shared.collector.plain_seconds == pytest.approx(
        (BASE.collector_own_ms_per_request + 15 * BASE.collector_own_us_per_event / 1000) / 1000
        + BASE.bigquery_seconds
    )


def test_a_collector_share_outside_0_to_1_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="collector_share: must be from 0 to 1"):
        bill(BASE.with_(collector_share=-0.1), measurements())


# --- the backfill ------------------------------------------------------------------------------

RUNS = prices.HOURS_PER_MONTH * 60 / BACKFILL_EVERY_MINUTES


def test_small_backfill_queries_cost_the_minimum_per_table_and_run() -> None:
    result = bill(BASE.with_(users=50), measurements())
    queries = line(result, "queries of event ids").usage.quantity

    minimum = prices.QUERY_MIN_BYTES_PER_TABLE * len(EVENT_TABLES)
    assert queries == pytest.approx(RUNS * minimum / prices.TIB)


def test_backfill_queries_read_whole_day_partitions() -> None:
    # The last 3 hours of a day partition: today's so far, and yesterday's after midnight.
    assert model.backfill_scanned_rows(24_000, 3) == pytest.approx(24_000 * (0.5 + 3 / 24))
    big = bill(BASE.with_(users=5_000_000), measurements())
    rows = big.traffic.events_per_day / 2  # a table each for half the events
    expected = 2 * model.billed_query_bytes(
        model.backfill_scanned_rows(rows, 3) * model.BACKFILL_ROW_BYTES
    )
    others = (len(EVENT_TABLES) - 2) * prices.QUERY_MIN_BYTES_PER_TABLE
    assert line(big, "queries of event ids").usage.quantity == pytest.approx(
        RUNS * (expected + others) / prices.TIB
    )


def test_the_backfill_reads_the_objects_of_its_hours_and_their_margins() -> None:
    result = bill(BASE.with_(users=500_000), measurements())
    per_hour = result.path.archive_objects / prices.HOURS_PER_MONTH
    hours = BACKFILL_LOOKBACK_HOURS + 2 * BASE.backfill_margin_hours

    assert line(result, "archive object reads (Class B)").usage.quantity == pytest.approx(
        RUNS * per_hour * hours
    )


def test_the_backfill_lists_day_folders_a_page_per_thousand_objects() -> None:
    result = bill(BASE.with_(users=500_000), measurements())
    per_day = result.path.archive_objects / prices.DAYS_PER_MONTH
    days = 1 + (BACKFILL_LOOKBACK_HOURS + 2 * BASE.backfill_margin_hours) / 24

    assert 1_000 < per_day < 2_000
    assert line(result, "archive listings (Class A)").usage.quantity == pytest.approx(
        RUNS * days * (2 + len(EVENT_TABLES))
    )


def test_one_scheduler_job_is_within_its_free_tier() -> None:
    job = line(bill(BASE, measurements()), "Cloud Scheduler job")

    assert job.usage.quantity == 1
    assert job.net == 0


def test_the_forget_schedule_is_a_second_job_and_both_fit_the_free_tier() -> None:
    result = bill(BASE, measurements())
    jobs = [each for each in result.lines if each.usage.price is prices.SCHEDULER_JOBS]

    assert sorted(each.usage.item for each in jobs) == [
        "Cloud Scheduler job",
        "Cloud Scheduler job (forget)",
    ]
    free = prices.SCHEDULER_JOBS.free
    assert free is not None
    assert sum(each.usage.quantity for each in jobs) == 2 <= free.amount
    assert [each.net for each in jobs] == [0, 0]


def test_the_backfill_runs_are_billed_on_cloud_run() -> None:
    result = bill(BASE, measurements())

    assert line(result, "archive backfill: requests").usage.quantity == pytest.approx(RUNS)
    assert line(result, "archive backfill: vCPU").usage.quantity > 0


def test_instance_time_is_rounded_up_and_bounded_by_the_month() -> None:
    rare = 1 / 3600  # a request an hour, each alone on its instance
    assert model.instance_seconds(rare, 0.01, SIZE) == pytest.approx(
        rare * prices.CLOUD_RUN_ROUNDING_SECONDS * prices.SECONDS_PER_MONTH, rel=1e-3
    )
    # Far beyond one instance's concurrency: instances are busy all the time.
    flood = model.instance_seconds(10_000, 1.0, SIZE)
    assert flood == pytest.approx(10_000 / SIZE.concurrency * prices.SECONDS_PER_MONTH)


def test_instance_time_covers_the_cpu_used() -> None:
    # A CPU figure far above the request's wall time: billed time follows the CPU.
    # A second of CPU per event: more than the month has seconds of wall time for 5,000 users.
    heavy = bill(BASE.with_(users=5_000, cpu_us_per_event=1e6), measurements())
    events = heavy.traffic.events_per_month

    assert events > prices.SECONDS_PER_MONTH
    assert line(heavy, "capture function: vCPU").usage.quantity >= events


# --- redis, secrets ----------------------------------------------------------------------------


def test_redis_adds_its_pieces_only_when_on() -> None:
    off = bill(BASE, measurements())
    on = bill(BASE.with_(redis=True), measurements())
    items = {line.usage.item for line in on.lines} - {line.usage.item for line in off.lines}

    assert {"Memorystore Basic 1 GB", "VPC connector", "materializer reads"} <= items
    assert line(off, "active versions").usage.quantity == 0
    assert line(on, "active versions").usage.quantity == 1
    assert on.net > off.net
    assert not all(price.confirmed for price in on.prices())


# --- measurements ------------------------------------------------------------------------------


def test_measurements_survive_their_json() -> None:
    measured = measurements()

    assert Measurements.from_json(measured.to_json()) == measured


# --- forgetting users --------------------------------------------------------------------------

ERASURE = "erasure statements (upper bound)"


def test_an_erasure_reads_the_same_bytes_for_fifty_users_as_for_a_thousand() -> None:
    # Enough users asking to fill every weekly batch either way: the same erasures, each
    # reading the tables whole, however many users it forgets.
    many, few = (
        bill(BASE.with_(users=500_000, forget_share_per_month=share), measurements())
        for share in (0.002, 0.0001)
    )

    assert line(many, ERASURE).usage.quantity == pytest.approx(line(few, ERASURE).usage.quantity)
    assert line(many, ERASURE).usage.quantity > 0


def test_a_longer_batch_means_fewer_erasures_in_proportion() -> None:
    weekly, daily = (
        bill(BASE.with_(users=500_000, forget_batch_hours=hours), measurements())
        for hours in (168.0, 24.0)
    )

    assert line(daily, ERASURE).usage.quantity == pytest.approx(
        7 * line(weekly, ERASURE).usage.quantity
    )


def test_fewer_users_asking_than_batches_erase_once_each() -> None:
    result = bill(BASE.with_(users=1_000, forget_share_per_month=0.001), measurements())
    one_user = bill(BASE.with_(users=1_000, forget_share_per_month=0.002), measurements())

    assert line(one_user, ERASURE).usage.quantity == pytest.approx(
        2 * line(result, ERASURE).usage.quantity
    )
