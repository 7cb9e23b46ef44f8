"""The capture pipeline: validation, sinks and the response contract; no server needed."""
