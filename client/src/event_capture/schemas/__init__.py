"""Event schemas: the single source of truth for what the pipeline accepts and stores.

The pydantic models here validate events in the app (``event_capture.client``) and in the
functions; the BigQuery tables (``event_capture.tables``, server side) are generated from them.
"""
