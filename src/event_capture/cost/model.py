"""The monthly bill, from assumptions and measurements: arithmetic only, no I/O.

``Measurements`` are what the emulator showed (``tools/cost_measure.py``): each sample row's
logical bytes per event type, the archive's bytes per event, the function's log line, and what
the nightly scripts read of a measured history along with the sizes of the tables they fill.
``Assumptions`` are the rest, each with a documented default. ``bill`` turns both into lines
(component, quantity, gross, free tier absorbed, net) at the list prices of ``prices``.

Steady state: a month of traffic at the assumed rate, with every table and the archive holding
its full retention window, and the cost guard not tripped (``archive_only_share`` says for how
much of the month it is, if at all). Traffic is spread evenly over the day and the month: peaks make
larger batches (fewer requests) and idle hours fewer instances, so an even spread overstates
requests and instance time rather than understating them.
"""

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from event_capture.client.client import ClientSettings
from event_capture.contracts.archive_layout import (
    BACKFILL_EVERY_MINUTES,
    BACKFILL_LOOKBACK_HOURS,
    FLUSH_SECONDS,
)
from event_capture.contracts.bigquery_writes import WRITE_API_BY_DEFAULT
from event_capture.cost import figures
from event_capture.cost import prices as p
from event_capture.cost.prices import FreeTier, Price
from event_capture.schemas.http_limits import MAX_EVENTS_PER_REQUEST
from event_capture.schemas.retention import RETENTION_DAYS
from event_capture.warehouse.catalog import (
    EVENT_TABLES,
    FEATURE_TABLES,
    SCHEDULED_TABLES,
    USER_PROFILES,
)

# --- measurements ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class History:
    """The measured history the nightly figures come from (``localcloud.history``)."""

    days: int
    events_per_day: int
    users: int
    # Share of each event type in it.
    mix: dict[str, float]


@dataclass(frozen=True, kw_only=True)
class NightlyRead:
    """What one statement of a scheduled script read of one table, on the measured history."""

    script: str
    statement: int
    table: str
    rows: int
    bytes: int


@dataclass(frozen=True, kw_only=True)
class TableSize:
    """A scheduled table on the measured history: its rows and logical bytes in ``partitions``
    partitions (the 90 days of user_daily, one snapshot or day of the others)."""

    rows: int
    bytes: int
    partitions: int


@dataclass(frozen=True, kw_only=True)
class Measurements:
    measured_on: str
    # Per event type: its table and the logical bytes of each sample row stored there.
    tables: dict[str, str]
    row_bytes: dict[str, list[int]]
    # Per event type: the archive's bytes per event (its NDJSON line and newline).
    archive_bytes: dict[str, float]
    # The function's log line: for a request of one event type, and what each further type in
    # the same request adds (its by_event_type entry).
    log_line_bytes: float
    log_line_bytes_per_type: float
    # What the emulator reports as numBytes for the sample rows, per table (not used: it is 8
    # bytes per column and row, whatever the values).
    emulator_num_bytes: dict[str, int]
    history: History
    nightly: list[NightlyRead]
    scheduled_tables: dict[str, TableSize]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Measurements":
        raw: dict[str, Any] = json.loads(text)
        return cls(
            **{
                **raw,
                "history": History(**raw["history"]),
                "nightly": [NightlyRead(**read) for read in raw["nightly"]],
                "scheduled_tables": {
                    name: TableSize(**size) for name, size in raw["scheduled_tables"].items()
                },
            }
        )


# --- assumptions -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class FunctionSize:
    memory_gib: float
    vcpus: float
    concurrency: int


# How rows reach BigQuery: the Storage Write API's default stream, or legacy insertAll.
BigQueryApi = Literal["write-api", "insert-all"]
BIGQUERY_APIS: tuple[BigQueryApi, ...] = ("write-api", "insert-all")


def default_bigquery_api() -> BigQueryApi:
    """The path the capture function writes through unless configured otherwise."""
    return "write-api" if WRITE_API_BY_DEFAULT else "insert-all"


# The backfill's query reads event_id (a UUID: 2 + 36 bytes as a STRING) and received_at (8).
BACKFILL_ROW_BYTES = 2 + 36 + 8
# A listing answers at most this many names a page (Cloud Storage's objects.list maxResults).
LIST_PAGE = 1_000


@dataclass(frozen=True, kw_only=True)
class Assumptions:
    """What the bill assumes besides the measurements; the CLI documents each default."""

    # Users active each day, and what each sends.
    users: int = 5_000
    # None: the measured history's (its events a day over its users), so the nightly figures
    # scale with users alone.
    events_per_user_day: float | None = None
    # Weight per event type; None: the measured history's mix.
    mix: Mapping[str, float] | None = None
    # Events per request; None: what the client's batching makes of the rate (see batch()).
    batch: float | None = None
    # App processes, each with its own client batching its share of the events.
    app_processes: int = 1
    client_linger_seconds: float = ClientSettings().linger_seconds
    client_max_batch: int = MAX_EVENTS_PER_REQUEST
    # The capture function's default (BIGQUERY_WRITE_API), so the bill is the stack's as shipped.
    bigquery_api: BigQueryApi = field(default_factory=default_bigquery_api)
    # A capture request's wall time in the cloud; None: the function's own time (measured,
    # figures.py) plus the backends' published round trips (figures.LATENCIES).
    request_seconds: float | None = None
    own_ms_per_request: float = figures.OWN_MS_PER_REQUEST
    own_us_per_event: float = figures.OWN_US_PER_EVENT
    bigquery_seconds: float = figures.BIGQUERY_WRITE.seconds
    gcs_write_seconds: float = figures.GCS_OBJECT_WRITE.seconds
    redis_seconds: float = figures.MEMORYSTORE_ROUND_TRIP.seconds
    # The archive: one object per instance and interval (contracts/archive_layout.py); while
    # the cost guard holds capture archive-only, one per request, which the request waits for.
    archive_flush_seconds: float = FLUSH_SECONDS
    archive_only_share: float = 0.0
    # The scheduled backfill (contracts/archive_layout.py), a Cloud Scheduler job calling a
    # function sized like this (1 GiB, 1 vCPU, one run at a time); it reads the archive of its
    # hours and of a margin either side, where a resent event's copy may sit. Its time a run:
    # a query per event table (a small query's usual seconds, assumed) and reading the
    # archive's lines (assumed per event).
    backfill_every_minutes: float = BACKFILL_EVERY_MINUTES
    backfill_lookback_hours: float = BACKFILL_LOOKBACK_HOURS
    backfill_margin_hours: float = 1.0
    backfill: FunctionSize = FunctionSize(memory_gib=1.0, vcpus=1.0, concurrency=1)
    backfill_query_seconds: float = 1.5
    backfill_us_per_event: float = 5.0
    # Share of the events that arrive through the collector (Segment and RudderStack SDKs),
    # in requests of this many calls (analytics-node's flushAt is 15); the rest through
    # capture. The collector runs the same pipeline on a function sized like capture's
    # (infra/collector_function.py uses capture's service config), with its own instances and
    # archive objects; its CPU is capture's times the collector benchmark's goal (at most 1.5x
    # the native endpoint's per event), not a measurement.
    collector_share: float = 0.0
    collector_batch: float = 15.0
    collector_own_ms_per_request: float = figures.COLLECTOR_OWN_MS_PER_REQUEST
    collector_own_us_per_event: float = figures.COLLECTOR_OWN_US_PER_EVENT
    collector_cpu_ratio: float = 1.5
    # figures.py: each figure's source.
    cpu_us_per_request: float = figures.CPU_US_PER_REQUEST
    cpu_us_per_event: float = figures.CPU_US_PER_EVENT
    # docs/benchmarks.md, Capture: process start to first accepted event, 0.30-0.38 s.
    cold_start_seconds: float = 0.4
    instance_starts_per_day: float = 24.0
    capture: FunctionSize
    # Cloud Logging bills each entry with its metadata, and Cloud Run adds a request log entry
    # of its own per request: an estimate, not measured, added to the measured line.
    log_overhead_bytes: float = 1_500.0
    # How long the stack has run: the aggregates without expiry (search_daily) grow with it.
    months_running: float = 12.0
    redis: bool = False
    redis_gb: int = 1
    features: FunctionSize
    feature_reads_per_user_day: float = 10.0
    # A features answer is one Redis round trip (docs/benchmarks.md, Features: 0.16 ms in process).
    feature_request_seconds: float = 0.005
    materializer: FunctionSize
    # docs/benchmarks.md, Features: 5,000 users built and loaded in 0.25 s, 50,000 in 3.8 s;
    # plus reading the four feature tables from BigQuery (assumed).
    materializer_us_per_user: float = 80.0
    materializer_fixed_seconds: float = 10.0

    def with_(self, **changes: Any) -> "Assumptions":
        return replace(self, **changes)


# --- the bill ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Usage:
    component: str
    item: str
    price: Price
    quantity: float  # in price.unit
    detail: str


@dataclass(frozen=True, kw_only=True)
class Line:
    usage: Usage
    free: float  # units of the quantity the free tier absorbed

    @property
    def gross(self) -> float:
        return self.usage.quantity * self.usage.price.usd_per_unit

    @property
    def free_usd(self) -> float:
        return self.free * self.usage.price.usd_per_unit

    @property
    def net(self) -> float:
        return self.gross - self.free_usd


@dataclass(frozen=True, kw_only=True)
class TierUse:
    tier: FreeTier
    unit: str
    used: float
    absorbed: float


@dataclass(frozen=True, kw_only=True)
class Traffic:
    events_per_day: float
    events_per_month: float
    # The capture function's share: its events, their batch and requests.
    capture_events_per_month: float
    batch: float
    requests_per_month: float
    # The collector's (0 without it).
    collector_events_per_month: float = 0.0
    collector_requests_per_month: float = 0.0
    # Linear factor from the measured history to this traffic (events a day).
    scale: float


@dataclass(frozen=True, kw_only=True)
class RequestPath:
    """What the capture requests of a month come to: their wall time, the instances serving
    them and the archive objects they write."""

    # Mean wall time of a request, and of one that neither flushes nor waits for the archive.
    seconds: float
    plain_seconds: float
    instances: float
    archive_objects: float
    # Share of requests that write an archive object.
    flush_share: float


@dataclass(frozen=True, kw_only=True)
class Bill:
    assumptions: Assumptions
    traffic: Traffic
    path: RequestPath
    # The collector's requests, when some events arrive through it.
    collector: RequestPath | None
    lines: list[Line]
    tiers: list[TierUse] = field(default_factory=list)

    @property
    def gross(self) -> float:
        return sum(line.gross for line in self.lines)

    @property
    def free_usd(self) -> float:
        return sum(line.free_usd for line in self.lines)

    @property
    def net(self) -> float:
        return sum(line.net for line in self.lines)

    def by_component(self) -> dict[str, float]:
        """Net USD per component, in bill order."""
        totals: dict[str, float] = {}
        for line in self.lines:
            totals[line.usage.component] = totals.get(line.usage.component, 0.0) + line.net
        return totals

    def prices(self) -> list[Price]:
        """The prices the bill used, once each, in bill order."""
        seen: list[Price] = []
        for line in self.lines:
            if line.usage.price not in seen:
                seen.append(line.usage.price)
        return seen


def absorb(usages: Iterable[Usage]) -> tuple[list[Line], list[TierUse]]:
    """Apply each free tier once, to the usages in order: prices that share a tier share it."""
    left: dict[FreeTier, float] = {}
    used: dict[FreeTier, tuple[str, float, float]] = {}
    lines = []
    for usage in usages:
        tier = usage.price.free
        free = 0.0
        if tier is not None:
            remaining = left.setdefault(tier, tier.amount)
            free = min(usage.quantity, remaining)
            left[tier] = remaining - free
            _, total, absorbed = used.get(tier, (usage.price.unit, 0.0, 0.0))
            used[tier] = (usage.price.unit, total + usage.quantity, absorbed + free)
        lines.append(Line(usage=usage, free=free))
    tiers = [
        TierUse(tier=tier, unit=unit, used=total, absorbed=absorbed)
        for tier, (unit, total, absorbed) in used.items()
    ]
    return lines, tiers


def billed_row_bytes(size: int) -> int:
    return max(size, p.STREAMING_MIN_ROW_BYTES)


def billed_query_bytes(scanned: float) -> int:
    """One table's bytes in one statement, as billed: rounded up to the MB, at least 10 MB."""
    rounded = math.ceil(scanned / p.QUERY_ROUNDING_BYTES) * p.QUERY_ROUNDING_BYTES
    return max(int(rounded), p.QUERY_MIN_BYTES_PER_TABLE)


def mix_of(assumptions: Assumptions, measured: Measurements) -> dict[str, float]:
    """Shares of each event type, summing to 1; only measured types."""
    weights = dict(assumptions.mix or measured.history.mix)
    unknown = sorted(set(weights) - set(measured.row_bytes))
    if unknown:
        raise ValueError(f"mix: no measured rows for {', '.join(unknown)}")
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("mix: the weights must add up to more than 0")
    return {event_type: weight / total for event_type, weight in weights.items() if weight > 0}


def batch(assumptions: Assumptions, events_per_second: float) -> float:
    """Events per request: a client sends its first event after lingering for more, so a batch
    holds that event and what arrives during the linger (at most the batch cap)."""
    if assumptions.batch is not None:
        return assumptions.batch
    per_process = events_per_second / assumptions.app_processes
    return min(
        float(assumptions.client_max_batch), 1 + per_process * assumptions.client_linger_seconds
    )


def instance_seconds(
    requests_per_second: float, request_seconds: float, size: FunctionSize
) -> float:
    """Billable instance time a month under request-based billing: an instance is billed while
    it serves at least one request, rounded up to 100 ms. With requests arriving at random, the
    share of time at least one is in flight is 1 - e^(-rate x duration); once one instance's
    concurrency is full, instances are each busy all the time."""
    billed = max(request_seconds, p.CLOUD_RUN_ROUNDING_SECONDS)
    busy = max(
        1 - math.exp(-requests_per_second * billed),
        requests_per_second * request_seconds / size.concurrency,
    )
    return busy * p.SECONDS_PER_MONTH


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values)


def _gib(size: float) -> float:
    return size / p.GIB


def traffic_of(assumptions: Assumptions, measured: Measurements) -> Traffic:
    history = measured.history
    per_user = assumptions.events_per_user_day
    if per_user is None:
        per_user = history.events_per_day / history.users
    events_per_day = assumptions.users * per_user
    events_per_month = events_per_day * p.DAYS_PER_MONTH
    collected = events_per_month * assumptions.collector_share
    captured = events_per_month - collected
    size = batch(assumptions, captured / p.SECONDS_PER_MONTH)
    return Traffic(
        events_per_day=events_per_day,
        events_per_month=events_per_month,
        capture_events_per_month=captured,
        batch=size,
        requests_per_month=captured / size,
        collector_events_per_month=collected,
        collector_requests_per_month=collected / assumptions.collector_batch,
        scale=events_per_day / history.events_per_day,
    )


def _ingestion(
    assumptions: Assumptions, traffic: Traffic, mix: Mapping[str, float], measured: Measurements
) -> list[Usage]:
    logical = sum(share * _mean(measured.row_bytes[t]) for t, share in mix.items())
    if assumptions.bigquery_api == "write-api":
        return [
            Usage(
                component="BigQuery ingestion",
                item="Storage Write API rows",
                price=p.WRITE_API,
                quantity=_gib(traffic.events_per_month * logical),
                detail=f"{traffic.events_per_month:,.0f} rows x {logical:,.0f} B (measured; no "
                "per-row minimum)",
            )
        ]
    # Each row is billed at max(its size, 1 KB): the mean of that, not of the sizes.
    billed = sum(
        share * _mean(billed_row_bytes(size) for size in measured.row_bytes[event_type])
        for event_type, share in mix.items()
    )
    return [
        Usage(
            component="BigQuery ingestion",
            item="insertAll rows",
            price=p.STREAMING_INSERTS,
            quantity=_gib(traffic.events_per_month * billed),
            detail=f"{traffic.events_per_month:,.0f} rows x {billed:,.0f} B billed "
            f"(measured {logical:,.0f} B; 1 KB minimum per row)",
        )
    ]


def _kept_days(expiration_days: int | None, assumptions: Assumptions) -> float:
    running = assumptions.months_running * p.DAYS_PER_MONTH
    return running if expiration_days is None else min(float(expiration_days), running)


def _storage(
    assumptions: Assumptions, traffic: Traffic, mix: Mapping[str, float], measured: Measurements
) -> list[Usage]:
    per_event = sum(share * _mean(measured.row_bytes[t]) for t, share in mix.items())
    raw_days = _kept_days(RETENTION_DAYS, assumptions)
    active, long_term = 0.0, 0.0
    kept: list[str] = []
    for spec in SCHEDULED_TABLES:
        size = measured.scheduled_tables[spec.name]
        per_partition = size.bytes / max(size.partitions, 1) * traffic.scale
        days = _kept_days(spec.expiration_days, assumptions)
        young = min(days, p.LONG_TERM_AFTER_DAYS)
        active += per_partition * young
        long_term += per_partition * (days - young)
        kept.append(f"{spec.name} {days:,.0f}")
    return [
        Usage(
            component="BigQuery storage",
            item="raw event tables",
            price=p.ACTIVE_STORAGE,
            quantity=_gib(traffic.events_per_day * raw_days * per_event),
            detail=f"{raw_days:,.0f} days x {traffic.events_per_day:,.0f} rows x "
            f"{per_event:,.0f} B (measured)",
        ),
        Usage(
            component="BigQuery storage",
            item="scheduled tables",
            price=p.ACTIVE_STORAGE,
            quantity=_gib(active),
            detail=f"measured per partition, x{traffic.scale:,.1f}; days kept: " + ", ".join(kept),
        ),
        Usage(
            component="BigQuery storage",
            item="aggregates past 90 days",
            price=p.LONG_TERM_STORAGE,
            quantity=_gib(long_term),
            detail=f"search_daily (no expiry) and data_quality after "
            f"{assumptions.months_running:g} months",
        ),
    ]


def table_scales(
    traffic: Traffic, mix: Mapping[str, float], measured: Measurements
) -> dict[str, float]:
    """Per raw table, its rows a day over the measured history's: the raw reads follow the mix,
    everything the scripts build from them follows all events (``traffic.scale``)."""
    history = measured.history
    ours: dict[str, float] = {}
    theirs: dict[str, float] = {}
    for event_type, share in mix.items():
        table = measured.tables[event_type]
        ours[table] = ours.get(table, 0.0) + share * traffic.events_per_day
    for event_type, share in history.mix.items():
        table = measured.tables[event_type]
        theirs[table] = theirs.get(table, 0.0) + share * history.events_per_day
    return {table: ours.get(table, 0.0) / rows for table, rows in theirs.items()}


def nightly_bytes(
    measured: Measurements, scale: float, raw_scales: Mapping[str, float] | None = None
) -> float:
    """Bytes billed for one night of every scheduled script, scaled from the measured history:
    each statement's tables at their scaled bytes, each at least the per-table minimum. A raw
    table's reads scale by ``raw_scales`` where it names the table, the rest by ``scale``."""
    raw_scales = raw_scales or {}
    per_table: dict[tuple[str, int, str], float] = {}
    for read in measured.nightly:
        key = (read.script, read.statement, read.table)
        factor = raw_scales.get(read.table.rsplit(".", 1)[-1], scale)
        per_table[key] = per_table.get(key, 0.0) + read.bytes * factor
    return float(sum(billed_query_bytes(scanned) for scanned in per_table.values()))


def materializer_bytes(measured: Measurements, scale: float) -> float:
    """Bytes billed for one materializer run: the newest snapshot_date of user_profiles over
    the snapshots kept, then one snapshot of each feature table, every column."""
    profiles = measured.scheduled_tables[USER_PROFILES.name]
    snapshot_dates = 8 * profiles.rows / max(profiles.partitions, 1) * scale
    dates_bytes = billed_query_bytes(snapshot_dates * (USER_PROFILES.expiration_days or 1))
    snapshots = 0
    for spec in FEATURE_TABLES:
        size = measured.scheduled_tables[spec.name]
        snapshots += billed_query_bytes(size.bytes / max(size.partitions, 1) * scale)
    return float(dates_bytes + snapshots)


def _queries(
    assumptions: Assumptions, traffic: Traffic, mix: Mapping[str, float], measured: Measurements
) -> list[Usage]:
    night = nightly_bytes(measured, traffic.scale, table_scales(traffic, mix, measured))
    history = measured.history
    usages = [
        Usage(
            component="BigQuery queries",
            item="nightly scheduled scripts",
            price=p.ON_DEMAND_QUERIES,
            quantity=night * p.DAYS_PER_MONTH / p.TIB,
            detail=f"{night / p.MIB:,.0f} MiB a night: bytes read on a {history.users}-user "
            f"{history.days}-day history, scaled linearly x{traffic.scale:,.1f} (raw tables by "
            "the mix), 10 MB minimum per table and statement",
        )
    ]
    if assumptions.redis:
        run = materializer_bytes(measured, traffic.scale)
        usages.append(
            Usage(
                component="BigQuery queries",
                item="materializer reads",
                price=p.ON_DEMAND_QUERIES,
                quantity=run * p.DAYS_PER_MONTH / p.TIB,
                detail=f"{run / p.MIB:,.0f} MiB a night: one snapshot of each feature table",
            )
        )
    return usages


def request_path(
    assumptions: Assumptions,
    requests_per_month: float,
    batch: float,
    own: tuple[float, float] | None = None,
) -> RequestPath:
    """Wall time, instances and archive objects of a function's requests of a month (capture's;
    the collector's with its ``own`` time, ms a request and µs an event).

    A request waits for its own time and a BigQuery write; Redis, fed only what is durable,
    after that. The archive is written once per instance and flush interval, by the first
    request after it (beside that request's BigQuery write, so it waits for the longer of the
    two); an instance's intervals without a request write nothing. While archive-only, every
    request writes its object and waits for it instead of BigQuery.
    """
    a = assumptions
    rate = requests_per_month / p.SECONDS_PER_MONTH
    per_request_ms, per_event_us = own or (a.own_ms_per_request, a.own_us_per_event)
    itself = figures.own_seconds(batch, per_request_ms, per_event_us)
    redis = a.redis_seconds if a.redis else 0.0
    plain = itself + a.bigquery_seconds + redis
    given = a.request_seconds if own is None else None
    if given is not None:
        plain = given
    # Instances serving at once: one while its concurrency suffices.
    instances = max(1.0, rate * plain / a.capture.concurrency)
    intervals = p.SECONDS_PER_MONTH / a.archive_flush_seconds
    busy = 1 - math.exp(-rate / instances * a.archive_flush_seconds)
    grouped = min(requests_per_month, instances * intervals * busy)
    tripped = a.archive_only_share
    objects = (1 - tripped) * grouped + tripped * requests_per_month
    flush_share = objects / requests_per_month if requests_per_month else 0.0
    if given is not None:
        seconds = given
    else:
        flushing = itself + max(a.bigquery_seconds, a.gcs_write_seconds) + redis
        archive_only = itself + a.gcs_write_seconds + redis
        grouped_share = (1 - tripped) * grouped / max(requests_per_month, 1.0)
        seconds = (
            (1 - tripped - grouped_share) * plain
            + grouped_share * flushing
            + tripped * archive_only
        )
    return RequestPath(
        seconds=seconds,
        plain_seconds=plain,
        instances=instances,
        archive_objects=objects,
        flush_share=flush_share,
    )


def _archive(
    assumptions: Assumptions,
    traffic: Traffic,
    mix: Mapping[str, float],
    measured: Measurements,
    path: RequestPath,
    collector: RequestPath | None,
) -> list[Usage]:
    per_event = sum(share * measured.archive_bytes[t] for t, share in mix.items())
    # The archive's lifecycle deletes objects at the raw events' retention (infra/event_buckets).
    days = _kept_days(RETENTION_DAYS, assumptions)
    return [
        Usage(
            component="Cloud Storage archive",
            item="NDJSON objects stored",
            price=p.STANDARD_STORAGE,
            quantity=_gib(traffic.events_per_day * days * per_event),
            detail=f"{days:,.0f} days x {traffic.events_per_day:,.0f} events x "
            f"{per_event:,.0f} B (measured)",
        ),
        Usage(
            component="Cloud Storage archive",
            item="object uploads (Class A)",
            price=p.CLASS_A_OPERATIONS,
            quantity=path.archive_objects + (collector.archive_objects if collector else 0.0),
            detail=f"one per instance and {assumptions.archive_flush_seconds:g} s with requests "
            f"({path.instances:,.2f} instances"
            + (f", and the collector's {collector.instances:,.2f})" if collector else ")")
            + (
                f"; one per request for {assumptions.archive_only_share:.0%} of the month "
                "(archive-only)"
                if assumptions.archive_only_share
                else ""
            ),
        ),
    ]


def backfill_scanned_rows(events_per_day: float, lookback_hours: float) -> float:
    """Rows one backfill query reads of a table that gets ``events_per_day``: BigQuery prunes
    by day partition, so the query of the last hours reads today's partition so far (half a
    day on average over the runs of a day) and, for runs within the lookback after midnight,
    yesterday's whole partition."""
    return events_per_day * (0.5 + lookback_hours / 24)


def _backfill(
    assumptions: Assumptions,
    traffic: Traffic,
    mix: Mapping[str, float],
    measured: Measurements,
    archive_objects: float,
) -> tuple[list[Usage], float, float]:
    """The scheduled backfill's usages; and its runs and run seconds (Cloud Run's part)."""
    a = assumptions
    runs = p.HOURS_PER_MONTH * 60 / a.backfill_every_minutes
    per_table: dict[str, float] = dict.fromkeys(EVENT_TABLES, 0.0)
    for event_type, share in mix.items():
        table = measured.tables[event_type]
        per_table[table] = per_table.get(table, 0.0) + share * traffic.events_per_day
    run_bytes = sum(
        billed_query_bytes(
            backfill_scanned_rows(rows, a.backfill_lookback_hours) * BACKFILL_ROW_BYTES
        )
        for rows in per_table.values()
    )
    objects_per_hour = archive_objects / p.HOURS_PER_MONTH
    read_hours = a.backfill_lookback_hours + 2 * a.backfill_margin_hours
    read_objects = objects_per_hour * read_hours
    # Listings by day folder: the archive's, and one per table (an earlier layout's folders,
    # empty but listed), for each day the hours read touch (two when they span midnight).
    days = 1 + read_hours / 24
    pages = days * (math.ceil(max(objects_per_hour * 24, 1.0) / LIST_PAGE) + len(per_table))
    read_events = traffic.events_per_day / 24 * read_hours
    run_seconds = (
        len(per_table) * a.backfill_query_seconds + read_events * a.backfill_us_per_event / 1e6
    )
    usages = [
        Usage(
            component="Archive backfill",
            item="queries of event ids",
            price=p.ON_DEMAND_QUERIES,
            quantity=runs * run_bytes / p.TIB,
            detail=f"{runs:,.0f} runs x {len(per_table)} tables: event_id and received_at of the "
            f"day partitions the last {a.backfill_lookback_hours:g} hours touch, "
            f"{run_bytes / p.MIB:,.0f} MiB a run (10 MB minimum per table)",
        ),
        Usage(
            component="Archive backfill",
            item="archive listings (Class A)",
            price=p.CLASS_A_OPERATIONS,
            quantity=runs * pages,
            detail=f"{pages:,.1f} a run: the day folders its hours touch, {LIST_PAGE:,} "
            "objects a page, and each table's earlier folder",
        ),
        Usage(
            component="Archive backfill",
            item="archive object reads (Class B)",
            price=p.CLASS_B_OPERATIONS,
            quantity=runs * read_objects,
            detail=f"{read_objects:,.0f} objects a run ({a.backfill_lookback_hours:g} hours and "
            f"{a.backfill_margin_hours:g} either side)",
        ),
        Usage(
            component="Archive backfill",
            item="Cloud Scheduler job",
            price=p.SCHEDULER_JOBS,
            quantity=1.0,
            detail=f"every {a.backfill_every_minutes:g} minutes",
        ),
    ]
    return usages, runs, runs * max(run_seconds, p.CLOUD_RUN_ROUNDING_SECONDS)


# Forgetting users (infra/forget.py, forgetEnabled): its Cloud Scheduler job, hourly.
FORGET_SCHEDULE = "every hour: the filed requests to forget a user"


def _forget() -> list[Usage]:
    """The forget run's schedule; what its statements read is a line of its own."""
    return [
        Usage(
            component="Forget",
            item="forget: Cloud Scheduler job",
            price=p.SCHEDULER_JOBS,
            quantity=1.0,
            detail=FORGET_SCHEDULE,
        )
    ]


def _distinct_types(mix: Mapping[str, float], size: float) -> float:
    """Expected event types in a batch of ``size`` events drawn from ``mix``."""
    return sum(1.0 - float((1.0 - share) ** size) for share in mix.values())


def _cloud_run(
    assumptions: Assumptions,
    traffic: Traffic,
    path: RequestPath,
    collector: RequestPath | None,
    backfill: tuple[float, float],
) -> tuple[list[Usage], float]:
    """The functions' requests, vCPU and memory, and their requests a month (for the logs)."""
    requests_per_second = traffic.requests_per_month / p.SECONDS_PER_MONTH
    capture = assumptions.capture
    starts = assumptions.instance_starts_per_day * p.DAYS_PER_MONTH
    busy = instance_seconds(requests_per_second, path.seconds, capture)
    busy += starts * assumptions.cold_start_seconds
    cpu = (
        traffic.requests_per_month * assumptions.cpu_us_per_request
        + traffic.capture_events_per_month * assumptions.cpu_us_per_event
    ) / 1e6
    # An instance's vCPUs bound the CPU it can spend in the time it is billed.
    busy = max(busy, cpu / capture.vcpus)
    functions = [("capture function", traffic.requests_per_month, busy, capture)]
    if collector is not None:
        requests = traffic.collector_requests_per_month
        serving = instance_seconds(requests / p.SECONDS_PER_MONTH, collector.seconds, capture)
        serving += starts * assumptions.cold_start_seconds
        used = (
            assumptions.collector_cpu_ratio
            * (
                requests * assumptions.cpu_us_per_request
                + traffic.collector_events_per_month * assumptions.cpu_us_per_event
            )
            / 1e6
        )
        functions.append(
            ("collector function", requests, max(serving, used / capture.vcpus), capture)
        )
    runs, run_seconds = backfill
    functions.append(("archive backfill", runs, run_seconds, assumptions.backfill))
    if assumptions.redis:
        features = assumptions.features
        reads = assumptions.users * assumptions.feature_reads_per_user_day * p.DAYS_PER_MONTH
        serving = instance_seconds(
            reads / p.SECONDS_PER_MONTH, assumptions.feature_request_seconds, features
        )
        serving += starts * assumptions.cold_start_seconds
        functions.append(("features function", reads, serving, features))
        run = (
            assumptions.materializer_fixed_seconds
            + assumptions.users * assumptions.materializer_us_per_user / 1e6
        )
        runs = p.DAYS_PER_MONTH
        functions.append(
            (
                "materializer",
                runs,
                runs * max(run, p.CLOUD_RUN_ROUNDING_SECONDS),
                assumptions.materializer,
            )
        )
    usages = []
    for name, requests, seconds, size in functions:
        usages += [
            Usage(
                component="Cloud Run",
                item=f"{name}: requests",
                price=p.CLOUD_RUN_REQUESTS,
                quantity=requests,
                detail=f"{traffic.batch:,.1f} events a request"
                if name == "capture function"
                else f"{assumptions.collector_batch:g} calls a request"
                if name == "collector function"
                else "",
            ),
            Usage(
                component="Cloud Run",
                item=f"{name}: vCPU",
                price=p.CLOUD_RUN_VCPU,
                quantity=seconds * size.vcpus,
                detail=f"{seconds:,.0f} instance-s x {size.vcpus:g} vCPU",
            ),
            Usage(
                component="Cloud Run",
                item=f"{name}: memory",
                price=p.CLOUD_RUN_MEMORY,
                quantity=seconds * size.memory_gib,
                detail=f"{seconds:,.0f} instance-s x {size.memory_gib:g} GiB",
            ),
        ]
    served = sum(requests for _, requests, _, _ in functions)
    return usages, served


def _logging(
    assumptions: Assumptions,
    traffic: Traffic,
    mix: Mapping[str, float],
    measured: Measurements,
    requests: float,
) -> list[Usage]:
    line = measured.log_line_bytes + measured.log_line_bytes_per_type * (
        _distinct_types(mix, traffic.batch) - 1
    )
    # The collector's line is taken as capture's (the same pipeline fields, a few of its own).
    pipeline = traffic.requests_per_month + traffic.collector_requests_per_month
    capture = pipeline * (line + assumptions.log_overhead_bytes)
    others = (requests - pipeline) * assumptions.log_overhead_bytes
    return [
        Usage(
            component="Cloud Logging",
            item="log entries",
            price=p.CLOUD_LOGGING,
            quantity=_gib(capture + others),
            detail=f"{line:,.0f} B capture log line (measured) + "
            f"{assumptions.log_overhead_bytes:,.0f} B per request (assumed)",
        )
    ]


def _secrets(assumptions: Assumptions) -> list[Usage]:
    # With Redis on, the stack keeps the Redis URL as one secret (infra/redis_secret.py), read
    # by the capture and features functions when an instance starts and by each materializer
    # run; without it the capture function reads none.
    versions = 1 if assumptions.redis else 0
    accesses = (
        (2 * assumptions.instance_starts_per_day + 1) * p.DAYS_PER_MONTH if assumptions.redis else 0
    )
    return [
        Usage(
            component="Secret Manager",
            item="active versions",
            price=p.SECRET_VERSIONS,
            quantity=versions,
            detail="the Redis URL" if versions else "no secret without Redis",
        ),
        Usage(
            component="Secret Manager",
            item="accesses",
            price=p.SECRET_ACCESSES,
            quantity=accesses,
            detail="one per instance start" if accesses else "",
        ),
    ]


def _redis(assumptions: Assumptions) -> list[Usage]:
    if not assumptions.redis:
        return []
    return [
        Usage(
            component="Redis (online features)",
            item=f"Memorystore Basic {assumptions.redis_gb} GB",
            price=p.MEMORYSTORE_BASIC,
            quantity=assumptions.redis_gb * p.HOURS_PER_MONTH,
            detail="billed every hour, idle or not",
        ),
        Usage(
            component="Redis (online features)",
            item="VPC connector",
            price=p.VPC_CONNECTOR_INSTANCE,
            quantity=p.VPC_CONNECTOR_INSTANCES * p.HOURS_PER_MONTH,
            detail=f"{p.VPC_CONNECTOR_INSTANCES} e2-micro instances at least",
        ),
    ]


def bill(assumptions: Assumptions, measured: Measurements) -> Bill:
    """The month's bill, each free tier applied once in bill order."""
    missing = [spec.name for spec in SCHEDULED_TABLES if spec.name not in measured.scheduled_tables]
    if missing:
        raise ValueError(f"measurements: no size for {', '.join(missing)}")
    if assumptions.bigquery_api not in BIGQUERY_APIS:
        raise ValueError(
            f"bigquery_api: must be one of {', '.join(BIGQUERY_APIS)}, "
            f"got {assumptions.bigquery_api!r}"
        )
    for name in ("archive_only_share", "collector_share"):
        value = getattr(assumptions, name)
        if not 0 <= value <= 1:
            raise ValueError(f"{name}: must be from 0 to 1, got {value!r}")
    mix = mix_of(assumptions, measured)
    traffic = traffic_of(assumptions, measured)
    path = request_path(assumptions, traffic.requests_per_month, traffic.batch)
    collector = None
    if traffic.collector_requests_per_month:
        collector = request_path(
            assumptions,
            traffic.collector_requests_per_month,
            assumptions.collector_batch,
            (assumptions.collector_own_ms_per_request, assumptions.collector_own_us_per_event),
        )
    objects = path.archive_objects + (collector.archive_objects if collector else 0.0)
    backfill, runs, run_seconds = _backfill(assumptions, traffic, mix, measured, objects)
    run_usages, requests = _cloud_run(assumptions, traffic, path, collector, (runs, run_seconds))
    usages = [
        *_ingestion(assumptions, traffic, mix, measured),
        *_storage(assumptions, traffic, mix, measured),
        *_queries(assumptions, traffic, mix, measured),
        *_archive(assumptions, traffic, mix, measured, path, collector),
        *backfill,
        *_forget(),
        *run_usages,
        *_logging(assumptions, traffic, mix, measured, requests),
        *_secrets(assumptions),
        *_redis(assumptions),
    ]
    lines, tiers = absorb(usages)
    return Bill(
        assumptions=assumptions,
        traffic=traffic,
        path=path,
        collector=collector,
        lines=lines,
        tiers=tiers,
    )
