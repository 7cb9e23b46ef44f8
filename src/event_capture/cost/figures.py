"""Measured and published figures of the capture path that more than one cost calculation uses
(the monthly bill, ``model``; a flood's day, ``flood``): each once, with where it comes from.

A request's wall time in the cloud is the function's own time, measured on the local cloud,
plus the backends' round trips, which loopback emulators cannot show and are taken from
published figures instead (``Latency``; ``confirmed`` False where no source gives the figure).
"""

from dataclasses import dataclass

# The function's CPU (docs/benchmarks.md, Capture: 21.0-24.5 us per event at batch 500 over
# HTTP, about 2,070 at batch 1): c(b) = per_request / b + per_event fits both.
CPU_US_PER_REQUEST = 2_050.0
CPU_US_PER_EVENT = 19.5

# The capture function's own wall time outside the backends (HTTP, the framework, parsing,
# validation, the answer and the log line), one request at a time on the local cloud:
# bench/request_path.py, p50 fitted through batch 1 and 500 (docs/results/request_path.md: the
# run of 2026-12-07, 16:19 UTC, on a quiet machine, after the archive's group commit; a shared
# machine inflates the figure, never deflates it).
# Taken from the benchmark rather than measured in each `make cost`: a timing taken while the
# machine is busy would make the bill depend on the moment, and the cache could not tell.
OWN_MS_PER_REQUEST = 2.62
OWN_US_PER_EVENT = 20.1
# The collector's, the same way (Segment calls on /v1/batch).
COLLECTOR_OWN_MS_PER_REQUEST = 2.89
COLLECTOR_OWN_US_PER_EVENT = 35.9


def own_seconds(
    batch: float,
    per_request_ms: float = OWN_MS_PER_REQUEST,
    per_event_us: float = OWN_US_PER_EVENT,
) -> float:
    """The function's own wall time for a request of ``batch`` events."""
    return per_request_ms / 1e3 + per_event_us * batch / 1e6


@dataclass(frozen=True, kw_only=True)
class Latency:
    """One backend round trip from a Cloud Run function in the same region."""

    name: str
    seconds: float
    source: str
    confirmed: bool
    note: str = ""


BIGQUERY_WRITE = Latency(
    name="BigQuery write (an append on the Write API's open connection, or an insertAll call)",
    seconds=0.05,
    source="none found: Google publishes no append latency; assumed",
    confirmed=False,
    note="opening the stream takes 0.25-0.4 s (googleapis/python-bigquery-storage PR #284), "
    "once per instance and after an idle close; the bill hardly moves with this figure while "
    "the request stays under Cloud Run's 100 ms rounding",
)
GCS_OBJECT_WRITE = Latency(
    name="Cloud Storage object write (the flushing request; every request while archive-only)",
    seconds=0.1,
    source="googleapis/nodejs-storage#2210: ~150-250 ms for two small uploads from GKE at low "
    "volume [S]; googleapis/google-cloud-dotnet#882: Google support's p50 62 ms, p90 136 ms "
    "for small object requests [S]",
    confirmed=False,
    note="users' and support's measurements, not a published figure",
)
MEMORYSTORE_ROUND_TRIP = Latency(
    name="Memorystore for Redis round trip (through the VPC connector)",
    seconds=0.002,
    source="cloud.google.com/appengine/docs/legacy/standard/python/migrate-to-python3/"
    'memcache-to-memorystore: Memorystore for "sub-millisecond data access" [P]',
    confirmed=False,
    note="the connector's hop is not in the source: 2 ms in all is an allowance",
)
LATENCIES = (BIGQUERY_WRITE, GCS_OBJECT_WRITE, MEMORYSTORE_ROUND_TRIP)
