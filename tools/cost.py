"""``make cost``: the monthly bill per component, at list prices, for a number of users.

``python -m tools.cost --users 5000`` prints each component's quantity, gross cost, what the
free tiers absorb and the net; ``--compare 50,5000,500000`` prints the net per component for
several user counts side by side. Row sizes, the archive's and the log line's bytes and the
nightly scripts' reads are measured on a local cloud the first time (about two minutes) and
cached until what they derive from changes (``tools/cost_measure.py``); ``--remeasure``
measures anew.
Everything else is an assumption with the default shown by ``--help``.
"""

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from bench.results import recorded
from event_capture.cost import figures
from event_capture.cost import prices as p
from event_capture.cost.flood import FLOOD_SHARE, default_caps, refused_day, stored_day
from event_capture.cost.model import (
    BIGQUERY_APIS,
    Assumptions,
    Bill,
    FunctionSize,
    Measurements,
    bill,
    billed_row_bytes,
)
from event_capture.schemas.families import EVENT_TYPES
from event_capture.schemas.http_limits import MAX_EVENTS_PER_REQUEST
from infra.online_features import (
    FEATURES_CONCURRENCY,
    FEATURES_CPU,
    FEATURES_MEMORY,
    MATERIALIZER_MEMORY,
)
from infra.settings import KEY_BY_NAME
from localcloud.history import History, history_mix
from tools.cost_measure import cached

DEFAULT_COMPARE = (50, 5_000, 500_000)
# A flood refused past the caps: one client on loopback had 15,321 single-call requests answered
# in 10 s by one instance of make run's collector; a refusal takes a fifteenth of the CPU of an
# accepted request (docs/results/edge_limits.md), so one instance refuses at least as many.
REFUSED_REQUESTS_PER_SECOND = 1_000
UNCONFIRMED_MARK = "* at a price not confirmed in a source (see the prices below)"
_MEMORY = re.compile(r"([1-9][0-9]*)(Mi|Gi)")


def gib(memory: str) -> float:
    """A function's memory setting (``512Mi``, ``1Gi``) in GiB."""
    match = _MEMORY.fullmatch(memory)
    if match is None:
        raise ValueError(f"not a memory size: {memory!r}")
    return int(match[1]) / (1024 if match[2] == "Mi" else 1)


def _default(key: str) -> str:
    default = KEY_BY_NAME[key].default
    assert default is not None
    return default


def stack_assumptions() -> Assumptions:
    """The model's defaults with the functions sized as the stack deploys them by default."""
    return Assumptions(
        capture=FunctionSize(
            memory_gib=gib(_default("functionMemory")),
            vcpus=float(_default("functionCpu")),
            concurrency=int(_default("functionConcurrency")),
        ),
        features=FunctionSize(
            memory_gib=gib(FEATURES_MEMORY),
            vcpus=float(FEATURES_CPU),
            concurrency=FEATURES_CONCURRENCY,
        ),
        # infra/online_features.py: one vCPU, one load at a time.
        materializer=FunctionSize(memory_gib=gib(MATERIALIZER_MEMORY), vcpus=1.0, concurrency=1),
    )


# --- arguments ---------------------------------------------------------------------------------


def _number[T: (int, float)](
    kind: Callable[[str], T], rule: str, ok: Callable[[T], bool]
) -> Callable[[str], T]:
    def parse(text: str) -> T:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{rule}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{rule}, got {text!r}")
        return value

    return parse


positive_int = _number(int, "must be a whole number of at least 1", lambda v: v >= 1)
positive_float = _number(float, "must be a number above 0", lambda v: v > 0 and v < float("inf"))
non_negative_float = _number(
    float, "must be a number of at least 0", lambda v: v >= 0 and v < float("inf")
)


def share(text: str) -> float:
    value = non_negative_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be a share from 0 to 1, got {text!r}")
    return value


def batch_size(text: str) -> float:
    value = positive_float(text)
    if not 1 <= value <= MAX_EVENTS_PER_REQUEST:
        raise argparse.ArgumentTypeError(
            f"must be from 1 to {MAX_EVENTS_PER_REQUEST} events, got {text!r}"
        )
    return value


def user_counts(text: str) -> list[int]:
    parts = [part.strip().replace("_", "") for part in text.split(",")]
    try:
        counts = [int(part) for part in parts]
    except ValueError:
        counts = []
    if not counts or any(count < 1 for count in counts):
        raise argparse.ArgumentTypeError(
            f"must be user counts of at least 1 separated by commas, got {text!r}"
        )
    return counts


def event_mix(text: str) -> dict[str, float]:
    """``search=2,product_view=5``: relative weights of event types."""
    weights: dict[str, float] = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        name = name.strip()
        if name not in EVENT_TYPES:
            raise argparse.ArgumentTypeError(
                f"{name!r} is not an event type (one of {', '.join(EVENT_TYPES)})"
            )
        try:
            value = float(weight)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be event_type=weight pairs separated by commas, got {part!r}"
            ) from None
        if not 0 <= value < float("inf"):
            raise argparse.ArgumentTypeError(f"{name}: the weight must be 0 or more")
        weights[name] = value
    if sum(weights.values()) <= 0:
        raise argparse.ArgumentTypeError("at least one weight must be above 0")
    return weights


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line naming the argument and the rule, not argparse's usage block."""
        self.exit(2, f"error: {message}\n")


def parser() -> Parser:
    d = stack_assumptions()
    history = History()
    args = Parser(
        prog="python -m tools.cost",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = args.add_argument
    add(
        "--users",
        type=positive_int,
        default=d.users,
        help=f"users active each day (default: {d.users:,})",
    )
    add(
        "--events-per-user-day",
        type=positive_float,
        help="events each user sends a day (default: the measured history's, "
        f"{history.events_per_day / history.users:g})",
    )
    add(
        "--mix",
        type=event_mix,
        help="relative weights of event types, e.g. search=2,product_view=6,order_placed=1 "
        "(default: the measured history's, "
        + ", ".join(f"{t}={share:.2g}" for t, share in history_mix().items())
        + ")",
    )
    add(
        "--batch",
        type=batch_size,
        help="events per request (default: worked out from the client's "
        f"{d.client_linger_seconds:g} s linger and the events a second of each app process)",
    )
    add(
        "--app-processes",
        type=positive_int,
        default=d.app_processes,
        help=f"app processes, each batching its own events (default: {d.app_processes})",
    )
    add(
        "--bigquery-api",
        choices=BIGQUERY_APIS,
        default=d.bigquery_api,
        help="how rows reach BigQuery, for the ingestion price: the Storage Write API or "
        f"legacy insertAll (default: {d.bigquery_api})",
    )
    add(
        "--request-seconds",
        type=positive_float,
        help="wall time of one capture request in the cloud (default: the function's own time "
        f"measured by bench/request_path.py, {d.own_ms_per_request:g} ms + "
        f"{d.own_us_per_event:g} µs an event, plus the backends' published round trips)",
    )
    add(
        "--collector-share",
        type=share,
        default=d.collector_share,
        help="share of the events that arrive through the collector (Segment and RudderStack "
        f"SDKs) instead of capture (default: {d.collector_share:g})",
    )
    add(
        "--collector-batch",
        type=batch_size,
        default=d.collector_batch,
        help="calls per collector request, with --collector-share (default: "
        f"{d.collector_batch:g}, analytics-node's flushAt)",
    )
    add(
        "--archive-only-share",
        type=share,
        default=d.archive_only_share,
        help="share of the month the cost guard holds capture archive-only, each request then "
        f"writing its own archive object (default: {d.archive_only_share:g}, steady state)",
    )
    add(
        "--cpu-us-per-event",
        type=non_negative_float,
        default=d.cpu_us_per_event,
        help="function CPU per event, from the capture benchmark "
        f"(default: {d.cpu_us_per_event:g})",
    )
    add(
        "--cpu-us-per-request",
        type=non_negative_float,
        default=d.cpu_us_per_request,
        help="function CPU per request, from the capture benchmark "
        f"(default: {d.cpu_us_per_request:g})",
    )
    add(
        "--instance-starts-per-day",
        type=non_negative_float,
        default=d.instance_starts_per_day,
        help=f"instance starts a day per function (default: {d.instance_starts_per_day:g})",
    )
    add(
        "--log-overhead-bytes",
        type=non_negative_float,
        default=d.log_overhead_bytes,
        help="log bytes per request besides the function's measured line: entry metadata and "
        f"Cloud Run's request log (default: {d.log_overhead_bytes:g})",
    )
    add(
        "--months-running",
        type=positive_float,
        default=d.months_running,
        help="months the stack has run, for the aggregates kept without expiry "
        f"(default: {d.months_running:g})",
    )
    add(
        "--redis",
        action="store_true",
        help="online features on: Memorystore, VPC connector, "
        "features function, materializer, the Redis URL secret (default: off)",
    )
    add(
        "--feature-reads-per-user-day",
        type=non_negative_float,
        default=d.feature_reads_per_user_day,
        help="features answers per user a day, with --redis "
        f"(default: {d.feature_reads_per_user_day:g})",
    )
    add(
        "--compare",
        type=user_counts,
        nargs="?",
        const=list(DEFAULT_COMPARE),
        metavar="N,N,...",
        help="print the net per component for these user counts side by side "
        f"(without a value: {','.join(str(n) for n in DEFAULT_COMPARE)})",
    )
    add("--remeasure", action="store_true", help="measure again even if cached figures are current")
    budget = int(_default("budgetAmount"))
    add(
        "--budget",
        type=positive_float,
        default=budget,
        help=f"monthly budget in USD, for a flood's worst day (default: {budget}, budgetAmount's)",
    )
    add(
        "--client-keys",
        type=positive_int,
        default=1,
        help="the collector's client keys, for a flood's worst day (default: 1)",
    )
    return args


def flood_lines(budget: float, client_keys: int) -> list[str]:
    """A flood's worst day: every client key at both its default caps, sized from the budget;
    and what refusing requests past them costs, which no cap bounds."""
    caps = default_caps(budget, client_keys)
    day = stored_day(caps.requests * client_keys, caps.events * client_keys)
    rate = REFUSED_REQUESTS_PER_SECOND
    return [
        f"A flood's worst day (budget {budget:g} USD a month, {client_keys} client key(s)):",
        f"  caps per client key: {caps.requests:,} requests and {caps.events:,} calls a day",
        f"  every client key at both caps all day: {day.usd:.2f} USD, "
        f"{day.share_of(budget):.1%} of the budget (at most {FLOOD_SHARE:.0%})",
        f"  refusing {rate:,} requests a second past the caps all day: "
        f"{refused_day(rate):.2f} USD a day more, which no cap bounds (collectorMaxInstances "
        "and the platform do)",
    ]


def assumptions_from(args: argparse.Namespace) -> Assumptions:
    return stack_assumptions().with_(
        users=args.users,
        events_per_user_day=args.events_per_user_day,
        mix=args.mix,
        batch=args.batch,
        app_processes=args.app_processes,
        bigquery_api=args.bigquery_api,
        request_seconds=args.request_seconds,
        archive_only_share=args.archive_only_share,
        collector_share=args.collector_share,
        collector_batch=args.collector_batch,
        cpu_us_per_event=args.cpu_us_per_event,
        cpu_us_per_request=args.cpu_us_per_request,
        instance_starts_per_day=args.instance_starts_per_day,
        log_overhead_bytes=args.log_overhead_bytes,
        months_running=args.months_running,
        redis=args.redis,
        feature_reads_per_user_day=args.feature_reads_per_user_day,
    )


# --- printing ----------------------------------------------------------------------------------


def usd(amount: float) -> str:
    if 0 < abs(amount) < 0.005:
        return "<0.01"
    return f"{amount:,.2f}"


def quantity(amount: float) -> str:
    if amount == 0:
        return "0"
    if amount >= 100:
        return f"{amount:,.0f}"
    if amount >= 1:
        return f"{amount:,.2f}"
    return f"{amount:.3g}"


def _history(measured: Measurements) -> str:
    h = measured.history
    return (
        f"a {h.users}-user history of {h.events_per_day:,} events a day over {h.days} days, "
        "measured on the emulator"
    )


def describe(result: Bill, measured: Measurements) -> list[str]:
    a, t = result.assumptions, result.traffic
    per_user = t.events_per_day / a.users
    out = [
        f"Monthly bill at {a.users:,} users x {per_user:g} events a day = "
        f"{t.events_per_month:,.0f} events a month (USD, list prices, US)",
        f"{t.batch:,.1f} events a request, {t.requests_per_month:,.0f} requests a month; the "
        f"nightly reads and scheduled tables are {_history(measured)}, scaled linearly by "
        f"events a day (x{t.scale:,.1f})",
        "",
        f"{'component / item':<40}{'quantity':>22}{'gross':>11}{'free':>11}{'net':>11}",
    ]
    component = ""
    for line in result.lines:
        u = line.usage
        if u.component != component:
            component = u.component
            out.append(component)
        amount = f"{quantity(u.quantity)} {u.price.unit}"
        item = u.item if u.price.confirmed else f"{u.item} *"
        out.append(
            f"  {item:<38}{amount:>22}{usd(line.gross):>11}{usd(line.free_usd):>11}"
            f"{usd(line.net):>11}"
        )
        if u.detail:
            out.append(f"      {u.detail}")
    out += [
        f"{'total':<62}{usd(result.gross):>11}{usd(result.free_usd):>11}{usd(result.net):>11}",
        UNCONFIRMED_MARK,
        "",
        "free tiers (what each absorbs)",
    ]
    for use in result.tiers:
        share = use.absorbed / use.tier.amount if use.tier.amount else 0
        out.append(
            f"  {use.tier.name} ({use.tier.scope}): {quantity(use.used)} {use.unit} used, "
            f"{quantity(use.absorbed)} absorbed ({share:.0%} of the tier)"
        )
    return out


def measured_rows(measured: Measurements) -> list[str]:
    out = [
        f"measured on the emulator on {measured.measured_on} (bytes per row or event, means "
        "of the samples):",
        f"  {'event type':<20}{'table':<22}{'logical':>9}{'streamed':>10}{'archive':>9}",
    ]
    for event_type, sizes in measured.row_bytes.items():
        logical = sum(sizes) / len(sizes)
        billed = sum(billed_row_bytes(s) for s in sizes) / len(sizes)
        archive = measured.archive_bytes[event_type]
        out.append(
            f"  {event_type:<20}{measured.tables[event_type]:<22}{logical:>9,.0f}{billed:>10,.0f}"
            f"{archive:>9,.0f}"
        )
    out.append(
        f"  log line: {measured.log_line_bytes:,.0f} B for a request of one event type, "
        f"+{measured.log_line_bytes_per_type:,.0f} B per further type"
    )
    return out


def path_lines(results: Sequence[Bill]) -> list[str]:
    """What the capture requests come to at each user count: the model's derived figures."""
    out = ["capture requests (derived):"]
    for result in results:
        t, path = result.traffic, result.path
        out.append(
            f"  {result.assumptions.users:>9,} users: {t.batch:,.1f} events a request, "
            f"{path.seconds * 1000:,.1f} ms a request ({path.plain_seconds * 1000:,.1f} ms "
            f"without an archive write), {path.instances:,.2f} instance(s) serving, "
            f"{path.archive_objects:,.0f} archive objects a month ({path.flush_share:.1%} of "
            "requests)"
        )
        if result.collector is not None:
            c = result.collector
            out.append(
                f"  {'':>9}  collector: {t.collector_requests_per_month:,.0f} requests of "
                f"{result.assumptions.collector_batch:g} calls, {c.seconds * 1000:,.1f} ms a "
                f"request, {c.instances:,.2f} instance(s) serving, {c.archive_objects:,.0f} "
                "archive objects a month"
            )
    return out


def assumption_lines(a: Assumptions) -> list[str]:
    """The assumptions the bill rests on, with their sources."""
    redis = "with Redis" if a.redis else "Redis off"
    wall = (
        f"  request wall time: {a.request_seconds:g} s (given)"
        if a.request_seconds is not None
        else f"  request wall time: the function's own {a.own_ms_per_request:g} ms + "
        f"{a.own_us_per_event:g} µs an event (bench/request_path.py, loopback) + BigQuery "
        f"{a.bigquery_seconds * 1000:g} ms; + Cloud Storage {a.gcs_write_seconds * 1000:g} ms "
        f"for a flushing or archive-only request (beside BigQuery); + Redis "
        f"{a.redis_seconds * 1000:g} ms ({redis})"
    )
    out = [
        "assumptions:",
        f"  BigQuery ingestion: {a.bigquery_api}",
        wall,
        f"  Cloud Run: billed while at least one request is in flight, rounded up to "
        f"{p.CLOUD_RUN_ROUNDING_SECONDS * 1000:g} ms; requests at random over an even day; "
        f"{a.capture.concurrency} requests an instance; {a.instance_starts_per_day:g} instance "
        f"starts a day of {a.cold_start_seconds:g} s; CPU {a.cpu_us_per_request:g} µs a request "
        f"+ {a.cpu_us_per_event:g} µs an event (bench/capture_throughput.py)",
        f"  archive: an object per instance and {a.archive_flush_seconds:g} s with requests; "
        f"archive-only {a.archive_only_share:.0%} of the month",
        f"  backfill: every {a.backfill_every_minutes:g} minutes over "
        f"{a.backfill_lookback_hours:g} hours (reading the archive {a.backfill_margin_hours:g} "
        f"hour(s) either side), a {a.backfill.memory_gib:g} GiB "
        f"{a.backfill.vcpus:g} vCPU function, {a.backfill_query_seconds:g} s a query and "
        f"{a.backfill_us_per_event:g} µs an archived event (assumed)",
        f"  client: {a.client_linger_seconds:g} s linger, {a.app_processes} app process(es)",
        f"  collector: {a.collector_share:.0%} of the events, {a.collector_batch:g} calls a "
        f"request, its own {a.collector_own_ms_per_request:g} ms + "
        f"{a.collector_own_us_per_event:g} µs a call (bench/request_path.py), CPU "
        f"{a.collector_cpu_ratio:g}x capture's (the collector benchmark's goal, assumed)",
        "published round trips:",
    ]
    for latency in figures.LATENCIES:
        flag = "" if latency.confirmed else "  UNCONFIRMED"
        out.append(f"  {latency.name}: {latency.seconds * 1000:g} ms{flag}")
        out.append(f"      {latency.source}")
        if latency.note:
            out.append(f"      {latency.note}")
    return out


def price_text(price: p.Price) -> str:
    """``$0.40 per 1,000,000 requests``, ``$0.000024 per vCPU-s``."""
    figure = f"{price.usd:.7f}".rstrip("0").rstrip(".")
    if "." in figure and len(figure.split(".")[1]) < 2:
        figure = f"{price.usd:.2f}"
    if price.per != 1:
        return f"${figure} per {price.per:,.0f} {price.unit}"
    # The units name quantities (730 GB-hours); one of them is singular (vCPU-s is both).
    one = price.unit if price.unit.endswith("-s") else price.unit.removesuffix("s")
    return f"${figure} per {one}"


def price_notes(prices: Sequence[p.Price]) -> list[str]:
    out = [f"prices: list prices read on {p.COLLECTED} from stored copies of the vendors' pages"]
    for price in prices:
        flag = "" if price.confirmed else "  UNCONFIRMED"
        free = f"; free: {price.free.name} ({price.free.scope})" if price.free else ""
        out.append(f"  {price.name}: {price_text(price)}{free}{flag}")
        out.append(f"      {price.source} (read {price.read})")
        if price.note:
            out.append(f"      {price.note}")
    unconfirmed = [price.name for price in prices if not price.confirmed]
    if unconfirmed:
        out.append("unconfirmed (inferred or recalled, not read): " + "; ".join(unconfirmed))
    return out


def compare(
    results: Sequence[Bill], measured: Measurements, others: Sequence[Bill] = ()
) -> list[str]:
    """The net per component for each user count; ``others``, the same counts on the other
    BigQuery path, add one total line (what switching BIGQUERY_WRITE_API would change)."""
    width = 14
    head = "".join(f"{r.assumptions.users:>{width},}" for r in results)
    out = [
        f"Net USD a month by number of users ({_history(measured)}, scaled linearly)",
        "",
        f"{'users':<34}{head}",
        f"{'events a month':<34}"
        + "".join(f"{r.traffic.events_per_month:>{width},.0f}" for r in results),
        f"{'capture requests a month':<34}"
        + "".join(f"{r.traffic.requests_per_month:>{width},.0f}" for r in results),
    ]
    if any(r.collector is not None for r in results):
        out.append(
            f"{'collector requests a month':<34}"
            + "".join(f"{r.traffic.collector_requests_per_month:>{width},.0f}" for r in results)
        )
    unconfirmed = {
        line.usage.component for r in results for line in r.lines if not line.usage.price.confirmed
    }
    for component in results[0].by_component():
        label = f"{component} *" if component in unconfirmed else component
        out.append(
            f"{label:<34}"
            + "".join(f"{usd(r.by_component().get(component, 0.0)):>{width}}" for r in results)
        )
    out += [
        f"{'total':<34}" + "".join(f"{usd(r.net):>{width}}" for r in results),
        f"{'  before free tiers':<34}" + "".join(f"{usd(r.gross):>{width}}" for r in results),
    ]
    if others:
        label = f"  total on {others[0].assumptions.bigquery_api}"
        out.append(f"{label:<34}" + "".join(f"{usd(r.net):>{width}}" for r in others))
    out.append(UNCONFIRMED_MARK)
    return out


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    base = assumptions_from(args)
    measured = cached(remeasure=args.remeasure, say=lambda text: print(text, file=sys.stderr))
    try:
        if args.compare:
            results = [bill(base.with_(users=users), measured) for users in args.compare]
            other = next(api for api in BIGQUERY_APIS if api != base.bigquery_api)
            others = [
                bill(base.with_(users=users, bigquery_api=other), measured)
                for users in args.compare
            ]
            out = [*compare(results, measured, others), "", *path_lines(results)]
            prices = results[-1].prices()
        else:
            result = bill(base, measured)
            out = [
                *describe(result, measured),
                "",
                *path_lines([result]),
                "",
                *measured_rows(measured),
            ]
            prices = result.prices()
            results = [result]
    except ValueError as error:
        sys.exit(f"error: {error}")
    flood = flood_lines(args.budget, args.client_keys)
    assumed = assumption_lines(results[0].assumptions)
    print("\n".join([*out, "", *assumed, "", *flood, "", *price_notes(prices)]))


if __name__ == "__main__":
    sys.exit(recorded("cost", main))
