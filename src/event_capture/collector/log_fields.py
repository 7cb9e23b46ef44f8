"""Field names the collector's log line adds to the capture function's (``ingest.log_fields``,
whose names it reuses where they mean the same: status, counts, sinks, rules)."""

MESSAGE = "collector"

# batch, or the call type of a single-call route: from a fixed list.
ROUTE = "route"
# Calls neither stored nor rejected: identify, page, screen, group, alias, unmapped events.
EVENTS_IGNORED = "events_ignored"
# Per call type, how many were ignored.
IGNORED_BY_CALL = "ignored_by_call"
# Per ignored track event: its name if Segment's spec has it, else "other".
IGNORED_BY_EVENT = "ignored_by_event"
# An ElevenLabs webhook call's counters (event.collector.elevenlabs.Count): what it amounted to.
WEBHOOK_COUNTS = "webhook_counts"
