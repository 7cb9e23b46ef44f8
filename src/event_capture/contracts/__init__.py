"""What two functions share and must agree on: the capture-mode document, the Redis keys and the
live-activity entry format, the log field names that metrics and alerts read, and the outcome
of the capture pipeline that both the capture function and the collector render."""
