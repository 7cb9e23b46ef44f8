"""What a flood on the public collector costs in a day, and the daily caps that bound it.

A flood at every client key's daily caps for a whole day stores ``requests`` requests of
``events`` events in all; each request costs a Cloud Run request, its CPU and memory time, an
archive object (a Class A operation) and its log lines, each event a streamed row (billed at
1 KB at least) and its CPU. Free tiers are ignored: a flood's day must stay small even when
the month's free tiers are used up. ``default_caps`` sizes the caps so that this day costs at
most ``FLOOD_SHARE`` of the monthly budget.

What the caps cannot bound: the requests refused once they are reached still cost a Cloud Run
request and a little CPU each, at whatever rate the instance limit lets through
(``refused_day``); only the instance limit, concurrency and the platform bound that.

Arithmetic only, at the list prices of ``prices`` and the capture path's figures of
``figures`` (docs/benchmarks.md).
"""

import math
from dataclasses import dataclass

from event_capture.cost import figures
from event_capture.cost import prices as p

# A flood's whole day may cost at most this share of the monthly budget.
FLOOD_SHARE = 0.1
# Of that, the part the request cap spends (archive objects dominate a request's cost); the
# rest is the event cap's.
REQUEST_SHARE = 0.5
# What a request's log lines weigh in Cloud Logging: the function's line and its metadata (the
# collector's Cloud Run request log is excluded).
LOG_BYTES_PER_REQUEST = 2_500
# insertAll bills each row as 1 KB at least; the collector's rows weigh less.
BILLED_ROW_BYTES = 1_024
# A refused request: parsed headers, a token bucket, a small JSON answer.
# A flooding request's wall time: one event, the function's own time and a BigQuery write. A
# flood is priced as if each request still made its own archive object and streamed through
# insertAll (above): dearer than the grouped archive and the Write API, so the caps err low.
REQUEST_SECONDS = figures.own_seconds(1) + figures.BIGQUERY_WRITE.seconds
REFUSAL_CPU_SECONDS = 0.0003


@dataclass(frozen=True)
class FloodPrices:
    """USD per stored request and per stored event, at list prices."""

    per_request: float
    per_event: float

    @classmethod
    def of(cls, memory_gib: float = 0.5) -> "FloodPrices":
        """For a function of ``memory_gib``, with the model's CPU and wall-time figures."""
        cpu_request = figures.CPU_US_PER_REQUEST / 1e6
        cpu_event = figures.CPU_US_PER_EVENT / 1e6
        request = (
            p.CLOUD_RUN_REQUESTS.usd_per_unit
            + p.CLASS_A_OPERATIONS.usd_per_unit
            + cpu_request * p.CLOUD_RUN_VCPU.usd_per_unit
            + REQUEST_SECONDS * memory_gib * p.CLOUD_RUN_MEMORY.usd_per_unit
            + LOG_BYTES_PER_REQUEST / p.GIB * p.CLOUD_LOGGING.usd_per_unit
        )
        event = (
            BILLED_ROW_BYTES / p.GIB * p.STREAMING_INSERTS.usd_per_unit
            + cpu_event * p.CLOUD_RUN_VCPU.usd_per_unit
        )
        return cls(per_request=request, per_event=event)


@dataclass(frozen=True)
class FloodDay:
    requests: int
    events: int
    usd: float

    def share_of(self, budget: float) -> float:
        return self.usd / budget


def stored_day(requests: int, events: int, prices: FloodPrices | None = None) -> FloodDay:
    """The day every client key's caps are reached: ``requests`` and ``events`` in all."""
    prices = prices or FloodPrices.of()
    usd = requests * prices.per_request + events * prices.per_event
    return FloodDay(requests, events, usd)


@dataclass(frozen=True)
class Caps:
    """Per client key and day."""

    requests: int
    events: int


def default_caps(budget: float, client_keys: int, prices: FloodPrices | None = None) -> Caps:
    """Caps per client key such that all of them reached for a whole day cost at most
    ``FLOOD_SHARE`` of the monthly ``budget`` (USD)."""
    prices = prices or FloodPrices.of()
    day = budget * FLOOD_SHARE / max(client_keys, 1)
    return Caps(
        requests=math.floor(day * REQUEST_SHARE / prices.per_request),
        events=math.floor(day * (1 - REQUEST_SHARE) / prices.per_event),
    )


def instance_share(cap: int, instances: int) -> int:
    """What one instance takes of a key's cap, so that every instance together takes at most
    the cap: the bound is arithmetic, no counter is shared."""
    return cap // max(instances, 1)


def refused_day(requests_per_second: float) -> float:
    """USD a day for refusing ``requests_per_second`` all day: what no cap bounds."""
    per_refusal = (
        p.CLOUD_RUN_REQUESTS.usd_per_unit + REFUSAL_CPU_SECONDS * p.CLOUD_RUN_VCPU.usd_per_unit
    )
    return requests_per_second * 86_400 * per_refusal
