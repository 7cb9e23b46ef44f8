"""Forgetting a user: their rows, archived lines, dead letters and Redis keys removed from every
store, and their later events dropped on request (``contracts.forget``)."""
