"""cost.model: the bill's arithmetic on made-up measurements. The ``make cost`` command is
tests/unit/tools/test_cost.py."""

import dataclasses
from typing import Any

import pytest

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
from event_capture.warehouse.catalog import SCHEDULED_TABLES

SIZE = FunctionSize(memory_gib=0.5, vcpus=1.0, concurrency=8)
BASE = Assumptions(capture=SIZE, features=SIZE, materializer=SIZE)


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


# --- streaming ---------------------------------------------------------------------------------


def test_rows_under_1_kb_are_billed_as_1_kb() -> None:
    small = bill(BASE, measurements(row_bytes={"search": [10], "order_placed": [10]}))
    large = bill(BASE, measurements(row_bytes={"search": [1000], "order_placed": [1000]}))

    assert line(small, "insertAll rows").gross == line(large, "insertAll rows").gross > 0


def test_the_minimum_applies_per_row_not_to_the_mean() -> None:
    # A mean of 1,024 B, but one row of each pair is under the minimum.
    uneven = bill(BASE, measurements(row_bytes={"search": [48, 2000], "order_placed": [48, 2000]}))
    even = bill(BASE, measurements(row_bytes={"search": [1024], "order_placed": [1024]}))

    ratio = line(uneven, "insertAll rows").gross / line(even, "insertAll rows").gross
    assert ratio == pytest.approx((1024 + 2000) / 2 / 1024)


def test_rows_over_1_kb_cost_in_proportion() -> None:
    one = bill(BASE, measurements(row_bytes={"search": [1024], "order_placed": [1024]}))
    two = bill(BASE, measurements(row_bytes={"search": [2048], "order_placed": [2048]}))

    assert line(two, "insertAll rows").gross == pytest.approx(2 * line(one, "insertAll rows").gross)


def test_streaming_has_no_free_tier() -> None:
    result = bill(BASE.with_(users=50), measurements())

    assert line(result, "insertAll rows").free == 0
    assert line(result, "insertAll rows").net == line(result, "insertAll rows").gross > 0


def test_the_mix_weights_the_families() -> None:
    sizes = {"search": [2048], "order_placed": [4096]}
    searches = bill(BASE.with_(mix={"search": 1}), measurements(row_bytes=sizes))
    orders = bill(BASE.with_(mix={"order_placed": 1}), measurements(row_bytes=sizes))

    assert line(orders, "insertAll rows").gross == pytest.approx(
        2 * line(searches, "insertAll rows").gross
    )


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

    for item in ("insertAll rows", "raw event tables", "NDJSON objects stored"):
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
    before = bill(BASE, measurements())
    monkeypatch.setattr(prices, "STREAMING_INSERTS", prices.STREAMING_INSERTS.with_usd(0.10))
    after = bill(BASE, measurements())

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
        line(four, "object uploads (Class A)").gross > line(one, "object uploads (Class A)").gross
    )


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
