"""Event schemas: the single source of truth for what the pipeline accepts and stores.

The pydantic models here validate incoming events; the BigQuery table definitions in
``schemas/tables/*.json`` are generated from them (``python -m schemas.generate``) and read by
the infrastructure program and the local bootstrap.
"""
