"""How long raw events are kept, in one place: partitions, bucket lifecycle and Redis TTLs."""

from datetime import timedelta

RETENTION_DAYS = 90
RETENTION = timedelta(days=RETENTION_DAYS)
RETENTION_MS = RETENTION_DAYS * 24 * 60 * 60 * 1000

# Client clocks drift; an event stamped further ahead than this is a bug, not drift.
MAX_CLOCK_SKEW_AHEAD = timedelta(hours=24)
